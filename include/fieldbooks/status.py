"""The sync-status page: each company's figures read from its warehouse, and the page's HTML.

Importable without Airflow; plugins/fieldbooks_status.py serves it inside the Airflow UI. The
warehouse is opened read-only for the few milliseconds the queries take, and a DuckDB file a
sync is writing (DuckDB has one writer, and a reader's lock would stop it) is left alone: the
page shows the last figures it read, and says from when.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fieldbooks.config import Settings, load_settings
from fieldbooks.money import to_money
from fieldbooks.warehouse.connection import WarehouseConnection, parse_warehouse_url
from fieldbooks.warehouse.state import utcnow

log = logging.getLogger(__name__)

RETRY_DAG_ID = "fieldbooks_retry_issues"
OPEN_ISSUE_STATES = ("open", "retrying")
MAX_ISSUES_SHOWN = 500
RUNS_SHOWN = 10
AR_DAYS_CHARTED = 730
ISSUE_ID = re.compile(r"[0-9a-f]{16}")
KIND = re.compile(r"[a-z][a-z0-9_]{0,60}")
COMPANY_KEY = re.compile(r"[a-z0-9_]{1,40}")


class WarehouseBusy(RuntimeError):
    """A sync holds the warehouse (DuckDB's single writer); read again later."""


class WarehouseMissing(RuntimeError):
    """No warehouse yet: the first sync creates it."""


# ---------------------------------------------------------------------------- companies


@dataclass(frozen=True)
class CompanyRef:
    """What the page needs of a company: its key and settings."""

    key: str
    settings: Settings


def load_company_refs(env: dict[str, str] | None = None) -> list[CompanyRef]:
    """The configured companies (fieldbooks.companies), or the one `default` company."""
    try:
        from fieldbooks.companies import load_companies
    except ModuleNotFoundError as exc:
        if exc.name != "fieldbooks.companies":
            raise
        return [CompanyRef("default", load_settings(env))]
    return [CompanyRef(c.key, c.settings) for c in load_companies(env)]


# ---------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class EntityCounts:
    """One entity's records in the ledger, and those held back by an open issue."""

    entity: str
    synced: int = 0  # ledger state sent or confirmed: QuickBooks took the write
    pending: int = 0  # ledger state pending: the write's answer is not known yet
    failed: int = 0
    held: int = 0  # open or retrying issues


@dataclass(frozen=True)
class IssueRow:
    """An open issue as people read it."""

    issue_id: str
    entity: str
    ops_id: str | None
    qbo_id: str | None
    kind: str
    severity: str
    reason: str
    hint: str
    status: str
    attempts: int
    last_seen: datetime


@dataclass(frozen=True)
class RunRow:
    """One row of fieldbooks.sync_runs with the figures of its summary."""

    run_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    written_to_quickbooks: int | None = None
    written_to_ops: int | None = None
    failed_writes: int | None = None
    open_issues: int | None = None
    ar_difference: Decimal | None = None


@dataclass(frozen=True)
class TieoutLine:
    """One tie-out of reconciliation.tieout_summary: its records and sums."""

    name: str
    records: int
    matched: int  # tied: matched, within QuickBooks' tax rounding, or entered in QuickBooks
    differences: int
    ops_amount: Decimal | None = None
    qbo_amount: Decimal | None = None
    difference: Decimal | None = None


@dataclass(frozen=True)
class Reconciliation:
    """The reconciliation summary of the last dbt build."""

    is_tied_out: bool
    lines: list[TieoutLine]
    ar_last_date: date | None
    ar_ops_open_balance: Decimal
    ar_qbo_open_balance: Decimal
    ar_difference: Decimal


@dataclass(frozen=True)
class ArDay:
    """Accounts receivable at the end of one day, both sides (reconciliation.ar_by_day)."""

    as_of_date: date
    ops_open_balance: Decimal
    qbo_open_balance: Decimal
    difference: Decimal


@dataclass(frozen=True)
class CompanyStatus:
    """Everything the page shows of one company, as read at `read_at` (None: never read).

    state: `ok` (read now), `busy` (a sync holds the warehouse; the figures, if any, are
    the last ones read), `missing` (no warehouse yet) or `error` (message says why).
    """

    key: str
    realm_id: str
    warehouse: str
    state: str
    read_at: datetime | None = None
    message: str = ""
    entities: list[EntityCounts] = field(default_factory=list)
    issues: list[IssueRow] = field(default_factory=list)
    open_issue_count: int = 0
    issue_kinds: dict[str, int] = field(default_factory=dict)
    runs: list[RunRow] = field(default_factory=list)
    reconciliation: Reconciliation | None = None
    ar_days: list[ArDay] = field(default_factory=list)

    @property
    def has_figures(self) -> bool:
        """Whether any figures were ever read (now or before the warehouse got busy)."""
        return self.read_at is not None


def warehouse_label(url: str) -> str:
    """The warehouse's URL without a password, for the page."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


@contextmanager
def open_readonly(url: str) -> Iterator[WarehouseConnection]:
    """Open the warehouse read-only; raise WarehouseBusy when a sync holds a DuckDB file."""
    target = parse_warehouse_url(url)
    if target.kind == "duckdb":
        import duckdb

        assert target.path is not None
        if not target.path.exists():
            raise WarehouseMissing(f"no warehouse at {target.path} yet: the first sync creates it")
        try:
            raw = duckdb.connect(str(target.path), read_only=True)
        except duckdb.ConnectionException as exc:
            if "different configuration" not in str(exc):
                raise
            # this process has the file open already (the command line, or dbt in-process):
            # DuckDB allows one instance per process, so the queries share it
            raw = duckdb.connect(str(target.path))
        except duckdb.Error as exc:
            if "lock" in str(exc).lower():
                raise WarehouseBusy(str(exc)) from exc
            raise
    else:
        import psycopg

        # one read-only snapshot: every figure on the page from the same moment
        raw = psycopg.connect(
            target.dsn,
            connect_timeout=5,
            options="-c default_transaction_read_only=on -c statement_timeout=10000",
        )
        raw.execute("set transaction isolation level repeatable read")
    try:
        yield WarehouseConnection(target.kind, raw)
    finally:
        if target.kind != "duckdb":
            raw.rollback()
        raw.close()


def _int(value: Any) -> int:
    return int(value or 0)


def _money(value: Any) -> Decimal | None:
    return None if value is None else to_money(value)


def read_entities(wh: WarehouseConnection) -> list[EntityCounts]:
    """Records per entity: synced, pending, failed (the ledger) and held (open issues).

    `sent` counts as synced: QuickBooks answered the write with its id (the next extract
    reads it back and confirms it); `pending` is a write whose answer was lost, which the
    next run looks up by its marker before writing anything.
    """
    counts: dict[str, EntityCounts] = {}
    if wh.table_exists("fieldbooks", "sync_ledger"):
        for entity, synced, pending, failed in wh.fetchall(
            """select entity,
                 sum(case when state in ('sent', 'confirmed') then 1 else 0 end),
                 sum(case when state = 'pending' then 1 else 0 end),
                 sum(case when state = 'failed' then 1 else 0 end)
               from fieldbooks.sync_ledger group by entity"""
        ):
            counts[entity] = EntityCounts(entity, _int(synced), _int(pending), _int(failed))
    if wh.table_exists("fieldbooks", "sync_issues"):
        for entity, held in wh.fetchall(
            "select entity, count(*) from fieldbooks.sync_issues "
            "where status in ('open', 'retrying') group by entity"
        ):
            counts[entity] = replace(counts.get(entity, EntityCounts(entity)), held=_int(held))
    return [counts[name] for name in sorted(counts)]


def read_issues(wh: WarehouseConnection) -> tuple[list[IssueRow], int, dict[str, int]]:
    """Open issues (the first MAX_ISSUES_SHOWN, by kind then newest), their count, per kind."""
    if not wh.table_exists("fieldbooks", "sync_issues"):
        return [], 0, {}
    kinds = {
        kind: _int(count)
        for kind, count in wh.fetchall(
            "select kind, count(*) from fieldbooks.sync_issues "
            "where status in ('open', 'retrying') group by kind order by kind"
        )
    }
    rows = wh.fetchdicts(
        f"""select issue_id, entity, ops_id, qbo_id, kind, severity, reason, hint, status,
                  attempts, last_seen
           from fieldbooks.sync_issues where status in ('open', 'retrying')
           order by kind, last_seen desc, issue_id limit {MAX_ISSUES_SHOWN}"""
    )
    return [IssueRow(**row) for row in rows], sum(kinds.values()), kinds


def _summary_total(summary: dict, name: str) -> int | None:
    value = summary.get(name)
    if isinstance(value, dict):
        return sum(int(v) for v in value.values())
    return None if value is None else int(value)


def read_runs(wh: WarehouseConnection, limit: int = RUNS_SHOWN) -> list[RunRow]:
    """The last runs, newest first, with the figures of their summaries."""
    if not wh.table_exists("fieldbooks", "sync_runs"):
        return []
    runs = []
    for row in wh.fetchdicts(
        "select run_id, started_at, finished_at, status, summary from fieldbooks.sync_runs "
        f"order by started_at desc, run_id limit {int(limit)}"
    ):
        try:
            summary = json.loads(row["summary"] or "{}", parse_float=Decimal)
        except ValueError:
            summary = {}
        runs.append(
            RunRow(
                run_id=row["run_id"],
                started_at=row["started_at"],
                finished_at=row["finished_at"],
                status=row["status"],
                written_to_quickbooks=_summary_total(summary, "written_to_quickbooks"),
                written_to_ops=_summary_total(summary, "written_to_ops"),
                failed_writes=_summary_total(summary, "failed_writes"),
                open_issues=_summary_total(summary, "open_issues"),
                ar_difference=_money(summary.get("ar_difference")),
            )
        )
    return runs


# (name, record column, tied count columns, ops sum, QuickBooks sum, difference)
_TIEOUTS = (
    (
        "invoices",
        "record_count",
        ("matched_count", "matched_rounding_count"),
        "ops_total",
        "qbo_total",
        "total_difference",
    ),
    (
        "payments",
        "payment_record_count",
        ("payment_matched_count",),
        "payment_ops_amount",
        "payment_qbo_amount",
        "payment_amount_difference",
    ),
    ("customers", "customer_record_count", ("customer_matched_count",), None, None, None),
    (
        "expenses",
        "expense_record_count",
        ("expense_matched_count", "expense_entered_in_quickbooks_count"),
        "expense_ops_amount",
        "expense_qbo_amount",
        "expense_amount_difference",
    ),
    (
        "sales tax periods",
        "sales_tax_period_count",
        ("sales_tax_matched_count", "sales_tax_matched_rounding_count"),
        "sales_tax_ops_tax",
        "sales_tax_qbo_tax",
        "sales_tax_difference",
    ),
)


def read_reconciliation(wh: WarehouseConnection) -> Reconciliation | None:
    """reconciliation.tieout_summary as tie-out lines (None before the first build)."""
    if not wh.table_exists("reconciliation", "tieout_summary"):
        return None
    rows = wh.fetchdicts("select * from reconciliation.tieout_summary")
    if not rows:
        return None
    row = rows[0]
    lines = []
    for name, records, tied, ops_sum, qbo_sum, diff in _TIEOUTS:
        matched = sum(_int(row.get(c)) for c in tied)
        lines.append(
            TieoutLine(
                name=name,
                records=_int(row.get(records)),
                matched=matched,
                differences=_int(row.get(records)) - matched,
                ops_amount=_money(row.get(ops_sum)) if ops_sum else None,
                qbo_amount=_money(row.get(qbo_sum)) if qbo_sum else None,
                difference=_money(row.get(diff)) if diff else None,
            )
        )
    return Reconciliation(
        is_tied_out=bool(row["is_tied_out"]),
        lines=lines,
        ar_last_date=row.get("ar_last_date"),
        ar_ops_open_balance=to_money(row["ar_ops_open_balance"]),
        ar_qbo_open_balance=to_money(row["ar_qbo_open_balance"]),
        ar_difference=to_money(row["ar_difference"]),
    )


def read_ar_days(wh: WarehouseConnection, limit: int = AR_DAYS_CHARTED) -> list[ArDay]:
    """The last `limit` days of reconciliation.ar_by_day, oldest first."""
    if not wh.table_exists("reconciliation", "ar_by_day"):
        return []
    rows = wh.fetchall(
        "select as_of_date, ops_open_balance, qbo_open_balance, difference "
        f"from reconciliation.ar_by_day order by as_of_date desc limit {int(limit)}"
    )
    return [ArDay(d, to_money(o), to_money(q), to_money(x)) for d, o, q, x in reversed(rows)]


def read_company_status(key: str, settings: Settings) -> CompanyStatus:
    """Read one company's figures now (raises WarehouseBusy or WarehouseMissing)."""
    with open_readonly(settings.warehouse_url) as wh:
        issues, open_count, kinds = read_issues(wh)
        return CompanyStatus(
            key=key,
            realm_id=settings.qbo.realm_id,
            warehouse=warehouse_label(settings.warehouse_url),
            state="ok",
            read_at=utcnow(),
            entities=read_entities(wh),
            issues=issues,
            open_issue_count=open_count,
            issue_kinds=kinds,
            runs=read_runs(wh),
            reconciliation=read_reconciliation(wh),
            ar_days=read_ar_days(wh),
        )


class StatusCache:
    """The last figures read per company: reread after `max_age_seconds`, and shown (with
    their time) while a sync holds the warehouse, so a page view never waits on a sync and
    a reader's lock is taken at most once per `max_age_seconds`."""

    def __init__(self, max_age_seconds: float | None = None) -> None:
        if max_age_seconds is None:
            max_age_seconds = float(os.environ.get("FIELDBOOKS_STATUS_CACHE_SECONDS", "15"))
        self.max_age_seconds = max_age_seconds
        self._last: dict[str, CompanyStatus] = {}
        self._lock = threading.Lock()

    def status(self, company: CompanyRef, refresh: bool = False) -> CompanyStatus:
        """The company's figures: cached when fresh, else read now, else the last ones."""
        with self._lock:
            last = self._last.get(company.key)
        if (
            not refresh
            and last is not None
            and last.state == "ok"
            and last.read_at is not None
            and (utcnow() - last.read_at).total_seconds() < self.max_age_seconds
        ):
            return last
        base = CompanyStatus(
            key=company.key,
            realm_id=company.settings.qbo.realm_id,
            warehouse=warehouse_label(company.settings.warehouse_url),
            state="error",
        )
        try:
            current = read_company_status(company.key, company.settings)
        except WarehouseBusy:
            if last is not None and last.has_figures:
                return replace(
                    last, state="busy", message="a sync is writing the warehouse right now"
                )
            return replace(
                base,
                state="busy",
                message="a sync is writing the warehouse right now; no figures read yet",
            )
        except WarehouseMissing as exc:
            return replace(base, state="missing", message=str(exc))
        except Exception as exc:  # the page must render whatever one warehouse does
            log.exception("status of company %s", company.key)
            if last is not None and last.has_figures:
                return replace(last, state="error", message=f"{type(exc).__name__}: {exc}")
            return replace(base, message=f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._last[company.key] = current
        return current


# ---------------------------------------------------------------------------- retry


def retry_conf(
    company: str, issue_ids: list[str] | None = None, kinds: list[str] | None = None
) -> dict:
    """The conf of a fieldbooks_retry_issues run for some issues, or every issue of some
    kinds, of one company; refuses anything that is not an issue id or a kind."""
    if not COMPANY_KEY.fullmatch(company):
        raise ValueError(f"not a company key: {company!r}")
    issue_ids = list(issue_ids or [])
    kinds = list(kinds or [])
    if not issue_ids and not kinds:
        raise ValueError("name at least one issue or one kind to retry")
    for issue_id in issue_ids:
        if not ISSUE_ID.fullmatch(issue_id):
            raise ValueError(f"not an issue id: {issue_id!r}")
    for kind in kinds:
        if not KIND.fullmatch(kind):
            raise ValueError(f"not an issue kind: {kind!r}")
    conf: dict[str, Any] = {"companies": [company]}
    if issue_ids:
        conf["issue_ids"] = issue_ids
    if kinds:
        conf["kinds"] = kinds
    return conf


def csrf_token(secret: str, session: str) -> str:
    """The form token bound to the caller's session (its Airflow token cookie): a page of
    another site cannot know it, so it cannot post a Retry on the caller's behalf."""
    return hmac.new(
        secret.encode(), b"fieldbooks-status|" + session.encode(), hashlib.sha256
    ).hexdigest()


def csrf_ok(secret: str, session: str, token: str) -> bool:
    """Whether a posted form token belongs to this session."""
    return hmac.compare_digest(csrf_token(secret, session), token or "")


# ---------------------------------------------------------------------------- HTML


def fmt_money(value: Decimal | None) -> str:
    """`1,234.50`, `-0.01`, or an em dash for no figure; exact to the cent."""
    if value is None:
        return "—"
    return f"{to_money(value):,.2f}"


def _ts(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def ar_chart_svg(days: list[ArDay], width: int = 760, height: int = 240) -> str:
    """An inline SVG line of the accounts-receivable difference (ops minus QuickBooks) per day."""
    if not days:
        return '<p class="muted">No accounts-receivable days yet (ar_by_day is empty).</p>'
    left, right, top, bottom = 90, 16, 16, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [d.difference for d in days]
    low, high = min(min(values), Decimal(0)), max(max(values), Decimal(0))
    if low == high:
        low, high = low - 1, high + 1
    span = high - low

    def y(v: Decimal) -> float:
        return top + float((high - v) / span) * plot_h

    def x(i: int) -> float:
        return left + (plot_w * i / (len(days) - 1) if len(days) > 1 else plot_w / 2)

    points = " ".join(f"{x(i):.1f},{y(d.difference):.1f}" for i, d in enumerate(days))
    last = days[-1]
    zero = y(Decimal(0))
    parts = [
        f'<svg id="ar-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" data-days="{len(days)}" '
        f'aria-label="Accounts receivable difference, operations minus QuickBooks, '
        f'{_e(days[0].as_of_date)} to {_e(last.as_of_date)}">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ddd"/>',
        f'<line x1="{left}" x2="{left + plot_w}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#999" '
        'stroke-dasharray="4 3"/>',
        f'<text x="{left - 6}" y="{zero + 4:.1f}" text-anchor="end" class="axis">0.00</text>',
        *(
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" class="axis">'
            f"{fmt_money(v)}</text>"
            for v in (high, low)
            if v != 0
        ),
        f'<text x="{left}" y="{height - 10}" class="axis">{_e(days[0].as_of_date)}</text>',
        f'<text x="{left + plot_w}" y="{height - 10}" text-anchor="end" class="axis">'
        f"{_e(last.as_of_date)}</text>",
        f'<polyline fill="none" stroke="#c0392b" stroke-width="1.5" points="{points}"/>',
        f'<circle cx="{x(len(days) - 1):.1f}" cy="{y(last.difference):.1f}" r="3" fill="#c0392b">'
        f"<title>{_e(last.as_of_date)}: {fmt_money(last.difference)}</title></circle>",
        "</svg>",
    ]
    return "".join(parts)


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px;color:#222}
h1{font-size:20px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 6px;border-bottom:2px solid #ddd}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:4px 0 8px} td,th{border:1px solid #ddd;padding:3px 8px;vertical-align:top}
th{background:#f3f3f3;text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#777} .ok{color:#1e7e34} .bad{color:#b02a37}
.note{padding:6px 10px;border-radius:4px;margin:6px 0}
.note.busy{background:#fff3cd} .note.error{background:#f8d7da} .note.done{background:#d1e7dd}
form.inline{display:inline;margin:0} button{cursor:pointer}
.axis{font-size:11px;fill:#555}
"""


def _notice_html(notice: dict[str, str] | None) -> str:
    if not notice:
        return ""
    if notice.get("run_id"):
        run_id = notice["run_id"]
        link = f"../../dags/{quote(RETRY_DAG_ID)}/runs/{quote(run_id, safe='')}"
        return (
            f'<p class="note done" id="retry-started">Retry started: run '
            f'<a target="_top" href="{_e(link)}"><code id="retry-run-id">{_e(run_id)}</code></a> '
            f"of {RETRY_DAG_ID} for company {_e(notice.get('company', ''))}.</p>"
        )
    return f'<p class="note error" id="retry-error">{_e(notice.get("error", ""))}</p>'


def _retry_form(company: str, csrf: str, label: str, *, issue_id: str = "", kind: str = "") -> str:
    hidden = f'<input type="hidden" name="company" value="{_e(company)}">'
    hidden += f'<input type="hidden" name="csrf" value="{_e(csrf)}">'
    if issue_id:
        hidden += f'<input type="hidden" name="issue_id" value="{_e(issue_id)}">'
        test_id = f"retry-{issue_id}"
    else:
        hidden += f'<input type="hidden" name="kind" value="{_e(kind)}">'
        test_id = f"retry-kind-{company}-{kind}"
    return (
        f'<form class="inline" method="post" action="retry">{hidden}'
        f'<button type="submit" data-testid="{_e(test_id)}">{_e(label)}</button></form>'
    )


def _company_html(status: CompanyStatus, csrf: str) -> str:
    key = status.key
    out = [
        f'<section class="company" id="company-{_e(key)}" data-company="{_e(key)}" '
        f'data-state="{_e(status.state)}">',
        f"<h2>Company {_e(key)} <span class='muted'>realm {_e(status.realm_id)}</span></h2>",
        f'<p class="muted">Warehouse {_e(status.warehouse)}. Figures from '
        f'<span class="read-at">{_ts(status.read_at)}</span>.</p>',
    ]
    if status.state == "busy":
        out.append(
            f'<p class="note busy">The warehouse is busy: {_e(status.message)}. '
            + (
                f"These figures are from {_ts(status.read_at)}; reload in a minute."
                if status.has_figures
                else "Reload in a minute."
            )
            + "</p>"
        )
    elif status.state in ("error", "missing"):
        out.append(f'<p class="note error">{_e(status.message)}</p>')
    if not status.has_figures:
        out.append("</section>")
        return "".join(out)

    out.append("<h3>Records</h3>")
    if status.entities:
        out.append(
            '<table class="entities"><tr><th>entity</th><th>synced</th><th>pending</th>'
            "<th>failed</th><th>held back (open issues)</th></tr>"
        )
        for e in status.entities:
            out.append(
                f'<tr data-entity="{_e(e.entity)}"><td>{_e(e.entity)}</td>'
                f'<td class="n synced">{e.synced:,}</td><td class="n pending">{e.pending:,}</td>'
                f'<td class="n failed">{e.failed:,}</td><td class="n held">{e.held:,}</td></tr>'
            )
        out.append("</table>")
    else:
        out.append('<p class="muted">Nothing synced yet.</p>')

    out.append(
        f'<h3>Open issues <span class="open-issue-count">{status.open_issue_count:,}</span></h3>'
    )
    if status.issue_kinds:
        out.append('<table class="kinds"><tr><th>kind</th><th>open</th><th></th></tr>')
        for kind, count in status.issue_kinds.items():
            out.append(
                f'<tr data-kind="{_e(kind)}"><td>{_e(kind)}</td><td class="n">{count:,}</td>'
                f"<td>{_retry_form(key, csrf, f'Retry all {kind}', kind=kind)}</td></tr>"
            )
        out.append("</table>")
        out.append(
            '<table class="issues"><tr><th>issue</th><th>entity</th><th>record</th><th>kind</th>'
            "<th>reason</th><th>hint</th><th>attempts</th><th>last seen</th><th></th></tr>"
        )
        for i in status.issues:
            record = i.ops_id if i.ops_id is not None else f"QuickBooks {i.qbo_id}"
            out.append(
                f'<tr data-issue-id="{_e(i.issue_id)}"><td><code>{_e(i.issue_id)}</code></td>'
                f"<td>{_e(i.entity)}</td><td>{_e(record)}</td><td>{_e(i.kind)}</td>"
                f'<td class="reason">{_e(i.reason)}</td><td class="hint">{_e(i.hint)}</td>'
                f'<td class="n">{i.attempts}</td><td>{_ts(i.last_seen)}'
                + (" <em>(retrying)</em>" if i.status == "retrying" else "")
                + f"</td><td>{_retry_form(key, csrf, 'Retry', issue_id=i.issue_id)}</td></tr>"
            )
        out.append("</table>")
        if status.open_issue_count > len(status.issues):
            out.append(
                f'<p class="muted">{status.open_issue_count - len(status.issues):,} more not '
                "shown; `fieldbooks issues list` lists them all.</p>"
            )
    else:
        out.append('<p class="ok">No open issues.</p>')

    out.append("<h3>Last runs</h3>")
    if status.runs:
        out.append(
            '<table class="runs"><tr><th>run</th><th>started</th><th>finished</th><th>status</th>'
            "<th>written to QuickBooks</th><th>written to operations</th><th>failed writes</th>"
            "<th>open issues</th><th>AR difference</th></tr>"
        )
        for r in status.runs:
            css = "ok" if r.status == "tied_out" else "bad"
            out.append(
                f'<tr data-run-id="{_e(r.run_id)}"><td><code>{_e(r.run_id)}</code></td>'
                f"<td>{_ts(r.started_at)}</td><td>{_ts(r.finished_at)}</td>"
                f'<td class="{css}">{_e(r.status)}</td>'
                f'<td class="n">{_num(r.written_to_quickbooks)}</td>'
                f'<td class="n">{_num(r.written_to_ops)}</td><td class="n">{_num(r.failed_writes)}</td>'
                f'<td class="n">{_num(r.open_issues)}</td>'
                f'<td class="n">{fmt_money(r.ar_difference)}</td></tr>'
            )
        out.append("</table>")
    else:
        out.append('<p class="muted">No runs recorded yet.</p>')

    out.append("<h3>Reconciliation</h3>")
    rec = status.reconciliation
    if rec is None:
        out.append('<p class="muted">The reconciliation summary is not built yet.</p>')
    else:
        verdict = (
            '<strong class="ok">the books tie out</strong>'
            if rec.is_tied_out
            else '<strong class="bad">the books do not tie out</strong>'
        )
        out.append(f'<p class="verdict">Last build: {verdict}.</p>')
        out.append(
            '<table class="tieout"><tr><th>tie-out</th><th>records</th><th>tied</th>'
            "<th>differences</th><th>operations</th><th>QuickBooks</th>"
            "<th>difference (ops − QuickBooks)</th></tr>"
        )
        for line in rec.lines:
            out.append(
                f'<tr data-tieout="{_e(line.name)}"><td>{_e(line.name)}</td>'
                f'<td class="n records">{line.records:,}</td><td class="n tied">{line.matched:,}</td>'
                f'<td class="n differences">{line.differences:,}</td>'
                f'<td class="n ops">{fmt_money(line.ops_amount)}</td>'
                f'<td class="n qbo">{fmt_money(line.qbo_amount)}</td>'
                f'<td class="n difference">{fmt_money(line.difference)}</td></tr>'
            )
        out.append(
            f'<tr data-tieout="accounts receivable"><td>accounts receivable on '
            f"{_e(rec.ar_last_date or '—')}</td><td></td><td></td><td></td>"
            f'<td class="n ops">{fmt_money(rec.ar_ops_open_balance)}</td>'
            f'<td class="n qbo">{fmt_money(rec.ar_qbo_open_balance)}</td>'
            f'<td class="n difference">{fmt_money(rec.ar_difference)}</td></tr></table>'
        )
    out.append("<h3>Accounts receivable difference over time (operations − QuickBooks)</h3>")
    out.append(ar_chart_svg(status.ar_days))
    out.append("</section>")
    return "".join(out)


def render_page(
    statuses: list[CompanyStatus], csrf: str, notice: dict[str, str] | None = None
) -> str:
    """The whole page: a section per company; forms post to `retry` beside the page."""
    body = "".join(_company_html(s, csrf) for s in statuses)
    if not statuses:
        body = '<p class="muted">No companies configured.</p>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>fieldbooks sync status</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>fieldbooks sync status</h1>"
        f'<p class="muted">Page rendered {_ts(utcnow())}. '
        '<a href="./">Reload</a></p>'
        f"{_notice_html(notice)}{body}</body></html>"
    )
