"""The discrepancy queue (fieldbooks.sync_issues): one open row per record and kind.

A record that cannot be synced is held back here with a reason and a hint; the row
is resolved automatically when the record syncs, and counts its attempts meanwhile.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fieldbooks.warehouse.connection import WarehouseConnection
from fieldbooks.warehouse.state import utcnow

OPEN_STATES = ("open", "retrying")


@dataclass(frozen=True)
class Issue:
    """Why one record was held back, and what a person can do about it."""

    realm_id: str
    entity: str
    ops_id: str | None
    kind: str
    reason: str
    hint: str
    qbo_id: str | None = None
    severity: str = "error"


def issue_id_for(
    realm_id: str, entity: str, ops_id: str | None, qbo_id: str | None, kind: str
) -> str:
    """The stable id of the open issue for one record and kind."""
    key = f"{realm_id}|{entity}|{ops_id or ''}|{qbo_id or ''}|{kind}"
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def raise_issue(wh: WarehouseConnection, issue: Issue, run_id: str) -> str:
    """Open the issue, or count one more attempt on the one already open."""
    issue_id = issue_id_for(issue.realm_id, issue.entity, issue.ops_id, issue.qbo_id, issue.kind)
    now = utcnow()
    wh.execute(
        """insert into fieldbooks.sync_issues
             (issue_id, realm_id, entity, ops_id, qbo_id, kind, severity, reason, hint, status,
              attempts, first_seen, last_seen, run_id)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'open', 1, %s, %s, %s)
           on conflict (issue_id) do update set
             reason = excluded.reason, hint = excluded.hint, severity = excluded.severity,
             status = case when sync_issues.status = 'dismissed' then 'dismissed' else 'open' end,
             attempts = sync_issues.attempts + 1,
             last_seen = excluded.last_seen, run_id = excluded.run_id""",
        (
            issue_id,
            issue.realm_id,
            issue.entity,
            issue.ops_id,
            issue.qbo_id,
            issue.kind,
            issue.severity,
            issue.reason,
            issue.hint,
            now,
            now,
            run_id,
        ),
    )
    return issue_id


def resolve_issues(
    wh: WarehouseConnection, realm_id: str, entity: str, ops_id: str, run_id: str
) -> None:
    """Resolve every open issue of a record that has now synced."""
    wh.execute(
        """update fieldbooks.sync_issues set status = 'resolved', last_seen = %s, run_id = %s
           where realm_id = %s and entity = %s and ops_id = %s and status in ('open', 'retrying')""",
        (utcnow(), run_id, realm_id, entity, ops_id),
    )


def open_issue_ids(wh: WarehouseConnection, realm_id: str, entity: str) -> set[str]:
    """ops ids of an entity that have an open issue (held back from writes)."""
    rows = wh.fetchall(
        "select distinct ops_id from fieldbooks.sync_issues "
        "where realm_id = %s and entity = %s and status in ('open', 'retrying') and ops_id is not null",
        (realm_id, entity),
    )
    return {r[0] for r in rows}


def list_issues(wh: WarehouseConnection, status: str | None = "open") -> list[dict]:
    """Issues for people to read, newest first."""
    if status is None:
        return wh.fetchdicts("select * from fieldbooks.sync_issues order by last_seen desc")
    return wh.fetchdicts(
        "select * from fieldbooks.sync_issues where status = %s order by last_seen desc", (status,)
    )


def dismiss_issue(wh: WarehouseConnection, issue_id: str, reason: str) -> bool:
    """Dismiss one issue with a reason; False when no such issue exists."""
    cur = wh.execute(
        "update fieldbooks.sync_issues set status = 'dismissed', hint = hint || %s where issue_id = %s",
        (f" [dismissed: {reason}]", issue_id),
    )
    return (
        bool(
            wh.scalar(
                "select count(*) from fieldbooks.sync_issues where issue_id = %s", (issue_id,)
            )
        )
        and cur is not None
    )
