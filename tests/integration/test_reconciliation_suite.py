"""The reconciliation suite after the load: a difference nothing else explains becomes an
issue naming both sides' figures, and resolves itself once the books agree again."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from sqlalchemy import create_engine, update

from fieldbooks import pipeline
from fieldbooks.config import load_settings
from fieldbooks.ops import schema
from fieldbooks.ops.seed import seed_demo
from fieldbooks.warehouse.connection import connect
from fieldbooks.warehouse.state import utcnow
from tests.conftest import settings_env


@pytest.fixture
def settings(sandbox, tmp_path):
    s = load_settings(settings_env(tmp_path, sandbox))
    seed_demo(s.ops_url, customers=8, invoices=16)
    return s


def _act(sandbox, action: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{sandbox.admin_url}/realms/{sandbox.realm_id}/actions/{action}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as e:
        raise AssertionError(e.read().decode()) from e


def _issues(settings, status: str = "open") -> list[dict]:
    with connect(settings.warehouse_url) as wh:
        return wh.fetchdicts(
            "select entity, ops_id, qbo_id, kind, severity, reason, hint from "
            "fieldbooks.sync_issues where status = %s order by entity, ops_id",
            (status,),
        )


def _tieout(settings, status: str) -> list[dict]:
    with connect(settings.warehouse_url) as wh:
        return wh.fetchdicts(
            "select ops_invoice_id, invoice_number from reconciliation.invoice_tieout "
            "where status = %s order by ops_invoice_id",
            (status,),
        )


def test_an_invoice_deleted_in_quickbooks_is_a_difference_until_operations_agrees(
    settings, sandbox
):
    first = pipeline.sync(settings, "run-1")
    assert first["ties_out"] and _issues(settings) == []
    report = (settings.home / "data_docs" / "index.html").read_text()
    assert "reconciliation_invoice_tieout" in report
    with connect(settings.warehouse_url) as wh:
        ops_id, qbo_id, number = wh.fetchall(
            "select l.ops_id, l.qbo_id, q.doc_number from fieldbooks.sync_ledger l "
            "join staging.stg_qbo__invoices q on q.qbo_invoice_id = l.qbo_id "
            "where l.entity = 'invoice' and q.balance = q.total_amount "
            "order by l.ops_id limit 1"
        )[0]

    # A bookkeeper deletes the (unpaid) invoice in QuickBooks; operations still bills it.
    _act(sandbox, "delete", {"entity": "Invoice", "id": qbo_id})
    second = pipeline.sync(settings, "run-2")

    (issue,) = _issues(settings)
    assert (issue["entity"], issue["ops_id"], issue["kind"], issue["severity"]) == (
        "invoice",
        ops_id,
        "reconciliation_difference",
        "warning",
    )
    (missing,) = _tieout(settings, "missing_in_quickbooks")
    assert issue["reason"].startswith(
        f"invoice {missing['invoice_number']} (QuickBooks none) is missing_in_quickbooks: total "
    )
    assert "void it in operations" in issue["hint"]
    assert second["open_issues"] == {"reconciliation_difference": 1} and not second["ties_out"]

    # Nothing writes it again by itself (the deletion may be deliberate): the issue stays.
    pipeline.sync(settings, "run-3")
    assert [i["ops_id"] for i in _issues(settings)] == [ops_id]

    # The office agrees and voids it in operations: the books tie out, the issue resolves.
    engine = create_engine(settings.ops_url)
    with engine.begin() as conn:
        conn.execute(
            update(schema.invoices)
            .where(schema.invoices.c.id == int(ops_id))
            .values(status="void", balance=0, updated_at=utcnow())
        )
    engine.dispose()
    fourth = pipeline.sync(settings, "run-4")

    assert [(i["ops_id"], i["kind"]) for i in _issues(settings, "resolved")] == [
        (ops_id, "reconciliation_difference")
    ]
    assert _issues(settings) == [] and fourth["ties_out"]
    assert number  # the QuickBooks DocNumber it had, for the reader of a failure


def test_a_record_held_back_for_a_named_cause_raises_no_second_issue(settings, sandbox):
    from tests.integration.test_load_guarantees import _add_unmapped_invoice

    number = _add_unmapped_invoice(settings)
    pipeline.sync(settings, "run-1")

    assert [i["invoice_number"] for i in _tieout(settings, "missing_in_quickbooks")] == [number]
    assert [(i["ops_id"], i["kind"]) for i in _issues(settings)] == [("500", "unmapped_category")]
