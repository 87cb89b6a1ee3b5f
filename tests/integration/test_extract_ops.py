"""Operations rows reach raw_ops.* exactly, on DuckDB and PostgreSQL, and reruns change nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select, update

from fieldbooks.config import load_settings
from fieldbooks.ops import schema
from fieldbooks.ops.extract import extract_ops
from fieldbooks.ops.seed import seed_demo
from fieldbooks.warehouse.connection import connect
from fieldbooks.warehouse.state import utcnow


@pytest.fixture(params=["duckdb", "postgres"])
def settings(request, tmp_path):
    """Embedded SQLite operations DB, and each warehouse in turn."""
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
    }
    s = load_settings(env)
    seed_demo(s.ops_url)
    return s


def _source_rows(settings, table):
    engine = create_engine(settings.ops_url)
    with engine.connect() as conn:
        rows = {r.id: tuple(r) for r in conn.execute(select(table))}
    engine.dispose()
    return rows


def _raw_rows(settings, table):
    names = [c.name for c in table.columns]
    quoted = ", ".join(f'"{n}"' for n in names)
    with connect(settings.warehouse_url) as wh:
        return {r[0]: tuple(r) for r in wh.fetchall(f"select {quoted} from raw_ops.{table.name}")}


def test_raw_tables_equal_the_source_row_for_row(settings):
    extract_ops(settings)
    for table in schema.SYNCED_TABLES:
        assert _raw_rows(settings, table) == _source_rows(settings, table), table.name


def test_amounts_stay_exact_decimals(settings):
    extract_ops(settings)
    with connect(settings.warehouse_url) as wh:
        total = wh.scalar("select sum(total) from raw_ops.invoices")
        kinds = wh.fetchall(
            "select data_type from information_schema.columns "
            "where table_schema = 'raw_ops' and table_name = 'invoices' and column_name = 'total'"
        )
    assert isinstance(total, Decimal)
    assert kinds[0][0].lower() in ("decimal(18,2)", "numeric")
    engine = create_engine(settings.ops_url)
    with engine.connect() as conn:
        source = sum(conn.execute(select(schema.invoices.c.total)).scalars())
    engine.dispose()
    assert total == source


def test_rerun_changes_nothing_and_changes_are_picked_up(settings):
    extract_ops(settings)
    before = _raw_rows(settings, schema.invoices)
    extract_ops(settings)
    assert {k: v for k, v in _raw_rows(settings, schema.invoices).items()} == before

    engine = create_engine(settings.ops_url)
    with engine.begin() as conn:
        conn.execute(
            update(schema.invoices)
            .where(schema.invoices.c.id == 5)
            .values(memo="called twice", updated_at=utcnow())
        )
        conn.execute(
            update(schema.customers)
            .where(schema.customers.c.id == 3)
            .values(deleted_at=utcnow(), updated_at=utcnow())
        )
    engine.dispose()
    results = {r.table: r.rows for r in extract_ops(settings)}
    assert results["invoices"] >= 1
    with connect(settings.warehouse_url) as wh:
        assert wh.scalar("select memo from raw_ops.invoices where id = 5") == "called twice"
        assert wh.scalar("select _deleted from raw_ops.customers where id = 3") is True
        assert wh.scalar("select count(*) from raw_ops.invoices") == 200


def test_a_row_committed_late_with_an_older_timestamp_is_not_missed(settings):
    extract_ops(settings)
    with connect(settings.warehouse_url) as wh:
        mark = wh.scalar("select value from fieldbooks.watermarks where stream = 'invoices'")
    from datetime import datetime

    late = datetime.fromisoformat(mark) - timedelta(minutes=2)  # inside the overlap window
    engine = create_engine(settings.ops_url)
    with engine.begin() as conn:
        conn.execute(
            update(schema.invoices)
            .where(schema.invoices.c.id == 9)
            .values(memo="late", updated_at=late)
        )
    engine.dispose()
    extract_ops(settings)
    with connect(settings.warehouse_url) as wh:
        assert wh.scalar("select memo from raw_ops.invoices where id = 9") == "late"


def test_a_new_source_column_appears_in_the_raw_table(settings):
    extract_ops(settings)
    from sqlalchemy import Column, MetaData, String, Table, text

    engine = create_engine(settings.ops_url)
    with engine.begin() as conn:
        conn.execute(text("alter table service_categories add column color varchar(20)"))
        conn.execute(
            text("update service_categories set color = 'blue', updated_at = :t where id = 1"),
            {"t": utcnow()},
        )
    engine.dispose()
    md = MetaData()
    widened = Table(
        "service_categories",
        md,
        *[c.copy() for c in schema.service_categories.columns],
        Column("color", String(20)),
    )
    del widened
    extract_ops(settings)  # the live source is read: nothing to declare
    with connect(settings.warehouse_url) as wh:
        assert "color" in wh.columns("raw_ops", "service_categories")
        assert wh.scalar("select color from raw_ops.service_categories where id = 1") == "blue"


def _ops_execute(settings, *statements):
    from sqlalchemy import text

    engine = create_engine(settings.ops_url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), {"t": utcnow()})
    engine.dispose()


def test_hard_deletes_are_flagged_on_their_cadence_never_erased(settings):
    from dataclasses import replace

    from sqlalchemy import delete

    extract_ops(settings)
    engine = create_engine(settings.ops_url)
    with engine.begin() as conn:
        conn.execute(delete(schema.invoice_lines).where(schema.invoice_lines.c.id == 7))
    engine.dispose()

    results = {r.table: r for r in extract_ops(settings)}  # default: every 24 hours
    assert results["invoice_lines"].hard_deleted == 0
    with connect(settings.warehouse_url) as wh:
        assert wh.scalar("select _deleted from raw_ops.invoice_lines where id = 7") is False

    every_run = replace(settings, ops_hard_delete_check=timedelta(0))
    results = {r.table: r for r in extract_ops(every_run)}
    assert results["invoice_lines"].hard_deleted == 1
    assert sum(r.hard_deleted for r in results.values()) == 1
    with connect(settings.warehouse_url) as wh:
        assert wh.scalar("select _deleted from raw_ops.invoice_lines where id = 7") is True
        assert wh.scalar("select count(*) from raw_ops.invoice_lines where _deleted") == 1
    assert extract_ops(every_run)[0].hard_deleted == 0  # flagged once, not again


def _open_issues(settings, entity):
    with connect(settings.warehouse_url) as wh:
        return wh.fetchall(
            "select kind, ops_id, reason, hint from fieldbooks.sync_issues "
            "where entity = %s and status = 'open' order by ops_id",
            (entity,),
        )


def test_a_changed_type_holds_the_table_as_an_issue_and_the_rest_goes_on(settings):
    from fieldbooks.ops.extract import accept_type_change

    _ops_execute(
        settings,
        "alter table service_categories add column color varchar(20)",
        "update service_categories set color = 'blue', updated_at = :t where id = 1",
    )
    extract_ops(settings)
    with connect(settings.warehouse_url) as wh:
        mark = wh.scalar(
            "select value from fieldbooks.watermarks where stream = 'service_categories'"
        )
    _ops_execute(
        settings,
        "alter table service_categories drop column color",
        "alter table service_categories add column color integer",
        "update service_categories set color = 7, updated_at = :t where id = 2",
        "update customers set phone = 'still flows', updated_at = :t where id = 4",
    )
    results = {r.table: r for r in extract_ops(settings, run_id="r-drift")}
    assert results["service_categories"].held and "color" in results["service_categories"].held
    assert not results["customers"].held
    issues = _open_issues(settings, "raw_ops.service_categories")
    assert [(k, c) for k, c, _, _ in issues] == [("source_type_changed", "color")]
    assert "accept-type-change service_categories" in issues[0][3]
    with connect(settings.warehouse_url) as wh:
        assert wh.scalar("select phone from raw_ops.customers where id = 4") == "still flows"
        assert (
            wh.scalar("select value from fieldbooks.watermarks where stream = 'service_categories'")
            == mark
        )

    kept = accept_type_change(settings, "service_categories")
    assert len(kept) == 1 and kept[0].startswith("color__before_")
    results = {r.table: r for r in extract_ops(settings)}
    assert not results["service_categories"].held
    with connect(settings.warehouse_url) as wh:
        assert wh.scalar("select color from raw_ops.service_categories where id = 2") == 7
        assert wh.scalar(f"select {kept[0]} from raw_ops.service_categories where id = 1") == (
            "blue"
        )
    assert _open_issues(settings, "raw_ops.service_categories") == []


def test_a_declared_column_dropped_or_retyped_in_the_source_is_an_issue(settings):
    _ops_execute(settings, "alter table invoices drop column memo")
    results = {r.table: r for r in extract_ops(settings)}
    assert results["invoices"].held and results["invoices"].rows == 0
    assert results["customers"].rows > 0
    assert [i[0] for i in _open_issues(settings, "raw_ops.invoices")] == ["source_column_missing"]

    _ops_execute(settings, "alter table invoices add column memo integer")
    results = {r.table: r for r in extract_ops(settings)}
    assert results["invoices"].held
    kinds = {i[0] for i in _open_issues(settings, "raw_ops.invoices")}
    assert "source_type_changed" in kinds


def test_postgres_source_into_duckdb_takes_empty_tables_and_empty_changes(
    tmp_path, make_pg_database
):
    # The COPY path from PostgreSQL into DuckDB parses CSV with Arrow, which refuses an
    # empty stream: an empty table, or a rerun with nothing changed, must still extract.
    s = load_settings(
        {
            "FIELDBOOKS_HOME": str(tmp_path),
            "FIELDBOOKS_OPS_URL": make_pg_database("fb_ops"),
            "FIELDBOOKS_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        }
    )
    seed_demo(s.ops_url)
    _ops_execute(s, "delete from refunds")
    first = {t.table: t.rows for t in extract_ops(s)}
    assert first["refunds"] == 0
    assert first["customers"] > 0
    again = {t.table: t.rows for t in extract_ops(s)}
    assert again["refunds"] == 0
    for table in schema.SYNCED_TABLES:
        assert _raw_rows(s, table) == _source_rows(s, table), table.name
