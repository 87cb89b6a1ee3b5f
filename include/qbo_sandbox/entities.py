"""The entities the emulator serves and the registry of their rules.

Adding an entity means adding an `EntitySpec` to `ENTITIES`; storage, read, query, CDC,
update, delete, void, webhooks and export are generic (`operations.py`). The rules live
by area: `lists.py`, `sales.py`, `credits.py`, `purchases.py`, `deposits.py`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from qbo_sandbox.context import Ctx
from qbo_sandbox.credits import (
    guard_credit_memo_removal,
    prepare_credit_memo,
    prepare_refund_receipt,
)
from qbo_sandbox.deposits import deposit_changed, prepare_deposit
from qbo_sandbox.lists import (
    decorate_account,
    decorate_customer,
    decorate_named,
    decorate_vendor,
    name_key,
    prepare_account,
    prepare_as_given,
    prepare_class,
    prepare_company,
    prepare_customer,
    prepare_department,
    prepare_item,
    prepare_payment_method,
    prepare_vendor,
)
from qbo_sandbox.purchases import (
    bill_payment_changed,
    bill_payment_unapplied,
    guard_bill_removal,
    prepare_bill,
    prepare_bill_payment,
    prepare_purchase,
    void_bill_payment,
)
from qbo_sandbox.references import ref_value
from qbo_sandbox.sales import (
    guard_invoice_removal,
    guard_payment_removal,
    money_or_zero,
    payment_changed,
    prepare_invoice,
    prepare_payment,
    void_invoice,
    void_payment,
)
from qbo_sandbox.store import Index, Record

Prepare = Callable[[Ctx, dict[str, Any], Record | None, dict[str, Any]], dict[str, Any]]
Changed = Callable[[Ctx, Record | None, Record], None]
Decorate = Callable[[Ctx, Record, dict[str, Any]], None]
Guard = Callable[[Ctx, Record, str], None]
Void = Callable[[Ctx, Record], None]
OpenAmount = Callable[[dict[str, Any]], Decimal]


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
    # Index columns (store.py): the unique name field, whether DocNumber is unique, the
    # reference naming the customer or vendor, and the open amount on that party's balance.
    name_field: str | None = None
    unique_doc_number: bool = False
    party_ref: str | None = None
    open_amount: OpenAmount | None = None

    @property
    def deletable(self) -> bool:
        """Only transactions are deleted; lists are made inactive."""
        return self.kind == "transaction"


def _balance(body: dict[str, Any]) -> Decimal:
    """An invoice's or bill's open balance."""
    return money_or_zero(body.get("Balance"))


def _credit_left(body: dict[str, Any]) -> Decimal:
    """A credit memo lowers the customer's balance by what is left to apply."""
    return -money_or_zero(body.get("RemainingCredit"))


def _unapplied(body: dict[str, Any]) -> Decimal:
    """A payment's unapplied amount is a credit on the customer's balance."""
    return -money_or_zero(body.get("UnappliedAmt"))


def _vendor_credit(body: dict[str, Any]) -> Decimal:
    """A bill payment beyond its bills is a credit with the vendor."""
    return -bill_payment_unapplied(body)


ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        EntitySpec(
            "Account",
            "list",
            prepare_account,
            has_active=True,
            decorate=decorate_account,
            name_field="Name",
        ),
        EntitySpec(
            "Item",
            "list",
            prepare_item,
            has_active=True,
            decorate=decorate_named,
            name_field="Name",
        ),
        EntitySpec(
            "Class",
            "list",
            prepare_class,
            has_active=True,
            decorate=decorate_named,
            name_field="Name",
        ),
        EntitySpec(
            "Department",
            "list",
            prepare_department,
            has_active=True,
            decorate=decorate_named,
            name_field="Name",
        ),
        EntitySpec(
            "PaymentMethod", "list", prepare_payment_method, has_active=True, name_field="Name"
        ),
        EntitySpec("TaxCode", "readonly", prepare_as_given, has_active=True, cdc=False),
        EntitySpec("TaxRate", "readonly", prepare_as_given, has_active=True, cdc=False),
        EntitySpec(
            "Customer",
            "list",
            prepare_customer,
            has_active=True,
            decorate=decorate_customer,
            name_field="DisplayName",
        ),
        EntitySpec(
            "Vendor",
            "list",
            prepare_vendor,
            has_active=True,
            decorate=decorate_vendor,
            name_field="DisplayName",
        ),
        EntitySpec(
            "Invoice",
            "transaction",
            prepare_invoice,
            voidable=True,
            guard_removal=guard_invoice_removal,
            void=void_invoice,
            unique_doc_number=True,
            party_ref="CustomerRef",
            open_amount=_balance,
        ),
        EntitySpec(
            "Payment",
            "transaction",
            prepare_payment,
            voidable=True,
            changed=payment_changed,
            guard_removal=guard_payment_removal,
            void=void_payment,
            party_ref="CustomerRef",
            open_amount=_unapplied,
        ),
        EntitySpec(
            "CreditMemo",
            "transaction",
            prepare_credit_memo,
            guard_removal=guard_credit_memo_removal,
            unique_doc_number=True,
            party_ref="CustomerRef",
            open_amount=_credit_left,
        ),
        EntitySpec(
            "RefundReceipt",
            "transaction",
            prepare_refund_receipt,
            unique_doc_number=True,
            party_ref="CustomerRef",
        ),
        EntitySpec("Deposit", "transaction", prepare_deposit, changed=deposit_changed),
        EntitySpec("Purchase", "transaction", prepare_purchase),
        EntitySpec(
            "Bill",
            "transaction",
            prepare_bill,
            guard_removal=guard_bill_removal,
            party_ref="VendorRef",
            open_amount=_balance,
        ),
        EntitySpec(
            "BillPayment",
            "transaction",
            prepare_bill_payment,
            voidable=True,
            changed=bill_payment_changed,
            void=void_bill_payment,
            party_ref="VendorRef",
            open_amount=_vendor_credit,
        ),
        EntitySpec("CompanyInfo", "company", prepare_company),
    )
}
TRANSACTIONS = tuple(spec.name for spec in ENTITIES.values() if spec.kind == "transaction")
_BY_LOWER = {name.lower(): spec for name, spec in ENTITIES.items()}


def lookup(name: str) -> EntitySpec | None:
    """The spec of an entity, by any capitalisation of its name."""
    return _BY_LOWER.get(name.strip().lower())


def index_fields(entity: str, body: dict[str, Any]) -> Index:
    """The store's index columns for an object of this entity (see store.py)."""
    spec = ENTITIES.get(entity)
    if spec is None:
        return Index()
    unique_key = None
    if spec.name_field is not None:
        name = str(body.get(spec.name_field) or "").strip()
        unique_key = name_key(entity, name) if name else None
    elif spec.unique_doc_number:
        doc = str(body.get("DocNumber") or "").strip()
        unique_key = f"doc:{entity}:{doc}" if doc else None
    party = ref_value(body.get(spec.party_ref)) if spec.party_ref else None
    open_amount = spec.open_amount(body) if spec.open_amount else None
    return Index(
        unique_key=unique_key,
        party_id=party,
        parent_id=ref_value(body.get("ParentRef")),
        open_amount=open_amount,
    )
