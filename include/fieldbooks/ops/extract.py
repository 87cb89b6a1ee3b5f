"""Step 1: copy rows changed in the operations DB since the watermark into raw_ops.*.

Rows are streamed in chunks and merged on the primary key, so the overlap window
(which catches rows committed late with an older `updated_at`) never doubles a row.
Each table is one warehouse transaction that also moves its watermark.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    Text,
    create_engine,
    select,
)

from fieldbooks.config import Settings
from fieldbooks.ops import schema
from fieldbooks.ops.schema import ExactDecimal
from fieldbooks.warehouse.connection import WarehouseConnection, connect
from fieldbooks.warehouse.merge import TableSpec, ensure_table, merge_rows
from fieldbooks.warehouse.state import ensure_state, get_watermark, set_watermark, utcnow

log = logging.getLogger(__name__)

SOURCE = "ops"
CHUNK_ROWS = 5_000
OVERLAP = timedelta(minutes=5)


@dataclass(frozen=True)
class TableExtract:
    """What one table's extract read and where its watermark now stands."""

    table: str
    rows: int
    watermark: str | None


def _logical_type(column_type: object) -> str:
    """The warehouse logical type of an operations column."""
    if isinstance(column_type, ExactDecimal):
        return {(18, 2): "money", (18, 4): "qty", (9, 6): "rate", (5, 2): "percent"}[
            (column_type.precision, column_type.scale)
        ]
    for sa_type, logical in (
        (Boolean, "bool"),
        (Integer, "int"),
        (DateTime, "timestamp"),
        (Date, "date"),
        (String, "text"),
        (Text, "text"),
    ):
        if isinstance(column_type, sa_type):
            return logical
    raise TypeError(f"no warehouse type for {column_type!r}")


def raw_spec(table: Table) -> TableSpec:
    """The raw_ops table that mirrors an operations table (plus _extracted_at, _deleted)."""
    columns = tuple((c.name, _logical_type(c.type)) for c in table.columns)
    columns += (("_extracted_at", "timestamp"), ("_deleted", "bool"))
    key = tuple(c.name for c in table.primary_key.columns)
    return TableSpec(schema="raw_ops", name=table.name, columns=columns, key=key)


def extract_table(engine: Engine, wh: WarehouseConnection, table: Table) -> TableExtract:
    """Merge one table's changed rows and move its watermark, in one transaction."""
    spec = raw_spec(table)
    ensure_table(wh, spec)
    mark = get_watermark(wh, SOURCE, table.name)
    query = select(table).order_by(table.c.updated_at, *table.primary_key.columns)
    if mark is not None:
        query = query.where(table.c.updated_at >= datetime.fromisoformat(mark) - OVERLAP)
    extracted_at = utcnow()
    newest = datetime.fromisoformat(mark) if mark else None
    total = 0
    # a table without soft deletes (another company's schema) has nothing flagged deleted
    soft_delete = "deleted_at" in table.c
    with engine.connect() as src, wh.transaction():
        result = src.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(query)
        for chunk in result.partitions(CHUNK_ROWS):
            rows = []
            for row in chunk:
                values = tuple(row)
                deleted = soft_delete and row.deleted_at is not None
                rows.append((*values, extracted_at, deleted))
                if newest is None or row.updated_at > newest:
                    newest = row.updated_at
            total += merge_rows(wh, spec, rows)
            log.info("raw_ops.%s: merged %d rows so far", table.name, total)
        if newest is not None:
            set_watermark(wh, SOURCE, table.name, newest.isoformat())
    return TableExtract(table.name, total, newest.isoformat() if newest else None)


def extract_ops(settings: Settings) -> list[TableExtract]:
    """Extract every synced operations table into raw_ops.*."""
    engine = create_engine(settings.ops_url)
    try:
        with connect(settings.warehouse_url) as wh:
            ensure_state(wh)
            return [extract_table(engine, wh, table) for table in schema.SYNCED_TABLES]
    finally:
        engine.dispose()
