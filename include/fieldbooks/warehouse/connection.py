"""One connection type over the two warehouses fieldbooks supports: DuckDB and PostgreSQL.

SQL is written once with `%s` placeholders; DuckDB's `?` style is substituted here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class WarehouseTarget:
    """Where the warehouse lives, parsed from FIELDBOOKS_WAREHOUSE_URL."""

    kind: str  # "duckdb" or "postgres"
    path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    dbname: str = ""

    @property
    def dsn(self) -> str:
        """A libpq connection string (PostgreSQL only)."""
        parts = [
            f"host={self.host}",
            f"port={self.port}",
            f"user={self.user}",
            f"dbname={self.dbname}",
        ]
        if self.password:
            parts.append(f"password={self.password}")
        return " ".join(parts)


def parse_warehouse_url(url: str) -> WarehouseTarget:
    """Parse `duckdb:///path/file.duckdb` or `postgresql://user@host:port/db`."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "duckdb":
        raw = url.split("://", 1)[1]
        if not raw.startswith("/"):
            raise ValueError(f"DuckDB warehouse URL needs an absolute path: {url!r}")
        return WarehouseTarget(kind="duckdb", path=Path("/" + raw.lstrip("/")))
    if scheme in ("postgresql", "postgres"):
        return WarehouseTarget(
            kind="postgres",
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or "",
            dbname=parts.path.lstrip("/") or "postgres",
        )
    raise ValueError(f"unsupported warehouse URL {url!r}: use duckdb:///<file> or postgresql://...")


_PLACEHOLDER = re.compile(r"%s")


class WarehouseConnection:
    """A thin DB-API wrapper that knows its dialect."""

    def __init__(self, kind: str, raw: Any) -> None:
        self.kind = kind
        self.raw = raw
        self._depth = 0

    def _sql(self, sql: str) -> str:
        return _PLACEHOLDER.sub("?", sql) if self.kind == "duckdb" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement and return the cursor."""
        if self.kind == "duckdb":
            return self.raw.execute(self._sql(sql), list(params))
        cur = self.raw.cursor()
        cur.execute(sql, params)
        return cur

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""
        if not rows:
            return
        if self.kind == "duckdb":
            self.raw.executemany(self._sql(sql), [list(r) for r in rows])
        else:
            with self.raw.cursor() as cur:
                cur.executemany(sql, rows)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Rows of a query."""
        return list(self.execute(sql, params).fetchall())

    def fetchdicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a query as dicts keyed by column name."""
        cur = self.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        rows = self.execute(sql, params).fetchall()  # DuckDB wants every result consumed
        return rows[0][0] if rows else None

    def table_exists(self, schema: str, table: str) -> bool:
        """Whether schema.table exists."""
        return bool(
            self.scalar(
                "select count(*) from information_schema.tables "
                "where table_schema = %s and table_name = %s",
                (schema, table),
            )
        )

    def columns(self, schema: str, table: str) -> list[str]:
        """The column names of schema.table in order."""
        rows = self.fetchall(
            "select column_name from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            (schema, table),
        )
        return [r[0] for r in rows]

    @contextmanager
    def transaction(self) -> Iterator[WarehouseConnection]:
        """Commit everything inside the block, or nothing (an inner block joins the outer)."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            if self.kind == "duckdb":
                self.raw.execute("begin transaction")
                try:
                    yield self
                except BaseException:
                    self.raw.execute("rollback")
                    raise
                self.raw.execute("commit")
            else:
                with self.raw.transaction():
                    yield self
        finally:
            self._depth = 0


def _duckdb_size(value: str) -> str:
    """A memory size as DuckDB reads it (e.g. 128MB, 2GB), refusing anything else."""
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", value.strip(), re.IGNORECASE):
        raise ValueError(
            f"FIELDBOOKS_DUCKDB_MEMORY_LIMIT must be a size such as 128MB or 2GB, not {value!r}"
        )
    return value.strip()


@contextmanager
def connect(url: str) -> Iterator[WarehouseConnection]:
    """Open the warehouse named by URL; closed (and DuckDB's file lock freed) on exit."""
    target = parse_warehouse_url(url)
    if target.kind == "duckdb":
        import duckdb

        assert target.path is not None
        target.path.parent.mkdir(parents=True, exist_ok=True)
        raw = duckdb.connect(str(target.path))
        # DuckDB takes 80 % of RAM by default; fieldbooks' loads stream, so a bounded
        # buffer pool (spilling to disk beyond it) keeps a worker's memory predictable.
        # A SET, not connect(config=): dbt-duckdb in the same process may hold the file
        # open already, and DuckDB refuses a second connection with another config.
        limit = os.environ.get("FIELDBOOKS_DUCKDB_MEMORY_LIMIT", "128MB")
        raw.execute(f"set memory_limit = '{_duckdb_size(limit)}'")
    else:
        import psycopg

        raw = psycopg.connect(target.dsn, autocommit=True)
    try:
        yield WarehouseConnection(target.kind, raw)
    finally:
        if target.kind == "duckdb":
            # the setting belongs to the database instance, which dbt may share
            raw.execute("reset memory_limit")
        raw.close()
