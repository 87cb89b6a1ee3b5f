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
            "PrimaryEmailAddr": {"Address": row.get("email")},
            "PrimaryPhone": {"FreeFormNumber": row.get("phone")},
            "BillAddr": {
                "Line1": row.get("bill_line1"),
                "City": row.get("bill_city"),
                "CountrySubDivisionCode": row.get("bill_state"),
                "PostalCode": row.get("bill_postal_code"),
                "Country": row.get("bill_country"),
            },
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


def quote_query_value(value: str) -> str:
    """A string literal for the QuickBooks query language (backslash, then quote, escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
