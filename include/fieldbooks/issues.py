"""The discrepancy queue (fieldbooks.sync_issues): one open row per record and kind.

A record that cannot be synced is held back here with a reason and a hint; the row
is resolved automatically when the record syncs, and counts its attempts meanwhile.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
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
    resolve_issues_of(wh, realm_id, entity, [ops_id], run_id)


def resolve_issues_of(
    wh: WarehouseConnection, realm_id: str, entity: str, ops_ids: Sequence[str], run_id: str
) -> None:
    """Resolve every open issue of records of one entity that have now synced (one
    statement for a batch's writes)."""
    if not ops_ids:
        return
    listed = ", ".join(["%s"] * len(ops_ids))
    wh.execute(
        f"""update fieldbooks.sync_issues set status = 'resolved', last_seen = %s, run_id = %s
           where realm_id = %s and entity = %s and ops_id in ({listed})
             and status in ('open', 'retrying')""",
        (utcnow(), run_id, realm_id, entity, *ops_ids),
    )


def open_issue_ids(wh: WarehouseConnection, realm_id: str, entity: str) -> set[str]:
    """ops ids of an entity that have an open issue (held back from writes)."""
    rows = wh.fetchall(
        "select distinct ops_id from fieldbooks.sync_issues "
        "where realm_id = %s and entity = %s and status in ('open', 'retrying') and ops_id is not null",
        (realm_id, entity),
    )
    return {r[0] for r in rows}


def resolve_unraised(
    wh: WarehouseConnection, realm_id: str, kind: str, raised: set[str], run_id: str
) -> int:
    """Resolve every open issue of a kind that a check which reads all it holds did not
    raise again: its record is whole now (or gone). Returns how many were resolved."""
    open_ids = [
        issue_id
        for (issue_id,) in wh.fetchall(
            f"select issue_id from fieldbooks.sync_issues where realm_id = %s and kind = %s "
            f"and status in ({', '.join('%s' for _ in OPEN_STATES)})",
            (realm_id, kind, *OPEN_STATES),
        )
        if issue_id not in raised
    ]
    if open_ids:
        listed = ", ".join(["%s"] * len(open_ids))
        wh.execute(
            "update fieldbooks.sync_issues set status = 'resolved', last_seen = %s, run_id = %s "
            f"where issue_id in ({listed})",
            (utcnow(), run_id, *open_ids),
        )
    return len(open_ids)


def held_qbo_ids(
    wh: WarehouseConnection, realm_id: str, entity: str, kind: str, run_id: str
) -> set[str]:
    """QuickBooks ids of an entity that an issue of this kind, raised by this run, holds back."""
    rows = wh.fetchall(
        "select distinct qbo_id from fieldbooks.sync_issues where realm_id = %s and entity = %s "
        "and kind = %s and run_id = %s and status = 'open' and qbo_id is not null",
        (realm_id, entity, kind, run_id),
    )
    return {r[0] for r in rows}


def list_issues(
    wh: WarehouseConnection, status: str | None = "open", kind: str | None = None
) -> list[dict]:
    """Issues for people to read, newest first, optionally of one status and kind."""
    clauses, params = [], []
    if status is not None:
        clauses.append("status = %s")
        params.append(status)
    if kind is not None:
        clauses.append("kind = %s")
        params.append(kind)
    where = f"where {' and '.join(clauses)}" if clauses else ""
    return wh.fetchdicts(
        f"select * from fieldbooks.sync_issues {where} order by last_seen desc, issue_id", params
    )


def _audit(wh: WarehouseConnection, issue: dict, operation: str, detail: str) -> None:
    """Record a person's decision about an issue in the audit log."""
    from fieldbooks.ledger import record_event

    record_event(
        wh,
        run_id="manual",
        direction="issue_queue",
        realm_id=issue["realm_id"],
        entity=issue["entity"],
        operation=operation,
        outcome="ok",
        ops_id=issue["ops_id"],
        qbo_id=issue["qbo_id"],
        detail=f"{issue['issue_id']} ({issue['kind']}): {detail}",
    )


def dismiss_issue(wh: WarehouseConnection, issue_id: str, reason: str) -> bool:
    """Dismiss one issue with a reason (audited); False when no such issue exists."""
    rows = wh.fetchdicts("select * from fieldbooks.sync_issues where issue_id = %s", (issue_id,))
    if not rows:
        return False
    wh.execute(
        "update fieldbooks.sync_issues set status = 'dismissed', last_seen = %s where issue_id = %s",
        (utcnow(), issue_id),
    )
    _audit(wh, rows[0], "dismiss", reason)
    return True


def mark_retrying(wh: WarehouseConnection, issue_ids: list[str] | None) -> list[str]:
    """Put open issues (the given ones, or every open one) back in line for the next run.

    Every held record is looked at again on each run anyway; `retrying` tells people a
    retry was asked for, and the run turns it `resolved` or `open` again.
    """
    rows = wh.fetchdicts("select * from fieldbooks.sync_issues where status = 'open'")
    chosen = [r for r in rows if issue_ids is None or r["issue_id"] in issue_ids]
    for row in chosen:
        wh.execute(
            "update fieldbooks.sync_issues set status = 'retrying' where issue_id = %s",
            (row["issue_id"],),
        )
        _audit(wh, row, "retry", "retry requested")
    return [r["issue_id"] for r in chosen]
