"""A raw row that breaks its contract is held as an issue that says what to fix, on DuckDB
and PostgreSQL; the issue resolves once the row is whole, and the report shows the check."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, func, select, update

from fieldbooks import pipeline
from fieldbooks.config import load_settings
from fieldbooks.issues import held_qbo_ids
from fieldbooks.ops import schema
from fieldbooks.ops.extract import extract_ops
from fieldbooks.ops.seed import seed_demo
from fieldbooks.ops.writeback import apply_quickbooks_payments
from fieldbooks.qbo.push import held_ids
from fieldbooks.qbo.raw import raw_qbo_spec, raw_row
from fieldbooks.quality.runner import ValidationAborted
from fieldbooks.warehouse.connection import connect
from fieldbooks.warehouse.merge import ensure_table, merge_rows
from fieldbooks.warehouse.state import utcnow

INVOICES = 12


@pytest.fixture(params=["duckdb", "postgres"])
def settings(request, tmp_path):
    """A seeded SQLite operations DB extracted into each warehouse in turn, and a few
    QuickBooks invoices written to raw_qbo the way extract_qbo writes them."""
    if request.param == "postgres":
        warehouse = request.getfixturevalue("make_pg_database")("fb_wh")
    else:
        warehouse = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    s = load_settings(
        {
            "FIELDBOOKS_HOME": str(tmp_path),
            "FIELDBOOKS_OPS_URL": f"sqlite:///{tmp_path / 'ops.sqlite'}",
            "FIELDBOOKS_WAREHOUSE_URL": warehouse,
        }
    )
    seed_demo(s.ops_url, customers=6, invoices=INVOICES)
    extract_ops(s)
    with connect(s.warehouse_url) as wh:
        ensure_table(wh, raw_qbo_spec("Invoice"))
    for qbo_id in ("1", "2", "3"):
        _merge_qbo_invoice(s, qbo_id, Decimal("120.50"))
    return s


def _merge_qbo_invoice(settings, qbo_id: str, total: Decimal) -> None:
    obj = {"Id": qbo_id, "SyncToken": "0", "DocNumber": f"FB-{qbo_id}", "TotalAmt": total}
    obj["MetaData"] = {"LastUpdatedTime": "2026-03-02T10:00:00-08:00"}
    with connect(settings.warehouse_url) as wh:
        merge_rows(wh, raw_qbo_spec("Invoice"), [raw_row(settings.qbo.realm_id, obj, utcnow())])


def _set_invoice(settings, invoice_id: int, **values) -> None:
    """Edit an operations invoice (SQLite does not enforce its foreign keys) and extract."""
    engine = create_engine(settings.ops_url)
    with engine.begin() as conn:
        conn.execute(
            update(schema.invoices)
            .where(schema.invoices.c.id == invoice_id)
            .values(**values, updated_at=utcnow())
        )
    engine.dispose()
    extract_ops(settings)


def _issues(settings, status: str = "open") -> list[dict]:
    with connect(settings.warehouse_url) as wh:
        return wh.fetchdicts(
            "select entity, ops_id, qbo_id, kind, reason, hint, status, attempts "
            "from fieldbooks.sync_issues where status = %s order by entity, ops_id, qbo_id",
            (status,),
        )


def _checked(result: dict) -> dict[str, int]:
    return {r["suite"]: r["checked"] for r in result["suites"] if r["checked"]}


def test_clean_raw_tables_raise_nothing_and_the_report_lists_each_suite(settings):
    result = pipeline.step_validate_raw(settings, "run-1")
    assert _issues(settings) == []
    assert _checked(result)["raw_ops_invoices"] == INVOICES
    assert _checked(result)["raw_qbo_invoice"] == 3
    index = settings.home / "data_docs" / "index.html"
    assert result["data_docs"] == str(index)
    html = index.read_text()
    assert "raw_ops_invoice_lines" in html and "raw_qbo_invoice" in html


def test_an_invoice_pointing_at_no_customer_is_held_until_it_is_fixed(settings):
    pipeline.step_validate_raw(settings, "run-1")
    _set_invoice(settings, 3, customer_id=999)

    result = pipeline.step_validate_raw(settings, "run-2")

    (issue,) = _issues(settings)
    assert (issue["entity"], issue["ops_id"], issue["kind"]) == ("invoice", "3", "raw_contract")
    assert (
        issue["reason"] == "raw_ops.invoices 3: customer_id 999 matches no row of raw_ops.customers"
    )
    assert issue["hint"].startswith("Point customer_id at an existing row of customers")
    # the loader's own reading: invoice 3 is held back this run, and only it
    with connect(settings.warehouse_url) as wh:
        assert held_ids(wh, settings.qbo.realm_id, "invoice", "run-2") == {"3"}
        assert wh.scalar("select count(*) from raw_ops.invoices") == INVOICES
    assert "raw_ops_invoices" in (settings.home / "data_docs" / "index.html").read_text()
    assert result["data_docs"].endswith("data_docs/index.html")

    _set_invoice(settings, 3, customer_id=1)
    pipeline.step_validate_raw(settings, "run-3")

    assert _issues(settings) == []
    (resolved,) = _issues(settings, "resolved")
    assert (resolved["entity"], resolved["ops_id"]) == ("invoice", "3")


def test_a_quickbooks_total_with_a_third_decimal_is_held_until_quickbooks_sends_it_whole(
    settings,
):
    pipeline.step_validate_raw(settings, "run-1")
    _merge_qbo_invoice(settings, "2", Decimal("120.505"))

    pipeline.step_validate_raw(settings, "run-2")

    (issue,) = _issues(settings)
    assert (issue["entity"], issue["ops_id"], issue["qbo_id"]) == ("invoice", None, "2")
    assert issue["reason"] == (
        "QuickBooks Invoice 2: TotalAmt 120.505 is not an amount exact to the cent"
    )
    assert "Correct the Invoice's amounts in QuickBooks" in issue["hint"]
    with connect(settings.warehouse_url) as wh:
        assert held_qbo_ids(wh, settings.qbo.realm_id, "invoice", "raw_contract", "run-2") == {"2"}

    _merge_qbo_invoice(settings, "2", Decimal("120.51"))
    pipeline.step_validate_raw(settings, "run-3")

    assert _issues(settings) == []
    assert [i["qbo_id"] for i in _issues(settings, "resolved")] == ["2"]


def test_a_check_reads_what_was_extracted_since_the_last_one_and_what_is_still_held(settings):
    first = pipeline.step_validate_raw(settings, "run-1")
    assert _checked(first)["raw_ops_customers"] == 6

    assert _checked(pipeline.step_validate_raw(settings, "run-2")) == {}

    with connect(settings.warehouse_url) as wh:
        wh.execute(
            "update raw_ops.invoices set customer_id = 999, _extracted_at = %s where id = 5",
            (utcnow(),),
        )
        lines = wh.scalar("select count(*) from raw_ops.invoice_lines where invoice_id = 5")
    assert _checked(pipeline.step_validate_raw(settings, "run-3")) == {"raw_ops_invoices": 1}
    # nothing new, but invoice 5 is still held: its rows, lines too, are read again
    again = {"raw_ops_invoices": 1, "raw_ops_invoice_lines": lines}
    assert _checked(pipeline.step_validate_raw(settings, "run-4")) == again
    (issue,) = _issues(settings)
    assert (issue["ops_id"], issue["attempts"]) == ("5", 2)


def test_a_mostly_broken_table_fails_the_step_and_holds_every_record(settings):
    pipeline.step_validate_raw(settings, "run-1")
    with connect(settings.warehouse_url) as wh:
        wh.execute("update raw_ops.invoices set customer_id = 999, _extracted_at = %s", (utcnow(),))

    with pytest.raises(ValidationAborted, match=f"raw_ops_invoices: {INVOICES} of {INVOICES} rows"):
        pipeline.step_validate_raw(settings, "run-2")

    assert len(_issues(settings)) == INVOICES
    assert (settings.home / "data_docs" / "index.html").exists()


def test_a_quickbooks_payment_the_contract_holds_is_not_written_to_operations(settings):
    with connect(settings.warehouse_url) as wh:
        ensure_table(wh, raw_qbo_spec("Payment"))
        wh.execute("create schema if not exists sync")
        # the change set dbt would hand load_ops: QuickBooks payment 9 pays invoice 1 in full
        wh.execute(
            "create table sync.sync_ops_payments as select '9' as qbo_payment_id, "
            "0 as line_index, '1' as qbo_invoice_id, 1 as ops_invoice_id, "
            "cast(10.01 as numeric(18,2)) as amount, cast(10.01 as numeric(18,2)) as total_amount, "
            "cast('2026-03-02' as date) as txn_date, 'CHK 1' as payment_ref_num"
        )
    obj = {"Id": "9", "SyncToken": "0", "TotalAmt": Decimal("10.005")}
    with connect(settings.warehouse_url) as wh:
        merge_rows(wh, raw_qbo_spec("Payment"), [raw_row(settings.qbo.realm_id, obj, utcnow())])
    pipeline.step_validate_raw(settings, "run-1")

    engine = create_engine(settings.ops_url)
    count = select(func.count()).select_from(schema.payments)
    with engine.connect() as conn:
        before = conn.execute(count).scalar_one()
    counts: Counter = Counter()
    with connect(settings.warehouse_url) as wh:
        apply_quickbooks_payments(engine, wh, settings.qbo.realm_id, "run-1", counts)
    with engine.connect() as conn:
        assert conn.execute(count).scalar_one() == before
    engine.dispose()
    assert counts == {"payment_held": 1}
