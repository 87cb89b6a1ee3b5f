"""Re-read chosen companies' data from a date, then sync them (manual, from the Params form).

- **sync_conf** checks the form: the companies (none: every company), the entities (each
  operations table, and `quickbooks` for the QuickBooks side; none: all of them) and `since`
  (an ISO date-time; empty: from the very beginning, which also re-lists QuickBooks and so
  finds its deletes);
- **sync** triggers `fieldbooks_sync` with
  `{"companies": [...], "resync": {"entities": [...], "since": ...}}`.

No watermark moves here. Each chosen company's `extract_ops` in that `fieldbooks_sync` run
moves its watermarks back, then extracts: in the company's warehouse pool (one DuckDB
writer), and with no other sync of it running (`max_active_runs=1`; the run queues behind
one in progress). Moved from here, the reset could meet a running sync's lock, or be
overwritten by a running extract that had read with the old watermark, and the re-read
would silently not happen. Re-reading is safe: raw merges are keyed and every write goes
through the ledger, so nothing is duplicated in QuickBooks or in operations.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from fieldbooks.orchestration import (
    DEFAULT_ARGS,
    START_DATE,
    companies_param,
    resync_streams,
    trigger_sync,
)


@task
def sync_conf(params: dict | None = None) -> dict:
    from fieldbooks.orchestration import chosen_companies, resync_request

    return {
        "companies": chosen_companies(params["companies"]),
        "resync": resync_request(params["entities"], params["since"]),
    }


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
    trigger_sync("full_resync", sync_conf())


fieldbooks_full_resync()
