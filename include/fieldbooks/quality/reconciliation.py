"""After the load: the reconciliation suite over the tie-out marts.

dbt builds `reconciliation.*` (every invoice, payment, customer, expense and sales tax
period, operations against QuickBooks, to the cent). This suite reads them with Great
Expectations: a record whose status is not tied out becomes a `reconciliation_difference`
issue that names both sides' figures and what to do, unless another open issue of the
same record already names the cause (a held record is missing from QuickBooks because it
is held). It holds nothing back; it resolves itself when the record ties out. Its results
join the run's Data Docs report, so an accountant reads the tie-out there as well.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fieldbooks.config import Settings
from fieldbooks.issues import OPEN_STATES, Issue, raise_issue, resolve_unraised
from fieldbooks.quality.docs import DataDocs
from fieldbooks.quality.runner import Rule, run_suite
from fieldbooks.warehouse.connection import WarehouseConnection, connect

log = logging.getLogger(__name__)

KIND = "reconciliation_difference"
# What ties out (reconcile.TIED_STATUSES) and, for a sales tax period, having no tax at all.
TIED = ("matched", "matched_rounding", "entered_in_quickbooks", "none")
KEY = "record_key"

HINTS = {
    "missing_in_quickbooks": (
        "Operations has it and QuickBooks does not, and nothing holds it back: a person "
        "may have deleted it in QuickBooks, which fieldbooks does not undo. If that was "
        "right, void it in operations; if not, re-enter it in QuickBooks. The issue "
        "resolves when the two agree."
    ),
    "missing_in_ops": (
        "QuickBooks has it and operations does not. Enter it in operations if it is real "
        "business, or void or delete it in QuickBooks if it was entered by mistake."
    ),
    "pending": (
        "fieldbooks sent it and QuickBooks does not show it yet. The next run looks it up "
        "by its marker before it sends anything; if it stays pending, open the record's "
        "events (fieldbooks.sync_events) and its issue history."
    ),
    "deleted_in_ops_live_in_quickbooks": (
        "Operations deleted it and QuickBooks still has it. Void or delete it in QuickBooks, "
        "or restore it in operations."
    ),
}
MISMATCH_HINT = (
    "The two sides disagree on the figures above. Correct the side that is wrong: "
    "operations is the system of record for invoices and expenses, payments and customers "
    "may be corrected on either side; the next run compares them again."
)


@dataclass(frozen=True)
class TieOut:
    """One tie-out mart under the suite."""

    table: str  # reconciliation.<table>
    entity: str  # the sync_issues entity
    ops_id: str  # the column with the operations id (SQL)
    qbo_id: str  # the column with the QuickBooks id (SQL)
    reason: str  # formatted with the row

    @property
    def suite(self) -> str:
        """The suite's name in the Data Docs report."""
        return f"reconciliation_{self.table}"

    def query(self) -> str:
        """Every row of the mart, with its key and its ids as text."""
        return (
            f"select *, cast({self.ops_id} as varchar(64)) as issue_ops_id, "
            f"cast({self.qbo_id} as varchar(64)) as issue_qbo_id, "
            f"coalesce(cast({self.ops_id} as varchar(64)), '') || '/' || "
            f"coalesce(cast({self.qbo_id} as varchar(64)), '') as {KEY} "
            f"from reconciliation.{self.table}"
        )


TIEOUTS = (
    TieOut(
        "invoice_tieout",
        "invoice",
        "ops_invoice_id",
        "qbo_invoice_id",
        "invoice {invoice_number} (QuickBooks {doc_number}) is {status}: total {ops_total} "
        "in operations, {qbo_total} in QuickBooks; balance {ops_balance} against "
        "{qbo_balance}; tax {ops_tax} against {qbo_tax}",
    ),
    TieOut(
        "payment_tieout",
        "payment",
        "ops_payment_id",
        "qbo_payment_id",
        "payment {issue_ops_id} (QuickBooks {issue_qbo_id}) is {status}: amount {ops_amount} "
        "in operations, {qbo_amount} in QuickBooks; applied {ops_applied_amount} against "
        "{qbo_applied_amount}; dated {ops_txn_date} against {qbo_txn_date}",
    ),
    TieOut(
        "customer_tieout",
        "customer",
        "ops_customer_id",
        "qbo_customer_id",
        "customer {issue_ops_id} (QuickBooks {issue_qbo_id}) is {status}",
    ),
    TieOut(
        "expense_tieout",
        "expense",
        "ops_expense_id",
        "qbo_id",
        "expense {expense_key} ({qbo_txn_type} {issue_qbo_id} in QuickBooks) is {status}: "
        "{ops_amount} in operations, {qbo_amount} in QuickBooks",
    ),
    TieOut(
        "sales_tax_by_period",
        "sales_tax_period",
        "cast(period_month as varchar(10)) || ' ' || coalesce(tax_code_id, '')",
        "null",
        "sales tax for {period_month:%B %Y} (tax code {tax_code_name}) is {status}: {ops_tax} in operations, "
        "{qbo_tax} in QuickBooks on taxable sales of {ops_taxable_amount} against "
        "{qbo_taxable_amount}",
    ),
)


def tied_rule() -> Rule:
    """The suite's one expectation: every record ties out."""
    import great_expectations as gx

    return Rule(
        gx.expectations.ExpectColumnValuesToBeInSet(
            column="status", value_set=list(TIED), description="the record ties out"
        ),
        KIND,
        "",  # each mart words its own reason
        MISMATCH_HINT,
    )


def _explained(wh: WarehouseConnection, realm_id: str) -> set[tuple[str, str, str]]:
    """(entity, 'ops' or 'qbo', id) of records whose difference another open issue explains."""
    rows = wh.fetchall(
        f"select entity, ops_id, qbo_id from fieldbooks.sync_issues where realm_id = %s "
        f"and kind <> %s and status in ({', '.join('%s' for _ in OPEN_STATES)})",
        (realm_id, KIND, *OPEN_STATES),
    )
    explained = set()
    for entity, ops_id, qbo_id in rows:
        # a job is a sub-customer; an expense's QuickBooks side is a Purchase or a Bill
        entity = {"job": "customer", "purchase": "expense", "bill": "expense"}.get(entity, entity)
        if ops_id is not None:
            explained.add((entity, "ops", str(ops_id)))
        if qbo_id is not None:
            explained.add((entity, "qbo", str(qbo_id)))
    return explained


def _months_of_invoices(
    wh: WarehouseConnection, explained: set[tuple[str, str, str]], raised: list[Issue]
) -> set[Any]:
    """The months (first day) of the invoices with an open issue or one raised just now:
    operations' issue date, QuickBooks' transaction date for an invoice only it has."""
    ops_ids = {i for e, side, i in explained if e == "invoice" and side == "ops"}
    qbo_ids = {i for e, side, i in explained if e == "invoice" and side == "qbo"}
    for issue in raised:
        if issue.entity == "invoice":
            ops_ids |= {issue.ops_id} - {None}
            qbo_ids |= {issue.qbo_id} - {None}
    months = set()
    for table, key, day, ids in (
        ("stg_ops__invoices", "invoice_id", "issue_date", ops_ids),
        ("stg_qbo__invoices", "qbo_invoice_id", "txn_date", qbo_ids),
    ):
        if ids:
            listed = ", ".join(["%s"] * len(ids))
            months |= {
                month
                for (month,) in wh.fetchall(
                    f"select distinct cast(date_trunc('month', {day}) as date) "
                    f"from staging.{table} where {key} in ({listed})",
                    tuple(ids),
                )
            }
    return months


def _issue(tie: TieOut, row: dict[str, Any], realm_id: str) -> Issue:
    def shown(value: Any) -> Any:
        return "none" if value is None else value

    status = row["status"]
    try:
        reason = tie.reason.format(**{k: shown(v) for k, v in row.items()})
    except (KeyError, IndexError, ValueError):
        reason = f"{tie.entity} {row[KEY]} is {status}"
    return Issue(
        realm_id=realm_id,
        entity=tie.entity,
        ops_id=row["issue_ops_id"],
        qbo_id=row["issue_qbo_id"],
        kind=KIND,
        reason=reason,
        hint=HINTS.get(status, MISMATCH_HINT),
        severity="warning",
    )


@dataclass(frozen=True)
class SuiteReport:
    """What one tie-out's suite read, and how many differences it raised."""

    suite: str
    checked: int
    differences: int
    explained: int


def check_reconciliation(settings: Settings, run_id: str) -> tuple[list[SuiteReport], str]:
    """Run the suite over every built tie-out mart; raise and resolve the issues, and add
    the results to the run's Data Docs report (returns the reports and its path)."""
    realm = settings.qbo.realm_id
    docs = DataDocs(settings.home, run_id)
    reports: list[SuiteReport] = []
    with connect(settings.warehouse_url) as wh:
        explained = _explained(wh, realm)
        issues: list[Issue] = []
        for tie in TIEOUTS:
            if not wh.table_exists("reconciliation", tie.table):
                continue
            rows = wh.fetchdicts(tie.query())
            if not rows:
                continue
            import pandas as pd

            failures = run_suite(tie.suite, pd.DataFrame(rows), KEY, [tied_rule()], docs)
            by_key = {row[KEY]: row for row in rows}  # as read: no NaN for a missing side
            differences = [by_key[f.record_id] for f in failures]
            if tie.entity == "sales_tax_period":
                # a period's tax differs because one of its invoices does, and that
                # invoice's issue (open, or raised just now) names the cause
                months = _months_of_invoices(wh, explained, issues)
                raised = [row for row in differences if row["period_month"] not in months]
            else:
                raised = [
                    row
                    for row in differences
                    if (tie.entity, "ops", row["issue_ops_id"]) not in explained
                    and (tie.entity, "qbo", row["issue_qbo_id"]) not in explained
                ]
            raised = [_issue(tie, row, realm) for row in raised]
            issues.extend(raised)
            reports.append(
                SuiteReport(tie.suite, len(rows), len(differences), len(differences) - len(raised))
            )
        with wh.transaction():
            ids = {raise_issue(wh, issue, run_id) for issue in issues}
            resolved = resolve_unraised(wh, realm, KIND, ids, run_id)
    for report in reports:
        log.info(
            "%s: %d compared, %d not tied out (%d explained by an open issue)",
            report.suite,
            report.checked,
            report.differences,
            report.explained,
        )
    log.info("reconciliation: %d difference issue(s) open, %d resolved", len(ids), resolved)
    return reports, str(docs.publish())
