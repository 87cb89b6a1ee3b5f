"""Request bodies sent to QuickBooks carry exactly what the change sets say."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from fieldbooks.qbo.payloads import (
    customer_payload,
    expense_payload,
    invoice_payload,
    job_payload,
    payment_payload,
    quote_query_value,
    vendor_payload,
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


def _expense_row(**overrides):
    row = {
        "ops_expense_id": "7",
        "txn_type": "Purchase",
        "payment_type": "CreditCard",
        "payment_account_id": 13,
        "txn_date": date(2026, 10, 2),
        "due_date": None,
        "doc_number": "RCPT-000123",
        "private_note": "fieldbooks:expense:7",
        "department_id": 1,
        "expense_account_id": 8,
        "class_id": 2,
        "billable_status": "Billable",
        "description": "Materials for the job",
        "amount": Decimal("120.50"),
    }
    return {**row, **overrides}


def test_card_expense_is_a_purchase_from_the_mapped_account_with_one_billable_line():
    body = expense_payload(_expense_row(), "50", "31")
    assert body["PaymentType"] == "CreditCard"
    assert body["AccountRef"] == {"value": "13"}
    assert body["EntityRef"] == {"value": "50", "type": "Vendor"}
    assert body["DepartmentRef"] == {"value": "1"}
    assert body["PrivateNote"] == "fieldbooks:expense:7"
    assert "VendorRef" not in body and "APAccountRef" not in body
    [line] = body["Line"]
    assert line["Amount"] == Decimal("120.50")
    assert line["AccountBasedExpenseLineDetail"] == {
        "AccountRef": {"value": "8"},
        "CustomerRef": {"value": "31"},
        "ClassRef": {"value": "2"},
        "BillableStatus": "Billable",
    }


def test_on_account_expense_is_a_bill_owed_on_accounts_payable():
    row = _expense_row(
        txn_type="Bill",
        payment_type=None,
        payment_account_id="12",
        due_date=date(2026, 11, 1),
        class_id=None,
        billable_status="NotBillable",
    )
    body = expense_payload(row, "50", None)
    assert body["VendorRef"] == {"value": "50"}
    assert body["APAccountRef"] == {"value": "12"}
    assert body["DueDate"] == "2026-11-01"
    assert "PaymentType" not in body and "AccountRef" not in body and "EntityRef" not in body
    detail = body["Line"][0]["AccountBasedExpenseLineDetail"]
    assert "CustomerRef" not in detail and "ClassRef" not in detail
    assert detail["BillableStatus"] == "NotBillable"


def test_job_payload_is_a_sub_customer_billed_with_its_parent():
    body = job_payload({"ops_job_id": 4, "display_name": "J-1004 Repair", "is_active": True}, "58")
    assert body == {
        "DisplayName": "J-1004 Repair",
        "Job": True,
        "ParentRef": {"value": "58"},
        "BillWithParent": True,
        "Active": True,
        "Notes": "fieldbooks:job:4",
    }


def test_vendor_payload_keeps_the_real_name_for_checks():
    body = vendor_payload(
        {
            "display_name": "Ortiz Roofing (vendor)",
            "print_on_check_name": "Ortiz Roofing",
            "email": None,
            "bill_city": "Austin",
            "is_1099": True,
            "is_active": True,
        }
    )
    assert body["DisplayName"] == "Ortiz Roofing (vendor)"
    assert body["PrintOnCheckName"] == "Ortiz Roofing"
    assert body["Vendor1099"] is True
    assert body["BillAddr"] == {"City": "Austin"}
    assert "PrimaryEmailAddr" not in body
