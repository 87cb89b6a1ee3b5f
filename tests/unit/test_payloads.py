"""Request bodies sent to QuickBooks carry exactly what the change sets say."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from fieldbooks.qbo.payloads import (
    customer_payload,
    invoice_payload,
    payment_payload,
    quote_query_value,
)


def test_invoice_payload_keeps_lines_in_order_and_lets_quickbooks_compute_tax():
    row = {
        "doc_number": "FB-10001",
        "txn_date": date(2026, 9, 19),
        "due_date": date(2026, 10, 19),
        "private_note": "fieldbooks:invoice:1",
        "tax_code_id": "1",
    }
    lines = [
        {
            "line_number": 2,
            "amount": Decimal("20.00"),
            "description": "pipe",
            "qbo_item_id": "4",
            "quantity": Decimal("2.0000"),
            "unit_price": Decimal("10.00"),
            "tax_code": "TAX",
        },
        {
            "line_number": 1,
            "amount": Decimal("187.50"),
            "description": "labor",
            "qbo_item_id": "1",
            "quantity": Decimal("1.5000"),
            "unit_price": Decimal("125.00"),
            "tax_code": "NON",
        },
    ]
    body = invoice_payload(row, lines, "58")
    assert body["CustomerRef"] == {"value": "58"}
    assert [line["Amount"] for line in body["Line"]] == [Decimal("187.50"), Decimal("20.00")]
    assert body["Line"][0]["SalesItemLineDetail"]["Qty"] == Decimal("1.5")
    assert body["Line"][1]["SalesItemLineDetail"]["Qty"] == Decimal("2")
    assert body["TxnTaxDetail"] == {"TxnTaxCodeRef": {"value": "1"}}
    assert "TotalTax" not in body["TxnTaxDetail"]


def test_exempt_invoice_has_no_tax_detail():
    row = {
        "doc_number": "FB-1",
        "txn_date": date(2026, 1, 1),
        "due_date": date(2026, 1, 31),
        "private_note": "fieldbooks:invoice:9",
        "tax_code_id": None,
    }
    assert "TxnTaxDetail" not in invoice_payload(row, [], "1")


def test_customer_payload_drops_empty_fields_and_carries_the_marker():
    body = customer_payload(
        {
            "ops_customer_id": 6,
            "display_name": "St. Mary's Parish",
            "taxable": False,
            "email": None,
            "bill_city": "Davis",
        }
    )
    assert body["Notes"] == "fieldbooks:customer:6"
    assert "PrimaryEmailAddr" not in body
    assert body["BillAddr"] == {"City": "Davis"}
    assert body["Taxable"] is False


def test_payment_applies_its_whole_amount_to_its_invoice():
    body = payment_payload(
        {
            "amount": Decimal("50.5"),
            "txn_date": date(2026, 2, 1),
            "reference": None,
            "private_note": "fieldbooks:payment:3",
        },
        [{"line_number": 1, "amount": Decimal("50.50"), "qbo_invoice_id": "12"}],
        "7",
    )
    assert body["TotalAmt"] == Decimal("50.50")
    assert body["Line"] == [
        {"Amount": Decimal("50.50"), "LinkedTxn": [{"TxnId": "12", "TxnType": "Invoice"}]}
    ]
    assert "PaymentRefNum" not in body


def test_payment_paying_several_invoices_has_a_line_each_and_keeps_the_rest_unapplied():
    body = payment_payload(
        {
            "amount": Decimal("400.00"),
            "txn_date": date(2026, 3, 2),
            "reference": "CHK 2207",
            "private_note": "fieldbooks:payment:9",
        },
        [
            {"line_number": 2, "amount": Decimal("120.25"), "qbo_invoice_id": "31"},
            {"line_number": 1, "amount": Decimal("250.00"), "qbo_invoice_id": "30"},
        ],
        "7",
    )
    assert body["TotalAmt"] == Decimal("400.00")
    assert [(line["LinkedTxn"][0]["TxnId"], line["Amount"]) for line in body["Line"]] == [
        ("30", Decimal("250.00")),
        ("31", Decimal("120.25")),
    ]
    assert body["PaymentRefNum"] == "CHK 2207"


@given(st.text())
def test_query_literals_escape_backslashes_before_quotes(text):
    literal = quote_query_value(text)
    assert literal.startswith("'") and literal.endswith("'")
    inner = literal[1:-1]
    # Un-escaping gives the text back, and no unescaped quote is left inside.
    out, i = [], 0
    while i < len(inner):
        if inner[i] == "\\":
            out.append(inner[i + 1])
            i += 2
        else:
            assert inner[i] != "'"
            out.append(inner[i])
            i += 1
    assert "".join(out) == text
