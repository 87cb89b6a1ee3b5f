"""The entities the emulator serves and their rules: what is required, unique, computed.

Adding an entity means adding an `EntitySpec` to `ENTITIES`; storage, read, query, CDC,
update and delete are generic (`operations.py`).
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from qbo_sandbox.context import Ctx
from qbo_sandbox.faults import QboError, business, duplicate_name, required
from qbo_sandbox.money import ZERO, cents
from qbo_sandbox.references import check_ref, depth, full_name, ref_value
from qbo_sandbox.sales import (
    guard_invoice_removal,
    payment_changed,
    prepare_invoice,
    prepare_payment,
    void_invoice,
    void_payment,
)
from qbo_sandbox.store import Record

Prepare = Callable[[Ctx, dict[str, Any], Record | None, dict[str, Any]], dict[str, Any]]
Changed = Callable[[Ctx, Record | None, Record], None]
Decorate = Callable[[Ctx, Record, dict[str, Any]], None]
Guard = Callable[[Ctx, Record, str], None]
Void = Callable[[Ctx, Record], None]

# Entities whose DisplayName shares one namespace (QBO_FACTS: Customer, Vendor, Employee).
NAME_SHARING = ("Customer", "Vendor", "Employee")
DISPLAY_NAME_MAX = 500

CLASSIFICATIONS = {
    "Bank": "Asset",
    "Accounts Receivable": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Other Current Liability": "Liability",
    "Long Term Liability": "Liability",
    "Equity": "Equity",
    "Income": "Revenue",
    "Other Income": "Revenue",
    "Cost of Goods Sold": "Expense",
    "Expense": "Expense",
    "Other Expense": "Expense",
}
ITEM_TYPES = ("Service", "NonInventory", "Inventory")


@dataclass(frozen=True)
class EntitySpec:
    """How one QBO entity behaves in the emulator."""

    name: str
    kind: str  # "list" (made inactive, never deleted), "transaction", "readonly", "company"
    prepare: Prepare
    has_active: bool = False
    cdc: bool = True
    voidable: bool = False
    changed: Changed | None = None
    decorate: Decorate | None = None
    guard_removal: Guard | None = None
    void: Void | None = None

    @property
    def deletable(self) -> bool:
        """Only transactions are deleted; lists are made inactive."""
        return self.kind == "transaction"


def _active(body: dict[str, Any]) -> None:
    """Active defaults to true; only an explicit false makes an object inactive."""
    body["Active"] = body.get("Active") is not False


def _unique_name(
    ctx: Ctx, entities: tuple[str, ...], key: str, name: str, existing: Record | None, what: str
) -> None:
    """6240 unless no other object of these entities (active or not) has this name."""
    wanted = name.strip().casefold()
    for entity in entities:
        for record in ctx.store.list_objects(ctx.realm, entity):
            if (
                existing is not None
                and record.entity == existing.entity
                and record.id == existing.id
            ):
                continue
            if str(record.body.get(key) or "").strip().casefold() == wanted:
                raise duplicate_name(
                    f"Another {what} is already using this name. Please use a different name. "
                    f"({record.entity} Id={record.id})"
                )


def _no_cycle(ctx: Ctx, body: dict[str, Any], existing: Record | None, entity: str) -> None:
    """A parent cannot be the object itself or one of its descendants."""
    if existing is None:
        return
    parent_id = ref_value(body.get("ParentRef"))
    seen = set()
    while parent_id is not None and parent_id not in seen:
        if parent_id == existing.id:
            raise QboError("900", "Parent cannot be child", "An object cannot be its own parent.")
        seen.add(parent_id)
        parent = ctx.store.get_object(ctx.realm, entity, parent_id)
        parent_id = ref_value(parent.body.get("ParentRef")) if parent else None


# ---------------------------------------------------------------- Customer
def prepare_customer(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """DisplayName (derived from the name parts when absent) unique; jobs under a parent."""
    for key in ("FullyQualifiedName", "Balance", "BalanceWithJobs", "Level"):
        body.pop(key, None)
    display = str(body.get("DisplayName") or "").strip()
    if not display:
        parts = (
            str(body.get(k) or "").strip()
            for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
        )
        display = " ".join(part for part in parts if part)
    if not display:
        raise QboError(
            "6080",
            "No Name Provided",
            "Title, GivenName, MiddleName, FamilyName, DisplayName, Suffix - one of these "
            "must be non-empty",
            element="DisplayName",
        )
    if len(display) > DISPLAY_NAME_MAX:
        raise QboError(
            "2050",
            "String length specified does not match the supported length",
            f"Min:1, Max:{DISPLAY_NAME_MAX} supported. Supplied length:{len(display)}",
            element="DisplayName",
        )
    body["DisplayName"] = display
    _unique_name(
        ctx, NAME_SHARING, "DisplayName", display, existing, "customer, vendor or employee"
    )
    parent = check_ref(ctx, body, "ParentRef", "Customer", "ParentRef", must=False)
    _no_cycle(ctx, body, existing, "Customer")
    body["Job"] = parent is not None
    if parent is None:
        body["BillWithParent"] = False
    else:
        body["BillWithParent"] = body.get("BillWithParent") is True
    if not str(body.get("PrintOnCheckName") or "").strip():
        body["PrintOnCheckName"] = display
    _active(body)
    body.setdefault("CurrencyRef", {"value": "USD", "name": "United States Dollar"})
    return body


def customer_balances(ctx: Ctx) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Each customer's open invoice balance, alone and with its jobs."""
    if "customer_balances" not in ctx.cache:
        own: dict[str, Decimal] = {}
        for invoice in ctx.store.list_objects(ctx.realm, "Invoice"):
            customer_id = ref_value(invoice.body.get("CustomerRef"))
            if customer_id is not None:
                own[customer_id] = own.get(customer_id, ZERO) + Decimal(
                    invoice.body.get("Balance") or 0
                )
        parents = {
            c.id: ref_value(c.body.get("ParentRef"))
            for c in ctx.store.list_objects(ctx.realm, "Customer", include_deleted=True)
        }
        with_jobs: dict[str, Decimal] = {}
        for customer_id, amount in own.items():
            current, seen = customer_id, set()
            while current is not None and current not in seen:
                with_jobs[current] = with_jobs.get(current, ZERO) + amount
                seen.add(current)
                current = parents.get(current)
        ctx.cache["customer_balances"] = (own, with_jobs)
    return ctx.cache["customer_balances"]


def decorate_customer(ctx: Ctx, record: Record, obj: dict[str, Any]) -> None:
    """Add the read-time figures: FullyQualifiedName, Level, Balance, BalanceWithJobs."""
    own, with_jobs = customer_balances(ctx)
    obj["FullyQualifiedName"] = full_name(ctx, record)
    obj["Level"] = depth(ctx, record)
    obj["Balance"] = cents(own.get(record.id, ZERO))
    obj["BalanceWithJobs"] = cents(with_jobs.get(record.id, ZERO))


# ---------------------------------------------------------------- Account
def prepare_account(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Name required and unique; Classification follows AccountType."""
    for key in (
        "FullyQualifiedName",
        "CurrentBalance",
        "CurrentBalanceWithSubAccounts",
        "Classification",
    ):
        body.pop(key, None)
    name = str(body.get("Name") or "").strip()
    if not name:
        raise required("Name")
    body["Name"] = name
    account_type = body.get("AccountType")
    if not account_type:
        raise QboError(
            "6010",
            "Invalid Account.AccountType && Account.SubType",
            "Either an Account.AccountType or an Account.AccountSubType must be specified",
            element="AccountType",
        )
    if account_type not in CLASSIFICATIONS:
        raise QboError(
            "2170", "Invalid Enumeration", f"Invalid Enumeration : {account_type}", "AccountType"
        )
    body["Classification"] = CLASSIFICATIONS[account_type]
    _unique_name(ctx, ("Account",), "Name", name, existing, "account")
    parent = check_ref(ctx, body, "ParentRef", "Account", "ParentRef", must=False)
    _no_cycle(ctx, body, existing, "Account")
    body["SubAccount"] = parent is not None
    _active(body)
    # Ledger balances are not tracked in this slice.
    body["CurrentBalance"] = ZERO
    body["CurrentBalanceWithSubAccounts"] = ZERO
    body.setdefault("CurrencyRef", {"value": "USD", "name": "United States Dollar"})
    return body


# ---------------------------------------------------------------- Item
def prepare_item(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Name required and unique; sellable types need an income account."""
    for key in ("FullyQualifiedName", "Level"):
        body.pop(key, None)
    name = str(body.get("Name") or "").strip()
    if not name:
        raise required("Name")
    body["Name"] = name
    item_type = body.get("Type") or "Service"
    if item_type not in ITEM_TYPES:
        raise business(
            f"Item Type {item_type!r} is not emulated; use one of {', '.join(ITEM_TYPES)}."
        )
    body["Type"] = item_type
    _unique_name(ctx, ("Item",), "Name", name, existing, "product or service")
    check_ref(ctx, body, "IncomeAccountRef", "Account", "IncomeAccountRef")
    check_ref(ctx, body, "ExpenseAccountRef", "Account", "ExpenseAccountRef", must=False)
    check_ref(ctx, body, "ParentRef", "Item", "ParentRef", must=False)
    _no_cycle(ctx, body, existing, "Item")
    _active(body)
    return body


def decorate_named(ctx: Ctx, record: Record, obj: dict[str, Any]) -> None:
    """FullyQualifiedName from the ParentRef chain (accounts, items)."""
    obj["FullyQualifiedName"] = full_name(ctx, record)


# ---------------------------------------------------------------- read-only lists
def prepare_as_given(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Seeded objects (tax codes and rates) are stored as written."""
    if "Active" in body or existing is None:
        _active(body)
    return body


def prepare_company(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """CompanyInfo needs a CompanyName."""
    if not str(body.get("CompanyName") or "").strip():
        raise required("CompanyName")
    return body


ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        EntitySpec("Account", "list", prepare_account, has_active=True, decorate=decorate_named),
        EntitySpec("Item", "list", prepare_item, has_active=True, decorate=decorate_named),
        EntitySpec("TaxCode", "readonly", prepare_as_given, has_active=True, cdc=False),
        EntitySpec("TaxRate", "readonly", prepare_as_given, has_active=True, cdc=False),
        EntitySpec(
            "Customer", "list", prepare_customer, has_active=True, decorate=decorate_customer
        ),
        EntitySpec(
            "Invoice",
            "transaction",
            prepare_invoice,
            voidable=True,
            guard_removal=guard_invoice_removal,
            void=void_invoice,
        ),
        EntitySpec(
            "Payment",
            "transaction",
            prepare_payment,
            voidable=True,
            changed=payment_changed,
            void=void_payment,
        ),
        EntitySpec("CompanyInfo", "company", prepare_company),
    )
}


def lookup(name: str) -> EntitySpec | None:
    """The spec of an entity, by any capitalisation of its name."""
    wanted = name.strip().lower()
    for spec in ENTITIES.values():
        if spec.name.lower() == wanted:
            return spec
    return None
