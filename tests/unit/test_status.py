"""The sync-status page's figures and HTML (fieldbooks.status) against a real DuckDB warehouse.

The warehouse is the one a real sync leaves: the demo operations DB with two invoices whose
numbers QuickBooks refuses (held as validation_failed issues, so accounts receivable differ),
synced into the QuickBooks sandbox over loopback by fieldbooks.pipeline.sync. The sandbox is
the one service these tests use; every figure is checked against the warehouse's own rows.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, update

from fieldbooks.config import load_settings
from fieldbooks.ops import schema
from fieldbooks.ops.seed import seed_demo
from fieldbooks.status import (
    ArDay,
    CompanyRef,
    StatusCache,
    ar_chart_svg,
    csrf_ok,
    csrf_token,
    fmt_money,
    load_company_refs,
    read_company_status,
    render_page,
    retry_conf,
)
from fieldbooks.warehouse.connection import connect
from fieldbooks.warehouse.state import utcnow
from tests.conftest import settings_env

HELD_INVOICES = (3, 4)
SYNC = (
    "from fieldbooks import pipeline; from fieldbooks.config import load_settings; "
    "pipeline.sync(load_settings(), 'run-1')"
)


def synced_company(home: Path) -> dict[str, str]:
    """Seed a demo operations DB under `home` (two invoices QuickBooks refuses) and sync it
    into the QuickBooks sandbox; returns the company's settings environment."""
    from qbo_sandbox.testing import running_sandbox

    home.mkdir(parents=True, exist_ok=True)
    with running_sandbox(home / "qbo_sandbox.sqlite", demo=True) as sandbox:
        env = settings_env(home, sandbox)
        settings = load_settings(env)
        seed_demo(settings.ops_url, customers=8, invoices=12)
        engine = create_engine(settings.ops_url)
        with engine.begin() as conn:
            for invoice_id in HELD_INVOICES:  # longer than QuickBooks' 21 characters
                conn.execute(
                    update(schema.invoices)
                    .where(schema.invoices.c.id == invoice_id)
                    .values(invoice_number=f"FB-{invoice_id}-" + "X" * 25, updated_at=utcnow())
                )
        engine.dispose()
        # in a process of its own, as an Airflow task runs it: dbt-duckdb keeps the file
        # open in the process that ran it, which would hide the locking tested here
        done = subprocess.run(
            [sys.executable, "-c", SYNC],
            env={**os.environ, **env, "OAUTHLIB_INSECURE_TRANSPORT": "1"},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return env


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> CompanyRef:
    """One company whose warehouse a real sync wrote, with two invoices held back."""
    env = synced_company(tmp_path_factory.mktemp("status_home"))
    return CompanyRef("default", load_settings(env))


def _warehouse(company: CompanyRef, sql: str) -> list[tuple]:
    with connect(company.settings.warehouse_url) as wh:
        return wh.fetchall(sql)


def test_figures_are_the_warehouses(company):
    status = read_company_status(company.key, company.settings)
    assert status.state == "ok" and status.read_at is not None

    by_state = _warehouse(
        company, "select entity, state, count(*) from fieldbooks.sync_ledger group by 1, 2"
    )
    for e in status.entities:
        counts = {state: n for entity, state, n in by_state if entity == e.entity}
        assert e.synced == counts.get("confirmed", 0) + counts.get("sent", 0)
        assert e.pending == counts.get("pending", 0)
        assert e.failed == counts.get("failed", 0)
    assert sum(e.synced for e in status.entities) > 0
    invoices = next(e for e in status.entities if e.entity == "invoice")
    assert invoices.held == len(HELD_INVOICES)

    open_issues = _warehouse(
        company,
        "select issue_id, kind, reason, hint from fieldbooks.sync_issues "
        "where status in ('open', 'retrying')",
    )
    assert status.open_issue_count == len(open_issues) >= len(HELD_INVOICES)
    assert {(i.issue_id, i.kind, i.reason, i.hint) for i in status.issues} == set(open_issues)
    assert status.issue_kinds["validation_failed"] == len(HELD_INVOICES)

    assert [r.run_id for r in status.runs] == ["run-1"]

    (summary,) = _warehouse(
        company,
        "select ar_difference, ar_ops_open_balance, ar_qbo_open_balance, is_tied_out, "
        "record_count, total_difference from reconciliation.tieout_summary",
    )
    rec = status.reconciliation
    assert rec is not None
    assert (rec.ar_difference, rec.ar_ops_open_balance, rec.ar_qbo_open_balance) == summary[:3]
    assert rec.ar_difference != 0  # the held invoices are open in operations only
    assert rec.is_tied_out is summary[3] is False
    invoice_line = rec.lines[0]
    assert (invoice_line.name, invoice_line.records, invoice_line.difference) == (
        "invoices",
        summary[4],
        summary[5],
    )
    assert status.runs[0].ar_difference == rec.ar_difference

    days = _warehouse(
        company, "select as_of_date, difference from reconciliation.ar_by_day order by 1"
    )
    assert [(d.as_of_date, d.difference) for d in status.ar_days] == days[-len(status.ar_days) :]


def test_page_shows_issues_with_reason_hint_and_a_retry_form_each(company):
    status = read_company_status(company.key, company.settings)
    token = csrf_token("secret", "admin")
    page = render_page([status], token)
    for issue in status.issues:
        row = re.search(rf'<tr data-issue-id="{issue.issue_id}">.*?</tr>', page, re.S)
        assert row, issue.issue_id
        assert "longer than QuickBooks&#x27; 21 characters" in row.group(0) or issue.kind != (
            "validation_failed"
        )
        assert f'name="issue_id" value="{issue.issue_id}"' in row.group(0)
        assert f'name="csrf" value="{token}"' in row.group(0)
    assert 'data-testid="retry-kind-default-validation_failed"' in page
    assert page.count('method="post" action="retry"') == len(status.issues) + len(
        status.issue_kinds
    )
    ar = fmt_money(status.reconciliation.ar_difference)
    assert f'<td class="n difference">{ar}</td></tr></table>' in page
    assert f'data-days="{len(status.ar_days)}"' in page


def test_money_is_shown_exactly_to_the_cent():
    assert fmt_money(Decimal("1234.5")) == "1,234.50"
    assert fmt_money(Decimal("-0.01")) == "-0.01"
    assert fmt_money(Decimal("1000000.005")) == "1,000,000.01"  # half up, as QuickBooks
    assert fmt_money(None) == "—"
    with pytest.raises(TypeError):
        fmt_money(0.1)  # type: ignore[arg-type]


def test_chart_draws_every_day_and_labels_the_last_difference():
    from datetime import date, timedelta

    days = [
        ArDay(date(2026, 1, 1) + timedelta(days=i), Decimal(i), Decimal(0), Decimal(i) - 2)
        for i in range(5)
    ]
    svg = ar_chart_svg(days)
    points = re.search(r'<polyline[^>]* points="([^"]+)"', svg).group(1).split()
    assert len(points) == 5
    assert "<title>2026-01-05: 2.00</title>" in svg
    assert ">-2.00</text>" in svg and ">0.00</text>" in svg
    assert "No accounts-receivable days" in ar_chart_svg([])


def _hold_write_lock(path: Path) -> subprocess.Popen:
    """Another process holding the DuckDB file for writing, as a sync does."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "ready"
    return holder


def test_a_busy_warehouse_shows_the_last_figures_with_their_time(company):
    cache = StatusCache(max_age_seconds=0)
    first = cache.status(company)
    assert first.state == "ok"
    path = Path(company.settings.warehouse_url.split("://", 1)[1])
    holder = _hold_write_lock(path)
    try:
        busy = cache.status(company)
        never_read = StatusCache(max_age_seconds=0).status(company)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert busy.state == "busy" and busy.read_at == first.read_at
    assert busy.open_issue_count == first.open_issue_count
    page = render_page([busy], "t")
    assert "The warehouse is busy" in page
    assert f"These figures are from {first.read_at:%Y-%m-%d %H:%M:%S} UTC" in page
    assert never_read.state == "busy" and not never_read.has_figures
    assert "Reload in a minute" in render_page([never_read], "t")
    # the page's reader left nothing behind: a sync can open the file for writing again
    with connect(company.settings.warehouse_url) as wh:
        assert wh.scalar("select count(*) from fieldbooks.sync_runs") == 1


def test_no_warehouse_yet_is_said_not_raised(tmp_path):
    settings = load_settings({"FIELDBOOKS_HOME": str(tmp_path)})
    status = StatusCache().status(CompanyRef("acme", settings))
    assert status.state == "missing" and "first sync creates it" in status.message
    assert "first sync creates it" in render_page([status], "t")


def test_without_a_companies_file_there_is_one_company_default(tmp_path):
    (ref,) = load_company_refs({"FIELDBOOKS_HOME": str(tmp_path)})
    assert ref.key == "default"
    assert ref.settings.warehouse_url == f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


def test_retry_conf_has_the_contracts_shape_and_refuses_anything_else():
    assert retry_conf("acme", ["0123456789abcdef"]) == {
        "companies": ["acme"],
        "issue_ids": ["0123456789abcdef"],
    }
    assert retry_conf("acme", kinds=["validation_failed"]) == {
        "companies": ["acme"],
        "kinds": ["validation_failed"],
    }
    for bad in (
        ("Acme!", ["0123456789abcdef"], None),
        ("acme", ["x' or 1=1"], None),
        ("acme", [], []),
    ):
        with pytest.raises(ValueError):
            retry_conf(*bad)


def test_the_form_token_belongs_to_one_user_and_one_secret():
    token = csrf_token("s1", "admin")
    assert csrf_ok("s1", "admin", token)
    assert not csrf_ok("s1", "mallory", token)
    assert not csrf_ok("s2", "admin", token)
    assert not csrf_ok("s1", "admin", "")


def test_a_postgres_warehouse_is_read_in_one_read_only_snapshot(make_pg_database, tmp_path):
    from fieldbooks.issues import Issue, raise_issue
    from fieldbooks.ledger import Entry, upsert_entries
    from fieldbooks.status import open_readonly
    from fieldbooks.warehouse.state import ensure_state

    url = make_pg_database("fb_status")
    with connect(url) as wh:
        ensure_state(wh)
        upsert_entries(
            wh,
            [
                Entry("r1", "invoice", "1", "confirmed", qbo_id="11"),
                Entry("r1", "invoice", "2", "sent", qbo_id="12"),
                Entry("r1", "invoice", "3", "pending"),
                Entry("r1", "customer", "1", "failed"),
            ],
        )
        raise_issue(
            wh, Issue("r1", "invoice", "4", "validation_failed", "too long", "shorten"), "r"
        )
    settings = load_settings({"FIELDBOOKS_HOME": str(tmp_path), "FIELDBOOKS_WAREHOUSE_URL": url})
    status = read_company_status("default", settings)
    assert [(e.entity, e.synced, e.pending, e.failed, e.held) for e in status.entities] == [
        ("customer", 0, 0, 1, 0),
        ("invoice", 2, 1, 0, 1),
    ]
    assert status.reconciliation is None and status.ar_days == [] and status.runs == []
    with open_readonly(url) as wh, pytest.raises(Exception, match="read-only"):
        wh.execute("delete from fieldbooks.sync_ledger")
