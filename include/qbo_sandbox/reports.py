"""The reports endpoint (`GET /reports/<name>`): AgedReceivables and TrialBalance, computed
from the company's transactions (ledger.py) in QuickBooks' report JSON shape: `Header`,
`Columns.Column[]` and `Rows.Row[]` of `ColData`, closed by a `GrandTotal` summary row.

AgedReceivables takes `report_date` (default: today on the sandbox clock), `aging_period`
(30) and `num_periods` (4); an invoice ages from its DueDate, a credit memo or unapplied
payment (negative amounts) from its TxnDate. TrialBalance takes `end_date` (default today)
and `start_date` (shown in the header only: balances are as of `end_date`). Both are
accrual basis; `accounting_method=Cash` is answered on accrual and says so in the header.
"""

from datetime import date
from decimal import Decimal
from typing import Any

from qbo_sandbox.clock import format_response_time
from qbo_sandbox.context import Ctx
from qbo_sandbox.faults import invalid_property, unsupported
from qbo_sandbox.jsonio import decimal_text
from qbo_sandbox.ledger import fiscal_year_start, receivables, trial_balance
from qbo_sandbox.money import ZERO, cents
from qbo_sandbox.references import full_name
from qbo_sandbox.sales import today

REPORT_NAMES = ("AgedReceivables", "TrialBalance")


def run_report(ctx: Ctx, name: str, params: dict[str, str]) -> dict[str, Any]:
    """Answer `GET /reports/<name>`."""
    wanted = name.strip().lower()
    if wanted == "agedreceivables":
        return aged_receivables(ctx, params)
    if wanted == "trialbalance":
        return trial_balance_report(ctx, params)
    raise unsupported(
        f"Report {name} is not emulated by qbo_sandbox (available: {', '.join(REPORT_NAMES)})."
    )


def _date_param(params: dict[str, str], key: str, default: date) -> date:
    """A YYYY-MM-DD query parameter."""
    value = params.get(key)
    if value in (None, ""):
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid_property(f"{key} must be a date (YYYY-MM-DD), got {value!r}", key) from None


def _int_param(params: dict[str, str], key: str, default: int) -> int:
    """A positive integer query parameter."""
    value = params.get(key)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise invalid_property(f"{key} must be a positive integer, got {value!r}", key)
    return number


def _money(amount: Decimal, blank_zero: bool = False) -> str:
    """A report cell: two decimals, or empty for zero where QuickBooks leaves it blank."""
    if blank_zero and amount == 0:
        return ""
    return decimal_text(cents(amount))


def _header(
    ctx: Ctx, name: str, start: date, end: date, options: list[tuple[str, str]], basis: str
) -> dict[str, Any]:
    """The report Header."""
    return {
        "Time": format_response_time(ctx.now, ctx.config.company_utc_offset_minutes),
        "ReportName": name,
        "ReportBasis": basis,
        "StartPeriod": start.isoformat(),
        "EndPeriod": end.isoformat(),
        "SummarizeColumnsBy": "Total",
        "Currency": "USD",
        "Option": [{"Name": key, "Value": value} for key, value in options],
    }


def _basis(params: dict[str, str]) -> tuple[str, list[tuple[str, str]]]:
    """Report basis (always Accrual) and a note when Cash was asked for."""
    asked = (params.get("accounting_method") or "Accrual").strip()
    notes = []
    if asked.lower() == "cash":
        notes.append(("sandbox_note", "Cash basis is not emulated; figures are accrual basis"))
    return "Accrual", notes


def aged_receivables(ctx: Ctx, params: dict[str, str]) -> dict[str, Any]:
    """A/R aging summary: one row per customer, one column per aging bucket."""
    report_date = _date_param(params, "report_date", date.fromisoformat(today(ctx)))
    period = _int_param(params, "aging_period", 30)
    periods = _int_param(params, "num_periods", 4)
    titles = ["Current"]
    for n in range(periods - 1):
        titles.append(f"{n * period + 1} - {(n + 1) * period}")
    titles.append(f"{(periods - 1) * period + 1} and over")
    by_customer: dict[str, list[Decimal]] = {}
    for item in receivables(ctx, report_date):
        days = (report_date - date.fromisoformat(item.aging_date)).days
        bucket = 0 if days <= 0 else min((days - 1) // period + 1, periods)
        row = by_customer.setdefault(item.customer_id, [ZERO] * (periods + 1))
        row[bucket] += item.amount
    names = {}
    for customer_id in by_customer:
        record = ctx.store.get_object(ctx.realm, "Customer", customer_id)
        names[customer_id] = full_name(ctx, record) if record else f"Customer {customer_id}"
    rows: list[dict[str, Any]] = []
    totals = [ZERO] * (periods + 1)
    for customer_id in sorted(by_customer, key=lambda c: names[c].casefold()):
        buckets = by_customer[customer_id]
        if all(b == 0 for b in buckets):
            continue
        totals = [t + b for t, b in zip(totals, buckets, strict=True)]
        rows.append(
            {
                "ColData": [{"value": names[customer_id], "id": customer_id}]
                + [{"value": _money(b, blank_zero=True)} for b in buckets]
                + [{"value": _money(sum(buckets, ZERO))}]
            }
        )
    rows.append(
        {
            "Summary": {
                "ColData": [{"value": "TOTAL"}]
                + [{"value": _money(t)} for t in totals]
                + [{"value": _money(sum(totals, ZERO))}]
            },
            "type": "Section",
            "group": "GrandTotal",
        }
    )
    basis, notes = _basis(params)
    options = [
        ("report_date", report_date.isoformat()),
        ("NoReportData", "false" if len(rows) > 1 else "true"),
        *notes,
    ]
    columns = [{"ColTitle": "", "ColType": "Customer"}]
    keys = ["current"] + [str(n) for n in range(periods)]
    for title, key in zip(titles, keys, strict=True):
        columns.append(
            {"ColTitle": title, "ColType": "Money", "MetaData": [{"Name": "ColKey", "Value": key}]}
        )
    columns.append(
        {
            "ColTitle": "Total",
            "ColType": "Money",
            "MetaData": [{"Name": "ColKey", "Value": "total"}],
        }
    )
    return {
        "Header": _header(ctx, "AgedReceivables", report_date, report_date, options, basis),
        "Columns": {"Column": columns},
        "Rows": {"Row": rows},
    }


def trial_balance_report(ctx: Ctx, params: dict[str, str]) -> dict[str, Any]:
    """Trial balance: each account's net balance as a debit or a credit, and the totals."""
    end = _date_param(params, "end_date", date.fromisoformat(today(ctx)))
    start = _date_param(params, "start_date", fiscal_year_start(ctx, end))
    rows: list[dict[str, Any]] = []
    debits = credits = ZERO
    for info, amount in trial_balance(ctx, end):
        first: dict[str, str] = {"value": info.name}
        if info.id is not None:
            first["id"] = info.id
        if amount > 0:
            debits += amount
            cells = [{"value": _money(amount)}, {"value": ""}]
        else:
            credits -= amount
            cells = [{"value": ""}, {"value": _money(-amount)}]
        rows.append({"ColData": [first, *cells]})
    rows.append(
        {
            "Summary": {
                "ColData": [
                    {"value": "TOTAL"},
                    {"value": _money(debits)},
                    {"value": _money(credits)},
                ]
            },
            "type": "Section",
            "group": "GrandTotal",
        }
    )
    basis, notes = _basis(params)
    options = [("NoReportData", "false" if len(rows) > 1 else "true"), *notes]
    return {
        "Header": _header(ctx, "TrialBalance", start, end, options, basis),
        "Columns": {
            "Column": [
                {"ColTitle": "", "ColType": "Account"},
                {"ColTitle": "Debit", "ColType": "Money"},
                {"ColTitle": "Credit", "ColType": "Money"},
            ]
        },
        "Rows": {"Row": rows},
    }
