"""fieldbooks' own tables in the warehouse (watermarks, ledger, issues, events, runs).

The DDL is portable between DuckDB and PostgreSQL; dbt reads these tables as sources.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fieldbooks.warehouse.connection import WarehouseConnection

STATE_DDL = (
    "create schema if not exists fieldbooks",
    """create table if not exists fieldbooks.watermarks (
        source varchar not null,
        stream varchar not null,
        realm_id varchar not null,
        value varchar not null,
        updated_at timestamp not null,
        primary key (source, stream, realm_id)
    )""",
    """create table if not exists fieldbooks.sync_ledger (
        realm_id varchar not null,
        entity varchar not null,
        ops_id varchar not null,
        qbo_id varchar,
        sync_token varchar,
        payload_hash varchar,
        state varchar not null,
        request_id varchar,
        marker varchar,
        origin varchar not null,
        last_error varchar,
        created_at timestamp not null,
        updated_at timestamp not null,
        primary key (realm_id, entity, ops_id)
    )""",
    """create table if not exists fieldbooks.sync_issues (
        issue_id varchar primary key,
        realm_id varchar not null,
        entity varchar not null,
        ops_id varchar,
        qbo_id varchar,
        kind varchar not null,
        severity varchar not null,
        reason varchar not null,
        hint varchar not null,
        status varchar not null,
        attempts integer not null,
        first_seen timestamp not null,
        last_seen timestamp not null,
        run_id varchar
    )""",
    """create table if not exists fieldbooks.sync_events (
        event_id varchar primary key,
        occurred_at timestamp not null,
        run_id varchar,
        direction varchar not null,
        realm_id varchar,
        entity varchar not null,
        ops_id varchar,
        qbo_id varchar,
        operation varchar not null,
        request_id varchar,
        payload_hash varchar,
        outcome varchar not null,
        detail varchar
    )""",
    """create table if not exists fieldbooks.sync_runs (
        run_id varchar primary key,
        started_at timestamp not null,
        finished_at timestamp,
        status varchar not null,
        summary varchar
    )""",
)


def utcnow() -> datetime:
    """The current time as naive UTC, the convention of every warehouse timestamp."""
    return datetime.now(UTC).replace(tzinfo=None)


def ensure_state(conn: WarehouseConnection) -> None:
    """Create fieldbooks' own schema and tables when missing."""
    for ddl in STATE_DDL:
        conn.execute(ddl)


def get_watermark(
    conn: WarehouseConnection, source: str, stream: str, realm_id: str = ""
) -> str | None:
    """The stored watermark of a stream, or None before its first extract."""
    return conn.scalar(
        "select value from fieldbooks.watermarks where source = %s and stream = %s and realm_id = %s",
        (source, stream, realm_id),
    )


def set_watermark(
    conn: WarehouseConnection, source: str, stream: str, value: str, realm_id: str = ""
) -> None:
    """Move a stream's watermark; call it inside the transaction that committed the data."""
    conn.execute(
        """insert into fieldbooks.watermarks (source, stream, realm_id, value, updated_at)
           values (%s, %s, %s, %s, %s)
           on conflict (source, stream, realm_id)
           do update set value = excluded.value, updated_at = excluded.updated_at""",
        (source, stream, realm_id, value, utcnow()),
    )
