"""Retry held-back records, then sync their companies (manual; the status page's Retry button).

- **companies** checks the form: the companies (none: every company) and which issues,
  by id (`issue_ids`) or by kind (`kinds`, e.g. `validation`); one of the two is required;
- **mark_retrying** runs once per chosen company (dynamic task mapping) and puts those open
  issues back in line, as `fieldbooks issues retry` does (audited in sync_events);
- **sync** triggers `fieldbooks_sync` with `{"companies": [...]}`, where each held record is
  tried again: it syncs and its issue is resolved, or the issue opens again with its reason.
"""

from __future__ import annotations

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task

from fieldbooks.orchestration import DEFAULT_ARGS, START_DATE, companies_param


@task
def companies(params: dict | None = None) -> list[str]:
    from fieldbooks.orchestration import chosen_companies

    if not params["issue_ids"] and not params["kinds"]:
        raise ValueError("give issue_ids or kinds: which issues to retry")
    return chosen_companies(params["companies"])


@task
def mark_retrying(key: str, params: dict | None = None) -> list[str]:
    from fieldbooks.orchestration import mark_issues_retrying

    return mark_issues_retrying(key, params["issue_ids"], params["kinds"])


@task
def sync_conf(chosen: list[str], marked: list[list[str]]) -> dict:
    return {"companies": chosen}


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
    chosen = companies()
    marked = mark_retrying.expand(key=chosen)
    TriggerDagRunOperator(
        task_id="sync",
        trigger_dag_id="fieldbooks_sync",
        trigger_run_id="retry_issues__{{ run_id }}",
        conf=sync_conf(chosen, marked),
    )


fieldbooks_retry_issues()
