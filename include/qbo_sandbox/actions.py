"""Accountant actions: what a person does in the QuickBooks screens while an integration
runs, so tests and demos can make QuickBooks change under a pipeline's feet.

Each action goes through the same rules as the API (so it answers the same Fault codes),
takes no SyncToken (a person edits whatever is current), bumps SyncToken and
LastUpdatedTime, shows up in CDC and sends webhooks, but is not in the request log (it is
not an API call). Served under `POST /_sandbox/realms/<realm>/actions/<name>` (admin.py).
"""

import copy
from collections.abc import Callable
from typing import Any

from qbo_sandbox.context import Ctx
from qbo_sandbox.entities import ENTITIES, EntitySpec
from qbo_sandbox.faults import business, invalid_property, not_found, required
from qbo_sandbox.lists import find_system_account
from qbo_sandbox.money import to_money
from qbo_sandbox.operations import create, delete, render, spec_for, update, void
from qbo_sandbox.references import ref_value
from qbo_sandbox.sales import money_or_zero
from qbo_sandbox.store import Record

Action = Callable[[Ctx, dict[str, Any]], dict[str, Any]]


def _text(body: dict[str, Any], key: str) -> str:
    """A required string argument (2020 when missing)."""
    value = body.get(key)
    if value in (None, ""):
        raise required(key)
    return str(value)


def _current(ctx: Ctx, spec: EntitySpec, object_id: str) -> Record:
    """The live object an action works on (610 when gone)."""
    record = ctx.store.get_object(ctx.realm, spec.name, object_id)
    if record is None or record.deleted:
        raise not_found(spec.name, object_id)
    return record


def _payload(record: Record, **fields: Any) -> dict[str, Any]:
    """A sparse-update body at the object's current SyncToken."""
    return {"Id": record.id, "SyncToken": str(record.sync_token), "sparse": True, **fields}


def _payment_method(ctx: Ctx, name: str) -> dict[str, str] | None:
    """A reference to the company's payment method of this name, if it has one."""
    for method in ctx.store.list_objects(ctx.realm, "PaymentMethod"):
        if str(method.body.get("Name", "")).casefold() == name.casefold():
            return {"value": method.id, "name": str(method.body.get("Name"))}
    return None


def receive_payment(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Record a customer's check against an invoice.

    `{"invoice_id", "amount"? (default: the open balance), "check_number"?, "txn_date"?,
    "deposit_to_account_id"? (default: Undeposited Funds)}`
    """
    invoice = _current(ctx, ENTITIES["Invoice"], _text(body, "invoice_id"))
    balance = money_or_zero(invoice.body.get("Balance"))
    amount = to_money(body["amount"], "amount") if body.get("amount") is not None else balance
    if amount <= 0:
        raise business(f"Invoice Id={invoice.id} has nothing left to pay.", "amount")
    payment: dict[str, Any] = {
        "CustomerRef": invoice.body["CustomerRef"],
        "TotalAmt": amount,
        "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice.id, "TxnType": "Invoice"}]}],
    }
    if body.get("check_number"):
        payment["PaymentRefNum"] = str(body["check_number"])
    method = _payment_method(ctx, "Check")
    if method is not None:
        payment["PaymentMethodRef"] = method
    if body.get("txn_date"):
        payment["TxnDate"] = str(body["txn_date"])
    if body.get("deposit_to_account_id"):
        payment["DepositToAccountRef"] = {"value": str(body["deposit_to_account_id"])}
    spec = ENTITIES["Payment"]
    return {"Payment": render(ctx, spec, create(ctx, spec, payment))}


def deposit_payments(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Deposit payments waiting in Undeposited Funds into a bank account.

    `{"payment_ids"? (default: every payment not yet deposited), "account_id"? (default:
    the first bank account), "txn_date"?}`
    """
    undeposited = find_system_account(ctx, "UndepositedFunds")
    ids = body.get("payment_ids")
    if ids is None:
        ids = [
            p.id
            for p in ctx.store.list_objects(ctx.realm, "Payment")
            if undeposited is not None
            and ref_value(p.body.get("DepositToAccountRef")) == undeposited.id
            and not p.body.get("_deposit_id")
            and not p.body.get("_voided")
            and money_or_zero(p.body.get("TotalAmt")) > 0
        ]
    if not isinstance(ids, list) or not ids:
        raise business("There are no payments to deposit.", "payment_ids")
    account_id = body.get("account_id")
    if account_id is None:
        banks = [
            a
            for a in ctx.store.list_objects(ctx.realm, "Account")
            if a.body.get("AccountType") == "Bank" and a.body.get("Active") is not False
        ]
        if not banks:
            raise business("The company has no bank account to deposit to.", "account_id")
        account_id = banks[0].id
    lines = []
    for payment_id in ids:
        payment = _current(ctx, ENTITIES["Payment"], str(payment_id))
        lines.append(
            {
                "Amount": money_or_zero(payment.body.get("TotalAmt")),
                "LinkedTxn": [{"TxnId": payment.id, "TxnType": "Payment", "TxnLineId": "0"}],
            }
        )
    deposit: dict[str, Any] = {"DepositToAccountRef": {"value": str(account_id)}, "Line": lines}
    if body.get("txn_date"):
        deposit["TxnDate"] = str(body["txn_date"])
    spec = ENTITIES["Deposit"]
    return {"Deposit": render(ctx, spec, create(ctx, spec, deposit))}


def edit_invoice(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Replace an invoice's lines (and any other fields given), as a person editing it.

    `{"invoice_id", "lines": [QuickBooks Line objects], "fields"?: {...}}`
    """
    spec = ENTITIES["Invoice"]
    invoice = _current(ctx, spec, _text(body, "invoice_id"))
    fields = dict(body.get("fields") or {})
    if body.get("lines") is not None:
        if not isinstance(body["lines"], list):
            raise invalid_property("lines must be a list of Line objects", "lines")
        fields["Line"] = copy.deepcopy(body["lines"])
    if not fields:
        raise required("lines")
    return {spec.name: render(ctx, spec, update(ctx, spec, _payload(invoice, **fields)))}


def void_transaction(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Void a transaction: `{"entity", "id"}`."""
    spec = spec_for(_text(body, "entity"))
    record = _current(ctx, spec, _text(body, "id"))
    return void(ctx, spec, {"Id": record.id, "SyncToken": str(record.sync_token)})


def delete_transaction(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Delete a transaction: `{"entity", "id"}`."""
    spec = spec_for(_text(body, "entity"))
    record = _current(ctx, spec, _text(body, "id"))
    return delete(ctx, spec, {"Id": record.id, "SyncToken": str(record.sync_token)})


def _list_spec(body: dict[str, Any]) -> EntitySpec:
    """The list entity an action names (Account, Item, Class, ...)."""
    spec = spec_for(_text(body, "entity"))
    if spec.kind != "list":
        raise business(f"{spec.name} is not a list entity.", "entity")
    return spec


def rename(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Rename a list object: `{"entity": "Account" | "Item" | ..., "id", "name"}`."""
    spec = _list_spec(body)
    record = _current(ctx, spec, _text(body, "id"))
    field = "DisplayName" if spec.name in ("Customer", "Vendor") else "Name"
    changed = update(ctx, spec, _payload(record, **{field: _text(body, "name")}))
    return {spec.name: render(ctx, spec, changed)}


def set_active(active: bool) -> Action:
    """Make a list object inactive or active again: `{"entity", "id"}`."""

    def act(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        spec = _list_spec(body)
        record = _current(ctx, spec, _text(body, "id"))
        changed = update(ctx, spec, _payload(record, Active=active))
        return {spec.name: render(ctx, spec, changed)}

    return act


def create_object(entity: str | None) -> Action:
    """Create an object as a person would: the body is the QuickBooks object itself
    (`create` takes `{"entity", "object"}`)."""

    def act(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        name = entity or _text(body, "entity")
        obj = body if entity else body.get("object")
        if not isinstance(obj, dict):
            raise required("object")
        spec = spec_for(name)
        return {spec.name: render(ctx, spec, create(ctx, spec, dict(obj)))}

    return act


ACTIONS: dict[str, Action] = {
    "receive_payment": receive_payment,
    "deposit": deposit_payments,
    "edit_invoice": edit_invoice,
    "void": void_transaction,
    "delete": delete_transaction,
    "rename": rename,
    "deactivate": set_active(False),
    "reactivate": set_active(True),
    "create_customer": create_object("Customer"),
    "create_vendor": create_object("Vendor"),
    "create": create_object(None),
}
