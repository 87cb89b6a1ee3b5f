"""Step 2b: the raw contracts, checked on what the extracts merged, before dbt reads it.

A raw row that breaks its contract (`raw_ops.py`, `raw_qbo.py`) becomes an open
`raw_contract` issue on the record it belongs to (an operations invoice for a bad
invoice line, the QuickBooks object for a bad raw_qbo row), with every reason and what
to fix; the record is held back from both loaders this run, and the issue resolves on
the first run that finds the record whole. Each run reads only the rows extracted since
the previous check plus the rows of records still held. A table whose checked rows are
mostly broken fails the step, after every table is checked and the report written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fieldbooks.config import Settings
from fieldbooks.issues import Issue, raise_issue, resolve_unraised
from fieldbooks.quality.docs import DataDocs
from fieldbooks.quality.raw_ops import CONTRACT_TABLES, KIND
from fieldbooks.quality.raw_qbo import CONTRACT_ENTITIES
from fieldbooks.quality.runner import Failure, Rule, ValidationAborted, mostly_broken, run_suite
from fieldbooks.warehouse.connection import WarehouseConnection, connect
from fieldbooks.warehouse.merge import schema_types
from fieldbooks.warehouse.state import ensure_state, get_watermark, set_watermark

log = logging.getLogger(__name__)

# watermarks: per raw table, the newest `_extracted_at` the contract has checked
SOURCE = "raw_contract"
MAX_REASONS = 5


class Contract(Protocol):
    """One raw table under contract (`raw_ops.OpsTable`, `raw_qbo.QboTable`)."""

    @property
    def name(self) -> str: ...
    @property
    def suite(self) -> str: ...
    @property
    def stream(self) -> str: ...

    def rules(self) -> list[Rule]: ...
    def query(
        self, mark: datetime | None, realm_id: str, tables: set[str]
    ) -> tuple[str, tuple]: ...
    def frame(self, rows: list[dict[str, Any]]) -> Any: ...
    def held(self, row: dict[str, Any]) -> tuple[str, str | None, str | None]: ...


@dataclass(frozen=True)
class TableReport:
    """What one raw table's check read and held back."""

    suite: str
    checked: int
    held: int


@dataclass(frozen=True)
class Checked:
    """One table's check before anything is written: its failures and its new mark."""

    contract: Contract
    failures: list[Failure]
    checked: int
    newest: datetime | None


def check_table(
    wh: WarehouseConnection,
    contract: Contract,
    realm_id: str,
    tables: set[str],
    docs: DataDocs,
) -> Checked:
    """Run one table's suite over the rows extracted since its mark and the held ones."""
    value = get_watermark(wh, SOURCE, contract.stream, realm_id)
    mark = datetime.fromisoformat(value) if value else None
    sql, params = contract.query(mark, realm_id, tables)
    rows = wh.fetchdicts(sql, params)
    stamps = [r["_extracted_at"] for r in rows if r["_extracted_at"] is not None]
    newest = max([*stamps, *([mark] if mark else [])], default=None)
    # nothing to check costs no Great Expectations import
    failures = (
        run_suite(contract.suite, contract.frame(rows), "id", contract.rules(), docs)
        if rows
        else []
    )
    return Checked(contract, failures, len(rows), newest)


def _issues(checks: list[Checked], realm_id: str) -> list[Issue]:
    """One issue per held record, naming every rule its rows broke (the first few)."""
    grouped: dict[tuple[str, str | None, str | None], list[Failure]] = {}
    for check in checks:
        for failure in check.failures:
            grouped.setdefault(check.contract.held(failure.row), []).append(failure)
    issues = []
    for (entity, ops_id, qbo_id), failures in grouped.items():
        reasons = list(dict.fromkeys(f.reason for f in failures))
        if len(reasons) > MAX_REASONS:
            reasons = [*reasons[:MAX_REASONS], f"and {len(reasons) - MAX_REASONS} more"]
        hints = dict.fromkeys(f.rule.hint for f in failures)
        issues.append(
            Issue(
                realm_id=realm_id,
                entity=entity,
                ops_id=ops_id,
                qbo_id=qbo_id,
                kind=KIND,
                reason="; ".join(reasons),
                hint=" ".join(hints),
            )
        )
    return issues


def _record(
    wh: WarehouseConnection, checks: list[Checked], realm_id: str, run_id: str
) -> list[TableReport]:
    """Raise and resolve the issues and move each table's mark, in one transaction."""
    reports = []
    with wh.transaction():
        raised = {raise_issue(wh, issue, run_id) for issue in _issues(checks, realm_id)}
        resolved = resolve_unraised(wh, realm_id, KIND, raised, run_id)
        for check in checks:
            if check.newest is not None:
                set_watermark(wh, SOURCE, check.contract.stream, check.newest.isoformat(), realm_id)
            held = len({f.record_id for f in check.failures})
            reports.append(TableReport(check.contract.suite, check.checked, held))
            log.info("%s: %d checked, %d held back", check.contract.suite, check.checked, held)
    log.info("raw contracts: %d issue(s) open, %d resolved", len(raised), resolved)
    return reports


def validate_raw(settings: Settings, run_id: str) -> tuple[list[TableReport], str]:
    """Check every raw table under contract; returns the tables' reports and the report path.

    Raises ValidationAborted when a table's checked rows are mostly broken: its records
    are held as issues all the same, and the Data Docs report shows them.
    """
    realm = settings.qbo.realm_id
    docs = DataDocs(settings.home, run_id)
    with connect(settings.warehouse_url) as wh:
        ensure_state(wh)
        checks = []
        for schema, contracts in (("raw_ops", CONTRACT_TABLES), ("raw_qbo", CONTRACT_ENTITIES)):
            tables = set(schema_types(wh, schema))
            for contract in contracts:
                if contract.name in tables:
                    checks.append(check_table(wh, contract, realm, tables, docs))
        reports = _record(wh, checks, realm, run_id)
    path = str(docs.publish())
    broken = [r for r in reports if mostly_broken(r.checked, r.held)]
    if broken:
        raise ValidationAborted(
            "; ".join(f"{r.suite}: {r.held} of {r.checked} rows broke the contract" for r in broken)
            + ". The input looks broken, so nothing is transformed or written. Read the open "
            f"issues (fieldbooks issues list --kind {KIND}) and the report at {path}."
        )
    return reports, path
