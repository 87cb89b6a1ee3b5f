"""The fast path from a PostgreSQL operations DB: COPY out, no Python object per row.

`COPY (select ...) TO STDOUT` streams the changed rows as text. Into a PostgreSQL
warehouse the bytes go straight into `COPY ... FROM STDIN` (a staging table, or the new
table itself on a first load); into DuckDB, Arrow's CSV reader parses them into typed
record batches (decimals stay decimal128) that DuckDB inserts. Memory stays at one
block, whatever the table's size.
"""

from __future__ import annotations

import io
import itertools
import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from queue import Full, Queue
from typing import Any

from fieldbooks.warehouse.connection import WarehouseConnection
from fieldbooks.warehouse.merge import APPEND, TableSpec, arrow_type, insert_from, sql_type

log = logging.getLogger(__name__)

BLOCK_BYTES = 2 << 20


class _CopyReader(io.RawIOBase):
    """A readable file over the chunks of a COPY ... TO STDOUT."""

    def __init__(self, chunks: Iterator[Any]) -> None:
        self._chunks = chunks
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            try:
                self._left = memoryview(bytes(next(self._chunks)))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size


def _prefetched(batches: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Iterate in a helper thread, `depth` batches ahead: parsing (Arrow) and inserting
    (DuckDB) both release the GIL, so the two run on two cores instead of taking turns."""
    done = object()
    queue: Queue[Any] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    worker = threading.Thread(target=produce, name="copy-prefetch", daemon=True)
    worker.start()
    try:
        while (item := queue.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # a consumer that failed stops the reader before the COPY is closed
        worker.join()


def _newest(wh: WarehouseConnection, relation: str, change: str) -> datetime | None:
    return wh.scalar(f'select max("{change}") from {relation}')


def copy_to_postgres(
    src: Any, wh: WarehouseConnection, spec: TableSpec, select_sql: str, change: str, mode: str
) -> tuple[int, datetime | None]:
    """Pipe the query's rows into the warehouse: straight into a new table, else stage and merge."""
    quoted = ", ".join(f'"{c}"' for c in spec.column_names)
    if mode == APPEND:
        target = spec.qualified
    else:
        target = f"_stage_{spec.schema}_{spec.name}"
        cols = ", ".join(f'"{c}" {sql_type("postgres", t)}' for c, t in spec.columns)
        wh.execute(f"drop table if exists {target}")
        wh.execute(f"create temporary table {target} ({cols})")
    with (
        src.cursor() as out_cur,
        out_cur.copy(f"copy ({select_sql}) to stdout") as out,
        wh.raw.cursor() as in_cur,
        in_cur.copy(f"copy {target} ({quoted}) from stdin") as into,
    ):
        for data in out:
            into.write(data)
    # the staging table (or the table, on a first load) holds just what was copied
    rows = wh.scalar(f"select count(*) from {target}")
    if not rows:
        if mode != APPEND:
            wh.execute(f"drop table {target}")
        return 0, None
    newest = _newest(wh, target, change)
    if mode != APPEND:
        insert_from(wh, spec, target, mode)
        wh.execute(f"drop table {target}")
    return rows, newest


def copy_to_duckdb(
    src: Any, wh: WarehouseConnection, spec: TableSpec, select_sql: str, change: str, mode: str
) -> tuple[int, datetime | None]:
    """Parse the query's CSV rows with Arrow, batch by batch, and insert or merge each."""
    import pyarrow.compute as pc
    import pyarrow.csv as csv

    names = spec.column_names
    rows = 0
    newest = None
    stage = f"_stage_{spec.schema}_{spec.name}"
    with src.cursor() as cur, cur.copy(f"copy ({select_sql}) to stdout (format csv)") as out:
        chunks = iter(out)
        first = next((chunk for chunk in chunks if len(chunk)), None)
        if first is None:
            # nothing selected (an empty table, or nothing changed): Arrow refuses an empty CSV
            return rows, newest
        reader = csv.open_csv(
            io.BufferedReader(_CopyReader(itertools.chain([first], chunks)), BLOCK_BYTES),
            read_options=csv.ReadOptions(column_names=names, block_size=BLOCK_BYTES),
            # PostgreSQL's CSV: NULL is an empty field, an empty string is ""
            parse_options=csv.ParseOptions(newlines_in_values=True),
            convert_options=csv.ConvertOptions(
                column_types={name: arrow_type(t) for name, t in spec.columns},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["t"],
                false_values=["f"],
            ),
        )
        for batch in _prefetched(reader):
            if not batch.num_rows:
                continue
            top = pc.max(batch.column(names.index(change))).as_py()
            if top is not None and (newest is None or top > newest):
                newest = top
            wh.raw.register(stage, batch)
            try:
                insert_from(wh, spec, stage, mode)
            finally:
                wh.raw.unregister(stage)
            rows += batch.num_rows
            log.info("raw_ops.%s: %d rows so far", spec.name, rows)
    return rows, newest
