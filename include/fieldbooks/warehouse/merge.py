"""Merge batches of rows into warehouse tables on their key: a rerun changes nothing.

Rows are bulk-loaded into a temporary table (Arrow on DuckDB, COPY on PostgreSQL),
then merged with one `insert ... on conflict do update`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fieldbooks.warehouse.connection import WarehouseConnection

# Logical column types and how each warehouse spells them.
_SQL_TYPES = {
    "duckdb": {
        "int": "bigint",
        "text": "varchar",
        "bool": "boolean",
        "timestamp": "timestamp",
        "date": "date",
        "money": "decimal(18,2)",
        "qty": "decimal(18,4)",
        "rate": "decimal(9,6)",
        "percent": "decimal(5,2)",
        "json": "json",
    },
    "postgres": {
        "int": "bigint",
        "text": "text",
        "bool": "boolean",
        "timestamp": "timestamp",
        "date": "date",
        "money": "numeric(18,2)",
        "qty": "numeric(18,4)",
        "rate": "numeric(9,6)",
        "percent": "numeric(5,2)",
        "json": "jsonb",
    },
}


@dataclass(frozen=True)
class TableSpec:
    """A warehouse table: its name, columns (name, logical type) and key."""

    schema: str
    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]

    @property
    def qualified(self) -> str:
        """schema.name (a temporary table, without a schema: its name)."""
        return f"{self.schema}.{self.name}" if self.schema else self.name

    @property
    def column_names(self) -> list[str]:
        """Column names in order."""
        return [c for c, _ in self.columns]


_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")


def sql_type(kind: str, logical: str) -> str:
    """How a warehouse spells a logical type (`decimal(p,s)` for any other precision)."""
    fixed = _SQL_TYPES[kind].get(logical)
    if fixed is not None:
        return fixed
    match = _DECIMAL.fullmatch(logical)
    if match is None:
        raise ValueError(f"unknown logical column type {logical!r}")
    return f"{'decimal' if kind == 'duckdb' else 'numeric'}({match[1]},{match[2]})"


def arrow_type(logical: str) -> Any:
    """The Arrow type that carries a logical type exactly (decimals stay decimals)."""
    import pyarrow as pa

    fixed = {
        "int": pa.int64(),
        "text": pa.string(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us"),
        "date": pa.date32(),
        "money": pa.decimal128(18, 2),
        "qty": pa.decimal128(18, 4),
        "rate": pa.decimal128(9, 6),
        "percent": pa.decimal128(5, 2),
        "json": pa.string(),
    }.get(logical)
    if fixed is not None:
        return fixed
    match = _DECIMAL.fullmatch(logical)
    if match is None:
        raise ValueError(f"unknown logical column type {logical!r}")
    return pa.decimal128(int(match[1]), int(match[2]))


def ensure_table(
    conn: WarehouseConnection,
    spec: TableSpec,
    existing: dict[str, str] | None = None,
    *,
    defer_key: bool = False,
) -> bool:
    """Create the table when missing (True) or add columns that appeared since (False).

    `existing` is the table's columns as `schema_types` read them, when the caller has them
    ({} for a table known to be missing); else they are looked up. `defer_key` creates a
    new table without its primary key, for a bulk first load that calls `add_key` after
    (one index build instead of one insert per row into it).
    """
    if existing is None:
        existing = schema_types(conn, spec.schema).get(spec.name, {})
    if not existing:
        conn.execute(f"create schema if not exists {spec.schema}")
        cols = ", ".join(f'"{c}" {sql_type(conn.kind, t)}' for c, t in spec.columns)
        keys = ", ".join(f'"{k}"' for k in spec.key)
        constraint = "" if defer_key else f", primary key ({keys})"
        conn.execute(f"create table {spec.qualified} ({cols}{constraint})")
        return True
    for column, logical in spec.columns:
        if column not in existing:
            conn.execute(
                f'alter table {spec.qualified} add column "{column}" {sql_type(conn.kind, logical)}'
            )
    return False


def add_key(conn: WarehouseConnection, spec: TableSpec) -> None:
    """Add the primary key to a table created with `defer_key`."""
    keys = ", ".join(f'"{k}"' for k in spec.key)
    conn.execute(f"alter table {spec.qualified} add primary key ({keys})")


_PG_NAMES = {"timestamp without time zone": "timestamp", "character varying": "text"}


def schema_types(conn: WarehouseConnection, schema: str) -> dict[str, dict[str, str]]:
    """Every table of a schema: its columns and their types, spelled as `sql_type` spells them."""
    rows = conn.fetchall(
        "select table_name, column_name, data_type, numeric_precision, numeric_scale "
        "from information_schema.columns where table_schema = %s order by ordinal_position",
        (schema,),
    )
    tables: dict[str, dict[str, str]] = {}
    for table, name, data_type, precision, scale in rows:
        spelled = data_type.lower()
        if conn.kind == "postgres":
            spelled = _PG_NAMES.get(spelled, spelled)
            if spelled == "numeric":
                spelled = f"numeric({precision},{scale})"
        tables.setdefault(table, {})[name] = spelled
    return tables


def type_drift(kind: str, spec: TableSpec, has: dict[str, str]) -> list[tuple[str, str, str]]:
    """Columns whose warehouse type (`has`) is not the one the spec wants: (column, has, wants)."""
    drift = []
    for column, logical in spec.columns:
        wanted = sql_type(kind, logical)
        if column in has and has[column] != wanted:
            drift.append((column, has[column], wanted))
    return drift


def arrow_batch(spec: TableSpec, columns: Sequence[Sequence[Any]]) -> Any:
    """Column value lists (spec order) as an Arrow table typed exactly."""
    import pyarrow as pa

    arrays = [
        pa.array(values, type=arrow_type(logical))
        for (_, logical), values in zip(spec.columns, columns, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=spec.column_names)


# How a batch meets the rows already in its table:
APPEND = "append"  # a table known to hold none of the keys (a first load): plain insert
UPSERT = "upsert"  # insert ... on conflict do update
# DuckDB rewrites every column of a row on update (loading the key index to do it), so
# there a batch deletes the rows it replaces and inserts them, an order of magnitude
# faster: only for tables whose every column the batch carries (else upsert)
REPLACE = "replace"


def insert_from(conn: WarehouseConnection, spec: TableSpec, source: str, mode: str) -> None:
    """Insert (append), upsert or replace every row of a staged relation into the table."""
    names = spec.column_names
    quoted = ", ".join(f'"{c}"' for c in names)
    sql = f"insert into {spec.qualified} ({quoted}) select {quoted} from {source}"
    if mode == REPLACE and conn.kind == "duckdb":
        match = " and ".join(f'{spec.qualified}."{k}" = s."{k}"' for k in spec.key)
        with conn.transaction():
            conn.execute(f"delete from {spec.qualified} using {source} s where {match}")
            conn.execute(sql)
        return
    if mode != APPEND:
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in names if c not in spec.key)
        keys = ", ".join(f'"{k}"' for k in spec.key)
        sql += f" on conflict ({keys}) do update set {updates}"
    conn.execute(sql)


def merge_columns(
    conn: WarehouseConnection,
    spec: TableSpec,
    columns: Sequence[Sequence[Any]],
    *,
    mode: str = UPSERT,
) -> int:
    """Load a batch given column by column (spec order), keys unique within the batch."""
    rows = len(columns[0]) if columns else 0
    if not rows:
        return 0
    stage = f"_stage_{spec.schema}_{spec.name}"
    if conn.kind == "duckdb":
        conn.raw.register(stage, arrow_batch(spec, columns))
        try:
            insert_from(conn, spec, stage, mode)
        finally:
            conn.raw.unregister(stage)
        return rows
    cols = ", ".join(f'"{c}" {sql_type("postgres", t)}' for c, t in spec.columns)
    quoted = ", ".join(f'"{c}"' for c in spec.column_names)
    if mode == APPEND:
        target = spec.qualified  # COPY straight into the new table
    else:
        conn.execute(f"drop table if exists {stage}")
        conn.execute(f"create temporary table {stage} ({cols})")
        target = stage
    with conn.raw.cursor() as cur, cur.copy(f"copy {target} ({quoted}) from stdin") as copy:
        for row in zip(*columns, strict=True):
            copy.write_row(row)
    if mode != APPEND:
        insert_from(conn, spec, stage, mode)
        conn.execute(f"drop table {stage}")
    return rows


def merge_rows(conn: WarehouseConnection, spec: TableSpec, rows: Sequence[Sequence[Any]]) -> int:
    """Upsert rows (tuples in spec column order) into the table; returns how many were merged."""
    if not rows:
        return 0
    # Several versions of one key in a batch: the last one wins, as a replay would.
    key_at = [spec.column_names.index(k) for k in spec.key]
    rows = list({tuple(row[i] for i in key_at): row for row in rows}.values())
    return merge_columns(conn, spec, [list(c) for c in zip(*rows, strict=True)])
