"""Re-read chosen companies' data from a date, then sync them (manual, from the Params form).

- **companies** checks the form: the companies (none: every company), the entities (each
  operations table, and `quickbooks` for the QuickBooks side; none: all of them) and `since`
  (an ISO date-time; empty: from the very beginning, which also re-lists QuickBooks and so
  finds its deletes);
- **reset_watermarks** runs once per chosen company (dynamic task mapping) and moves those
  streams' watermarks back to `since`;
- **sync** triggers `fieldbooks_sync` with `{"companies": [...]}`, so the re-read runs
  through the companies' own task groups and pools, queued behind any sync in progress.

Re-reading is safe: raw merges are keyed and every write goes through the ledger, so nothing
is duplicated in QuickBooks or in operations.
"""

from __future__ import annotations

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task

from fieldbooks.orchestration import DEFAULT_ARGS, START_DATE, companies_param, resync_streams


@task
def companies(params: dict | None = None) -> list[str]:
    from fieldbooks.orchestration import chosen_companies, resync_streams

    unknown = sorted(set(params["entities"]) - set(resync_streams()))
    if unknown:
        raise ValueError(f"no entity {unknown}; choose from {', '.join(resync_streams())}")
    return chosen_companies(params["companies"])


@task
def reset_watermarks(key: str, params: dict | None = None) -> dict:
    from fieldbooks.orchestration import reset_watermarks

    return reset_watermarks(key, params["entities"], params["since"])


@task
def sync_conf(chosen: list[str], reset: list[dict]) -> dict:
    return {"companies": chosen}


@dag(
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "companies": companies_param("the companies to re-read (none: every company)"),
        "entities": Param(
            [],
            type="array",
            items={"type": "string", "enum": resync_streams()},
            description="operations tables, and quickbooks for the QuickBooks side (none: all)",
        ),
        "since": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="re-read changes since this time (empty: from the beginning)",
        ),
    },
    tags=["fieldbooks", "quickbooks", "manual"],
    doc_md=__doc__,
)
def fieldbooks_full_resync():
    chosen = companies()
    reset = reset_watermarks.expand(key=chosen)
    TriggerDagRunOperator(
        task_id="sync",
        trigger_dag_id="fieldbooks_sync",
        trigger_run_id="full_resync__{{ run_id }}",
        conf=sync_conf(chosen, reset),
    )


fieldbooks_full_resync()
