"""Build QuickBooks request bodies from the outbound change-set rows (marts/sync)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fieldbooks.money import to_money


def _drop_empty(obj: dict[str, Any]) -> dict[str, Any]:
    """Remove keys whose value is None or an empty dict, recursively."""
    clean: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            value = _drop_empty(value)
            if not value:
                continue
        if value is None:
            continue
        clean[key] = value
    return clean


def _contact(row: dict[str, Any]) -> dict[str, Any]:
    """Email, phone and billing address of a customer or vendor row (empty parts dropped
    by _drop_empty; a vendor row has no country)."""
    return {
        "PrimaryEmailAddr": {"Address": row.get("email")},
        "PrimaryPhone": {"FreeFormNumber": row.get("phone")},
        "BillAddr": {
            "Line1": row.get("bill_line1"),
            "City": row.get("bill_city"),
            "CountrySubDivisionCode": row.get("bill_state"),
            "PostalCode": row.get("bill_postal_code"),
            "Country": row.get("bill_country"),
        },
    }


def customer_marker(ops_id: str) -> str:
    """The note that ties a QuickBooks customer back to its operations record."""
    return f"fieldbooks:customer:{ops_id}"


def customer_payload(row: dict[str, Any]) -> dict[str, Any]:
    """A Customer body from a sync_qbo_customers row."""
    return _drop_empty(
        {
            "DisplayName": row["display_name"],
            "GivenName": row.get("given_name"),
            "FamilyName": row.get("family_name"),
            "CompanyName": row.get("company_name"),
            **_contact(row),
            "Taxable": bool(row.get("taxable")),
            "Notes": customer_marker(str(row["ops_customer_id"])),
        }
    )


def _qty(value: Any) -> Decimal:
    """A quantity without trailing zeros (2.5000 -> 2.5)."""
    qty = Decimal(str(value))
    return qty.quantize(Decimal(1)) if qty == qty.to_integral() else qty.normalize()


def invoice_payload(
    row: dict[str, Any], lines: list[dict[str, Any]], customer_qbo_id: str
) -> dict[str, Any]:
    """An Invoice body from a sync_qbo_invoices row and its lines."""
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer_qbo_id},
        "DocNumber": row["doc_number"],
        "TxnDate": str(row["txn_date"]),
        "DueDate": str(row["due_date"]),
        "PrivateNote": row["private_note"],
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": to_money(line["amount"]),
                "Description": line.get("description"),
                "SalesItemLineDetail": {
                    "ItemRef": {"value": str(line["qbo_item_id"])},
                    "Qty": _qty(line["quantity"]),
                    "UnitPrice": to_money(line["unit_price"]),
                    "TaxCodeRef": {"value": line["tax_code"]},
                },
            }
            for line in sorted(lines, key=lambda item: item["line_number"])
        ],
    }
    if row.get("tax_code_id"):
        body["TxnTaxDetail"] = {"TxnTaxCodeRef": {"value": str(row["tax_code_id"])}}
    return body


def payment_payload(
    row: dict[str, Any], lines: list[dict[str, Any]], customer_qbo_id: str
) -> dict[str, Any]:
    """A Payment body: one Line per invoice it pays (lines carry qbo_invoice_id), the rest unapplied."""
    return _drop_empty(
        {
            "CustomerRef": {"value": customer_qbo_id},
            "TotalAmt": to_money(row["amount"]),
            "TxnDate": str(row["txn_date"]),
            "PaymentRefNum": row.get("reference"),
            "PrivateNote": row["private_note"],
            "Line": [
                {
                    "Amount": to_money(line["amount"]),
                    "LinkedTxn": [{"TxnId": str(line["qbo_invoice_id"]), "TxnType": "Invoice"}],
                }
                for line in sorted(lines, key=lambda item: item["line_number"])
            ],
        }
    )


def vendor_marker(ops_id: str) -> str:
    """The ledger marker of a vendor (a QuickBooks vendor has no notes to carry it)."""
    return f"fieldbooks:vendor:{ops_id}"


def vendor_payload(row: dict[str, Any]) -> dict[str, Any]:
    """A Vendor body from a sync_qbo_vendors row (PrintOnCheckName keeps the real name)."""
    return _drop_empty(
        {
            "DisplayName": row["display_name"],
            "PrintOnCheckName": row.get("print_on_check_name"),
            "CompanyName": row.get("company_name"),
            **_contact(row),
            "Vendor1099": bool(row.get("is_1099")),
            "Active": bool(row.get("is_active", True)),
        }
    )


def job_marker(ops_id: str) -> str:
    """The note that ties a QuickBooks sub-customer back to its operations job."""
    return f"fieldbooks:job:{ops_id}"


def job_payload(row: dict[str, Any], parent_qbo_id: str) -> dict[str, Any]:
    """A sub-customer (Customer with Job) body from a sync_qbo_jobs row, under its customer."""
    return {
        "DisplayName": row["display_name"],
        "Job": True,
        "ParentRef": {"value": parent_qbo_id},
        "BillWithParent": True,
        "Active": bool(row.get("is_active", True)),
        "Notes": job_marker(str(row["ops_job_id"])),
    }


def expense_payload(
    row: dict[str, Any], vendor_qbo_id: str, customer_ref_qbo_id: str | None
) -> dict[str, Any]:
    """A Purchase (card, cash) or Bill (on account) body from a sync_qbo_expenses row.

    One AccountBasedExpenseLineDetail line; the location on the header, the job (or the
    customer) as the line's CustomerRef.
    """
    line = {
        "DetailType": "AccountBasedExpenseLineDetail",
        "Amount": to_money(row["amount"]),
        "Description": row.get("description"),
        "AccountBasedExpenseLineDetail": {
            "AccountRef": {"value": _ref(row["expense_account_id"])},
            "CustomerRef": {"value": customer_ref_qbo_id},
            "ClassRef": {"value": _ref(row.get("class_id"))},
            "BillableStatus": row.get("billable_status") or "NotBillable",
        },
    }
    header: dict[str, Any] = {
        "TxnDate": str(row["txn_date"]),
        "DocNumber": row.get("doc_number"),
        "PrivateNote": row["private_note"],
        "DepartmentRef": {"value": _ref(row.get("department_id"))},
    }
    if row["txn_type"] == "Bill":
        header |= {
            "VendorRef": {"value": vendor_qbo_id},
            "APAccountRef": {"value": _ref(row["payment_account_id"])},
            "DueDate": None if row.get("due_date") is None else str(row["due_date"]),
        }
    else:
        header |= {
            "PaymentType": row["payment_type"],
            "AccountRef": {"value": _ref(row["payment_account_id"])},
            "EntityRef": {"value": vendor_qbo_id, "type": "Vendor"},
        }
    return _drop_empty({**header, "Line": [_drop_empty(line)]})


def _ref(value: Any) -> str | None:
    """A QuickBooks reference id as a string (seeds may hold them as numbers)."""
    return None if value is None else str(value)


def quote_query_value(value: str) -> str:
    """A string literal for the QuickBooks query language (backslash, then quote, escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
