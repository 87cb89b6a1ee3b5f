"""The issue queue from the command line: list, dismiss (audited), retry."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select, update

from fieldbooks import pipeline
from fieldbooks.cli import main
from fieldbooks.config import load_settings
from fieldbooks.ops import schema
from fieldbooks.ops.seed import seed_demo
from fieldbooks.warehouse.connection import connect
from fieldbooks.warehouse.state import utcnow
from tests.conftest import settings_env


@pytest.fixture
def settings(sandbox, tmp_path, monkeypatch):
    env = settings_env(tmp_path, sandbox)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s = load_settings(env)
    seed_demo(s.ops_url, customers=8, invoices=12)
    # Two invoices whose numbers QuickBooks cannot take (more than 21 characters).
    engine = create_engine(s.ops_url)
    with engine.begin() as conn:
        for invoice_id in (3, 4):
            conn.execute(
                update(schema.invoices)
                .where(schema.invoices.c.id == invoice_id)
                .values(invoice_number=f"FB-{invoice_id}-" + "X" * 25, updated_at=utcnow())
            )
    engine.dispose()
    pipeline.sync(s, "run-1")
    return s


def _issues(settings) -> dict[str, tuple[str, str]]:
    with connect(settings.warehouse_url) as wh:
        rows = wh.fetchall(
            "select issue_id, ops_id, status from fieldbooks.sync_issues where entity = 'invoice'"
        )
    return {r[0]: (r[1], r[2]) for r in rows}


def test_list_shows_reason_and_hint(settings, capsys):
    assert main(["issues", "list", "--kind", "validation_failed"]) == 0
    out = capsys.readouterr().out
    assert "2 issue(s)" in out
    assert "longer than QuickBooks' 21 characters" in out
    assert "hint:   Shorten the invoice number in operations." in out


def test_dismiss_is_audited_and_keeps_the_issue_dismissed_on_later_runs(settings, capsys):
    issue_id = next(iter(_issues(settings)))
    assert main(["issues", "dismiss", issue_id, "--reason", "void in operations next week"]) == 0
    pipeline.sync(settings, "run-2")
    assert _issues(settings)[issue_id][1] == "dismissed"
    with connect(settings.warehouse_url) as wh:
        audit = wh.fetchall(
            "select operation, detail from fieldbooks.sync_events where direction = 'issue_queue'"
        )
    assert audit == [("dismiss", f"{issue_id} (validation_failed): void in operations next week")]
    assert main(["issues", "dismiss", "nope", "--reason", "x"]) == 1


def test_retry_after_the_cause_is_fixed_resolves_the_issue(settings, capsys):
    engine = create_engine(settings.ops_url)
    with engine.begin() as conn:
        conn.execute(
            update(schema.invoices)
            .where(schema.invoices.c.id == 3)
            .values(invoice_number="FB-3-FIXED", updated_at=utcnow())
        )
    engine.dispose()
    assert main(["issues", "retry", "--all-retryable"]) == 0
    statuses = {ops_id: status for ops_id, status in _issues(settings).values()}
    assert statuses == {"3": "resolved", "4": "open"}
    # Each held invoice, and every payment waiting for one of them.
    assert (
        f"{2 + _payments_of(settings, 3, 4)} issue(s) marked for retry" in capsys.readouterr().out
    )


def _payments_of(settings, *invoice_ids: int) -> int:
    """How many operations payments apply to any of these invoices."""
    apps = schema.payment_applications
    engine = create_engine(settings.ops_url)
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count(func.distinct(apps.c.payment_id))).where(
                apps.c.invoice_id.in_(invoice_ids)
            )
        ).scalar_one()
    engine.dispose()
    return count
