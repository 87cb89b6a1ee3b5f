"""Sync each company's operations DB and QuickBooks Online company (every 15 minutes by default).

One task group per company (`company_<key>`, from FIELDBOOKS_COMPANIES_FILE; `company_default`
without one), each with the same steps and the company's own settings:

- **selected** skips the group unless the run's conf names the company
  (`{"companies": ["acme"]}`, as the webhook receiver and the manual DAGs send; none: all);
- **extract_ops** and **extract_qbo** copy what changed on each side into the warehouse;
  when the run's conf carries a resync request (`fieldbooks_full_resync` sends
  `{"companies": [...], "resync": {"entities": [...], "since": ...}}`), extract_ops first
  moves those watermarks back. It does so here, in the warehouse pool and with no other sync
  of the company running (max_active_runs=1), so nothing can overwrite the reset with a
  newer watermark read before it; a retried or cleared extract_ops resets and re-reads again,
  which is safe (keyed merges, every write through the ledger). A retry request
  (`fieldbooks_retry_issues` sends `{"retry": {"issue_ids": [...], "kinds": [...]}}`) puts
  those issues back in line there too, so their records are tried in this run;
- **validate_raw** holds back records whose raw rows break their contract, as issues;
- **transform** is the dbt project: a task per seed and model and one per model's tests
  (clear one to rebuild just that model);
- **validate** holds back records that would fail in QuickBooks, as issues;
- **load_quickbooks** and **load_ops** write each side; **reconcile** re-reads both and
  rebuilds the tie-out.

QuickBooks calls run in the pool `fieldbooks_qbo_<key>` (its rate limits), warehouse writes in
`fieldbooks_warehouse_<key>` (DuckDB takes one writer). Companies share no task: one failing
leaves the others running. Every task is safe to clear and rerun: writes go through the
ledger and merges are keyed. The schedule is FIELDBOOKS_SYNC_SCHEDULE.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task, task_group

from fieldbooks.companies import company_keys, qbo_pool, warehouse_pool
from fieldbooks.config import sync_schedule
from fieldbooks.orchestration import (
    DEFAULT_ARGS,
    QBO_STEPS,
    START_DATE,
    companies_param,
    dbt_task_group,
)


@task.short_circuit
def selected(key: str, params: dict | None = None) -> bool:
    from fieldbooks.orchestration import company_selected

    return company_selected(key, (params or {}).get("companies"))


@task
def step(key: str, name: str, run_id: str | None = None, dag_run: Any = None) -> dict:
    from fieldbooks.orchestration import run_step

    conf = (dag_run.conf if dag_run is not None else None) or {}
    return run_step(
        key,
        name,
        run_id or "",
        resync=conf.get("resync"),
        companies=conf.get("companies"),
        retry=conf.get("retry"),
    )


def company_sync(key: str) -> None:
    """One company's steps, in order (its embedded DuckDB warehouse takes one writer)."""

    def run(name: str):
        pool = qbo_pool(key) if name in QBO_STEPS else warehouse_pool(key)
        return step.override(task_id=name, pool=pool)(key, name)

    (
        selected.override(pool=warehouse_pool(key))(key)
        >> run("extract_ops")
        >> run("extract_qbo")
        >> run("validate_raw")
        >> dbt_task_group(key)
        >> run("validate")
        >> run("load_quickbooks")
        >> run("load_ops")
        >> run("reconcile")
    )


@dag(
    schedule=sync_schedule(),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={"companies": companies_param("only these companies (none: every company)")},
    tags=["fieldbooks", "quickbooks"],
    doc_md=__doc__,
)
def fieldbooks_sync():
    for key in company_keys():
        task_group(group_id=f"company_{key}")(company_sync)(key)


fieldbooks_sync()
