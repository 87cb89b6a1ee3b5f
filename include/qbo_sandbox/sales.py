"""Invoice and Payment rules: line amounts, sales tax, totals, balances, payment application.

Choices QBO does not pin down, made here so tests can rely on them:
- A line's `Qty * UnitPrice` is checked against `Amount` only when both are non-zero,
  because python-quickbooks sends `Qty: 0, UnitPrice: 0` on every line it builds.
- `TxnTaxDetail.TotalTax` overrides the computed tax only when it is non-zero and, on an
  update, differs from the stored figure: python-quickbooks sends `TotalTax: 0` by default
  and echoes the old tax back on a fetch-modify-save, neither of which is an override.
- A payment line links exactly one invoice of the payment's own customer.
- An invoice with payments applied cannot be deleted or voided (delete the payment first).
"""

from datetime import date
from decimal import Decimal
from typing import Any

from qbo_sandbox.clock import local_date
from qbo_sandbox.context import Ctx
from qbo_sandbox.faults import (
    QboError,
    business,
    duplicate_doc_number,
    invalid_property,
    invalid_reference,
    required,
)
from qbo_sandbox.money import ZERO, cents, to_decimal, to_money
from qbo_sandbox.references import check_ref, ref_value
from qbo_sandbox.store import Record

USD = {"value": "USD", "name": "United States Dollar"}
LINE_TAX_CODES = ("TAX", "NON")
DOC_NUMBER_START = 1001
DOC_NUMBER_MAX_LENGTH = 21


# ---------------------------------------------------------------- shared helpers
def txn_date(body: dict[str, Any], key: str, default: str | None) -> None:
    """Check a date field (YYYY-MM-DD), filling it with `default` when empty."""
    value = body.get(key)
    if value in (None, ""):
        if default is None:
            body.pop(key, None)
        else:
            body[key] = default
        return
    try:
        date.fromisoformat(str(value))
    except ValueError:
        raise invalid_property(f"{key} must be a date (YYYY-MM-DD), got {value!r}", key) from None
    body[key] = str(value)


def payment_applications(ctx: Ctx) -> dict[str, list[tuple[str, Decimal]]]:
    """For each invoice Id, the (payment Id, amount) pairs applied to it by live payments."""
    if "applications" not in ctx.cache:
        applied: dict[str, list[tuple[str, Decimal]]] = {}
        for payment in ctx.store.list_objects(ctx.realm, "Payment"):
            for invoice_id, amount in linked_invoices(payment.body):
                applied.setdefault(invoice_id, []).append((payment.id, amount))
        ctx.cache["applications"] = applied
    return ctx.cache["applications"]


def linked_invoices(body: dict[str, Any]) -> list[tuple[str, Decimal]]:
    """The (invoice Id, amount) pairs a stored payment body applies."""
    pairs = []
    for line in body.get("Line") or []:
        for link in line.get("LinkedTxn") or []:
            if link.get("TxnType") == "Invoice":
                pairs.append((str(link.get("TxnId")), Decimal(line.get("Amount") or 0)))
    return pairs


def applied_total(ctx: Ctx, invoice_id: str, except_payment: str | None = None) -> Decimal:
    """Sum applied to an invoice by live payments, optionally leaving one payment out."""
    return sum(
        (
            amount
            for payment_id, amount in payment_applications(ctx).get(invoice_id, [])
            if payment_id != except_payment
        ),
        ZERO,
    )


# ---------------------------------------------------------------- invoices
def prepare_invoice(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Validate an invoice and compute its lines, tax, totals and balance."""
    for key in ("TotalAmt", "Balance", "HomeBalance", "HomeTotalAmt", "LinkedTxn"):
        body.pop(key, None)
    if to_decimal(body.pop("Deposit", 0) or 0, "Deposit") != 0:
        raise business("Invoice deposits are not emulated; send Deposit 0 or leave it out.")
    check_ref(ctx, body, "CustomerRef", "Customer", "CustomerRef")
    raw_lines = body.get("Line")
    if raw_lines is not None and not isinstance(raw_lines, list):
        raise invalid_property("Line must be a list", "Line")
    lines_in = [
        line
        for line in raw_lines or []
        if isinstance(line, dict) and line.get("DetailType") != "SubTotalLineDetail"
    ]
    if not lines_in:
        raise required("Line")

    lines: list[dict[str, Any]] = []
    subtotal = ZERO
    taxable = ZERO
    for number, line in enumerate(lines_in, 1):
        line = dict(line)
        kind = line.get("DetailType")
        if kind == "SalesItemLineDetail":
            amount, is_taxable = _sales_line(ctx, line, number)
            subtotal += amount
            if is_taxable:
                taxable += amount
        elif kind == "DescriptionOnly":
            line["Amount"] = ZERO
        else:
            raise business(
                f"Line {number}: DetailType {kind!r} is not emulated; "
                "use SalesItemLineDetail or DescriptionOnly."
            )
        line["Id"] = str(number)
        line["LineNum"] = number
        lines.append(line)

    total_tax, tax_detail, overridden = _sales_tax(ctx, body, existing, request, taxable)
    total = cents(subtotal + total_tax)
    if total < 0:
        raise business("Transaction amount must be greater than or equal to 0.", "TotalAmt")
    applied = ZERO
    links: list[dict[str, Any]] = []
    if existing is not None:
        applied = applied_total(ctx, existing.id)
        links = _payment_links(ctx, existing.id)
    if total < applied:
        raise business(
            f"The invoice total {total} would be less than the {applied} already paid on it; "
            "change the payments first."
        )
    voided = bool(body.get("_voided"))
    body["Line"] = lines + [
        {"Amount": cents(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    ]
    body["TxnTaxDetail"] = tax_detail
    body["_tax_override"] = overridden
    body["TotalAmt"] = total
    body["Balance"] = ZERO if voided else cents(total - applied)
    body["LinkedTxn"] = links
    body["DocNumber"] = _doc_number(ctx, body, existing)
    today = local_date(ctx.now, ctx.config.company_utc_offset_minutes)
    txn_date(body, "TxnDate", today)
    txn_date(body, "DueDate", body["TxnDate"])
    body.setdefault("CurrencyRef", USD)
    return body


def _sales_line(ctx: Ctx, line: dict[str, Any], number: int) -> tuple[Decimal, bool]:
    """Check one SalesItemLineDetail line in place; returns (amount, taxable)."""
    where = f"Line[{number}]"
    detail = line.get("SalesItemLineDetail")
    if not isinstance(detail, dict):
        raise required(f"{where}.SalesItemLineDetail")
    detail = dict(detail)
    item = check_ref(ctx, detail, "ItemRef", "Item", f"{where}.SalesItemLineDetail.ItemRef")
    qty = detail.get("Qty")
    price = detail.get("UnitPrice")
    qty_d = None if qty in (None, "") else to_decimal(qty, f"{where}.Qty")
    price_d = None if price in (None, "") else to_decimal(price, f"{where}.UnitPrice")
    given = line.get("Amount")
    if qty_d and price_d:
        expected = cents(qty_d * price_d)
        amount = expected if given in (None, "") else to_money(given, f"{where}.Amount")
        if amount != expected:
            raise QboError(
                "6070",
                "Amount calculation incorrect in the request",
                f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}, "
                f"expected {expected} on line {number}",
                element=f"{where}.Amount",
            )
    else:
        if given in (None, ""):
            raise required(f"{where}.Amount")
        amount = to_money(given, f"{where}.Amount")
    tax_code = (ref_value(detail.get("TaxCodeRef")) or "NON").upper()
    if tax_code not in LINE_TAX_CODES:
        raise QboError(
            "6100",
            "Invalid Line TaxCode in the request",
            f"Valid Line TaxCodes for US should be TAX or NON. Supplied value:{tax_code}",
            element=f"{where}.SalesItemLineDetail.TaxCodeRef",
        )
    detail["TaxCodeRef"] = {"value": tax_code}
    income = (item.body.get("IncomeAccountRef") or {}) if item else {}
    if ref_value(income):
        detail["ItemAccountRef"] = dict(income)
    line["Amount"] = amount
    line["SalesItemLineDetail"] = detail
    return amount, tax_code == "TAX"


def _sales_tax(
    ctx: Ctx,
    body: dict[str, Any],
    existing: Record | None,
    request: dict[str, Any],
    taxable: Decimal,
) -> tuple[Decimal, dict[str, Any], bool]:
    """Work out TotalTax; returns (tax, TxnTaxDetail, whether the caller overrode it)."""
    detail_in = body.get("TxnTaxDetail")
    detail: dict[str, Any] = {}
    if isinstance(detail_in, dict) and ref_value(detail_in.get("TxnTaxCodeRef")):
        detail["TxnTaxCodeRef"] = detail_in["TxnTaxCodeRef"]
    code = check_ref(
        ctx, detail, "TxnTaxCodeRef", "TaxCode", "TxnTaxDetail.TxnTaxCodeRef", must=False
    )
    if code is not None:
        detail["TxnTaxCodeRef"] = {"value": code.id}
    rates = _tax_rates(ctx, code) if code is not None else []
    computed_lines = [(rate, cents(taxable * rate_value / 100)) for rate, rate_value in rates]
    computed = sum((amount for _, amount in computed_lines), ZERO)
    override = _tax_override(request, existing)
    total_tax = computed if override is None else override
    tax_lines = []
    for index, ((rate, amount), (_, rate_value)) in enumerate(
        zip(computed_lines, rates, strict=True)
    ):
        shown = amount if override is None else (override if index == 0 else ZERO)
        tax_lines.append(
            {
                "Amount": shown,
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {
                    "TaxRateRef": {"value": rate.id},
                    "PercentBased": True,
                    "TaxPercent": rate_value,
                    "NetAmountTaxable": cents(taxable),
                },
            }
        )
    detail["TotalTax"] = total_tax
    detail["TaxLine"] = tax_lines
    return total_tax, detail, override is not None


def _tax_rates(ctx: Ctx, code: Record) -> list[tuple[Record, Decimal]]:
    """The sales tax rates a tax code applies, with their percentages."""
    rate_list = (code.body.get("SalesTaxRateList") or {}).get("TaxRateDetail") or []
    rates = []
    for entry in rate_list:
        rate_id = ref_value(entry.get("TaxRateRef"))
        rate = ctx.store.get_object(ctx.realm, "TaxRate", rate_id) if rate_id else None
        if rate is not None and not rate.deleted:
            rates.append((rate, to_decimal(rate.body.get("RateValue", 0), "RateValue")))
    return rates


def _tax_override(request: dict[str, Any], existing: Record | None) -> Decimal | None:
    """The TotalTax the caller wants instead of the computed one, or None."""
    previous = (existing.body.get("TxnTaxDetail") or {}) if existing else {}
    previous_override = bool(existing and existing.body.get("_tax_override"))
    previous_tax = previous.get("TotalTax")
    sent = request.get("TxnTaxDetail")
    if not isinstance(sent, dict) or sent.get("TotalTax") in (None, ""):
        # A sparse update that leaves tax alone keeps an earlier override.
        if existing is not None and request.get("sparse") is True and previous_override:
            return cents(Decimal(previous_tax))
        return None
    value = to_money(sent["TotalTax"], "TxnTaxDetail.TotalTax")
    if value == 0:
        return None
    if existing is not None and previous_tax is not None and value == Decimal(previous_tax):
        return value if previous_override else None
    return value


def _doc_number(ctx: Ctx, body: dict[str, Any], existing: Record | None) -> str:
    """The invoice's DocNumber: the one sent, the one it had, or the next free number."""
    doc = str(body.get("DocNumber") or "").strip()
    if not doc and existing is not None:
        doc = str(existing.body.get("DocNumber") or "")
    others = {
        str(inv.body.get("DocNumber")): inv.id
        for inv in ctx.store.list_objects(ctx.realm, "Invoice")
        if existing is None or inv.id != existing.id
    }
    if not doc:
        while True:
            doc = str(ctx.store.next_value(ctx.realm, "docnumber:Invoice", DOC_NUMBER_START))
            if doc not in others:
                break
    if len(doc) > DOC_NUMBER_MAX_LENGTH:
        raise QboError(
            "2050",
            "String length specified does not match the supported length",
            f"Min:0, Max:{DOC_NUMBER_MAX_LENGTH} supported. Supplied length:{len(doc)}",
            element="DocNumber",
        )
    if ctx.config.duplicate_doc_number_check and doc in others:
        raise duplicate_doc_number(ctx.config.duplicate_doc_number_code, doc, others[doc])
    return doc


def _payment_links(ctx: Ctx, invoice_id: str) -> list[dict[str, Any]]:
    """LinkedTxn entries naming the payments applied to an invoice."""
    links = []
    for payment_id, amount in payment_applications(ctx).get(invoice_id, []):
        entry = {"TxnId": payment_id, "TxnType": "Payment"}
        if amount > 0 and entry not in links:
            links.append(entry)
    return links


def refresh_invoice(ctx: Ctx, invoice_id: str) -> None:
    """Recompute an invoice's Balance and LinkedTxn after its payments changed."""
    record = ctx.store.get_object(ctx.realm, "Invoice", invoice_id)
    if record is None or record.deleted:
        return
    total = Decimal(record.body.get("TotalAmt") or 0)
    voided = bool(record.body.get("_voided"))
    balance = ZERO if voided else cents(total - applied_total(ctx, invoice_id))
    links = _payment_links(ctx, invoice_id)
    if (
        Decimal(record.body.get("Balance") or 0) == balance
        and record.body.get("LinkedTxn") == links
    ):
        return
    record.body["Balance"] = balance
    record.body["LinkedTxn"] = links
    record.sync_token += 1
    record.update_time = ctx.now
    ctx.store.save_object(record)


def guard_invoice_removal(ctx: Ctx, record: Record, what: str) -> None:
    """Refuse to delete or void an invoice that has payments applied."""
    paid = applied_total(ctx, record.id)
    if paid > 0:
        raise business(
            f"Invoice Id={record.id} has {paid} of payments applied; delete or change those "
            f"payments before you {what} it."
        )


def void_invoice(ctx: Ctx, record: Record) -> None:
    """Zero an invoice's amounts in place; the record stays."""
    guard_invoice_removal(ctx, record, "void")
    body = record.body
    for line in body.get("Line") or []:
        line["Amount"] = ZERO
        detail = line.get("SalesItemLineDetail")
        if isinstance(detail, dict) and "UnitPrice" in detail:
            detail["UnitPrice"] = ZERO
    tax = body.get("TxnTaxDetail") or {}
    tax["TotalTax"] = ZERO
    for tax_line in tax.get("TaxLine") or []:
        tax_line["Amount"] = ZERO
    body["TxnTaxDetail"] = tax
    body["TotalAmt"] = ZERO
    body["Balance"] = ZERO
    body["PrivateNote"] = "Voided"
    body["_voided"] = True
    body["_tax_override"] = False


# ---------------------------------------------------------------- payments
def prepare_payment(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Validate a payment, check what it applies and compute UnappliedAmt."""
    body.pop("UnappliedAmt", None)
    customer = check_ref(ctx, body, "CustomerRef", "Customer", "CustomerRef")
    if body.get("TotalAmt") in (None, ""):
        raise required("TotalAmt")
    total = to_money(body["TotalAmt"], "TotalAmt")
    if total < 0:
        raise business("A payment's TotalAmt cannot be negative.", "TotalAmt")
    raw_lines = body.get("Line") or []
    if not isinstance(raw_lines, list):
        raise invalid_property("Line must be a list", "Line")
    payment_id = existing.id if existing else None
    running: dict[str, Decimal] = {}
    lines = []
    applied = ZERO
    for number, line in enumerate(raw_lines, 1):
        where = f"Line[{number}]"
        if not isinstance(line, dict):
            raise invalid_property(f"{where} must be an object", where)
        if line.get("Amount") in (None, ""):
            raise required(f"{where}.Amount")
        amount = to_money(line["Amount"], f"{where}.Amount")
        if amount < 0:
            raise business(f"{where}: an applied amount cannot be negative.", f"{where}.Amount")
        links = line.get("LinkedTxn") or []
        if not isinstance(links, list) or len(links) != 1:
            raise business(f"{where} must link exactly one invoice in LinkedTxn.", where)
        link = links[0] if isinstance(links[0], dict) else {}
        if link.get("TxnType") != "Invoice":
            raise business(
                f"{where}: only invoices can be paid in this emulator, got {link.get('TxnType')!r}.",
                f"{where}.LinkedTxn",
            )
        invoice_id = ref_value(link.get("TxnId"))
        if invoice_id is None:
            raise required(f"{where}.LinkedTxn.TxnId")
        invoice = ctx.store.get_object(ctx.realm, "Invoice", invoice_id)
        if invoice is None or invoice.deleted:
            raise invalid_reference(
                ctx.config.invalid_reference_code,
                f"{where}.LinkedTxn points at Invoice Id={invoice_id}, which does not exist.",
                f"{where}.LinkedTxn",
            )
        if ref_value(invoice.body.get("CustomerRef")) != customer.id:
            raise business(
                f"Invoice Id={invoice_id} belongs to another customer than this payment's.",
                f"{where}.LinkedTxn",
            )
        already = running.get(invoice_id, ZERO)
        if invoice.body.get("_voided"):
            open_balance = ZERO
        else:
            open_balance = Decimal(invoice.body.get("TotalAmt") or 0) - applied_total(
                ctx, invoice_id, except_payment=payment_id
            )
        if amount + already > open_balance:
            raise business(
                f"The amount applied to Invoice Id={invoice_id} ({amount + already}) is more "
                f"than its open balance ({cents(open_balance)}).",
                f"{where}.Amount",
            )
        running[invoice_id] = already + amount
        applied += amount
        lines.append({"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]})
    if applied > total:
        raise business(
            f"The amounts applied ({applied}) are more than the payment's TotalAmt ({total}).",
            "TotalAmt",
        )
    body["Line"] = lines
    body["TotalAmt"] = total
    body["UnappliedAmt"] = cents(total - applied)
    if ref_value(body.get("DepositToAccountRef")):
        check_ref(ctx, body, "DepositToAccountRef", "Account", "DepositToAccountRef")
    else:
        undeposited = _undeposited_funds(ctx)
        if undeposited is not None:
            body["DepositToAccountRef"] = {"value": undeposited.id}
    today = local_date(ctx.now, ctx.config.company_utc_offset_minutes)
    txn_date(body, "TxnDate", today)
    body.setdefault("CurrencyRef", USD)
    body.setdefault("ProcessPayment", False)
    return body


def _undeposited_funds(ctx: Ctx) -> Record | None:
    """The company's Undeposited Funds account, where payments land by default."""
    for account in ctx.store.list_objects(ctx.realm, "Account"):
        if account.body.get("AccountSubType") == "UndepositedFunds":
            return account
    return None


def payment_changed(ctx: Ctx, before: Record | None, after: Record) -> None:
    """Re-balance every invoice the payment applied to before or applies to now."""
    ids = {invoice_id for invoice_id, _ in linked_invoices(after.body)}
    if before is not None:
        ids |= {invoice_id for invoice_id, _ in linked_invoices(before.body)}
    ctx.cache.clear()
    for invoice_id in sorted(ids, key=lambda i: (len(i), i)):
        refresh_invoice(ctx, invoice_id)


def void_payment(ctx: Ctx, record: Record) -> None:
    """Zero a payment's amounts in place; the invoices it paid get their balance back."""
    body = record.body
    for line in body.get("Line") or []:
        line["Amount"] = ZERO
    body["TotalAmt"] = ZERO
    body["UnappliedAmt"] = ZERO
    body["PrivateNote"] = "Voided"
    body["_voided"] = True
