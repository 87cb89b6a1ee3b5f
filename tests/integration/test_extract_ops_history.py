"""A simulated week, extracted at random moments, leaves raw_ops.* equal to the operations DB.

Every synced table, on DuckDB (with a SQLite operations DB) and on PostgreSQL (both sides):
every source row is in raw with every column equal, `_deleted` marks exactly the soft-deleted
rows and the rows that vanished from the source (hard deletes, checked on every run here),
no other row is live, and a rerun changes nothing. Updates that share the watermark's second
never leave a stale or doubled row.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Table, create_engine, select, update

from fieldbooks.config import Settings, load_settings
from fieldbooks.ops import schema
from fieldbooks.ops.extract import extract_ops
from fieldbooks.ops.seed import seed_demo
from fieldbooks.ops.simulate import simulate
from fieldbooks.warehouse.connection import connect

DAYS = 7
SCHEDULE_SEED = 2718  # decides after which days, and inside which long transactions, to extract
HARD_DELETE_EVENTS = ("labor_entry_hard_deleted", "draft_line_hard_deleted")


@pytest.fixture(params=["duckdb", "postgres"])
def settings(request, tmp_path) -> Settings:
    """The seeded demo operations DB (SQLite, or PostgreSQL) and each warehouse in turn."""
    if request.param == "postgres":
        warehouse = request.getfixturevalue("make_pg_database")("fb_wh")
        ops = request.getfixturevalue("make_pg_database")("fb_ops")
    else:
        warehouse = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        ops = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    env = {
        "FIELDBOOKS_HOME": str(tmp_path),
        "FIELDBOOKS_OPS_URL": ops,
        "FIELDBOOKS_WAREHOUSE_URL": warehouse,
        # look for hard deletes on every run, so the last extract sees every one
        "FIELDBOOKS_OPS_HARD_DELETE_CHECK_HOURS": "0",
    }
    s = load_settings(env)
    seed_demo(s.ops_url)
    return s


def _source_rows(settings: Settings, table: Table) -> dict[int, tuple]:
    """id -> the source row, every column, as Python values."""
    engine = create_engine(settings.ops_url)
    try:
        with engine.connect() as conn:
            return {r.id: tuple(r) for r in conn.execute(select(table))}
    finally:
        engine.dispose()


def _raw_rows(settings: Settings, table: Table) -> dict[int, tuple[tuple, Any]]:
    """id -> (the source columns as raw holds them, _deleted); _extracted_at left out."""
    quoted = ", ".join(f'"{c.name}"' for c in table.columns)
    with connect(settings.warehouse_url) as wh:
        rows = wh.fetchall(f'select {quoted}, "_deleted" from raw_ops.{table.name}')
    return {r[0]: (tuple(r[:-1]), r[-1]) for r in rows}


def _all_raw(settings: Settings) -> dict[str, dict[int, tuple[tuple, Any]]]:
    """Every synced table's raw rows, by table name."""
    return {table.name: _raw_rows(settings, table) for table in schema.SYNCED_TABLES}


def _watermark(settings: Settings, stream: str) -> str:
    """The stored ops watermark of one table."""
    with connect(settings.warehouse_url) as wh:
        return wh.scalar(
            "select value from fieldbooks.watermarks where source = 'ops' and stream = %s",
            (stream,),
        )


def test_raw_history_equals_the_source_after_a_simulated_week(settings):
    """Days played one by one, extracted at random moments (once mid long transaction), tie out."""
    dice = random.Random(SCHEDULE_SEED)
    mid_flight_day = dice.randrange(DAYS)  # at least one extract while the batch is uncommitted
    schedule: list[str] = ["seed"]
    hard_deleted = 0
    marks_mid_flight: dict[int, datetime] = {}  # day -> the newest watermark extracted mid-flight
    behind: list[int] = []  # days whose batch committed stamps older than an extracted watermark

    def extract_mid_flight(day: int):
        def hook() -> None:
            schedule.append(f"day {day} before the long commit")
            extract_ops(settings)
            marks = [_watermark(settings, t.name) for t in schema.SYNCED_TABLES]
            marks_mid_flight[day] = max(datetime.fromisoformat(m) for m in marks if m)

        return hook

    # the seeded rows first, so the week's hard deletes remove rows raw already holds
    extract_ops(settings)
    for day in range(DAYS):
        inside = day == mid_flight_day or dice.random() < 0.25
        report = simulate(
            settings.ops_url,
            1,
            seed=100 + day,
            before_long_commit=extract_mid_flight(day) if inside else None,
        )
        assert report.long_transactions, f"day {day} had no long transaction"
        if day in marks_mid_flight and report.long_transactions[0][0] < marks_mid_flight[day]:
            behind.append(day)
        hard_deleted += sum(report.counts[event] for event in HARD_DELETE_EVENTS)
        if dice.random() < 0.5:
            schedule.append(f"after day {day}")
            extract_ops(settings)
    schedule.append("final")
    extract_ops(settings)
    assert f"day {mid_flight_day} before the long commit" in schedule
    # the scenario the overlap exists for really happened
    assert behind, "no long transaction committed rows stamped before an extracted watermark"
    assert hard_deleted > 0, "the simulated week hard-deleted nothing"

    stale: dict[str, list[int]] = {}
    missing: dict[str, list[int]] = {}
    wrong_soft_flag: dict[str, list[int]] = {}
    unflagged_gone: dict[str, list[int]] = {}
    extra_live: dict[str, list[int]] = {}
    gone_total = 0
    for table in schema.SYNCED_TABLES:
        source = _source_rows(settings, table)
        raw = _raw_rows(settings, table)
        name = table.name
        # (a) every source row, every column equal
        missing[name] = sorted(set(source) - set(raw))
        stale[name] = sorted(k for k, row in source.items() if k in raw and raw[k][0] != row)
        # (b) _deleted is exactly deleted_at is not null (never set on tables without it)
        at = table.c.keys().index("deleted_at") if "deleted_at" in table.c else None
        wrong_soft_flag[name] = sorted(
            k
            for k, row in source.items()
            if k in raw and raw[k][1] is not (at is not None and row[at] is not None)
        )
        # (c) rows gone from the source stay in raw, flagged deleted
        gone = set(raw) - set(source)
        gone_total += len(gone)
        unflagged_gone[name] = sorted(k for k in gone if raw[k][1] is not True)
        # (d) the live rows of raw are the live rows of the source, no more
        live_source = {k for k, row in source.items() if at is None or row[at] is None}
        extra_live[name] = sorted(
            k for k, (_, deleted) in raw.items() if deleted is not True and k not in live_source
        )

    def nonempty(found: dict[str, list[int]]) -> dict[str, list[int]]:
        return {name: ids for name, ids in found.items() if ids}

    # a rerun is measured before anything is asserted, so one failure hides no other finding
    before = _all_raw(settings)
    extract_ops(settings)
    after = _all_raw(settings)
    rerun_changed = {
        name: sorted(k for k in set(rows) | set(after[name]) if rows.get(k) != after[name].get(k))
        for name, rows in before.items()
    }

    where = f"extracts: {schedule}"
    assert nonempty(missing) == {}, f"source rows missing from raw_ops; {where}"
    assert nonempty(stale) == {}, f"raw_ops rows differing from the source; {where}"
    assert nonempty(wrong_soft_flag) == {}, f"_deleted differs from deleted_at; {where}"
    assert nonempty(rerun_changed) == {}, "a rerun of extract_ops changed raw_ops"
    # hard deletes last: they hold only once extract_ops detects them
    assert gone_total > 0, "no hard-deleted row was left in raw_ops to check"
    assert nonempty(unflagged_gone) == {}, f"hard-deleted rows not flagged _deleted; {where}"
    assert nonempty(extra_live) == {}, f"live raw_ops rows with no live source row; {where}"


def test_updates_in_the_watermark_second_leave_the_last_version_once(settings):
    """Two updates stamped with the watermark's own second: raw ends at the second, one row."""
    invoices = schema.invoices
    extract_ops(settings)
    mark = _watermark(settings, "invoices")
    assert mark is not None
    stamp = datetime.fromisoformat(mark)

    engine = create_engine(settings.ops_url)

    def set_memo(invoice_id: int, memo: str) -> None:
        with engine.begin() as conn:
            conn.execute(
                update(invoices)
                .where(invoices.c.id == invoice_id)
                .values(memo=memo, updated_at=stamp)
            )

    try:
        with engine.connect() as conn:
            # two invoices stamped before the watermark, so each update moves them into its second
            between, after = (
                conn.execute(
                    select(invoices.c.id)
                    .where(invoices.c.updated_at < stamp)
                    .order_by(invoices.c.id)
                    .limit(2)
                )
                .scalars()
                .all()
            )

        # extract between the two updates
        set_memo(between, "first")
        extract_ops(settings)
        with connect(settings.warehouse_url) as wh:
            assert wh.scalar("select memo from raw_ops.invoices where id = %s", (between,)) == (
                "first"
            )
        assert _watermark(settings, "invoices") == mark
        set_memo(between, "second")
        # both updates before the extract
        set_memo(after, "one")
        set_memo(after, "two")
        extract_ops(settings)
        extract_ops(settings)
    finally:
        engine.dispose()

    source = _source_rows(settings, invoices)
    with connect(settings.warehouse_url) as wh:
        for invoice_id, memo in ((between, "second"), (after, "two")):
            assert wh.scalar("select memo from raw_ops.invoices where id = %s", (invoice_id,)) == (
                memo
            )
            assert (
                wh.scalar("select count(*) from raw_ops.invoices where id = %s", (invoice_id,)) == 1
            )
        doubled = wh.fetchall("select id from raw_ops.invoices group by id having count(*) > 1")
        assert doubled == []
        assert wh.scalar("select count(*) from raw_ops.invoices") == len(source)
    raw = _raw_rows(settings, invoices)
    assert {k: row for k, (row, _) in raw.items()} == source
