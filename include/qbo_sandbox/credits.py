"""Credits and refunds to customers: CreditMemo and RefundReceipt.

A credit memo is a sales form that lowers what the customer owes: it credits A/R, its
`RemainingCredit` (and `Balance`) is what is left to apply, and a payment applies it to an
invoice with a `CreditMemo` line next to the `Invoice` line (QuickBooks' own mechanism;
automatic application of credits is not emulated). A refund receipt pays money back out of
a bank or card account at once, so it never touches A/R.
"""

from typing import Any

from qbo_sandbox.context import Ctx
from qbo_sandbox.faults import business
from qbo_sandbox.money import ZERO, cents
from qbo_sandbox.references import check_ref, ref_value
from qbo_sandbox.sales import (
    applied_total,
    doc_number,
    guard_applied,
    payment_refs,
    sales_document,
)
from qbo_sandbox.store import Record

REFUND_ACCOUNT_TYPES = ("Bank", "Credit Card", "Other Current Asset")


def prepare_credit_memo(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Lines and tax as on an invoice; RemainingCredit is the total less what was applied."""
    body.pop("LinkedTxn", None)
    customer = sales_document(ctx, body, existing, request)
    check_ref(ctx, body, "PaymentMethodRef", "PaymentMethod", "PaymentMethodRef", must=False)
    total = body["TotalAmt"]
    applied = ZERO
    links: list[dict[str, Any]] = []
    if existing is not None:
        before = ref_value(existing.body.get("CustomerRef")) or ""
        applied = applied_total(ctx, before, "CreditMemo", existing.id)
        if applied > 0 and before != customer.id:
            raise business(
                "The customer of a credit memo that was applied cannot change.", "CustomerRef"
            )
        links = payment_refs(ctx, before, "CreditMemo", existing.id)
    if total < applied:
        raise business(
            f"The credit memo total {total} would be less than the {applied} already applied."
        )
    remaining = ZERO if body.get("_voided") else cents(total - applied)
    body["RemainingCredit"] = remaining
    body["Balance"] = remaining
    body["LinkedTxn"] = links
    body["DocNumber"] = doc_number(ctx, "CreditMemo", body, existing)
    return body


def guard_credit_memo_removal(ctx: Ctx, record: Record, what: str) -> None:
    """A credit memo applied to an invoice cannot be deleted."""
    guard_applied(ctx, record, what)


def prepare_refund_receipt(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Lines and tax as on an invoice, paid from DepositToAccountRef at once (Balance 0)."""
    body.pop("LinkedTxn", None)
    sales_document(ctx, body, existing, request)
    check_ref(ctx, body, "PaymentMethodRef", "PaymentMethod", "PaymentMethodRef", must=False)
    account = check_ref(ctx, body, "DepositToAccountRef", "Account", "DepositToAccountRef")
    assert account is not None
    if account.body.get("AccountType") not in REFUND_ACCOUNT_TYPES:
        raise business(
            "A refund is paid from a bank, credit card or other current asset account; "
            f"Account Id={account.id} is {account.body.get('AccountType')}.",
            "DepositToAccountRef",
        )
    body["Balance"] = ZERO
    body["DocNumber"] = doc_number(ctx, "RefundReceipt", body, existing)
    return body
