"""Deposit: moves customer payments from Undeposited Funds into a bank account, and records
other money deposited directly (`DepositLineDetail` lines).

A linked line deposits one whole payment (`LinkedTxn` `{TxnId, TxnType: "Payment"}`) that
went to Undeposited Funds and is not on another deposit. The payment is then marked as
deposited: changing its amount or account, deleting or voiding it answers 6540 until the
deposit is changed or deleted (sales.py enforces it).
"""

from typing import Any

from qbo_sandbox.context import Ctx
from qbo_sandbox.faults import business, invalid_property, invalid_reference, required
from qbo_sandbox.lists import USD
from qbo_sandbox.money import ZERO, cents, to_money
from qbo_sandbox.purchases import account_of_type
from qbo_sandbox.references import check_ref, full_name, ref_value
from qbo_sandbox.sales import check_header_refs, money_or_zero, today, txn_date
from qbo_sandbox.store import Record

DEPOSIT_ACCOUNT_TYPES = ("Bank", "Other Current Asset")
ENTITY_TYPES = ("Customer", "Vendor")


def linked_payments(body: dict[str, Any]) -> list[str]:
    """Ids of the payments a stored deposit carries."""
    ids = []
    for line in body.get("Line") or []:
        for link in line.get("LinkedTxn") or []:
            if link.get("TxnType") == "Payment":
                ids.append(str(link.get("TxnId")))
    return ids


def prepare_deposit(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Check the bank account and every line; TotalAmt is the sum of the lines."""
    for key in ("TotalAmt", "HomeTotalAmt"):
        body.pop(key, None)
    cash_back = body.pop("CashBack", None)
    if isinstance(cash_back, dict) and money_or_zero(cash_back.get("Amount")) != 0:
        raise business("Cash back on a deposit is not emulated.", "CashBack")
    account = account_of_type(
        ctx, body, "DepositToAccountRef", "DepositToAccountRef", DEPOSIT_ACCOUNT_TYPES, True
    )
    assert account is not None
    if account.body.get("AccountSubType") == "UndepositedFunds":
        raise business(
            "A deposit goes to a bank account, not to Undeposited Funds.", "DepositToAccountRef"
        )
    check_header_refs(ctx, body)
    raw_lines = body.get("Line")
    if raw_lines is not None and not isinstance(raw_lines, list):
        raise invalid_property("Line must be a list", "Line")
    lines_in = [line for line in raw_lines or [] if isinstance(line, dict)]
    if not lines_in:
        raise required("Line")
    lines = []
    seen: set[str] = set()
    total = ZERO
    for number, line in enumerate(lines_in, 1):
        where = f"Line[{number}]"
        if line.get("LinkedTxn"):
            stored = _linked_line(ctx, line, where, existing, seen, account.id)
        else:
            stored = _direct_line(ctx, line, where, account.id)
        stored["Id"] = str(number)
        stored["LineNum"] = number
        total += stored["Amount"]
        lines.append(stored)
    body["Line"] = lines
    body["TotalAmt"] = cents(total)
    txn_date(body, "TxnDate", today(ctx))
    body.setdefault("CurrencyRef", USD)
    return body


def _linked_line(
    ctx: Ctx,
    line: dict[str, Any],
    where: str,
    existing: Record | None,
    seen: set[str],
    account_id: str,
) -> dict[str, Any]:
    """A line that deposits one payment held in Undeposited Funds."""
    links = line.get("LinkedTxn")
    if not isinstance(links, list) or len(links) != 1 or not isinstance(links[0], dict):
        raise business(f"{where} must link exactly one payment.", f"{where}.LinkedTxn")
    link = links[0]
    if link.get("TxnType") != "Payment":
        raise business(
            f"{where}: only payments are deposited from Undeposited Funds in this emulator, got "
            f"{link.get('TxnType')!r}.",
            f"{where}.LinkedTxn",
        )
    payment_id = ref_value(link.get("TxnId"))
    if payment_id is None:
        raise required(f"{where}.LinkedTxn.TxnId")
    payment = ctx.store.get_object(ctx.realm, "Payment", payment_id)
    if payment is None or payment.deleted or payment.body.get("_voided"):
        raise invalid_reference(
            ctx.config.invalid_reference_code,
            f"{where}.LinkedTxn points at Payment Id={payment_id}, which does not exist or is "
            "voided.",
            f"{where}.LinkedTxn",
        )
    if payment_id in seen:
        raise business(f"Payment Id={payment_id} is on this deposit twice.", f"{where}.LinkedTxn")
    seen.add(payment_id)
    holder = payment.body.get("_deposit_id")
    if holder and (existing is None or holder != existing.id):
        raise business(
            f"Payment Id={payment_id} is already on Deposit Id={holder}.", f"{where}.LinkedTxn"
        )
    source_id = ref_value(payment.body.get("DepositToAccountRef"))
    source = ctx.store.get_object(ctx.realm, "Account", source_id) if source_id else None
    if source is None or source.body.get("AccountSubType") != "UndepositedFunds":
        raise business(
            f"Payment Id={payment_id} went straight to an account, not to Undeposited Funds; "
            "there is nothing to deposit.",
            f"{where}.LinkedTxn",
        )
    total = money_or_zero(payment.body.get("TotalAmt"))
    given = line.get("Amount")
    amount = total if given in (None, "") else to_money(given, f"{where}.Amount")
    if amount == 0 and given is not None and total != 0:
        amount = total  # python-quickbooks sends Amount 0 on a line it built
    if amount != total:
        raise business(
            f"A payment is deposited whole: Payment Id={payment_id} is {total}, the line says "
            f"{amount}.",
            f"{where}.Amount",
        )
    return {
        "Amount": amount,
        "LinkedTxn": [{"TxnId": payment_id, "TxnType": "Payment", "TxnLineId": "0"}],
    }


def _direct_line(ctx: Ctx, line: dict[str, Any], where: str, account_id: str) -> dict[str, Any]:
    """A `DepositLineDetail` line: money from an account (and a payer) other than a payment."""
    detail = line.get("DepositLineDetail")
    if not isinstance(detail, dict):
        raise required(f"{where}.DepositLineDetail.AccountRef")
    detail = {k: v for k, v in detail.items() if v not in (None, "")}
    source = check_ref(
        ctx, detail, "AccountRef", "Account", f"{where}.DepositLineDetail.AccountRef"
    )
    assert source is not None
    if source.id == account_id:
        raise business("A deposit line cannot come from the account deposited to.", where)
    _payer(ctx, detail, where)
    check_ref(ctx, detail, "ClassRef", "Class", f"{where}.DepositLineDetail.ClassRef", False)
    check_ref(
        ctx,
        detail,
        "PaymentMethodRef",
        "PaymentMethod",
        f"{where}.DepositLineDetail.PaymentMethodRef",
        False,
    )
    if line.get("Amount") in (None, ""):
        raise required(f"{where}.Amount")
    amount = to_money(line["Amount"], f"{where}.Amount")
    if amount < 0:
        raise business("Cash back (negative deposit lines) is not emulated.", f"{where}.Amount")
    stored = {
        "Amount": amount,
        "DetailType": "DepositLineDetail",
        "DepositLineDetail": detail,
    }
    if line.get("Description"):
        stored["Description"] = line["Description"]
    return stored


def _payer(ctx: Ctx, detail: dict[str, Any], where: str) -> None:
    """DepositLineDetail.Entity: the customer or vendor the money came from, if named."""
    raw = detail.get("Entity")
    value = ref_value(raw)
    if value is None:
        detail.pop("Entity", None)
        return
    wanted = raw.get("type") if isinstance(raw, dict) else None
    kinds = (wanted,) if wanted in ENTITY_TYPES else ENTITY_TYPES
    for kind in kinds:
        record = ctx.store.get_object(ctx.realm, kind, value)
        if record is not None and not record.deleted:
            detail["Entity"] = {"value": value, "name": full_name(ctx, record), "type": kind}
            return
    raise invalid_reference(
        ctx.config.invalid_reference_code,
        f"{where}.DepositLineDetail.Entity points at Id={value}, which does not exist.",
        f"{where}.DepositLineDetail.Entity",
    )


def deposit_changed(ctx: Ctx, before: Record | None, after: Record) -> None:
    """Mark the payments now on the deposit; release those no longer on it."""
    old = set(linked_payments(before.body)) if before is not None and not before.deleted else set()
    new = set() if after.deleted or after.body.get("_voided") else set(linked_payments(after.body))
    for payment_id in sorted(old | new, key=lambda i: (len(i), i)):
        payment = ctx.store.get_object(ctx.realm, "Payment", payment_id)
        if payment is None:
            continue
        holder = payment.body.get("_deposit_id")
        if payment_id in new and holder != after.id:
            payment.body["_deposit_id"] = after.id
        elif payment_id not in new and holder == after.id:
            payment.body.pop("_deposit_id", None)
        else:
            continue
        # Depositing is bookkeeping on the payment: no new SyncToken, no change event.
        ctx.store.save_object(payment, event=None)
    ctx.cache.clear()
