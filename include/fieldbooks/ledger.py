"""The crosswalk/outbox (fieldbooks.sync_ledger) and the audit log (fieldbooks.sync_events).

A write to QuickBooks is bracketed by the ledger: the intent and its deterministic
request id are recorded before the call, the QuickBooks id after it. A rerun that
finds a `pending` row looks the object up by its marker before creating anything.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fieldbooks.warehouse.connection import WarehouseConnection
from fieldbooks.warehouse.state import utcnow

_NAMESPACE = uuid.UUID("6f1d2c43-5a07-4b7e-9d55-0a4f0c6b9e21")


@dataclass(frozen=True)
class LedgerEntry:
    """One synced record's crosswalk row."""

    realm_id: str
    entity: str
    ops_id: str
    qbo_id: str | None
    sync_token: str | None
    payload_hash: str | None
    state: str
    request_id: str | None
    marker: str | None
    updated_at: datetime | None = None


def request_id_for(
    realm_id: str, entity: str, ops_id: str, payload_hash: str, operation: str
) -> str:
    """A deterministic QuickBooks requestid (36 characters) for one intended write."""
    return str(uuid.uuid5(_NAMESPACE, f"{realm_id}|{entity}|{ops_id}|{operation}|{payload_hash}"))


def batch_request_id(request_ids: list[str]) -> str:
    """A deterministic requestid (36 characters) for a batch of intended writes: the same
    items in the same order give the same id, so a resent batch is recognised."""
    return str(uuid.uuid5(_NAMESPACE, "batch|" + "|".join(request_ids)))


_ENTRY_COLUMNS = (
    "realm_id, entity, ops_id, qbo_id, sync_token, payload_hash, state, request_id, marker, "
    "updated_at"
)


def entries(wh: WarehouseConnection, realm_id: str, entity: str) -> dict[str, LedgerEntry]:
    """Every ledger row of an entity by ops id (one query for a whole change set)."""
    rows = wh.fetchdicts(
        f"select {_ENTRY_COLUMNS} from fieldbooks.sync_ledger where realm_id = %s and entity = %s",
        (realm_id, entity),
    )
    return {row["ops_id"]: LedgerEntry(**row) for row in rows}


def qbo_ids(wh: WarehouseConnection, realm_id: str, entity: str) -> dict[str, str]:
    """ops_id -> qbo_id for every linked record of an entity."""
    rows = wh.fetchall(
        "select ops_id, qbo_id from fieldbooks.sync_ledger "
        "where realm_id = %s and entity = %s and qbo_id is not null",
        (realm_id, entity),
    )
    return {ops_id: qbo_id for ops_id, qbo_id in rows}


@dataclass(frozen=True)
class Entry:
    """A ledger row to write; fields left None keep their stored value."""

    realm_id: str
    entity: str
    ops_id: str
    state: str
    qbo_id: str | None = None
    sync_token: str | None = None
    payload_hash: str | None = None
    request_id: str | None = None
    marker: str | None = None
    origin: str = "ops"
    last_error: str | None = None


_LEDGER_COLUMNS = (
    "realm_id, entity, ops_id, qbo_id, sync_token, payload_hash, state, request_id, marker, "
    "origin, last_error, created_at, updated_at"
)


def upsert_entries(wh: WarehouseConnection, rows: Sequence[Entry]) -> None:
    """Write ledger rows in one statement (a batch's intents, or its outcomes): one
    statement per write cost ~30 ms on DuckDB, more than QuickBooks takes to answer."""
    if not rows:
        return
    now = utcnow()
    values = ", ".join(["(" + ", ".join(["%s"] * 13) + ")"] * len(rows))
    params = [
        value
        for row in rows
        for value in (
            row.realm_id,
            row.entity,
            row.ops_id,
            row.qbo_id,
            row.sync_token,
            row.payload_hash,
            row.state,
            row.request_id,
            row.marker,
            row.origin,
            row.last_error,
            now,
            now,
        )
    ]
    wh.execute(
        f"""insert into fieldbooks.sync_ledger ({_LEDGER_COLUMNS})
           values {values}
           on conflict (realm_id, entity, ops_id) do update set
             qbo_id = coalesce(excluded.qbo_id, sync_ledger.qbo_id),
             sync_token = coalesce(excluded.sync_token, sync_ledger.sync_token),
             payload_hash = coalesce(excluded.payload_hash, sync_ledger.payload_hash),
             state = excluded.state,
             request_id = coalesce(excluded.request_id, sync_ledger.request_id),
             marker = coalesce(excluded.marker, sync_ledger.marker),
             last_error = excluded.last_error,
             updated_at = excluded.updated_at""",
        params,
    )


def upsert_entry(wh: WarehouseConnection, **fields: Any) -> None:
    """Write one record's ledger row (see Entry for the fields)."""
    upsert_entries(wh, [Entry(**fields)])


@dataclass(frozen=True)
class Event:
    """One row of the audit log of writes to either system."""

    run_id: str
    direction: str
    realm_id: str
    entity: str
    operation: str
    outcome: str
    ops_id: str | None = None
    qbo_id: str | None = None
    request_id: str | None = None
    payload_hash: str | None = None
    detail: str | None = None


def record_events(wh: WarehouseConnection, events: Sequence[Event]) -> None:
    """Append rows to the audit log, in one statement."""
    if not events:
        return
    now = utcnow()
    values = ", ".join(["(" + ", ".join(["%s"] * 13) + ")"] * len(events))
    params = []
    for e in events:
        event_id = hashlib.sha1(
            f"{now.isoformat()}|{e.run_id}|{e.direction}|{e.entity}|{e.ops_id}|{e.qbo_id}|"
            f"{e.operation}|{uuid.uuid4()}".encode()
        ).hexdigest()
        params.extend(
            (
                event_id,
                now,
                e.run_id,
                e.direction,
                e.realm_id,
                e.entity,
                e.ops_id,
                e.qbo_id,
                e.operation,
                e.request_id,
                e.payload_hash,
                e.outcome,
                e.detail,
            )
        )
    wh.execute(
        f"""insert into fieldbooks.sync_events
             (event_id, occurred_at, run_id, direction, realm_id, entity, ops_id, qbo_id, operation,
              request_id, payload_hash, outcome, detail)
           values {values}""",
        params,
    )


def record_event(wh: WarehouseConnection, **fields: Any) -> None:
    """Append one row to the audit log (see Event for the fields)."""
    record_events(wh, [Event(**fields)])
