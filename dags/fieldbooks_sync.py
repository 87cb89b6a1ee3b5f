"""Sync the operations DB and QuickBooks Online every 15 minutes.

extract_ops and extract_qbo copy what changed on each side into the warehouse;
validate_raw holds back records whose raw rows break their contract as issues;
transform runs dbt (mapping, matching, outbound change sets); validate holds back
records that would fail in QuickBooks as issues; load_quickbooks and load_ops write
each side; reconcile re-reads both and rebuilds the tie-out. Both validation tasks
add to the Data Docs report ($FIELDBOOKS_HOME/data_docs/index.html; the path is in
their log and return value). Every task is safe to clear and rerun: writes go
through the ledger and merges are keyed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

WAREHOUSE_POOL = "fieldbooks_warehouse"  # DuckDB takes one writer at a time
QBO_POOL = "fieldbooks_qbo"  # pressure on the QuickBooks company's rate limits


@dag(
    schedule="*/15 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
    },
    tags=["fieldbooks", "quickbooks"],
    doc_md=__doc__,
)
def fieldbooks_sync():
    @task(pool=WAREHOUSE_POOL)
    def extract_ops(**context) -> dict:
        from fieldbooks.config import load_settings
        from fieldbooks.pipeline import step_extract_ops

        return step_extract_ops(load_settings(), context["run_id"])

    @task(pool=QBO_POOL)
    def extract_qbo() -> dict:
        from fieldbooks.config import load_settings
        from fieldbooks.pipeline import step_extract_qbo

        return step_extract_qbo(load_settings())

    @task(pool=WAREHOUSE_POOL)
    def validate_raw(**context) -> dict:
        from fieldbooks.config import load_settings
        from fieldbooks.pipeline import step_validate_raw

        return step_validate_raw(load_settings(), context["run_id"])

    @task(pool=WAREHOUSE_POOL)
    def transform() -> dict:
        from fieldbooks.config import load_settings
        from fieldbooks.pipeline import step_transform

        return step_transform(load_settings())

    @task(pool=WAREHOUSE_POOL)
    def validate(**context) -> dict:
        from fieldbooks.config import load_settings
        from fieldbooks.pipeline import step_validate

        return step_validate(load_settings(), context["run_id"])

    @task(pool=QBO_POOL)
    def load_quickbooks(**context) -> dict:
        from fieldbooks.config import load_settings
        from fieldbooks.pipeline import step_load_quickbooks

        return step_load_quickbooks(load_settings(), context["run_id"])

    @task(pool=WAREHOUSE_POOL)
    def load_ops(**context) -> dict:
        from fieldbooks.config import load_settings
        from fieldbooks.pipeline import step_load_ops

        return step_load_ops(load_settings(), context["run_id"])

    @task(pool=QBO_POOL)
    def reconcile(**context) -> dict:
        from fieldbooks.config import load_settings
        from fieldbooks.pipeline import step_reconcile

        return step_reconcile(load_settings(), context["run_id"])

    # Sequential on purpose: the embedded DuckDB warehouse takes one writer at a time.
    (
        extract_ops()
        >> extract_qbo()
        >> validate_raw()
        >> transform()
        >> validate()
        >> load_quickbooks()
        >> load_ops()
        >> reconcile()
    )


fieldbooks_sync()
