"""Step 6: re-read both sides, rebuild the reconciliation marts, and write the run summary."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from fieldbooks.config import Settings
from fieldbooks.ops.extract import extract_ops
from fieldbooks.qbo.extract import extract_qbo
from fieldbooks.transform import run_dbt
from fieldbooks.warehouse.connection import WarehouseConnection, connect
from fieldbooks.warehouse.state import ensure_state, utcnow

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What one sync run did, in the words of the people who read it."""

    run_id: str
    written_to_quickbooks: dict[str, int] = field(default_factory=dict)
    written_to_ops: dict[str, int] = field(default_factory=dict)
    failed_writes: int = 0
    open_issues: dict[str, int] = field(default_factory=dict)
    invoice_tieout: dict[str, int] = field(default_factory=dict)

    @property
    def ties_out(self) -> bool:
        """Whether every invoice on either side matched."""
        return all(
            count == 0 for status, count in self.invoice_tieout.items() if status != "matched"
        )

    def lines(self) -> list[str]:
        """The summary as lines of text for a terminal."""
        tie = self.invoice_tieout
        mismatched = sum(v for k, v in tie.items() if k != "matched")
        return [
            f"run {self.run_id}",
            f"written to QuickBooks: {_fmt(self.written_to_quickbooks)}",
            f"written to operations: {_fmt(self.written_to_ops)}",
            f"failed writes: {self.failed_writes}",
            f"open issues: {sum(self.open_issues.values())}"
            + (f" ({_fmt(self.open_issues)})" if self.open_issues else ""),
            f"invoices: {tie.get('matched', 0)} matched, {mismatched} mismatched"
            + (
                f" ({_fmt({k: v for k, v in tie.items() if k != 'matched'})})" if mismatched else ""
            ),
        ]


def _fmt(counts: dict[str, int]) -> str:
    """`a 3, b 1`, or `nothing`."""
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing"


def summarize(wh: WarehouseConnection, run_id: str) -> RunSummary:
    """Count this run's writes, the open issues and the invoice tie-out."""
    summary = RunSummary(run_id=run_id)
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
    summary.invoice_tieout = {
        status: int(count)
        for status, count in wh.fetchall(
            "select status, count(*) from reconciliation.invoice_tieout group by status"
        )
    }
    return summary


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
    """Re-extract both sides, rebuild reconciliation.*, and record the run summary."""
    started = utcnow()
    extract_ops(settings, run_id)
    extract_qbo(settings)
    run_dbt(settings, ["build", "--select", "+path:models/marts/reconciliation"])
    with connect(settings.warehouse_url) as wh:
        ensure_state(wh)
        summary = summarize(wh, run_id)
        record_run(wh, summary, started, "tied_out" if summary.ties_out else "differences")
    for line in summary.lines():
        log.info(line)
    return summary
