"""Money going out: Purchase (paid now, by cash, check or card), Bill (pay later, through
A/P) and BillPayment (pays bills), with QuickBooks' expense lines.

An expense line is `AccountBasedExpenseLineDetail` (the expense account, and optionally the
customer or job it is for, a class, `BillableStatus` and a tax code) or
`ItemBasedExpenseLineDetail` (an item whose `ExpenseAccountRef` takes the cost). Purchase
tax is not computed: `TxnTaxDetail` is dropped and TotalAmt is the sum of the lines.
"""

from decimal import Decimal
from typing import Any

from qbo_sandbox.context import Ctx
from qbo_sandbox.faults import (
    QboError,
    business,
    invalid_property,
    invalid_reference,
    required,
)
from qbo_sandbox.lists import USD, system_account
from qbo_sandbox.money import ZERO, cents, to_decimal, to_money
from qbo_sandbox.references import check_ref, full_name, ref_value
from qbo_sandbox.sales import check_header_refs, money_or_zero, today, txn_date
from qbo_sandbox.store import Record

EXPENSE_DETAILS = ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail")
BILLABLE_STATUSES = ("Billable", "NotBillable", "HasBeenBilled")
# Which accounts each Purchase.PaymentType may be paid from.
PURCHASE_ACCOUNTS = {
    "Cash": ("Bank", "Other Current Asset"),
    "Check": ("Bank",),
    "CreditCard": ("Credit Card",),
}
BILL_PAY_TYPES = {
    "Check": ("CheckPayment", "BankAccountRef", ("Bank",)),
    "CreditCard": ("CreditCardPayment", "CCAccountRef", ("Credit Card",)),
}
ENTITY_TYPES = ("Vendor", "Customer")


def _enumeration(value: Any, allowed: tuple[str, ...] | dict, element: str) -> str:
    """A value from a fixed list (2020 when missing, 2170 when unknown)."""
    if value in (None, ""):
        raise required(element)
    if value not in allowed:
        raise QboError("2170", "Invalid Enumeration", f"Invalid Enumeration : {value}", element)
    return str(value)


def account_of_type(
    ctx: Ctx, body: dict[str, Any], key: str, element: str, types: tuple[str, ...], must: bool
) -> Record | None:
    """An account reference that must name an account of one of these types."""
    account = check_ref(ctx, body, key, "Account", element, must=must)
    if account is not None and account.body.get("AccountType") not in types:
        raise business(
            f"{element} must be a {' or '.join(types)} account; Account Id={account.id} is "
            f"{account.body.get('AccountType')}.",
            element,
        )
    return account


def expense_lines(ctx: Ctx, body: dict[str, Any]) -> Decimal:
    """Check and number the expense lines in place; returns their total."""
    raw_lines = body.get("Line")
    if raw_lines is not None and not isinstance(raw_lines, list):
        raise invalid_property("Line must be a list", "Line")
    lines_in = [line for line in raw_lines or [] if isinstance(line, dict)]
    if not lines_in:
        raise required("Line")
    lines = []
    total = ZERO
    for number, line in enumerate(lines_in, 1):
        line = dict(line)
        where = f"Line[{number}]"
        kind = line.get("DetailType")
        if kind not in EXPENSE_DETAILS:
            raise business(
                f"Line {number}: DetailType {kind!r} is not emulated; use "
                "AccountBasedExpenseLineDetail or ItemBasedExpenseLineDetail."
            )
        detail = line.get(kind)
        if not isinstance(detail, dict):
            raise required(f"{where}.{kind}")
        detail = {k: v for k, v in detail.items() if v is not None}
        if kind == "AccountBasedExpenseLineDetail":
            check_ref(ctx, detail, "AccountRef", "Account", f"{where}.{kind}.AccountRef")
            amount = _line_amount(line, detail, where, use_qty=False)
        else:
            item = check_ref(ctx, detail, "ItemRef", "Item", f"{where}.{kind}.ItemRef")
            assert item is not None
            if not ref_value(item.body.get("ExpenseAccountRef")):
                raise business(
                    f"Item Id={item.id} has no ExpenseAccountRef, so it cannot be bought.",
                    f"{where}.{kind}.ItemRef",
                )
            amount = _line_amount(line, detail, where, use_qty=True)
        customer = check_ref(ctx, detail, "CustomerRef", "Customer", f"{where}.CustomerRef", False)
        check_ref(ctx, detail, "ClassRef", "Class", f"{where}.{kind}.ClassRef", must=False)
        status = detail.get("BillableStatus") or "NotBillable"
        _enumeration(status, BILLABLE_STATUSES, f"{where}.{kind}.BillableStatus")
        if status == "Billable" and customer is None:
            raise business(
                "A billable expense line needs the customer it will be billed to.",
                f"{where}.{kind}.CustomerRef",
            )
        detail["BillableStatus"] = status
        tax_code = (ref_value(detail.get("TaxCodeRef")) or "NON").upper()
        detail["TaxCodeRef"] = {"value": tax_code}
        line[kind] = detail
        line["Amount"] = amount
        line["Id"] = str(number)
        line["LineNum"] = number
        total += amount
        lines.append(line)
    body["Line"] = lines
    return cents(total)


def _line_amount(
    line: dict[str, Any], detail: dict[str, Any], where: str, use_qty: bool
) -> Decimal:
    """A line's Amount (checked against Qty x UnitPrice on item lines when both are set)."""
    given = line.get("Amount")
    if use_qty:
        qty, price = detail.get("Qty"), detail.get("UnitPrice")
        qty_d = None if qty in (None, "") else to_decimal(qty, f"{where}.Qty")
        price_d = None if price in (None, "") else to_decimal(price, f"{where}.UnitPrice")
        if qty_d and price_d:
            expected = cents(qty_d * price_d)
            amount = expected if given in (None, "") else to_money(given, f"{where}.Amount")
            if amount != expected:
                raise QboError(
                    "6070",
                    "Amount calculation incorrect in the request",
                    f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}, "
                    f"expected {expected}",
                    element=f"{where}.Amount",
                )
            return amount
    if given in (None, ""):
        raise required(f"{where}.Amount")
    amount = to_money(given, f"{where}.Amount")
    if amount < 0:
        raise business("An expense line amount cannot be negative.", f"{where}.Amount")
    return amount


def _entity_ref(ctx: Ctx, body: dict[str, Any]) -> None:
    """Purchase.EntityRef: the vendor (or customer) paid; `type` says which."""
    raw = body.get("EntityRef")
    value = ref_value(raw)
    if value is None:
        body.pop("EntityRef", None)
        return
    wanted = raw.get("type") if isinstance(raw, dict) else None
    kinds = (wanted,) if wanted in ENTITY_TYPES else ENTITY_TYPES
    for kind in kinds:
        record = ctx.store.get_object(ctx.realm, kind, value)
        if record is not None and not record.deleted and record.body.get("Active") is not False:
            body["EntityRef"] = {"value": value, "name": full_name(ctx, record), "type": kind}
            return
    raise invalid_reference(
        ctx.config.invalid_reference_code,
        f"EntityRef points at {' or '.join(kinds)} Id={value}, which does not exist or is "
        "inactive.",
        "EntityRef",
    )


def _common(ctx: Ctx, body: dict[str, Any]) -> Decimal:
    """What every money-out document shares: header refs, lines, TxnDate, currency."""
    for key in ("TotalAmt", "HomeTotalAmt", "Balance", "HomeBalance", "TxnTaxDetail"):
        body.pop(key, None)
    check_header_refs(ctx, body)
    total = expense_lines(ctx, body)
    txn_date(body, "TxnDate", today(ctx))
    body.setdefault("CurrencyRef", USD)
    body["TotalAmt"] = total
    return total


# ---------------------------------------------------------------- Purchase
def prepare_purchase(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Paid now: PaymentType decides which kind of account AccountRef must be."""
    body.pop("LinkedTxn", None)
    payment_type = _enumeration(body.get("PaymentType"), PURCHASE_ACCOUNTS, "PaymentType")
    account_of_type(
        ctx, body, "AccountRef", "AccountRef", PURCHASE_ACCOUNTS[payment_type], must=True
    )
    _entity_ref(ctx, body)
    check_ref(ctx, body, "PaymentMethodRef", "PaymentMethod", "PaymentMethodRef", must=False)
    credit = body.get("Credit") is True
    if credit and payment_type != "CreditCard":
        raise business("Only a credit card purchase can be a credit (refund).", "Credit")
    body["Credit"] = credit
    _common(ctx, body)
    return body


# ---------------------------------------------------------------- Bill
def bill_applications(ctx: Ctx, vendor_id: str) -> dict[str, list[tuple[str, Decimal]]]:
    """For each bill of a vendor, the (bill payment Id, amount) pairs paying it."""
    key = f"bill_applications:{vendor_id}"
    if key not in ctx.cache:
        applied: dict[str, list[tuple[str, Decimal]]] = {}
        for payment in ctx.store.party_objects(ctx.realm, [vendor_id], ("BillPayment",)):
            for bill_id, amount in bill_links(payment.body):
                applied.setdefault(bill_id, []).append((payment.id, amount))
        ctx.cache[key] = applied
    return ctx.cache[key]


def bill_links(body: dict[str, Any]) -> list[tuple[str, Decimal]]:
    """The (bill Id, amount) pairs a stored bill payment pays."""
    pairs = []
    for line in body.get("Line") or []:
        for link in line.get("LinkedTxn") or []:
            if link.get("TxnType") == "Bill":
                pairs.append((str(link.get("TxnId")), money_or_zero(line.get("Amount"))))
    return pairs


def _bill_paid(
    ctx: Ctx, vendor_id: str, bill_id: str, except_payment: str | None = None
) -> Decimal:
    """What live bill payments pay on a bill."""
    return sum(
        (
            amount
            for payment_id, amount in bill_applications(ctx, vendor_id).get(bill_id, [])
            if payment_id != except_payment
        ),
        ZERO,
    )


def _bill_payment_refs(ctx: Ctx, vendor_id: str, bill_id: str) -> list[dict[str, str]]:
    """LinkedTxn entries naming the bill payments of a bill."""
    links: list[dict[str, str]] = []
    for payment_id, amount in bill_applications(ctx, vendor_id).get(bill_id, []):
        entry = {"TxnId": payment_id, "TxnType": "BillPayment"}
        if amount > 0 and entry not in links:
            links.append(entry)
    return links


def prepare_bill(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Pay later: the vendor, the A/P account (QuickBooks' own unless given), Balance."""
    body.pop("LinkedTxn", None)
    vendor = check_ref(ctx, body, "VendorRef", "Vendor", "VendorRef")
    assert vendor is not None
    if ref_value(body.get("APAccountRef")):
        account_of_type(ctx, body, "APAccountRef", "APAccountRef", ("Accounts Payable",), True)
    else:
        payable = system_account(ctx, "AccountsPayable")
        body["APAccountRef"] = {"value": payable.id, "name": full_name(ctx, payable)}
    total = _common(ctx, body)
    txn_date(body, "DueDate", body["TxnDate"])
    paid = ZERO
    links: list[dict[str, str]] = []
    if existing is not None:
        before = ref_value(existing.body.get("VendorRef")) or ""
        paid = _bill_paid(ctx, before, existing.id)
        if paid > 0 and before != vendor.id:
            raise business("The vendor of a bill with payments cannot change.", "VendorRef")
        links = _bill_payment_refs(ctx, before, existing.id)
    if total < paid:
        raise business(
            f"The bill total {total} would be less than the {paid} already paid on it; "
            "change the bill payments first."
        )
    body["Balance"] = cents(total - paid)
    body["LinkedTxn"] = links
    return body


def guard_bill_removal(ctx: Ctx, record: Record, what: str) -> None:
    """A bill with payments cannot be deleted."""
    vendor_id = ref_value(record.body.get("VendorRef")) or ""
    paid = _bill_paid(ctx, vendor_id, record.id)
    if paid > 0:
        raise business(
            f"Bill Id={record.id} has {paid} of bill payments; delete those first before you "
            f"{what} it."
        )


def refresh_bill(ctx: Ctx, bill_id: str) -> None:
    """Recompute a bill's Balance and LinkedTxn after its payments changed."""
    record = ctx.store.get_object(ctx.realm, "Bill", bill_id)
    if record is None or record.deleted:
        return
    vendor_id = ref_value(record.body.get("VendorRef")) or ""
    balance = cents(
        money_or_zero(record.body.get("TotalAmt")) - _bill_paid(ctx, vendor_id, bill_id)
    )
    links = _bill_payment_refs(ctx, vendor_id, bill_id)
    if (
        money_or_zero(record.body.get("Balance")) == balance
        and record.body.get("LinkedTxn") == links
    ):
        return
    record.body["Balance"] = balance
    record.body["LinkedTxn"] = links
    record.sync_token += 1
    record.update_time = ctx.now
    ctx.store.save_object(record)


# ---------------------------------------------------------------- BillPayment
def prepare_bill_payment(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Pays a vendor's bills by check (from a bank) or by credit card."""
    vendor = check_ref(ctx, body, "VendorRef", "Vendor", "VendorRef")
    assert vendor is not None
    check_header_refs(ctx, body)
    pay_type = _enumeration(body.get("PayType"), BILL_PAY_TYPES, "PayType")
    holder, key, types = BILL_PAY_TYPES[pay_type]
    other = "CreditCardPayment" if holder == "CheckPayment" else "CheckPayment"
    body.pop(other, None)
    detail = body.get(holder)
    if not isinstance(detail, dict):
        raise required(f"{holder}.{key}")
    detail = {k: v for k, v in detail.items() if v is not None}
    account_of_type(ctx, detail, key, f"{holder}.{key}", types, must=True)
    body[holder] = detail
    if ref_value(body.get("APAccountRef")):
        account_of_type(ctx, body, "APAccountRef", "APAccountRef", ("Accounts Payable",), True)
    else:
        payable = system_account(ctx, "AccountsPayable")
        body["APAccountRef"] = {"value": payable.id, "name": full_name(ctx, payable)}
    if body.get("TotalAmt") in (None, ""):
        raise required("TotalAmt")
    total = to_money(body["TotalAmt"], "TotalAmt")
    if total < 0:
        raise business("A bill payment's TotalAmt cannot be negative.", "TotalAmt")
    payment_id = existing.id if existing else None
    lines = []
    applied = ZERO
    running: dict[str, Decimal] = {}
    for number, line in enumerate(body.get("Line") or [], 1):
        where = f"Line[{number}]"
        if not isinstance(line, dict):
            raise invalid_property(f"{where} must be an object", where)
        if line.get("Amount") in (None, ""):
            raise required(f"{where}.Amount")
        amount = to_money(line["Amount"], f"{where}.Amount")
        links = line.get("LinkedTxn") or []
        if not isinstance(links, list) or len(links) != 1 or not isinstance(links[0], dict):
            raise business(f"{where} must link exactly one bill in LinkedTxn.", where)
        if links[0].get("TxnType") != "Bill":
            raise business(f"{where}: a bill payment pays bills.", f"{where}.LinkedTxn")
        bill_id = ref_value(links[0].get("TxnId"))
        if bill_id is None:
            raise required(f"{where}.LinkedTxn.TxnId")
        bill = ctx.store.get_object(ctx.realm, "Bill", bill_id)
        if bill is None or bill.deleted:
            raise invalid_reference(
                ctx.config.invalid_reference_code,
                f"{where}.LinkedTxn points at Bill Id={bill_id}, which does not exist.",
                f"{where}.LinkedTxn",
            )
        if ref_value(bill.body.get("VendorRef")) != vendor.id:
            raise business(
                f"Bill Id={bill_id} belongs to another vendor than this payment's.",
                f"{where}.LinkedTxn",
            )
        open_amount = money_or_zero(bill.body.get("TotalAmt")) - _bill_paid(
            ctx, vendor.id, bill_id, except_payment=payment_id
        )
        already = running.get(bill_id, ZERO)
        if amount < 0 or amount + already > open_amount:
            raise business(
                f"The amount paid on Bill Id={bill_id} ({amount + already}) is more than its "
                f"open balance ({cents(open_amount)}).",
                f"{where}.Amount",
            )
        running[bill_id] = already + amount
        applied += amount
        lines.append({"Amount": amount, "LinkedTxn": [{"TxnId": bill_id, "TxnType": "Bill"}]})
    if applied > total:
        raise business(
            f"The amounts paid on bills ({applied}) are more than TotalAmt ({total}).", "TotalAmt"
        )
    body["Line"] = lines
    body["TotalAmt"] = total
    txn_date(body, "TxnDate", today(ctx))
    body.setdefault("CurrencyRef", USD)
    return body


def bill_payment_changed(ctx: Ctx, before: Record | None, after: Record) -> None:
    """Re-balance every bill the payment paid before or pays now."""
    ids = {bill_id for bill_id, _ in bill_links(after.body)}
    if before is not None:
        ids |= {bill_id for bill_id, _ in bill_links(before.body)}
    ctx.cache.clear()
    for bill_id in sorted(ids, key=lambda i: (len(i), i)):
        refresh_bill(ctx, bill_id)


def void_bill_payment(ctx: Ctx, record: Record) -> None:
    """Zero a bill payment in place; its bills get their balance back."""
    body = record.body
    for line in body.get("Line") or []:
        line["Amount"] = ZERO
    body["TotalAmt"] = ZERO
    body["PrivateNote"] = "Voided"
    body["_voided"] = True


def bill_payment_unapplied(body: dict[str, Any]) -> Decimal:
    """What a bill payment paid beyond the bills it names (a vendor credit)."""
    return money_or_zero(body.get("TotalAmt")) - sum(
        (amount for _, amount in bill_links(body)), ZERO
    )
