"""Step 1: copy rows changed in the operations DB since the watermark into raw_ops.*.

Per table (rules in `ops.sources`): rows whose change column is at or after the
watermark minus an overlap window are streamed in chunks through a server-side cursor
and merged on the key, so a row committed late with an older stamp, or changed twice
in one second, is neither missed nor doubled. Every few hours the source's keys are
streamed into the warehouse and raw rows whose key is gone are marked `_deleted`
(never erased). Columns are read from the live source: a new column appears in the
raw table on the next run; a changed type holds that table back as an issue, with its
watermark where it was, while the other tables go on. One warehouse transaction per
table also moves its watermark.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    cast,
    column,
    create_engine,
    false,
    inspect,
    literal,
    select,
    table,
    type_coerce,
)

from fieldbooks.config import Settings
from fieldbooks.issues import Issue, raise_issue
from fieldbooks.ops.copystream import copy_to_duckdb, copy_to_postgres
from fieldbooks.ops.schema import ExactDecimal
from fieldbooks.ops.sources import SourceTable, source_tables
from fieldbooks.warehouse.connection import WarehouseConnection, connect
from fieldbooks.warehouse.merge import (
    APPEND,
    REPLACE,
    UPSERT,
    TableSpec,
    add_key,
    ensure_table,
    merge_columns,
    schema_types,
    sql_type,
    type_drift,
)
from fieldbooks.warehouse.state import (
    ensure_state,
    set_watermark,
    utcnow,
)

log = logging.getLogger(__name__)

SOURCE = "ops"
# issues about the operations DB itself carry this in place of a QuickBooks company
OPS_REALM = "ops"
CHUNK_ROWS = 50_000
OVERLAP = timedelta(minutes=5)
SCHEMA_ISSUES = ("source_type_changed", "source_column_missing")


@dataclass(frozen=True)
class TableExtract:
    """What one table's extract read and where its watermark now stands."""

    table: str
    rows: int
    watermark: str | None
    hard_deleted: int = 0
    held: str | None = None  # why the table was held back, when it was


@dataclass(frozen=True)
class SourceColumn:
    """One column as read from the live source: its name, logical type and select expression."""

    name: str
    logical: str
    expr: Any  # what the select reads (typed for exact values)
    ref: Any  # the bare column, for filters and ordering


def _physical(column_type: Any, engine: Engine) -> Any:
    """The type a column really has in this dialect (ExactDecimal is text on SQLite)."""
    if isinstance(column_type, TypeDecorator):
        return column_type.load_dialect_impl(engine.dialect)
    return column_type


def _family(column_type: Any) -> str | None:
    """A source type as a logical warehouse type; None when it has no exact one."""
    if isinstance(column_type, ExactDecimal):
        return {(18, 2): "money", (18, 4): "qty", (9, 6): "rate", (5, 2): "percent"}.get(
            (column_type.precision, column_type.scale),
            f"decimal({column_type.precision},{column_type.scale})",
        )
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
    exact = isinstance(column_type, Numeric) and not isinstance(column_type, Float)
    if exact and column_type.precision is not None and column_type.scale is not None:
        return f"decimal({column_type.precision},{column_type.scale})"
    return None


def _same(declared: str | None, live: str | None) -> bool:
    """Whether a declared logical type and the live source's agree (money is decimal(18,2))."""
    aliases = {"money": "decimal(18,2)", "qty": "decimal(18,4)", "rate": "decimal(9,6)"}
    aliases["percent"] = "decimal(5,2)"
    return aliases.get(declared or "", declared) == aliases.get(live or "", live)


def read_columns(engine: Engine, source: SourceTable) -> tuple[list[SourceColumn], list[Issue]]:
    """The live source's columns (declared ones first), and what no longer fits the declaration."""
    live = {c["name"]: c["type"] for c in inspect(engine).get_columns(source.name)}
    lite = table(source.name, *(column(name) for name in live))
    # SQLite hands back text for exact decimals and datetimes: typed reads convert them
    typed = engine.dialect.name == "sqlite"
    problems: list[Issue] = []
    columns: list[SourceColumn] = []
    for declared in source.table.columns:
        name = declared.name
        if name not in live:
            problems.append(
                _schema_issue(
                    source,
                    name,
                    "source_column_missing",
                    f"The column {name} of {source.name} is gone from the operations DB.",
                    "fieldbooks' reference schema and the dbt models read this column: restore "
                    "it in the operations DB (or map the table's columns in FIELDBOOKS_OPS_TABLES), "
                    "then rerun. The table's raw copy and watermark wait as they are; nothing is lost.",
                )
            )
            continue
        wanted = _family(_physical(declared.type, engine))
        found = _family(live[name])
        if not _same(wanted, found):
            problems.append(
                _schema_issue(
                    source,
                    name,
                    "source_type_changed",
                    f"The column {name} of {source.name} changed type in the operations DB: "
                    f"fieldbooks expects {wanted}, the database now has {live[name]}.",
                    "Change the column back, or update fieldbooks' reference schema for the new "
                    "type; then rerun. The table's raw copy and watermark wait as they are.",
                )
            )
            continue
        logical = _family(declared.type) or "text"
        read = type_coerce(lite.c[name], declared.type) if typed else lite.c[name]
        columns.append(SourceColumn(name, logical, read, lite.c[name]))
    for name, live_type in live.items():
        if name in source.table.c:
            continue
        logical = _family(live_type)
        if logical is None:  # no exact warehouse type (float, json, ...): kept as its text
            columns.append(SourceColumn(name, "text", cast(lite.c[name], Text), lite.c[name]))
        elif logical.startswith("decimal("):
            precision, scale = live_type.precision, live_type.scale
            columns.append(
                SourceColumn(
                    name,
                    logical,
                    type_coerce(lite.c[name], ExactDecimal(precision, scale)),
                    lite.c[name],
                )
            )
        else:
            columns.append(
                SourceColumn(name, logical, type_coerce(lite.c[name], live_type), lite.c[name])
            )
    return columns, problems


def _schema_issue(
    source: SourceTable, column_name: str, kind: str, reason: str, hint: str
) -> Issue:
    return Issue(
        realm_id=OPS_REALM,
        entity=f"raw_ops.{source.name}",
        ops_id=column_name,
        kind=kind,
        reason=reason,
        hint=hint,
    )


def raw_spec(source: SourceTable, columns: list[SourceColumn]) -> TableSpec:
    """The raw_ops table that mirrors a source table (plus _extracted_at, _deleted)."""
    described = tuple((c.name, c.logical) for c in columns)
    described += (("_extracted_at", "timestamp"), ("_deleted", "bool"))
    return TableSpec(schema="raw_ops", name=source.name, columns=described, key=source.key)


def _drift_issues(
    source: SourceTable, spec: TableSpec, kind: str, has: dict[str, str]
) -> list[Issue]:
    return [
        _schema_issue(
            source,
            name,
            "source_type_changed",
            f"raw_ops.{source.name}.{name} is {was} in the warehouse, but the operations DB "
            f"now gives {wants}.",
            f"Run `fieldbooks extract ops --accept-type-change {source.name}`: the old column is "
            "kept under a new name with its values, the new one is added and the table re-read "
            "from the start. Until then the table's watermark waits; nothing is lost.",
        )
        for name, was, wants in type_drift(kind, spec, has)
    ]


def _hold(wh: WarehouseConnection, source: SourceTable, problems: list[Issue], run_id: str) -> str:
    for issue in problems:
        raise_issue(wh, issue, run_id)
    why = "; ".join(p.reason for p in problems)
    log.error("raw_ops.%s held back: %s", source.name, why)
    return why


def _resolve_schema_issues(wh: WarehouseConnection, source: SourceTable, run_id: str) -> None:
    wh.execute(
        """update fieldbooks.sync_issues set status = 'resolved', last_seen = %s, run_id = %s
           where realm_id = %s and entity = %s and kind in (%s, %s)
             and status in ('open', 'retrying')""",
        (utcnow(), run_id, OPS_REALM, f"raw_ops.{source.name}", *SCHEMA_ISSUES),
    )


def _keys_stream(source: SourceTable) -> str:
    return f"{source.name}#keys"


@dataclass
class RunState:
    """What the warehouse knows before a run, read once: watermarks, raw tables, open issues."""

    marks: dict[str, str]
    raw_tables: dict[str, dict[str, str]]
    troubled: set[str]  # raw tables with an open schema issue

    @classmethod
    def read(cls, wh: WarehouseConnection) -> RunState:
        """One query each, whatever the number of tables."""
        marks = dict(
            wh.fetchall(
                "select stream, value from fieldbooks.watermarks "
                "where source = %s and realm_id = ''",
                (SOURCE,),
            )
        )
        troubled = wh.fetchall(
            "select distinct entity from fieldbooks.sync_issues where realm_id = %s "
            "and kind in (%s, %s) and status in ('open', 'retrying')",
            (OPS_REALM, *SCHEMA_ISSUES),
        )
        return cls(marks, schema_types(wh, "raw_ops"), {t for (t,) in troubled})


def _check_due(state: RunState, source: SourceTable, now: datetime) -> bool:
    if source.hard_delete_check is None:
        return False
    last = state.marks.get(_keys_stream(source))
    return last is None or now - datetime.fromisoformat(last) >= source.hard_delete_check


def mark_hard_deletes(
    src: Connection, wh: WarehouseConnection, source: SourceTable, spec: TableSpec, now: datetime
) -> int:
    """Stream the source's keys into the warehouse; flag raw rows whose key is gone."""
    stage = f"_keys_{spec.name}"
    keys = TableSpec(
        schema="",  # a temporary table
        name=stage,
        columns=tuple((k, dict(spec.columns)[k]) for k in source.key),
        key=source.key,
    )
    cols = ", ".join(f'"{k}" {sql_type(wh.kind, t)}' for k, t in keys.columns)
    wh.execute(f"drop table if exists {stage}")
    wh.execute(f"create temporary table {stage} ({cols})")
    lite = table(source.name, *(column(k) for k in source.key))
    query = select(*(lite.c[k] for k in source.key))
    result = src.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(query)
    for chunk in result.partitions(CHUNK_ROWS):
        merge_columns(wh, keys, [list(c) for c in zip(*chunk, strict=True)], mode=APPEND)
    match = " and ".join(f'k."{k}" = r."{k}"' for k in source.key)
    gone = f"not r._deleted and not exists (select 1 from {stage} k where {match})"
    count = wh.scalar(f"select count(*) from {spec.qualified} r where {gone}")
    if count:
        wh.execute(
            f"update {spec.qualified} r set _deleted = true, _extracted_at = %s where {gone}",
            (now,),
        )
    wh.execute(f"drop table {stage}")
    return int(count or 0)


def _stream(
    engine: Engine,
    src: Connection,
    wh: WarehouseConnection,
    spec: TableSpec,
    query: Any,
    change: str,
    mode: str,
) -> tuple[int, datetime | None]:
    """Read the query's rows into the raw table; rows read and the newest change stamp."""
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        sql = str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
        copy = copy_to_duckdb if wh.kind == "duckdb" else copy_to_postgres
        return copy(src.connection.driver_connection, wh, spec, sql, change, mode)
    at_change = spec.column_names.index(change)
    total, newest = 0, None
    result = src.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(query)
    for chunk in result.partitions(CHUNK_ROWS):
        values = [list(c) for c in zip(*chunk, strict=True)]
        stamps = [s for s in values[at_change] if s is not None]
        if stamps and (newest is None or max(stamps) > newest):
            newest = max(stamps)
        total += merge_columns(wh, spec, values, mode=mode)
        log.info("raw_ops.%s: %d rows so far", spec.name, total)
    return total, newest


def extract_table(
    engine: Engine,
    wh: WarehouseConnection,
    source: SourceTable,
    run_id: str = "",
    state: RunState | None = None,
) -> TableExtract:
    """Merge one table's changed rows and move its watermark, in one transaction."""
    started = time.monotonic()
    state = state or RunState.read(wh)
    columns, problems = read_columns(engine, source)
    spec = raw_spec(source, columns)
    existing = state.raw_tables.get(source.name, {})
    if not problems and existing:
        problems = _drift_issues(source, spec, wh.kind, existing)
    mark = state.marks.get(source.name)
    if problems:
        with wh.transaction():
            why = _hold(wh, source, problems, run_id)
        return TableExtract(source.name, 0, mark, held=why)

    change = source.change_column
    refs = {c.name: c.ref for c in columns}
    now = utcnow()
    soft = source.soft_delete_column
    query = select(
        *(c.expr.label(c.name) for c in columns),
        literal(now, DateTime).label("_extracted_at"),
        (refs[soft].is_not(None) if soft else false()).label("_deleted"),
    )
    if mark is not None:
        since = datetime.fromisoformat(mark) - OVERLAP
        query = query.where(refs[change] >= type_coerce(since, source.table.c[change].type))
    newest = datetime.fromisoformat(mark) if mark else None
    gone = 0
    with engine.connect() as src, wh.transaction():
        created = ensure_table(wh, spec, existing, defer_key=True)
        # a first load into an empty table appends: the source's keys are unique
        append = created or (
            mark is None and wh.scalar(f"select count(*) from {spec.qualified}") == 0
        )
        # rows carrying every column of their table can replace the old ones outright
        whole = set(existing) <= set(spec.column_names)
        mode = APPEND if append else REPLACE if whole else UPSERT
        total, top = _stream(engine, src, wh, spec, query, change, mode)
        if created:
            add_key(wh, spec)
        if top is not None and (newest is None or top > newest):
            newest = top
        if _check_due(state, source, now):
            if not append:  # a load into an empty table is the whole key set already
                gone = mark_hard_deletes(src, wh, source, spec, now)
            set_watermark(wh, SOURCE, _keys_stream(source), now.isoformat())
        if newest is not None and newest.isoformat() != mark:
            set_watermark(wh, SOURCE, source.name, newest.isoformat())
        if spec.qualified in state.troubled:
            _resolve_schema_issues(wh, source, run_id)
    log.info(
        "raw_ops.%s: %d rows merged, %d hard deletes flagged in %.2f s",
        source.name,
        total,
        gone,
        time.monotonic() - started,
    )
    return TableExtract(source.name, total, newest.isoformat() if newest else None, gone)


def configured_tables(settings: Settings) -> list[SourceTable]:
    """The synced tables with the deployment's extraction rules."""
    return source_tables(settings.ops_hard_delete_check, settings.ops_tables_file)


def extract_ops(settings: Settings, run_id: str = "") -> list[TableExtract]:
    """Extract every synced operations table into raw_ops.*; a held table does not stop the rest."""
    sources = configured_tables(settings)
    engine = create_engine(settings.ops_url)
    try:
        with connect(settings.warehouse_url) as wh:
            ensure_state(wh)
            wh.execute("create schema if not exists raw_ops")
            state = RunState.read(wh)
            results = []
            for number, source in enumerate(sources, 1):
                log.info("extracting %s (%d of %d)", source.name, number, len(sources))
                try:
                    results.append(extract_table(engine, wh, source, run_id, state))
                except Exception as exc:
                    if type(exc).__name__ != "OutOfMemoryException":
                        raise
                    raise RuntimeError(
                        f"raw_ops.{source.name} did not fit DuckDB's memory limit ({exc}); "
                        "nothing was written for this table. Raise FIELDBOOKS_DUCKDB_MEMORY_LIMIT "
                        "(the table's key index takes ~50 bytes a row), then clear and rerun."
                    ) from exc
            return results
    finally:
        engine.dispose()


def accept_type_change(settings: Settings, table_name: str, run_id: str = "") -> list[str]:
    """Adopt the source's new column types for one raw table, losing nothing.

    Each drifted raw column is renamed `<column>__before_<YYYYMMDD>` (its values kept),
    the column is added again with the new type, and the table's watermark is cleared so
    the next extract re-reads every row. Returns the renamed columns.
    """
    sources = {s.name: s for s in configured_tables(settings)}
    if table_name not in sources:
        raise ValueError(f"no synced operations table named {table_name!r}")
    source = sources[table_name]
    engine = create_engine(settings.ops_url)
    try:
        columns, problems = read_columns(engine, source)
    finally:
        engine.dispose()
    if problems:
        raise ValueError("; ".join(p.reason for p in problems) + " " + problems[0].hint)
    spec = raw_spec(source, columns)
    suffix = utcnow().strftime("%Y%m%d")
    kept = []
    with connect(settings.warehouse_url) as wh, wh.transaction():
        has = schema_types(wh, "raw_ops").get(source.name, {})
        for name, _has, _wants in type_drift(wh.kind, spec, has):
            wh.execute(
                f'alter table {spec.qualified} rename column "{name}" to "{name}__before_{suffix}"'
            )
            kept.append(f"{name}__before_{suffix}")
        ensure_table(wh, spec, schema_types(wh, "raw_ops").get(source.name, {}))
        wh.execute(
            "delete from fieldbooks.watermarks where source = %s and stream = %s",
            (SOURCE, source.name),
        )
    return kept
