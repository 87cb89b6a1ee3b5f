"""Sales documents and customer payments: line amounts, sales tax, totals, DocNumbers,
invoice balances, payments applied to invoices and credit memos, and the deposited-payment
rule (6540).

Invoice, CreditMemo and RefundReceipt share `sales_document` (lines, SubTotalLineDetail,
tax, TotalAmt). Choices QBO does not pin down, made here so tests can rely on them:
- A line's `Qty * UnitPrice` is checked against `Amount` only when both are non-zero,
  because python-quickbooks sends `Qty: 0, UnitPrice: 0` on every line it builds.
- `TxnTaxDetail.TotalTax` overrides the computed tax only when it is non-zero and, on an
  update, differs from the stored figure: python-quickbooks sends `TotalTax: 0` by default
  and echoes the old tax back on a fetch-modify-save, neither of which is an override.
- Tax is computed per rate on the sum of the taxable lines and rounded half-up to the cent.
- A payment line links exactly one invoice or credit memo of the payment's own customer.
- A document with payments or credits applied cannot be deleted or voided.
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
from qbo_sandbox.lists import USD, system_account
from qbo_sandbox.money import ZERO, cents, to_decimal, to_money
from qbo_sandbox.references import check_ref, ref_value
from qbo_sandbox.store import Record

LINE_TAX_CODES = ("TAX", "NON")
DOC_NUMBER_START = 1001
DOC_NUMBER_MAX_LENGTH = 21
# What a payment line may pay (with) and how that document's open amount is read.
PAYABLE = ("Invoice", "CreditMemo")
DEPOSITED = (
    "This transaction has been deposited. If you want to change or delete it, you must edit "
    "the deposit it appears on and remove it first."
)


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


def today(ctx: Ctx) -> str:
    """The company's calendar date on the sandbox clock."""
    return local_date(ctx.now, ctx.config.company_utc_offset_minutes)


def money_or_zero(value: Any) -> Decimal:
    """A stored amount as a Decimal (missing or empty is zero)."""
    if value in (None, ""):
        return ZERO
    return Decimal(value)


def deposited(body: dict[str, Any]) -> bool:
    """Whether a payment sits on a deposit (deposits.py marks it)."""
    return bool(body.get("_deposit_id"))


def deposited_error(element: str = "") -> QboError:
    """6540: a deposited payment cannot change."""
    return QboError("6540", "Deposited Transaction cannot be changed", DEPOSITED, element=element)


def check_header_refs(ctx: Ctx, body: dict[str, Any]) -> None:
    """Optional DepartmentRef (location) and ClassRef on a transaction."""
    check_ref(ctx, body, "DepartmentRef", "Department", "DepartmentRef", must=False)
    check_ref(ctx, body, "ClassRef", "Class", "ClassRef", must=False)


def doc_number(ctx: Ctx, entity: str, body: dict[str, Any], existing: Record | None) -> str:
    """DocNumber: the one sent, the one it had, or the entity's next free number."""
    doc = str(body.get("DocNumber") or "").strip()
    if not doc and existing is not None:
        doc = str(existing.body.get("DocNumber") or "")

    def holders(number: str) -> list[str]:
        return [
            object_id
            for _, object_id in ctx.store.find_unique(ctx.realm, f"doc:{entity}:{number}")
            if existing is None or object_id != existing.id
        ]

    if not doc:
        while True:
            doc = str(ctx.store.next_value(ctx.realm, f"docnumber:{entity}", DOC_NUMBER_START))
            if not holders(doc):
                break
    if len(doc) > DOC_NUMBER_MAX_LENGTH:
        raise QboError(
            "2050",
            "String length specified does not match the supported length",
            f"Min:0, Max:{DOC_NUMBER_MAX_LENGTH} supported. Supplied length:{len(doc)}",
            element="DocNumber",
        )
    if ctx.config.duplicate_doc_number_check:
        taken = holders(doc)
        if taken:
            raise duplicate_doc_number(
                ctx.config.duplicate_doc_number_code, doc, taken[0], txn_type=entity
            )
    return doc


# ---------------------------------------------------------------- sales documents
def sales_document(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> Record:
    """Lines, SubTotalLineDetail, tax and TotalAmt of a sales form; returns its customer."""
    for key in ("TotalAmt", "Balance", "HomeBalance", "HomeTotalAmt", "RemainingCredit"):
        body.pop(key, None)
    customer = check_ref(ctx, body, "CustomerRef", "Customer", "CustomerRef")
    check_header_refs(ctx, body)
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
        elif kind in ("DescriptionOnly", "DescriptionLineDetail"):
            line["DetailType"] = "DescriptionOnly"
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
    body["Line"] = lines + [
        {"Amount": cents(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    ]
    body["TxnTaxDetail"] = tax_detail
    body["_tax_override"] = overridden
    body["TotalAmt"] = total
    txn_date(body, "TxnDate", today(ctx))
    body.setdefault("CurrencyRef", USD)
    assert customer is not None
    return customer


def _sales_line(ctx: Ctx, line: dict[str, Any], number: int) -> tuple[Decimal, bool]:
    """Check one SalesItemLineDetail line in place; returns (amount, taxable)."""
    where = f"Line[{number}]"
    detail = line.get("SalesItemLineDetail")
    if not isinstance(detail, dict):
        raise required(f"{where}.SalesItemLineDetail")
    detail = dict(detail)
    item = check_ref(ctx, detail, "ItemRef", "Item", f"{where}.SalesItemLineDetail.ItemRef")
    check_ref(ctx, detail, "ClassRef", "Class", f"{where}.SalesItemLineDetail.ClassRef", False)
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


def zero_sales_document(body: dict[str, Any]) -> None:
    """Zero a sales form's amounts in place (void); the record stays."""
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


# ---------------------------------------------------------------- applications
def applications(ctx: Ctx, customer_id: str) -> dict[tuple[str, str], list[tuple[str, Decimal]]]:
    """For each (TxnType, Id) a customer's live payments apply to: (payment Id, amount)."""
    key = f"applications:{customer_id}"
    if key not in ctx.cache:
        applied: dict[tuple[str, str], list[tuple[str, Decimal]]] = {}
        for payment in ctx.store.party_objects(ctx.realm, [customer_id], ("Payment",)):
            for txn_type, txn_id, amount in payment_links(payment.body):
                applied.setdefault((txn_type, txn_id), []).append((payment.id, amount))
        ctx.cache[key] = applied
    return ctx.cache[key]


def payment_links(body: dict[str, Any]) -> list[tuple[str, str, Decimal]]:
    """The (TxnType, TxnId, amount) a stored payment body applies."""
    links = []
    for line in body.get("Line") or []:
        for link in line.get("LinkedTxn") or []:
            if link.get("TxnType") in PAYABLE:
                links.append(
                    (link["TxnType"], str(link.get("TxnId")), money_or_zero(line.get("Amount")))
                )
    return links


def applied_total(
    ctx: Ctx, customer_id: str, txn_type: str, txn_id: str, except_payment: str | None = None
) -> Decimal:
    """Sum applied to a document by live payments, optionally leaving one payment out."""
    return sum(
        (
            amount
            for payment_id, amount in applications(ctx, customer_id).get((txn_type, txn_id), [])
            if payment_id != except_payment
        ),
        ZERO,
    )


def payment_refs(ctx: Ctx, customer_id: str, txn_type: str, txn_id: str) -> list[dict[str, str]]:
    """LinkedTxn entries naming the payments applied to a document."""
    links: list[dict[str, str]] = []
    for payment_id, amount in applications(ctx, customer_id).get((txn_type, txn_id), []):
        entry = {"TxnId": payment_id, "TxnType": "Payment"}
        if amount > 0 and entry not in links:
            links.append(entry)
    return links


def refresh_applied(ctx: Ctx, entity: str, object_id: str) -> None:
    """Recompute an invoice's or credit memo's open amount after its payments changed."""
    record = ctx.store.get_object(ctx.realm, entity, object_id)
    if record is None or record.deleted:
        return
    customer_id = ref_value(record.body.get("CustomerRef")) or ""
    total = money_or_zero(record.body.get("TotalAmt"))
    voided = bool(record.body.get("_voided"))
    open_amount = (
        ZERO if voided else cents(total - applied_total(ctx, customer_id, entity, object_id))
    )
    links = payment_refs(ctx, customer_id, entity, object_id)
    body = record.body
    if money_or_zero(body.get("Balance")) == open_amount and body.get("LinkedTxn") == links:
        return
    body["Balance"] = open_amount
    if entity == "CreditMemo":
        body["RemainingCredit"] = open_amount
    body["LinkedTxn"] = links
    record.sync_token += 1
    record.update_time = ctx.now
    ctx.store.save_object(record)


def guard_applied(ctx: Ctx, record: Record, what: str) -> None:
    """Refuse to delete or void a document that has payments or credits applied."""
    customer_id = ref_value(record.body.get("CustomerRef")) or ""
    paid = applied_total(ctx, customer_id, record.entity, record.id)
    if paid > 0:
        raise business(
            f"{record.entity} Id={record.id} has {paid} of payments or credits applied; delete "
            f"or change those payments before you {what} it."
        )


# ---------------------------------------------------------------- invoices
def prepare_invoice(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Validate an invoice and compute its lines, tax, totals and balance."""
    body.pop("LinkedTxn", None)
    if to_decimal(body.pop("Deposit", 0) or 0, "Deposit") != 0:
        raise business("Invoice deposits are not emulated; send Deposit 0 or leave it out.")
    customer = sales_document(ctx, body, existing, request)
    total = body["TotalAmt"]
    applied = ZERO
    links: list[dict[str, Any]] = []
    if existing is not None:
        before = ref_value(existing.body.get("CustomerRef")) or ""
        applied = applied_total(ctx, before, "Invoice", existing.id)
        if applied > 0 and before != customer.id:
            raise business(
                "The customer of an invoice with payments applied cannot change; "
                "delete the payments first.",
                "CustomerRef",
            )
        links = payment_refs(ctx, before, "Invoice", existing.id)
    if total < applied:
        raise business(
            f"The invoice total {total} would be less than the {applied} already paid on it; "
            "change the payments first."
        )
    voided = bool(body.get("_voided"))
    body["Balance"] = ZERO if voided else cents(total - applied)
    body["LinkedTxn"] = links
    body["DocNumber"] = doc_number(ctx, "Invoice", body, existing)
    txn_date(body, "DueDate", body["TxnDate"])
    return body


def guard_invoice_removal(ctx: Ctx, record: Record, what: str) -> None:
    """Refuse to delete or void an invoice that has payments applied."""
    guard_applied(ctx, record, what)


def void_invoice(ctx: Ctx, record: Record) -> None:
    """Zero an invoice's amounts in place; the record stays."""
    guard_applied(ctx, record, "void")
    zero_sales_document(record.body)


# ---------------------------------------------------------------- payments
def prepare_payment(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Validate a payment, check what it applies and compute UnappliedAmt."""
    body.pop("UnappliedAmt", None)
    customer = check_ref(ctx, body, "CustomerRef", "Customer", "CustomerRef")
    assert customer is not None
    check_header_refs(ctx, body)
    check_ref(ctx, body, "PaymentMethodRef", "PaymentMethod", "PaymentMethodRef", must=False)
    if body.get("TotalAmt") in (None, ""):
        raise required("TotalAmt")
    total = to_money(body["TotalAmt"], "TotalAmt")
    if total < 0:
        raise business("A payment's TotalAmt cannot be negative.", "TotalAmt")
    raw_lines = body.get("Line") or []
    if not isinstance(raw_lines, list):
        raise invalid_property("Line must be a list", "Line")
    payment_id = existing.id if existing else None
    running: dict[tuple[str, str], Decimal] = {}
    lines = []
    paid = {"Invoice": ZERO, "CreditMemo": ZERO}
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
            raise business(f"{where} must link exactly one invoice or credit memo.", where)
        link = links[0] if isinstance(links[0], dict) else {}
        txn_type = link.get("TxnType")
        if txn_type not in PAYABLE:
            raise business(
                f"{where}: a payment applies to invoices and credit memos, got {txn_type!r}.",
                f"{where}.LinkedTxn",
            )
        txn_id = ref_value(link.get("TxnId"))
        if txn_id is None:
            raise required(f"{where}.LinkedTxn.TxnId")
        document = ctx.store.get_object(ctx.realm, txn_type, txn_id)
        if document is None or document.deleted:
            raise invalid_reference(
                ctx.config.invalid_reference_code,
                f"{where}.LinkedTxn points at {txn_type} Id={txn_id}, which does not exist.",
                f"{where}.LinkedTxn",
            )
        if ref_value(document.body.get("CustomerRef")) != customer.id:
            raise business(
                f"{txn_type} Id={txn_id} belongs to another customer than this payment's.",
                f"{where}.LinkedTxn",
            )
        already = running.get((txn_type, txn_id), ZERO)
        if document.body.get("_voided"):
            open_amount = ZERO
        else:
            open_amount = money_or_zero(document.body.get("TotalAmt")) - applied_total(
                ctx, customer.id, txn_type, txn_id, except_payment=payment_id
            )
        if amount + already > open_amount:
            what = "open balance" if txn_type == "Invoice" else "remaining credit"
            raise business(
                f"The amount applied to {txn_type} Id={txn_id} ({amount + already}) is more "
                f"than its {what} ({cents(open_amount)}).",
                f"{where}.Amount",
            )
        running[(txn_type, txn_id)] = already + amount
        paid[txn_type] += amount
        lines.append({"Amount": amount, "LinkedTxn": [{"TxnId": txn_id, "TxnType": txn_type}]})
    if paid["CreditMemo"] > paid["Invoice"]:
        raise business(
            f"The credits applied ({paid['CreditMemo']}) are more than the invoices they pay "
            f"({paid['Invoice']}).",
            "Line",
        )
    applied = paid["Invoice"] - paid["CreditMemo"]
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
        undeposited = system_account(ctx, "UndepositedFunds")
        body["DepositToAccountRef"] = {"value": undeposited.id}
    txn_date(body, "TxnDate", today(ctx))
    body.setdefault("CurrencyRef", USD)
    body.setdefault("ProcessPayment", False)
    if existing is not None and deposited(existing.body):
        before = existing.body
        if money_or_zero(before.get("TotalAmt")) != total:
            raise deposited_error("TotalAmt")
        if ref_value(before.get("DepositToAccountRef")) != ref_value(
            body.get("DepositToAccountRef")
        ) or ref_value(before.get("CustomerRef")) != ref_value(body.get("CustomerRef")):
            raise deposited_error("DepositToAccountRef")
    return body


def guard_payment_removal(ctx: Ctx, record: Record, what: str) -> None:
    """6540: a deposited payment cannot be deleted or voided."""
    if deposited(record.body):
        raise deposited_error()


def payment_changed(ctx: Ctx, before: Record | None, after: Record) -> None:
    """Re-balance every invoice and credit memo the payment applied to before or does now."""
    targets = {(t, i) for t, i, _ in payment_links(after.body)}
    if before is not None:
        targets |= {(t, i) for t, i, _ in payment_links(before.body)}
    ctx.cache.clear()
    for txn_type, txn_id in sorted(targets, key=lambda k: (k[0], len(k[1]), k[1])):
        refresh_applied(ctx, txn_type, txn_id)


def void_payment(ctx: Ctx, record: Record) -> None:
    """Zero a payment's amounts in place; the documents it paid get their balance back."""
    guard_payment_removal(ctx, record, "void")
    body = record.body
    for line in body.get("Line") or []:
        line["Amount"] = ZERO
    body["TotalAmt"] = ZERO
    body["UnappliedAmt"] = ZERO
    body["PrivateNote"] = "Voided"
    body["_voided"] = True
