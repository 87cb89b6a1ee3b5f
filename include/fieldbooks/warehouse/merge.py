"""Merge batches of rows into warehouse tables on their key: a rerun changes nothing.

Rows are bulk-loaded into a temporary table (Arrow on DuckDB, COPY on PostgreSQL),
then merged with one `insert ... on conflict do update`.
"""

from __future__ import annotations

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
        """schema.name"""
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        """Column names in order."""
        return [c for c, _ in self.columns]


def ensure_table(conn: WarehouseConnection, spec: TableSpec) -> None:
    """Create the table when missing; add columns that appeared in the source since."""
    types = _SQL_TYPES[conn.kind]
    conn.execute(f"create schema if not exists {spec.schema}")
    if not conn.table_exists(spec.schema, spec.name):
        cols = ", ".join(f'"{c}" {types[t]}' for c, t in spec.columns)
        keys = ", ".join(f'"{k}"' for k in spec.key)
        conn.execute(f"create table {spec.qualified} ({cols}, primary key ({keys}))")
        return
    existing = set(conn.columns(spec.schema, spec.name))
    for column, logical in spec.columns:
        if column not in existing:
            conn.execute(f'alter table {spec.qualified} add column "{column}" {types[logical]}')


def _arrow_table(spec: TableSpec, rows: Sequence[Sequence[Any]]) -> Any:
    """Rows as an Arrow table typed exactly (decimals stay decimals)."""
    import pyarrow as pa

    arrow_types = {
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
    }
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in spec.columns]
    arrays = [
        pa.array(list(values), type=arrow_types[logical])
        for (_, logical), values in zip(spec.columns, columns, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=spec.column_names)


def merge_rows(conn: WarehouseConnection, spec: TableSpec, rows: Sequence[Sequence[Any]]) -> int:
    """Upsert rows (tuples in spec column order) into the table; returns how many were merged."""
    if not rows:
        return 0
    # Several versions of one key in a batch: the last one wins, as a replay would.
    key_at = [spec.column_names.index(k) for k in spec.key]
    rows = list({tuple(row[i] for i in key_at): row for row in rows}.values())
    names = spec.column_names
    quoted = ", ".join(f'"{c}"' for c in names)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in names if c not in spec.key)
    keys = ", ".join(f'"{k}"' for k in spec.key)
    stage = f"_stage_{spec.schema}_{spec.name}"
    if conn.kind == "duckdb":
        conn.raw.register(stage, _arrow_table(spec, rows))
        source = stage
    else:
        types = _SQL_TYPES["postgres"]
        cols = ", ".join(f'"{c}" {types[t]}' for c, t in spec.columns)
        conn.execute(f"drop table if exists {stage}")
        conn.execute(f"create temporary table {stage} ({cols})")
        with conn.raw.cursor() as cur, cur.copy(f"copy {stage} ({quoted}) from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        source = stage
    conn.execute(
        f"""insert into {spec.qualified} ({quoted})
            select {quoted} from {source}
            on conflict ({keys}) do update set {updates}"""
    )
    if conn.kind == "duckdb":
        conn.raw.unregister(stage)
    else:
        conn.execute(f"drop table {stage}")
    return len(rows)
