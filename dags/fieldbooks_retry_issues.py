"""Retry held-back records, then sync their companies (manual; the status page's Retry button).

- **sync_conf** checks the form: the companies (none: every company) and which issues,
  by id (`issue_ids`) or by kind (`kinds`, e.g. `validation`); one of the two is required;
- **sync** triggers `fieldbooks_sync` with
  `{"companies": [...], "retry": {"issue_ids": [...], "kinds": [...]}}`.

No issue is marked here. Each chosen company's `extract_ops` in that run puts those open
issues back in line, as `fieldbooks issues retry` does (audited in sync_events), then the
run tries each held record again: it syncs and its issue is resolved, or the issue opens
again with its reason. Marked there, in the company's warehouse pool with no other sync of
it running, the marking never waits on a running sync's DuckDB lock (a task outside the
pool, as a mapped one must be, could use up its retries there).
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from fieldbooks.orchestration import DEFAULT_ARGS, START_DATE, companies_param, trigger_sync


@task
def sync_conf(params: dict | None = None) -> dict:
    from fieldbooks.orchestration import chosen_companies, retry_request

    return {
        "companies": chosen_companies(params["companies"]),
        "retry": retry_request(params["issue_ids"], params["kinds"]),
    }


@dag(
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "companies": companies_param("the companies whose issues to retry (none: every company)"),
        "issue_ids": Param(
            [],
            type="array",
            items={"type": ["string", "integer"]},
            description="issue ids, as `fieldbooks issues list` and the status page show them",
        ),
        "kinds": Param(
            [],
            type="array",
            items={"type": "string"},
            description="every open issue of these kinds",
        ),
    },
    tags=["fieldbooks", "quickbooks", "manual"],
    doc_md=__doc__,
)
def fieldbooks_retry_issues():
    trigger_sync("retry_issues", sync_conf())


fieldbooks_retry_issues()
