"""The raw contracts name each broken raw row with a reason a person can act on, and the
Data Docs report shows every suite a run checked."""

from __future__ import annotations

import json

from fieldbooks.quality import docs as data_docs
from fieldbooks.quality.docs import DataDocs
from fieldbooks.quality.raw_ops import CONTRACT_TABLES, checked_columns
from fieldbooks.quality.raw_qbo import QboTable, describe, qbo_frame
from fieldbooks.quality.runner import mostly_broken, run_suite

INVOICES = next(t for t in CONTRACT_TABLES if t.name == "invoices")
LINES = next(t for t in CONTRACT_TABLES if t.name == "invoice_lines")
QBO_INVOICE = QboTable("Invoice")


def _invoice(ops_id: str, **overrides) -> dict:
    """A raw_ops.invoices row as the batch query reads it: text, counts and lookups."""
    row = {name: "x" for name in checked_columns(INVOICES.table)}
    row.update(
        id=ops_id,
        invoice_number=f"FB-{ops_id}",
        customer_id="1",
        job_id=None,
        issue_date="2026-03-02",
        due_date="2026-04-01",
        subtotal="100.00",
        tax="8.25",
        total="108.25",
        balance="108.25",
        retainage_percent="0.00",
        id__live_rows=1,
        invoice_number__live_rows=1,
        customer_id__found=True,
        job_id__found=None,
    )
    row.update(overrides)
    return row


def _failures(rows: list[dict], spec=INVOICES):
    return run_suite(spec.suite, spec.frame(rows), "id", spec.rules())


def test_every_declared_rule_of_a_clean_invoice_passes():
    assert _failures([_invoice("1"), _invoice("2", job_id="4", job_id__found=True)]) == []


def test_each_broken_invoice_is_named_with_the_value_that_breaks_it():
    failures = _failures(
        [
            _invoice("1"),
            _invoice("2", total="108.255"),
            _invoice("3", customer_id="999", customer_id__found=False),
            _invoice("4", invoice_number="FB-4", invoice_number__live_rows=2),
            _invoice("5", issue_date="2026-02-30"),
            _invoice("6", customer_id=None, customer_id__found=None),
        ]
    )
    reasons = {f.record_id: f.reason for f in failures}
    assert sorted(reasons) == ["2", "3", "4", "5", "6"]
    assert reasons["2"] == "raw_ops.invoices 2: total 108.255 is not an amount exact to the cent"
    assert reasons["3"] == "raw_ops.invoices 3: customer_id 999 matches no row of raw_ops.customers"
    assert reasons["4"] == "raw_ops.invoices 4: invoice_number 'FB-4' is shared by 2 live rows"
    assert reasons["5"] == "raw_ops.invoices 5: issue_date '2026-02-30' is not a date"
    # an empty reference is the not-null rule's business, not a broken reference
    assert [f.reason for f in failures if f.record_id == "6"] == [
        "raw_ops.invoices 6: required customer_id empty"
    ]
    hint = next(f.rule.hint for f in failures if f.record_id == "3")
    assert hint.startswith("Point customer_id at an existing row of customers in operations")


def test_a_broken_line_holds_back_its_invoice_and_a_line_with_no_invoice_names_itself():
    line = {name: "x" for name in checked_columns(LINES.table)}
    line.update(
        id="7",
        invoice_id="3",
        amount="10.005",
        unit_price="10.00",
        item_id=None,
        id__live_rows=1,
        invoice_id__found=True,
        category_id__found=True,
        item_id__found=None,
    )
    (failure,) = _failures([line], LINES)
    assert failure.reason == (
        "raw_ops.invoice_lines 7 (invoice 3): amount 10.005 is not an amount exact to the cent"
    )
    assert LINES.held(failure.row) == ("invoice", "3", None)
    assert LINES.held({**line, "invoice_id": None}) == ("raw_ops.invoice_lines", "7", None)


def _qbo_row(qbo_id: str, payload, sync_token: str | None = "0") -> dict:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return {"id": qbo_id, "sync_token": sync_token, "payload": text}


def test_a_raw_qbo_payload_is_read_digit_for_digit():
    described = describe(_qbo_row("5", '{"Id": "5", "TotalAmt": 0.10}'))
    assert described["total_amt"] == "0.10"
    assert describe(_qbo_row("5", "{not json"))["payload_shape"] == "not JSON"
    assert describe(_qbo_row("5", "[1]"))["payload_shape"] == "a JSON array"


def test_each_broken_raw_qbo_row_is_named_and_whole_ones_pass():
    rows = [
        _qbo_row("1", '{"Id": "1", "SyncToken": "0", "TotalAmt": 12.50}'),
        _qbo_row("2", '{"Id": "2", "SyncToken": "0"}'),  # no TotalAmt: nothing to check
        _qbo_row("3", '{"Id": "3", "TotalAmt": 120.005}'),
        _qbo_row("4", "{not json"),
        _qbo_row("5", '{"Id": "55", "TotalAmt": 1}'),
        _qbo_row("6", '{"Id": "6"}', sync_token=None),
    ]
    failures = run_suite(QBO_INVOICE.suite, qbo_frame(rows), "id", QBO_INVOICE.rules())
    reasons = {f.record_id: f.reason for f in failures}
    assert reasons == {
        "3": "QuickBooks Invoice 3: TotalAmt 120.005 is not an amount exact to the cent",
        "4": "QuickBooks Invoice 4: its payload in raw_qbo.invoice is not JSON",
        "5": "QuickBooks Invoice 5: its payload in raw_qbo.invoice carries Id '55'",
        "6": "QuickBooks Invoice 6: raw_qbo.invoice has no SyncToken for it",
    }
    assert QBO_INVOICE.held({"id": "3"}) == ("invoice", None, "3")


def test_a_table_is_broken_only_when_most_of_enough_rows_fail():
    assert not mostly_broken(9, 9)
    assert not mostly_broken(10, 5)
    assert mostly_broken(10, 6)


def test_the_report_shows_each_suite_and_keeps_only_the_newest_results(tmp_path, monkeypatch):
    monkeypatch.setattr(data_docs, "KEEP_RESULTS", 2)
    frame = qbo_frame([_qbo_row("1", '{"Id": "1", "TotalAmt": 1.005}')])
    for run in ("run-1", "run-2", "run-3"):
        docs = DataDocs(tmp_path, run)
        assert len(run_suite(QBO_INVOICE.suite, frame, "id", QBO_INVOICE.rules(), docs)) == 1
        index = docs.publish()
    html = index.read_text()
    assert index == tmp_path / "data_docs" / "index.html"
    assert "raw_qbo_invoice" in html
    assert "run-3" in html and "run-2" in html and "run-1" not in html
    pages = sorted(
        p.relative_to(tmp_path).parts[3] for p in tmp_path.glob("data_docs/validations/**/*.html")
    )
    assert pages == ["run-2", "run-3"]
    # the pages carry no id of this deployment in the URL of GX's logo
    assert "dataContextId" not in html


def test_a_run_with_nothing_to_check_keeps_the_report_as_it_is(tmp_path):
    docs = DataDocs(tmp_path, "run-1")
    run_suite(
        QBO_INVOICE.suite,
        qbo_frame([_qbo_row("1", '{"Id": "1"}')]),
        "id",
        QBO_INVOICE.rules(),
        docs,
    )
    index = docs.publish()
    before = index.stat().st_mtime_ns
    assert DataDocs(tmp_path, "run-2").publish() == index
    assert index.stat().st_mtime_ns == before
