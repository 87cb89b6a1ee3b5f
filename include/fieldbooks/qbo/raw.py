"""The raw_qbo.* contract: one table per QuickBooks entity, the whole object kept as JSON."""

from __future__ import annotations

from typing import Any

from fieldbooks.money import dumps_exact
from fieldbooks.warehouse.merge import TableSpec

RAW_QBO_COLUMNS: tuple[tuple[str, str], ...] = (
    ("realm_id", "text"),
    ("id", "text"),
    ("sync_token", "text"),
    ("last_updated_time", "timestamp"),
    ("deleted", "bool"),
    ("payload", "json"),
    ("_extracted_at", "timestamp"),
)

# Entities read through CDC, and those CDC does not serve (read by query each run).
CDC_ENTITIES: tuple[str, ...] = (
    # lists: the mapping targets (accounts, items, classes, locations) and the parties
    "Account",
    "Item",
    "Class",
    "Department",
    "PaymentMethod",
    "Customer",
    "Vendor",
    # transactions: what fieldbooks writes and what an accountant enters beside it
    "Invoice",
    "Payment",
    "CreditMemo",
    "RefundReceipt",
    "Deposit",
    "Purchase",
    "Bill",
    "BillPayment",
)
QUERY_ENTITIES: tuple[str, ...] = ("TaxCode", "TaxRate")


def raw_qbo_spec(entity: str) -> TableSpec:
    """The raw_qbo table of one entity (`Invoice` -> raw_qbo.invoice)."""
    return TableSpec(
        schema="raw_qbo", name=entity.lower(), columns=RAW_QBO_COLUMNS, key=("realm_id", "id")
    )


def raw_row(realm_id: str, obj: dict[str, Any], extracted_at: Any) -> tuple:
    """One raw_qbo row from a QuickBooks object (a stripped deleted object included)."""
    from fieldbooks.qbo.times import parse_qbo_time

    meta = obj.get("MetaData") or {}
    updated = parse_qbo_time(meta["LastUpdatedTime"]) if meta.get("LastUpdatedTime") else None
    deleted = obj.get("status") == "Deleted"
    token = obj.get("SyncToken")
    return (
        realm_id,
        str(obj["Id"]),
        None if token is None else str(token),
        updated,
        deleted,
        dumps_exact(obj),
        extracted_at,
    )


__all__ = ["CDC_ENTITIES", "QUERY_ENTITIES", "RAW_QBO_COLUMNS", "raw_qbo_spec", "raw_row"]
