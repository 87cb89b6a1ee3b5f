"""The general ledger behind reports and account balances, derived from the transactions.

Each live transaction posts debits (positive) and credits (negative) that sum to zero:

| document | debit | credit |
|---|---|---|
| Invoice | A/R (TotalAmt) | each line's income account; Sales Tax Payable (tax) |
| CreditMemo | income lines; Sales Tax Payable | A/R |
| RefundReceipt | income lines; Sales Tax Payable | DepositToAccountRef |
| Payment | DepositToAccountRef (Undeposited Funds by default) | A/R |
| Deposit | DepositToAccountRef | each payment's account, or the line's AccountRef |
| Purchase | expense lines | AccountRef (bank or card); reversed when `Credit` |
| Bill | expense lines | APAccountRef |
| BillPayment | APAccountRef | the bank or card account |

A/R and Sales Tax Payable are the company's accounts of those subtypes; a company without
one gets a row without an Id. Amounts are accrual basis. Results are cached until any
object of the emulator changes.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from qbo_sandbox.context import Ctx
from qbo_sandbox.lists import CLASSIFICATIONS, SYSTEM_SUBTYPES, find_system_account
from qbo_sandbox.money import ZERO
from qbo_sandbox.references import full_name, ref_value
from qbo_sandbox.sales import money_or_zero, payment_links
from qbo_sandbox.store import Record

SYSTEM_PREFIX = "system:"
# Trial balance order: QuickBooks lists accounts by type, then by name.
TYPE_ORDER = (
    "Bank",
    "Accounts Receivable",
    "Other Current Asset",
    "Fixed Asset",
    "Other Asset",
    "Accounts Payable",
    "Credit Card",
    "Other Current Liability",
    "Long Term Liability",
    "Equity",
    "Income",
    "Cost of Goods Sold",
    "Expense",
    "Other Income",
    "Other Expense",
)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class Posting:
    """One debit (positive) or credit (negative) to an account."""

    account: str  # an Account Id, or "system:<AccountSubType>" when the company has none
    amount: Decimal
    date: str
    entity: str
    txn_id: str


@dataclass(frozen=True)
class AccountInfo:
    """What a report shows about an account."""

    key: str
    id: str | None
    name: str
    account_type: str
    classification: str


class _Poster:
    """Builds the postings of one company, resolving system accounts and items once."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self._system: dict[str, str] = {}
        self._items: dict[str, Record | None] = {}
        self._payment_accounts: dict[str, str | None] = {}

    def system(self, subtype: str) -> str:
        """The Id of the company's account of a system subtype (or a stand-in key)."""
        if subtype not in self._system:
            found = find_system_account(self.ctx, subtype)
            self._system[subtype] = found.id if found else SYSTEM_PREFIX + subtype
        return self._system[subtype]

    def item_account(self, item_id: str | None, key: str) -> str | None:
        """An item's income or expense account."""
        if item_id is None:
            return None
        if item_id not in self._items:
            self._items[item_id] = self.ctx.store.get_object(self.ctx.realm, "Item", item_id)
        item = self._items[item_id]
        return ref_value(item.body.get(key)) if item is not None else None

    def payment_account(self, payment_id: str) -> str | None:
        """Where a payment's money sat before a deposit moved it."""
        if payment_id not in self._payment_accounts:
            payment = self.ctx.store.get_object(self.ctx.realm, "Payment", payment_id)
            self._payment_accounts[payment_id] = (
                ref_value(payment.body.get("DepositToAccountRef")) if payment else None
            )
        return self._payment_accounts[payment_id] or self.system("UndepositedFunds")

    def postings(self, record: Record) -> list[tuple[str, Decimal]]:
        """(account, signed amount) pairs of one transaction."""
        body = record.body
        total = money_or_zero(body.get("TotalAmt"))
        entity = record.entity
        if entity in ("Invoice", "CreditMemo", "RefundReceipt"):
            sales = self._sales(body)
            if entity == "Invoice":
                return [(self.system("AccountsReceivable"), total), *sales]
            reversed_sales = [(account, -amount) for account, amount in sales]
            if entity == "CreditMemo":
                return [*reversed_sales, (self.system("AccountsReceivable"), -total)]
            bank = ref_value(body.get("DepositToAccountRef")) or self.system("UndepositedFunds")
            return [*reversed_sales, (bank, -total)]
        if entity == "Payment":
            target = ref_value(body.get("DepositToAccountRef")) or self.system("UndepositedFunds")
            return [(target, total), (self.system("AccountsReceivable"), -total)]
        if entity == "Deposit":
            result = [(ref_value(body.get("DepositToAccountRef")) or "", total)]
            for line in body.get("Line") or []:
                amount = money_or_zero(line.get("Amount"))
                links = [
                    link for link in line.get("LinkedTxn") or [] if link.get("TxnType") == "Payment"
                ]
                if links:
                    source = self.payment_account(str(links[0].get("TxnId")))
                else:
                    detail = line.get("DepositLineDetail") or {}
                    source = ref_value(detail.get("AccountRef"))
                result.append((source or "", -amount))
            return result
        if entity in ("Purchase", "Bill"):
            expenses = self._expenses(body)
            if entity == "Purchase":
                paid_from = ref_value(body.get("AccountRef")) or ""
                sign = Decimal(-1) if body.get("Credit") is True else Decimal(1)
                return [(a, sign * amount) for a, amount in [*expenses, (paid_from, -total)]]
            payable = ref_value(body.get("APAccountRef")) or self.system("AccountsPayable")
            return [*expenses, (payable, -total)]
        if entity == "BillPayment":
            payable = ref_value(body.get("APAccountRef")) or self.system("AccountsPayable")
            if body.get("PayType") == "CreditCard":
                source = ref_value((body.get("CreditCardPayment") or {}).get("CCAccountRef"))
            else:
                source = ref_value((body.get("CheckPayment") or {}).get("BankAccountRef"))
            return [(payable, total), (source or "", -total)]
        return []

    def _sales(self, body: dict[str, Any]) -> list[tuple[str, Decimal]]:
        """Credits of a sales form: each line to its income account, tax to Sales Tax Payable."""
        result = []
        for line in body.get("Line") or []:
            if line.get("DetailType") != "SalesItemLineDetail":
                continue
            detail = line.get("SalesItemLineDetail") or {}
            account = ref_value(detail.get("ItemAccountRef")) or self.item_account(
                ref_value(detail.get("ItemRef")), "IncomeAccountRef"
            )
            result.append((account or "", -money_or_zero(line.get("Amount"))))
        tax = money_or_zero((body.get("TxnTaxDetail") or {}).get("TotalTax"))
        if tax:
            result.append((self.system("SalesTaxPayable"), -tax))
        return result

    def _expenses(self, body: dict[str, Any]) -> list[tuple[str, Decimal]]:
        """Debits of a purchase or bill: each line to its expense account."""
        result = []
        for line in body.get("Line") or []:
            kind = line.get("DetailType")
            detail = line.get(kind) or {}
            if kind == "AccountBasedExpenseLineDetail":
                account = ref_value(detail.get("AccountRef"))
            elif kind == "ItemBasedExpenseLineDetail":
                account = self.item_account(ref_value(detail.get("ItemRef")), "ExpenseAccountRef")
            else:
                continue
            result.append((account or "", money_or_zero(line.get("Amount"))))
        return result


POSTING_ENTITIES = (
    "Invoice",
    "CreditMemo",
    "RefundReceipt",
    "Payment",
    "Deposit",
    "Purchase",
    "Bill",
    "BillPayment",
)


def all_postings(ctx: Ctx) -> list[Posting]:
    """Every posting of the company's live transactions."""

    def compute() -> list[Posting]:
        poster = _Poster(ctx)
        result = []
        for entity in POSTING_ENTITIES:
            for record in ctx.store.list_objects(ctx.realm, entity):
                when = str(record.body.get("TxnDate") or "")
                for account, amount in poster.postings(record):
                    if amount:
                        result.append(Posting(account, amount, when, entity, record.id))
        return result

    return ctx.store.derived(ctx.realm, "postings", compute)


def account_balances(ctx: Ctx) -> dict[str, Decimal]:
    """Each account's net debit over all time."""

    def compute() -> dict[str, Decimal]:
        balances: dict[str, Decimal] = {}
        for posting in all_postings(ctx):
            balances[posting.account] = balances.get(posting.account, ZERO) + posting.amount
        return balances

    return ctx.store.derived(ctx.realm, "account_balances", compute)


def accounts(ctx: Ctx) -> dict[str, AccountInfo]:
    """Every account (inactive ones too) plus stand-ins for missing system accounts."""
    result = {}
    for record in ctx.store.list_objects(ctx.realm, "Account"):
        result[record.id] = AccountInfo(
            key=record.id,
            id=record.id,
            name=full_name(ctx, record),
            account_type=str(record.body.get("AccountType") or ""),
            classification=str(record.body.get("Classification") or ""),
        )
    for subtype, (name, account_type) in SYSTEM_SUBTYPES.items():
        key = SYSTEM_PREFIX + subtype
        result[key] = AccountInfo(key, None, name, account_type, CLASSIFICATIONS[account_type])
    return result


def fiscal_year_start(ctx: Ctx, end: date) -> date:
    """The first day of the fiscal year `end` falls in (CompanyInfo.FiscalYearStartMonth)."""
    company = ctx.store.get_object(ctx.realm, "CompanyInfo", "1")
    month_name = str((company.body if company else {}).get("FiscalYearStartMonth") or "January")
    month = MONTHS.index(month_name) + 1 if month_name in MONTHS else 1
    year = end.year if end.month >= month else end.year - 1
    return date(year, month, 1)


def trial_balance(ctx: Ctx, end: date) -> list[tuple[AccountInfo, Decimal]]:
    """Net debit per account as of `end`: balance-sheet accounts since the start, income
    and expense accounts since the fiscal year began; earlier years' profit sits in
    Retained Earnings. Accounts that net to zero are left out.
    """
    infos = accounts(ctx)
    year_start = fiscal_year_start(ctx, end).isoformat()
    last = end.isoformat()
    retained_key = None
    balances: dict[str, Decimal] = {}
    for posting in all_postings(ctx):
        if posting.date > last:
            continue
        info = infos.get(posting.account)
        key = posting.account
        if info is not None and info.classification in ("Revenue", "Expense"):
            if posting.date < year_start:
                if retained_key is None:
                    found = find_system_account(ctx, "RetainedEarnings")
                    retained_key = found.id if found else SYSTEM_PREFIX + "RetainedEarnings"
                key = retained_key
        balances[key] = balances.get(key, ZERO) + posting.amount
    rows = []
    for key, amount in balances.items():
        if amount == 0:
            continue
        info = infos.get(key) or AccountInfo(key, None, "Unknown account", "", "")
        rows.append((info, amount))
    rows.sort(key=lambda row: (_type_rank(row[0].account_type), row[0].name.casefold()))
    return rows


def _type_rank(account_type: str) -> int:
    """Position of an account type in QuickBooks' report order."""
    return TYPE_ORDER.index(account_type) if account_type in TYPE_ORDER else len(TYPE_ORDER)


@dataclass(frozen=True)
class OpenItem:
    """An amount a customer owes (positive) or is owed (negative) as of a date."""

    customer_id: str
    entity: str
    id: str
    aging_date: str
    amount: Decimal


def receivables(ctx: Ctx, as_of: date) -> list[OpenItem]:
    """Open invoices, unapplied credits and unapplied payments as of a date (A/R detail)."""
    last = as_of.isoformat()
    payments = [
        p
        for p in ctx.store.list_objects(ctx.realm, "Payment")
        if str(p.body.get("TxnDate") or "") <= last and not p.body.get("_voided")
    ]
    applied: dict[tuple[str, str], Decimal] = {}
    items = []
    for payment in payments:
        for txn_type, txn_id, amount in payment_links(payment.body):
            applied[(txn_type, txn_id)] = applied.get((txn_type, txn_id), ZERO) + amount
        unapplied = money_or_zero(payment.body.get("UnappliedAmt"))
        if unapplied:
            items.append(
                OpenItem(
                    ref_value(payment.body.get("CustomerRef")) or "",
                    "Payment",
                    payment.id,
                    str(payment.body.get("TxnDate")),
                    -unapplied,
                )
            )
    for entity, sign in (("Invoice", Decimal(1)), ("CreditMemo", Decimal(-1))):
        for record in ctx.store.list_objects(ctx.realm, entity):
            body = record.body
            when = str(body.get("TxnDate") or "")
            if when > last or body.get("_voided"):
                continue
            open_amount = money_or_zero(body.get("TotalAmt")) - applied.get(
                (entity, record.id), ZERO
            )
            if open_amount:
                aging = str(body.get("DueDate") or when) if entity == "Invoice" else when
                items.append(
                    OpenItem(
                        ref_value(body.get("CustomerRef")) or "",
                        entity,
                        record.id,
                        aging,
                        sign * open_amount,
                    )
                )
    return items
