"""The run summary: which tie-outs decide whether the books tie out, and how it reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldbooks.reconcile import RunSummary, summarize
from fieldbooks.warehouse.connection import WarehouseConnection, connect
from fieldbooks.warehouse.state import ensure_state

TIEOUT_TABLES = (
    "invoice_tieout",
    "payment_tieout",
    "customer_tieout",
    "expense_tieout",
    "sales_tax_by_period",
)


def _summary(is_tied_out: bool | None, **tieouts: dict[str, int]) -> RunSummary:
    every = {
        "invoice_tieout": {"matched": 3},
        "payment_tieout": {"matched": 2},
        "customer_tieout": {"matched": 2},
        "expense_tieout": {"matched": 4},
        "sales_tax_tieout": {"matched": 1},
    }
    return RunSummary(run_id="run-1", is_tied_out=is_tied_out, **(every | tieouts))


def test_books_tie_out_when_the_reconciliation_summary_says_so() -> None:
    summary = _summary(True)
    assert summary.ties_out
    assert summary.lines()[-1] == "books tie out: yes"


def test_an_expense_difference_alone_keeps_the_books_from_tying_out() -> None:
    summary = _summary(False, expense_tieout={"matched": 4, "missing_in_quickbooks": 1})
    assert not summary.ties_out
    assert "expenses: 4 matched, 1 mismatched (missing_in_quickbooks 1)" in summary.lines()
    assert summary.lines()[-1] == "books tie out: no"


def test_a_summary_that_is_not_built_is_no_data_not_tied_out() -> None:
    summary = _summary(None)
    assert not summary.ties_out
    assert summary.lines()[-1] == "books tie out: no data (the reconciliation summary is not built)"


def test_nothing_compared_is_no_data_not_tied_out() -> None:
    empty: dict[str, int] = {}
    summary = _summary(
        True,
        invoice_tieout=empty,
        payment_tieout=empty,
        customer_tieout=empty,
        expense_tieout=empty,
        sales_tax_tieout=empty,
    )
    assert not summary.ties_out
    assert "invoices: no data" in summary.lines()
    assert summary.lines()[-1] == "books tie out: no data (nothing to compare)"


def test_an_empty_tieout_reads_no_data() -> None:
    lines = _summary(True, expense_tieout={}).lines()
    assert "expenses: no data" in lines
    assert not any(line.startswith("expenses: 0 matched") for line in lines)


def test_purchases_people_entered_in_quickbooks_are_shown_apart_not_as_differences() -> None:
    summary = _summary(True, expense_tieout={"matched": 4, "entered_in_quickbooks": 2})
    assert summary.ties_out
    assert "expenses: 4 matched, 2 entered in QuickBooks by people, 0 mismatched" in summary.lines()


def test_quickbooks_tax_rounding_is_shown_apart() -> None:
    lines = _summary(True, invoice_tieout={"matched": 3, "matched_rounding": 1}).lines()
    assert "invoices: 3 matched, 1 matched within QuickBooks' tax rounding, 0 mismatched" in lines


# --------------------------------------------------------------------------- summarize


@pytest.fixture
def warehouse(tmp_path: Path):
    with connect(f"duckdb:///{tmp_path / 'warehouse.duckdb'}") as wh:
        ensure_state(wh)
        wh.execute("create schema if not exists reconciliation")
        yield wh


def _tieouts(wh: WarehouseConnection, statuses: dict[str, list[str]]) -> None:
    for table in TIEOUT_TABLES:
        wh.execute(f"create table reconciliation.{table} (status varchar)")
        for status in statuses.get(table, ["matched"]):
            wh.execute(f"insert into reconciliation.{table} values (%s)", (status,))


def _tieout_summary(wh: WarehouseConnection, is_tied_out: bool) -> None:
    wh.execute(
        f"""create table reconciliation.tieout_summary as
            select 3 as ar_day_count, cast(0 as decimal(18, 2)) as ar_difference,
                   {str(is_tied_out).lower()} as is_tied_out"""
    )


def test_summarize_reads_the_expense_tieout_and_the_verdict(warehouse) -> None:
    _tieouts(warehouse, {"expense_tieout": ["matched", "pending", "entered_in_quickbooks"]})
    _tieout_summary(warehouse, is_tied_out=False)
    summary = summarize(warehouse, "run-1")
    assert summary.expense_tieout == {"matched": 1, "pending": 1, "entered_in_quickbooks": 1}
    assert (summary.is_tied_out, summary.ties_out) == (False, False)
    assert summary.ar_difference == "0.00"


def test_summarize_ties_out_when_the_summary_does(warehouse) -> None:
    _tieouts(warehouse, {})
    _tieout_summary(warehouse, is_tied_out=True)
    assert summarize(warehouse, "run-1").ties_out


def test_every_invoice_matched_without_a_summary_is_not_tied_out(warehouse) -> None:
    _tieouts(warehouse, {})
    summary = summarize(warehouse, "run-1")
    assert summary.invoice_tieout == {"matched": 1}
    assert (summary.is_tied_out, summary.ties_out) == (None, False)
