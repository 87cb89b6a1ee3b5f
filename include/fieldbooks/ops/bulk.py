"""Write a stream of rows into the operations DB fast, in one transaction.

PostgreSQL gets COPY through psycopg; SQLite gets executemany of tuples that
SQLAlchemy's own bind processors prepared, so the stored text is exactly what a Core
insert would store. Rows wait in a buffer per table; when one fills, every buffer is
written in dependency order, so memory stays flat and a parent always lands before its
children. Tables this load creates get their secondary indexes (and on PostgreSQL their
foreign keys) only after the rows are in, as pg_restore does: checking and indexing
millions of rows once is far cheaper than row by row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from operator import itemgetter
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, Table, inspect, text
from sqlalchemy.schema import AddConstraint, CreateIndex, CreateTable

from fieldbooks.ops import schema

log = logging.getLogger(__name__)

CHUNK_ROWS = 10_000


class BulkLoader:
    """A context manager that takes rows table by table and commits them all at the end."""

    def __init__(self, engine: Engine, chunk_rows: int = CHUNK_ROWS) -> None:
        """Load through this engine, writing every chunk_rows rows of one table."""
        self.engine = engine
        self.chunk_rows = chunk_rows
        self.tables = list(schema.metadata.sorted_tables)
        self.counts: dict[str, int] = {t.name: 0 for t in self.tables}
        self._buffers: dict[str, list[tuple]] = {t.name: [] for t in self.tables}
        self._getters = {t.name: itemgetter(*[c.name for c in t.columns]) for t in self.tables}
        self._deferred: list[Any] = []
        self._conn: Connection | None = None
        self._write: Callable[[Table, list[tuple]], None] | None = None

    def __enter__(self) -> BulkLoader:
        """Open the load's connection and transaction and create the missing tables."""
        conn = self.engine.connect()
        self._conn = conn
        dialect = conn.dialect.name
        if dialect == "sqlite":
            # a seed goes into a new file: durability of each page can wait for the commit
            conn.exec_driver_sql("PRAGMA synchronous = OFF")
            conn.exec_driver_sql("PRAGMA cache_size = -16384")
            conn.commit()
        conn.begin()
        self._create_tables(conn)
        self._write = self._copy if dialect == "postgresql" else self._executemany
        if dialect == "sqlite":
            self._processors = {
                t.name: [
                    c.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
                    for c in t.columns
                ]
                for t in self.tables
            }
        return self

    def _create_tables(self, conn: Connection) -> None:
        """Create the missing tables; a fresh database gets its indexes and keys after the load."""
        existing = set(inspect(conn).get_table_names())
        missing = [t for t in self.tables if t.name not in existing]
        fresh = len(missing) == len(self.tables)
        for table in missing:
            if fresh and conn.dialect.name == "postgresql":
                conn.execute(CreateTable(table, include_foreign_key_constraints=[]))
                self._deferred.extend(AddConstraint(fk) for fk in table.foreign_key_constraints)
            else:
                conn.execute(CreateTable(table))
            if fresh:
                self._deferred[:0] = [CreateIndex(index) for index in table.indexes]
            else:
                for index in table.indexes:
                    conn.execute(CreateIndex(index))

    def add(self, table: str, row: dict[str, Any]) -> None:
        """Queue one row (a dict with every column of the table)."""
        buffer = self._buffers[table]
        buffer.append(self._getters[table](row))
        if len(buffer) >= self.chunk_rows:
            self.flush()

    def flush(self) -> None:
        """Write every buffered row, parents first."""
        assert self._write is not None, "use BulkLoader as a context manager"
        for table in self.tables:
            rows = self._buffers[table.name]
            if rows:
                self._write(table, rows)
                self.counts[table.name] += len(rows)
                self._buffers[table.name] = []

    def _copy(self, table: Table, rows: list[tuple]) -> None:
        """COPY rows into a PostgreSQL table (text format: psycopg writes exact decimals)."""
        assert self._conn is not None
        raw = self._conn.connection.driver_connection
        columns = ", ".join(f'"{c.name}"' for c in table.columns)
        with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)

    def _executemany(self, table: Table, rows: list[tuple]) -> None:
        """Insert rows into a SQLite table, each value bound as SQLAlchemy would bind it."""
        assert self._conn is not None
        processors = self._processors[table.name]
        active = [(i, p) for i, p in enumerate(processors) if p is not None]
        if active:
            prepared = []
            for row in rows:
                values = list(row)
                for i, process in active:
                    values[i] = process(values[i])
                prepared.append(values)
        else:
            prepared = rows
        columns = ", ".join(f'"{c.name}"' for c in table.columns)
        marks = ", ".join("?" for _ in table.columns)
        raw = self._conn.connection.driver_connection
        raw.executemany(f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})', prepared)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Write what is left and commit, or roll everything back on an error."""
        conn = self._conn
        assert conn is not None
        try:
            if exc_type is None:
                self.flush()
                self._finish(conn)
                conn.commit()
            else:
                conn.rollback()
        finally:
            conn.close()

    def _finish(self, conn: Connection) -> None:
        """Indexes and keys deferred by the load, sequences past the loaded ids, statistics."""
        for ddl in self._deferred:
            conn.execute(ddl)
        if conn.dialect.name == "postgresql":
            # explicit ids leave the serial sequences behind: move them past the loaded rows
            for table in self.tables:
                conn.execute(
                    text(
                        f"select setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f'(select coalesce(max(id), 0) + 1 from "{table.name}"), false)'
                    )
                )
            conn.exec_driver_sql("ANALYZE")
        log.info("bulk load: %s", self.counts)
