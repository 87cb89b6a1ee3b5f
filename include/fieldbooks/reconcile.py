"""Step 6: re-read both sides, rebuild the reconciliation marts, and write the run summary."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fieldbooks.config import Settings
from fieldbooks.ops.extract import extract_ops
from fieldbooks.qbo.extract import extract_qbo
from fieldbooks.quality.reconciliation import check_reconciliation
from fieldbooks.transform import run_dbt
from fieldbooks.warehouse.connection import WarehouseConnection, connect
from fieldbooks.warehouse.state import ensure_state, utcnow

log = logging.getLogger(__name__)


# Statuses that are not differences: the record agrees, within QuickBooks' tax rounding
# (counted apart), or a person entered it in QuickBooks as ordinary bookkeeping (expenses).
TIED_STATUSES = ("matched", "matched_rounding", "entered_in_quickbooks")


@dataclass
class RunSummary:
    """What one sync run did, in the words of the people who read it."""

    run_id: str
    written_to_quickbooks: dict[str, int] = field(default_factory=dict)
    written_to_ops: dict[str, int] = field(default_factory=dict)
    failed_writes: int = 0
    open_issues: dict[str, int] = field(default_factory=dict)
    invoice_tieout: dict[str, int] = field(default_factory=dict)
    payment_tieout: dict[str, int] = field(default_factory=dict)
    customer_tieout: dict[str, int] = field(default_factory=dict)
    expense_tieout: dict[str, int] = field(default_factory=dict)
    sales_tax_tieout: dict[str, int] = field(default_factory=dict)
    # accounts receivable on the last day both sides cover: ops minus QuickBooks, as text
    ar_difference: str | None = None
    # reconciliation.tieout_summary.is_tied_out; None when the summary is not built
    is_tied_out: bool | None = None
    # the Data Docs report the validation steps write (None before the first one)
    data_docs: str | None = None

    @property
    def ties_out(self) -> bool:
        """Whether the books tie out, as reconciliation.tieout_summary decides it: every
        invoice, payment, customer, expense and sales tax period matched, and accounts
        receivable agree on the last day.

        A cent of QuickBooks' tax rounding (`matched_rounding`) ties out but is counted
        apart; a Purchase or Bill a person entered in QuickBooks (`entered_in_quickbooks`)
        is bookkeeping, not a difference. No data is not tied out: False when the summary
        was not built or no tie-out compared anything.
        """
        compared = (
            self.invoice_tieout,
            self.payment_tieout,
            self.customer_tieout,
            self.expense_tieout,
            self.sales_tax_tieout,
        )
        return bool(self.is_tied_out) and any(sum(tie.values()) for tie in compared)

    def lines(self) -> list[str]:
        """The summary as lines of text for a terminal."""
        if self.is_tied_out is None:
            verdict = "no data (the reconciliation summary is not built)"
        elif self.ties_out:
            verdict = "yes"
        elif self.is_tied_out:
            verdict = "no data (nothing to compare)"
        else:
            verdict = "no"
        return [
            f"run {self.run_id}",
            f"written to QuickBooks: {_fmt(self.written_to_quickbooks)}",
            f"written to operations: {_fmt(self.written_to_ops)}",
            f"failed writes: {self.failed_writes}",
            f"open issues: {sum(self.open_issues.values())}"
            + (f" ({_fmt(self.open_issues)})" if self.open_issues else ""),
            _tieout_line("invoices", self.invoice_tieout),
            _tieout_line("payments", self.payment_tieout),
            _tieout_line("customers", self.customer_tieout),
            _tieout_line("expenses", self.expense_tieout),
            _tieout_line("sales tax periods", self.sales_tax_tieout),
            f"accounts receivable, ops minus QuickBooks: {self.ar_difference or 'no data'}",
            f"validation report: {self.data_docs or 'not written yet'}",
            f"books tie out: {verdict}",
        ]


def _tieout_line(name: str, tie: dict[str, int]) -> str:
    """`invoices: 3 matched, 1 mismatched (amount_mismatch 1)`, or `invoices: no data`;
    rounding and what people entered in QuickBooks shown apart."""
    if not sum(tie.values()):
        return f"{name}: no data"
    rounding = tie.get("matched_rounding", 0)
    entered = tie.get("entered_in_quickbooks", 0)
    others = {k: v for k, v in tie.items() if k not in TIED_STATUSES and v}
    mismatched = sum(others.values())
    return (
        f"{name}: {tie.get('matched', 0)} matched"
        + (f", {rounding} matched within QuickBooks' tax rounding" if rounding else "")
        + (f", {entered} entered in QuickBooks by people" if entered else "")
        + f", {mismatched} mismatched"
        + (f" ({_fmt(others)})" if mismatched else "")
    )


def _fmt(counts: dict[str, int]) -> str:
    """`a 3, b 1`, or `nothing`."""
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing"


def summarize(wh: WarehouseConnection, run_id: str, data_docs: str | None = None) -> RunSummary:
    """Count this run's writes, the open issues and every tie-out, and read the verdict."""
    summary = RunSummary(run_id=run_id, data_docs=data_docs)
    for direction, entity, operation, count in wh.fetchall(
        """select direction, entity, operation, count(*) from fieldbooks.sync_events
           where run_id = %s and outcome = 'ok'
           group by direction, entity, operation""",
        (run_id,),
    ):
        target = (
            summary.written_to_quickbooks
            if direction == "to_quickbooks"
            else summary.written_to_ops
        )
        # Creates, updates and links count per entity; QuickBooks ids written back apart.
        key = f"{entity} qbo id" if operation == "set_qbo_id" else entity
        target[key] = target.get(key, 0) + int(count)
    summary.failed_writes = int(
        wh.scalar(
            "select count(*) from fieldbooks.sync_events where run_id = %s and outcome like 'failed%%'",
            (run_id,),
        )
    )
    summary.open_issues = {
        kind: int(count)
        for kind, count in wh.fetchall(
            "select kind, count(*) from fieldbooks.sync_issues where status = 'open' group by kind"
        )
    }
    summary.invoice_tieout = _status_counts(wh, "invoice_tieout")
    summary.payment_tieout = _status_counts(wh, "payment_tieout")
    summary.customer_tieout = _status_counts(wh, "customer_tieout")
    summary.expense_tieout = _status_counts(wh, "expense_tieout")
    summary.sales_tax_tieout = _status_counts(wh, "sales_tax_by_period")
    if wh.table_exists("reconciliation", "tieout_summary"):
        rows = wh.fetchall(
            "select ar_day_count, ar_difference, is_tied_out from reconciliation.tieout_summary"
        )
        if rows:
            ar_day_count, ar_difference, is_tied_out = rows[0]
            if int(ar_day_count):
                summary.ar_difference = f"{Decimal(ar_difference):.2f}"
            summary.is_tied_out = bool(is_tied_out)
    return summary


def _status_counts(wh: WarehouseConnection, table: str) -> dict[str, int]:
    """Records per status of one reconciliation table (empty when it is not built yet)."""
    if not wh.table_exists("reconciliation", table):
        return {}
    return {
        status: int(count)
        for status, count in wh.fetchall(
            f"select status, count(*) from reconciliation.{table} group by status"
        )
    }


def record_run(wh: WarehouseConnection, summary: RunSummary, started_at: Any, status: str) -> None:
    """Write (or rewrite) the run's row in fieldbooks.sync_runs."""
    payload = json.dumps(summary.__dict__, default=str, sort_keys=True)
    wh.execute(
        """insert into fieldbooks.sync_runs (run_id, started_at, finished_at, status, summary)
           values (%s, %s, %s, %s, %s)
           on conflict (run_id) do update set finished_at = excluded.finished_at,
             status = excluded.status, summary = excluded.summary""",
        (summary.run_id, started_at, utcnow(), status, payload),
    )


def reconcile(settings: Settings, run_id: str) -> RunSummary:
    """Re-extract both sides, rebuild reconciliation.*, run the reconciliation suite, and
    record the run summary."""
    started = utcnow()
    extract_ops(settings, run_id)
    extract_qbo(settings)
    run_dbt(settings, ["build", "--selector", "reconcile"])  # dbt_project/selectors.yml
    with connect(settings.warehouse_url) as wh:
        ensure_state(wh)
    # the reconciliation suite: differences nothing else explains become issues
    _, data_docs = check_reconciliation(settings, run_id)
    with connect(settings.warehouse_url) as wh:
        summary = summarize(wh, run_id, data_docs)
        record_run(wh, summary, started, "tied_out" if summary.ties_out else "differences")
    for line in summary.lines():
        log.info(line)
    return summary
