"""The crosswalk/outbox (fieldbooks.sync_ledger) and the audit log (fieldbooks.sync_events).

A write to QuickBooks is bracketed by the ledger: the intent and its deterministic
request id are recorded before the call, the QuickBooks id after it. A rerun that
finds a `pending` row looks the object up by its marker before creating anything.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

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


def upsert_entry(
    wh: WarehouseConnection,
    *,
    realm_id: str,
    entity: str,
    ops_id: str,
    state: str,
    qbo_id: str | None = None,
    sync_token: str | None = None,
    payload_hash: str | None = None,
    request_id: str | None = None,
    marker: str | None = None,
    origin: str = "ops",
    last_error: str | None = None,
) -> None:
    """Write a record's ledger row; fields passed as None keep their stored value."""
    now = utcnow()
    wh.execute(
        """insert into fieldbooks.sync_ledger
             (realm_id, entity, ops_id, qbo_id, sync_token, payload_hash, state, request_id,
              marker, origin, last_error, created_at, updated_at)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           on conflict (realm_id, entity, ops_id) do update set
             qbo_id = coalesce(excluded.qbo_id, sync_ledger.qbo_id),
             sync_token = coalesce(excluded.sync_token, sync_ledger.sync_token),
             payload_hash = coalesce(excluded.payload_hash, sync_ledger.payload_hash),
             state = excluded.state,
             request_id = coalesce(excluded.request_id, sync_ledger.request_id),
             marker = coalesce(excluded.marker, sync_ledger.marker),
             last_error = excluded.last_error,
             updated_at = excluded.updated_at""",
        (
            realm_id,
            entity,
            ops_id,
            qbo_id,
            sync_token,
            payload_hash,
            state,
            request_id,
            marker,
            origin,
            last_error,
            now,
            now,
        ),
    )


def record_event(
    wh: WarehouseConnection,
    *,
    run_id: str,
    direction: str,
    realm_id: str,
    entity: str,
    operation: str,
    outcome: str,
    ops_id: str | None = None,
    qbo_id: str | None = None,
    request_id: str | None = None,
    payload_hash: str | None = None,
    detail: str | None = None,
) -> None:
    """Append one row to the audit log of writes to either system."""
    now = utcnow()
    event_id = hashlib.sha1(
        f"{now.isoformat()}|{run_id}|{direction}|{entity}|{ops_id}|{qbo_id}|{operation}|{uuid.uuid4()}".encode()
    ).hexdigest()
    wh.execute(
        """insert into fieldbooks.sync_events
             (event_id, occurred_at, run_id, direction, realm_id, entity, ops_id, qbo_id, operation,
              request_id, payload_hash, outcome, detail)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            event_id,
            now,
            run_id,
            direction,
            realm_id,
            entity,
            ops_id,
            qbo_id,
            operation,
            request_id,
            payload_hash,
            outcome,
            detail,
        ),
    )
