"""Vendors, jobs (sub-customers) and expenses (Purchases and Bills) land in QuickBooks once."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import create_engine, insert, select, update

from fieldbooks import pipeline
from fieldbooks.ops import schema
from fieldbooks.qbo import push
from fieldbooks.warehouse.connection import connect
from fieldbooks.warehouse.state import utcnow
from tests.integration import test_load_guarantees as guarantees
from tests.integration.test_load_guarantees import with_limits

# the demo company seeded small (12 customers, 30 invoices), as the load guarantees use it
settings = guarantees.settings
_objects = guarantees._objects
_prepare = guarantees._prepare

WRITE_OPERATIONS = {"create", "update", "delete", "void", "batch"}


def _writes(sandbox) -> list[dict]:
    url = f"{sandbox.base_url}/_sandbox/realms/{sandbox.realm_id}/requests"
    with urllib.request.urlopen(url) as r:
        return [q for q in json.load(r) if q.get("operation") in WRITE_OPERATIONS]


def _clear_requests(sandbox) -> None:
    url = f"{sandbox.base_url}/_sandbox/realms/{sandbox.realm_id}/requests"
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE")).close()


def _ops_rows(settings, table) -> list:
    engine = create_engine(settings.ops_url)
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.deleted_at.is_(None))).all()
    engine.dispose()
    return rows


def _expenses_in_quickbooks(sandbox) -> list[dict]:
    return [
        {**t, "_type": entity}
        for entity in ("Purchase", "Bill")
        for t in _objects(sandbox, entity)
        if str(t.get("PrivateNote", "")).startswith("fieldbooks:expense:")
    ]


def _assert_everything_landed_once(settings, sandbox) -> None:
    vendors, jobs, expenses = (
        _ops_rows(settings, t) for t in (schema.vendors, schema.jobs, schema.expenses)
    )
    qbo_vendors = _objects(sandbox, "Vendor")
    assert len(qbo_vendors) == len(vendors)
    assert len({v["DisplayName"] for v in qbo_vendors}) == len(vendors)
    qbo_jobs = [c for c in _objects(sandbox, "Customer") if c.get("Job")]
    assert sorted(c["Notes"] for c in qbo_jobs) == sorted(f"fieldbooks:job:{j.id}" for j in jobs)
    assert all(c.get("ParentRef", {}).get("value") and c["BillWithParent"] for c in qbo_jobs)
    qbo_expenses = _expenses_in_quickbooks(sandbox)
    notes = Counter(t["PrivateNote"] for t in qbo_expenses)
    assert sorted(notes) == sorted(f"fieldbooks:expense:{e.id}" for e in expenses)
    assert notes.most_common(1)[0][1] == 1
    kinds = {t["PrivateNote"]: t["_type"] for t in qbo_expenses}
    assert all(
        kinds[f"fieldbooks:expense:{e.id}"] == ("Bill" if e.paid_by == "on_account" else "Purchase")
        for e in expenses
    )


def test_vendors_jobs_and_expenses_land_once_and_a_rerun_writes_nothing(settings, sandbox):
    first = pipeline.sync(settings, "run-exp-1")

    _assert_everything_landed_once(settings, sandbox)
    expenses = _ops_rows(settings, schema.expenses)
    assert first["expense_tieout"] == {"matched": len(expenses)}
    assert first["ties_out"], first["lines"]
    # a Purchase is paid from the mapped account, a Bill is owed on A/P; each line carries
    # the job's sub-customer, the trade's class and the billable status
    for t in _expenses_in_quickbooks(sandbox):
        detail = t["Line"][0]["AccountBasedExpenseLineDetail"]
        assert detail["CustomerRef"]["value"] and detail["ClassRef"]["value"]
        assert detail["BillableStatus"] == "Billable"
        if t["_type"] == "Purchase":
            assert (t["PaymentType"], t["AccountRef"]["value"]) in {
                ("CreditCard", "13"),
                ("Cash", "6"),
            }
        else:
            assert (t["VendorRef"]["value"], t["APAccountRef"]["value"]) != (None, None)
            assert t["APAccountRef"]["value"] == "12"

    _clear_requests(sandbox)
    second = pipeline.sync(settings, "run-exp-2")
    assert _writes(sandbox) == [], "a second run straight after a successful one must write nothing"
    assert second["written_to_quickbooks"] == {}
    assert second["expense_tieout"] == {"matched": len(expenses)}


def test_rerun_after_crash_creates_no_duplicate_vendor_job_or_expense(
    settings, sandbox, monkeypatch
):
    settings = with_limits(settings, batch_items=2, in_doubt_seconds=0)
    _prepare(settings, "run-exp-crash")
    real = push.Loader._record_success
    calls: Counter = Counter()

    def crash_on(entity: str, nth: int):
        def fake(loader, plan, obj, operation):
            if plan.write.entity == entity:
                calls[entity] += 1
                if calls[entity] == nth:
                    # QuickBooks committed the batch; the process dies before the ledger
                    # learns its ids.
                    raise SystemExit(f"killed after writing {entity} {plan.write.ops_id}")
            return real(loader, plan, obj, operation)

        return fake

    for entity in ("vendor", "job", "expense"):
        calls.clear()
        monkeypatch.setattr(push.Loader, "_record_success", crash_on(entity, 3))
        with pytest.raises(SystemExit):
            push.load_quickbooks(settings, "run-exp-crash")
    monkeypatch.setattr(push.Loader, "_record_success", real)
    push.load_quickbooks(settings, "run-exp-crash")

    _assert_everything_landed_once(settings, sandbox)
    with connect(settings.warehouse_url) as wh:
        recovered = dict(
            wh.fetchall(
                "select entity, count(*) from fieldbooks.sync_events "
                "where operation = 'recovered' group by entity"
            )
        )
        states = dict(
            wh.fetchall(
                "select state, count(*) from fieldbooks.sync_ledger "
                "where entity in ('vendor', 'job', 'expense') group by state"
            )
        )
    # the crashed batch (the third and fourth of each) is found by marker, not resent
    assert recovered == {"vendor": 2, "job": 2, "expense": 2}
    assert set(states) == {"sent"}


def test_expense_deleted_in_operations_is_deleted_in_quickbooks(settings, sandbox):
    pipeline.sync(settings, "run-del-1")
    gone = _ops_rows(settings, schema.expenses)[0]
    marker = f"fieldbooks:expense:{gone.id}"
    with connect(settings.warehouse_url) as wh:
        qbo_id = wh.scalar(
            "select qbo_id from fieldbooks.sync_ledger where entity = 'expense' and ops_id = %s",
            (str(gone.id),),
        )
    assert marker in {t["PrivateNote"] for t in _expenses_in_quickbooks(sandbox)}

    engine = create_engine(settings.ops_url)
    with engine.begin() as conn:
        now = utcnow()
        conn.execute(
            update(schema.expenses)
            .where(schema.expenses.c.id == gone.id)
            .values(deleted_at=now, updated_at=now)
        )
    engine.dispose()
    summary = pipeline.sync(settings, "run-del-2")

    assert marker not in {t["PrivateNote"] for t in _expenses_in_quickbooks(sandbox)}
    deletes = [
        e
        for e in _writes(sandbox)
        if e.get("operation") == "delete"
        and str(e.get("entity", "")).lower() in ("purchase", "bill")
    ]
    assert len(deletes) == 1
    assert "deleted_in_ops_live_in_quickbooks" not in summary["expense_tieout"]
    with connect(settings.warehouse_url) as wh:
        events = wh.fetchall(
            "select qbo_id from fieldbooks.sync_events where entity = 'expense' and operation = 'delete'"
        )
    assert events == [(qbo_id,)]

    _clear_requests(sandbox)
    pipeline.sync(settings, "run-del-3")
    assert _writes(sandbox) == [], "a delete is sent once"


def test_unmapped_expense_category_is_held_with_an_issue_naming_the_seed(settings, sandbox):
    job = _ops_rows(settings, schema.jobs)[0]
    now = utcnow()
    engine = create_engine(settings.ops_url)
    with engine.begin() as conn:
        conn.execute(
            insert(schema.expenses),
            [
                {
                    "id": 9001,
                    "vendor_id": 1,
                    "job_id": job.id,
                    "branch_id": job.branch_id,
                    "category": "fuel",
                    "expense_date": date(2026, 11, 2),
                    "amount": "41.30",
                    "paid_by": "card",
                    "reference": "RCPT-FUEL",
                    "description": "Fuel for the van",
                    "billable": False,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
    engine.dispose()
    pipeline.sync(settings, "run-unmapped")

    assert "fieldbooks:expense:9001" not in {
        t["PrivateNote"] for t in _expenses_in_quickbooks(sandbox)
    }
    expenses = _ops_rows(settings, schema.expenses)
    assert len(_expenses_in_quickbooks(sandbox)) == len(expenses) - 1
    with connect(settings.warehouse_url) as wh:
        issues = wh.fetchdicts("select * from fieldbooks.sync_issues where status = 'open'")
    assert [(i["entity"], i["ops_id"], i["kind"]) for i in issues] == [
        ("expense", "9001", "expense_category_unmapped")
    ]
    assert "'fuel'" in issues[0]["reason"]
    assert "dbt_project/seeds/map_expense_categories.csv" in issues[0]["hint"]
