"""The loaders' promises: bad records are held back with a reason, crashes never duplicate."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections import Counter
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, func, insert, select, update

from fieldbooks import pipeline
from fieldbooks.config import load_settings
from fieldbooks.ops import schema
from fieldbooks.ops.seed import seed_demo
from fieldbooks.qbo import push
from fieldbooks.warehouse.connection import connect
from fieldbooks.warehouse.state import utcnow
from tests.conftest import settings_env


def _objects(sandbox, entity: str) -> list[dict]:
    url = f"{sandbox.base_url}/_sandbox/realms/{sandbox.realm_id}/objects/{entity}"
    with urllib.request.urlopen(url) as r:
        return [o for o in json.load(r) if o.get("status") != "Deleted"]


@pytest.fixture
def settings(sandbox, tmp_path):
    s = load_settings(settings_env(tmp_path, sandbox))
    seed_demo(s.ops_url, customers=12, invoices=30)
    return s


def _prepare(settings, run_id: str) -> None:
    pipeline.step_extract_ops(settings)
    pipeline.step_extract_qbo(settings)
    pipeline.step_transform(settings)
    pipeline.step_validate(settings, run_id)


def _add_unmapped_invoice(settings) -> str:
    """An invoice whose one line uses a category nobody mapped to a QuickBooks item."""
    engine = create_engine(settings.ops_url)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(schema.service_categories),
            [
                {
                    "id": 99,
                    "name": "Drain Camera Inspection",
                    "kind": "service",
                    "taxable": False,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        conn.execute(
            insert(schema.invoices),
            [
                {
                    "id": 500,
                    "invoice_number": "FB-UNMAPPED",
                    "customer_id": 1,
                    "issue_date": date(2026, 11, 1),
                    "due_date": date(2026, 12, 1),
                    "status": "sent",
                    "tax_jurisdiction": "LOCAL",
                    "tax_rate": "0.0825",
                    "subtotal": "250.00",
                    "tax": "0.00",
                    "total": "250.00",
                    "balance": "250.00",
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        conn.execute(
            insert(schema.invoice_lines),
            [
                {
                    "id": 5000,
                    "invoice_id": 500,
                    "line_number": 1,
                    "category_id": 99,
                    "description": "camera",
                    "quantity": "1",
                    "unit_price": "250.00",
                    "amount": "250.00",
                    "taxable": False,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
    engine.dispose()
    return "FB-UNMAPPED"


def test_unmapped_category_is_held_back_with_a_reason_and_the_rest_syncs(settings, sandbox):
    number = _add_unmapped_invoice(settings)
    summary = pipeline.sync(settings, "run-held")

    docs = {i["DocNumber"] for i in _objects(sandbox, "Invoice")}
    assert number not in docs
    assert len(docs) == 30
    with connect(settings.warehouse_url) as wh:
        issues = wh.fetchdicts("select * from fieldbooks.sync_issues where status = 'open'")
    assert [(i["entity"], i["ops_id"], i["kind"]) for i in issues] == [
        ("invoice", "500", "unmapped_category")
    ]
    assert "Drain Camera Inspection" in issues[0]["reason"]
    assert "map_service_categories.csv" in issues[0]["hint"]
    assert summary["invoice_tieout"] == {"matched": 30, "missing_in_quickbooks": 1}
    assert not summary["ties_out"]

    # Rerunning does not duplicate the issue: it counts another attempt.
    pipeline.sync(settings, "run-held-2")
    with connect(settings.warehouse_url) as wh:
        rows = wh.fetchall("select attempts, status from fieldbooks.sync_issues")
    assert rows == [(2, "open")]


def with_limits(settings, **changes):
    """The settings with some of the company's limits changed."""
    limits = replace(settings.qbo.limits, **changes)
    return replace(settings, qbo=replace(settings.qbo, limits=limits))


def test_rerun_after_crash_creates_no_duplicate_invoice(settings, sandbox, monkeypatch):
    # in batches of 4; the test kills the loader after the answers came, so nothing is in
    # flight and the rerun need not wait out QuickBooks' timeout
    settings = with_limits(settings, batch_items=4, in_doubt_seconds=0)
    _prepare(settings, "run-crash")
    real = push.Loader._record_success
    calls = Counter()

    def crash_after_fifth_invoice(loader, plan, obj, operation):
        if plan.write.entity == "invoice":
            calls["invoice"] += 1
            if calls["invoice"] == 5:
                # QuickBooks has created the second batch; the process dies before the
                # ledger learns any of its ids.
                raise SystemExit("killed mid-batch")
        return real(loader, plan, obj, operation)

    monkeypatch.setattr(push.Loader, "_record_success", crash_after_fifth_invoice)
    with pytest.raises(SystemExit):
        push.load_quickbooks(settings, "run-crash")
    assert len(_objects(sandbox, "Invoice")) == 8
    monkeypatch.setattr(push.Loader, "_record_success", real)

    # Clear and rerun the task: the pending invoices are found by DocNumber, not created again.
    report = push.load_quickbooks(settings, "run-crash")
    invoices = _objects(sandbox, "Invoice")
    assert len(invoices) == 30
    assert Counter(i["DocNumber"] for i in invoices).most_common(1)[0][1] == 1
    assert report.written["invoice"] == 26  # the 4 found and the 22 never sent
    assert report.skipped["invoice"] == 4  # the first batch, recorded before the crash
    with connect(settings.warehouse_url) as wh:
        states = dict(
            wh.fetchall(
                "select state, count(*) from fieldbooks.sync_ledger where entity = 'invoice' group by state"
            )
        )
        events = wh.fetchall(
            "select operation from fieldbooks.sync_events where entity = 'invoice' and operation = 'recovered'"
        )
    assert states == {"sent": 30}
    assert len(events) == 4


def test_rerun_after_crash_creates_no_duplicate_payment_or_customer(settings, sandbox, monkeypatch):
    settings = with_limits(settings, in_doubt_seconds=0)
    _prepare(settings, "run-crash-2")
    real = push.Loader._record_success

    def crash_on_first(entity):
        def fake(loader, plan, obj, operation):
            if plan.write.entity == entity:
                raise SystemExit(f"killed after creating a {entity}")
            return real(loader, plan, obj, operation)

        return fake

    for entity in ("customer", "payment"):
        monkeypatch.setattr(push.Loader, "_record_success", crash_on_first(entity))
        with pytest.raises(SystemExit):
            push.load_quickbooks(settings, "run-crash-2")
    monkeypatch.setattr(push.Loader, "_record_success", real)
    push.load_quickbooks(settings, "run-crash-2")

    engine = create_engine(settings.ops_url)
    with engine.connect() as conn:
        ops_payments = conn.execute(select(schema.payments)).all()
    engine.dispose()
    assert len([c for c in _objects(sandbox, "Customer") if not c.get("Job")]) == 12
    assert len(_objects(sandbox, "Payment")) == len(ops_payments)
    notes = Counter(p.get("PrivateNote") for p in _objects(sandbox, "Payment"))
    assert notes.most_common(1)[0][1] == 1


def test_a_refused_write_becomes_an_issue_and_the_run_goes_on(settings, sandbox):
    # A bookkeeper once made a customer with the name operations will use, then made it
    # inactive: it is no match candidate, but QuickBooks still refuses the name (6240).
    from fieldbooks.money import dumps_exact
    from fieldbooks.qbo.client import open_client

    client = open_client(settings.qbo, settings.token_store)
    old = client.create_object("Customer", dumps_exact({"DisplayName": "Seán O'Brien"}))["Customer"]
    client.update_object(
        "Customer",
        dumps_exact(
            {"Id": old["Id"], "SyncToken": old["SyncToken"], "sparse": True, "Active": False}
        ),
    )
    summary = pipeline.sync(settings, "run-dup")
    with connect(settings.warehouse_url) as wh:
        issues = wh.fetchdicts(
            "select * from fieldbooks.sync_issues where status = 'open' order by entity"
        )
    kinds = {(i["entity"], i["kind"]) for i in issues}
    assert ("customer", "duplicate_name") in kinds
    customer_issue = next(i for i in issues if i["kind"] == "duplicate_name")
    assert (
        "Seán O'Brien" in customer_issue["reason"]
        or "fieldbooks:customer:1" in customer_issue["reason"]
    )
    assert "rename" in customer_issue["hint"]
    assert summary["failed_writes"] == 1
    # The other customers synced; the held one's invoices wait for it with their own issue.
    customers = [c for c in _objects(sandbox, "Customer") if not c.get("Job")]
    assert len([c for c in customers if c.get("Active", True)]) == 11
    assert ("invoice", "customer_unresolved") in kinds


def _void_in_ops(settings) -> tuple[str, str, str]:
    """In operations: delete a paid invoice's payment and void the invoice, and delete
    another payment that is already deposited. Returns (invoice number, payment id,
    deposited payment id)."""
    engine = create_engine(settings.ops_url)
    inv, pay, apps = schema.invoices, schema.payments, schema.payment_applications
    now = utcnow()
    with engine.begin() as conn:
        # a payment that pays one invoice alone, and that invoice is paid by it alone
        single_payment = select(apps.c.payment_id).group_by(apps.c.payment_id)
        single_invoice = select(apps.c.invoice_id).group_by(apps.c.invoice_id)
        paid = conn.execute(
            select(apps.c.invoice_id, apps.c.payment_id, pay.c.deposited)
            .join(pay, pay.c.id == apps.c.payment_id)
            .where(
                apps.c.payment_id.in_(single_payment.having(func.count() == 1)),
                apps.c.invoice_id.in_(single_invoice.having(func.count() == 1)),
                pay.c.source == "ops",
            )
            .order_by(apps.c.payment_id)
        ).all()
        invoice_id, payment_id, _ = next(p for p in paid if not p.deposited)
        deposited_id = next(p.payment_id for p in paid if p.payment_id != payment_id)
        for pid in (payment_id, deposited_id):
            conn.execute(
                update(apps).where(apps.c.payment_id == pid).values(deleted_at=now, updated_at=now)
            )
            conn.execute(update(pay).where(pay.c.id == pid).values(deleted_at=now, updated_at=now))
        conn.execute(
            update(pay).where(pay.c.id == deposited_id).values(deposited=True, updated_at=now)
        )
        conn.execute(
            update(inv)
            .where(inv.c.id == invoice_id)
            .values(status="void", balance=0, updated_at=now)
        )
        number = conn.execute(select(inv.c.invoice_number).where(inv.c.id == invoice_id)).scalar()
    engine.dispose()
    return number, str(payment_id), str(deposited_id)


def test_voids_in_operations_void_in_quickbooks_once_and_a_deposited_payment_is_kept(
    settings, sandbox
):
    pipeline.sync(settings, "run-v1")
    number, payment_id, deposited_id = _void_in_ops(settings)
    with connect(settings.warehouse_url) as wh:
        payment_qbo = dict(
            wh.fetchall(
                "select ops_id, qbo_id from fieldbooks.sync_ledger where entity = 'payment'"
            )
        )

    summary = pipeline.sync(settings, "run-v2")

    invoice = next(i for i in _objects(sandbox, "Invoice") if i["DocNumber"] == number)
    payments = {p["Id"]: p for p in _objects(sandbox, "Payment")}
    assert (invoice["TotalAmt"], invoice["Balance"], invoice["PrivateNote"]) == (0, 0, "Voided")
    voided = payments[payment_qbo[payment_id]]
    kept = payments[payment_qbo[deposited_id]]
    assert (voided["TotalAmt"], voided["PrivateNote"]) == (0, "Voided")
    assert kept["TotalAmt"] > 0
    with connect(settings.warehouse_url) as wh:
        issues = wh.fetchdicts(
            "select entity, ops_id, kind, reason from fieldbooks.sync_issues where status = 'open'"
        )
        events = wh.fetchall(
            "select entity, ops_id, outcome from fieldbooks.sync_events where operation = 'void'"
        )
    held = [i for i in issues if i["kind"] != "reconciliation_difference"]
    assert [(i["entity"], i["ops_id"], i["kind"]) for i in held] == [
        ("payment", deposited_id, "deposited_payment_edit")
    ]
    assert "deposited" in held[0]["reason"]
    # QuickBooks keeps the deposited payment against the invoice operations voided: the
    # books do not tie out until a person settles it, and the reconciliation suite says where
    differences = {i["entity"] for i in issues if i["kind"] == "reconciliation_difference"}
    assert "payment" in differences
    assert sorted(events) == sorted(
        [("invoice", str(invoice_id_of(settings, number)), "ok"), ("payment", payment_id, "ok")]
    )
    assert summary["written_to_quickbooks"]

    # A rerun voids nothing again: the ledger holds each void's hash.
    pipeline.sync(settings, "run-v3")
    with connect(settings.warehouse_url) as wh:
        again = wh.fetchall("select count(*) from fieldbooks.sync_events where operation = 'void'")[
            0
        ][0]
    assert again == 2


def invoice_id_of(settings, number: str) -> int:
    engine = create_engine(settings.ops_url)
    with engine.connect() as conn:
        found = conn.execute(
            select(schema.invoices.c.id).where(schema.invoices.c.invoice_number == number)
        ).scalar()
    engine.dispose()
    return found


def _edit_in_quickbooks(settings, qbo_id: str, **fields) -> None:
    from fieldbooks.money import dumps_exact
    from fieldbooks.qbo.client import open_client

    client = open_client(settings.qbo, settings.token_store)
    current = client.get_single_object("Customer", qbo_id)["Customer"]
    client.update_object(
        "Customer",
        dumps_exact({"Id": qbo_id, "SyncToken": current["SyncToken"], "sparse": True, **fields}),
    )


def _edit_in_ops(settings, customer_id: str, **values) -> None:
    engine = create_engine(settings.ops_url)
    with engine.begin() as conn:
        conn.execute(
            update(schema.customers)
            .where(schema.customers.c.id == int(customer_id))
            .values(updated_at=utcnow(), **values)
        )
    engine.dispose()


def test_customer_edits_in_quickbooks_go_to_operations_and_conflicts_follow_the_policy(
    settings, sandbox
):
    from dataclasses import replace

    pipeline.sync(settings, "run-c1")
    with connect(settings.warehouse_url) as wh:
        linked = dict(
            wh.fetchall(
                "select ops_id, qbo_id from fieldbooks.sync_ledger where entity = 'customer' "
                "order by cast(ops_id as integer)"
            )
        )
    only_qbo, both, notes_only = list(linked)[:3]

    # Edited in QuickBooks only: the edit is for operations, nothing goes back.
    _edit_in_quickbooks(
        settings, linked[only_qbo], PrimaryEmailAddr={"Address": "new@books.example"}
    )
    # Notes are not kept by operations: the ledger only takes the new version.
    _edit_in_quickbooks(settings, linked[notes_only], Notes="called about the gate code")
    # Edited on both sides, operations last: newest_wins sends operations' version.
    _edit_in_quickbooks(settings, linked[both], PrimaryPhone={"FreeFormNumber": "(555) 010-9999"})
    _edit_in_ops(settings, both, email="ops-later@example.com")

    pipeline.sync(settings, "run-c2")
    with connect(settings.warehouse_url) as wh:
        to_ops = {
            r["ops_customer_id"]: r for r in wh.fetchdicts("select * from sync.sync_ops_customers")
        }
        conflicts = wh.fetchdicts("select * from sync.sync_conflicts")
        sent = wh.fetchdicts(
            "select ops_id, detail from fieldbooks.sync_events where run_id = 'run-c2' "
            "and entity = 'customer' and outcome = 'ok' and direction = 'to_quickbooks'"
        )
        applied = wh.fetchall(
            "select ops_id, detail from fieldbooks.sync_events where run_id = 'run-c2' "
            "and entity = 'customer' and direction = 'to_ops'"
        )
    assert to_ops[only_qbo]["action"] == "update"
    assert to_ops[only_qbo]["changed_fields"] == "email"
    assert to_ops[only_qbo]["email"] == "new@books.example"
    assert to_ops[notes_only]["action"] == "record"
    assert both not in to_ops
    assert [(c["ops_id"], c["policy"], c["outcome"]) for c in conflicts] == [
        (both, "newest_wins", "send_to_quickbooks")
    ]
    assert [e["ops_id"] for e in sent] == [both]
    assert applied == [(only_qbo, "edited in QuickBooks (edited_in_quickbooks): email")]
    assert "newest_wins" in sent[0]["detail"]
    qbo_both = next(c for c in _objects(sandbox, "Customer") if c["Id"] == linked[both])
    assert qbo_both["PrimaryEmailAddr"]["Address"] == "ops-later@example.com"

    # Under flag, a customer changed on both sides waits for a person, in neither set.
    flagged = replace(settings, conflict_policies={"customer": "flag"})
    _edit_in_quickbooks(settings, linked[both], CompanyName="Books Side LLC")
    _edit_in_ops(settings, both, company_name="Ops Side LLC")
    pipeline.sync(flagged, "run-c3")
    with connect(settings.warehouse_url) as wh:
        issues = wh.fetchdicts(
            "select ops_id, kind, reason from fieldbooks.sync_issues "
            "where status = 'open' and kind = 'edited_in_quickbooks'"
        )
        outbound = wh.fetchall(
            "select ops_customer_id from sync.sync_qbo_customers where ops_customer_id = %s",
            (both,),
        )
        inbound = wh.fetchall(
            "select ops_customer_id from sync.sync_ops_customers where ops_customer_id = %s",
            (both,),
        )
    assert [(i["ops_id"], i["kind"]) for i in issues] == [(both, "edited_in_quickbooks")]
    assert "company_name" in issues[0]["reason"] and "flag" in issues[0]["reason"]
    assert outbound == [] and inbound == []
    # QuickBooks' edit reached operations, and neither side sees a change since: nothing
    # goes back to QuickBooks, and the notes-only edit was only adopted
    engine = create_engine(settings.ops_url)
    with engine.connect() as conn:
        email = conn.execute(
            select(schema.customers.c.email).where(schema.customers.c.id == int(only_qbo))
        ).scalar()
    engine.dispose()
    assert email == "new@books.example"
    with connect(settings.warehouse_url) as wh:
        settled = wh.fetchall(
            "select ops_customer_id from sync.sync_qbo_customers "
            "union all select ops_customer_id from sync.sync_ops_customers"
        )
    assert {r[0] for r in settled} & {only_qbo, notes_only} == set()
    qbo_both = next(c for c in _objects(sandbox, "Customer") if c["Id"] == linked[both])
    assert qbo_both["CompanyName"] == "Books Side LLC"

    # Under quickbooks_wins the same customer's QuickBooks version is for operations.
    pipeline.step_transform(replace(settings, conflict_policies={"customer": "quickbooks_wins"}))
    with connect(settings.warehouse_url) as wh:
        inbound = wh.fetchdicts(
            "select * from sync.sync_ops_customers where ops_customer_id = %s", (both,)
        )
        conflicts = wh.fetchdicts("select * from sync.sync_conflicts")
    assert [(r["reason"], r["company_name"]) for r in inbound] == [("conflict", "Books Side LLC")]
    assert [(c["policy"], c["outcome"]) for c in conflicts] == [
        ("quickbooks_wins", "apply_to_operations")
    ]


def _act(sandbox, action: str, body: dict) -> dict:
    """As a bookkeeper in the QuickBooks screens (the sandbox's accountant actions)."""
    request = urllib.request.Request(
        f"{sandbox.admin_url}/realms/{sandbox.realm_id}/actions/{action}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)


def test_an_inactive_mapping_target_stops_its_records_before_any_write(settings, sandbox):
    # The bookkeeper retires the "Permit Fee" item (map_service_categories.csv row 5).
    _act(sandbox, "deactivate", {"entity": "Item", "id": "5"})
    pipeline.sync(settings, "run-inactive")

    with connect(settings.warehouse_url) as wh:
        with_permits = {
            r[0]
            for r in wh.fetchall(
                "select distinct cast(ops_invoice_id as varchar) from sync.sync_qbo_invoice_lines "
                "where category_name = 'Permit Fee'"
            )
        }
        issues = wh.fetchdicts(
            "select ops_id, kind, reason, hint from fieldbooks.sync_issues "
            "where status = 'open' and entity = 'invoice'"
        )
        written = {
            r[0]
            for r in wh.fetchall(
                "select ops_id from fieldbooks.sync_events where entity = 'invoice' and outcome = 'ok'"
            )
        }
    assert with_permits, "the demo seed has no Permit Fee line: the test proves nothing"
    assert {i["ops_id"] for i in issues} == with_permits
    assert {i["kind"] for i in issues} == {"inactive_account"}
    assert 'item 5 "Permit Fee", which is inactive' in issues[0]["reason"]
    assert "map_service_categories.csv" in issues[0]["hint"]
    assert not written & with_permits  # nothing was sent for them, not even a refused write
    assert len(_objects(sandbox, "Invoice")) == 30 - len(with_permits)

    # Active again: the held invoices follow on the next run, and their issues resolve.
    _act(sandbox, "reactivate", {"entity": "Item", "id": "5"})
    pipeline.sync(settings, "run-inactive-2")
    with connect(settings.warehouse_url) as wh:
        still_open = wh.fetchall("select ops_id from fieldbooks.sync_issues where status = 'open'")
    assert still_open == []
    assert len(_objects(sandbox, "Invoice")) == 30


def _invoice_in_quickbooks(sandbox, doc_number: str) -> dict:
    return next(i for i in _objects(sandbox, "Invoice") if i["DocNumber"] == doc_number)


def _raise_first_line(sandbox, invoice: dict, by: str) -> None:
    """As a bookkeeper: change the first item line's quantity and amount in QuickBooks."""
    lines = [line for line in invoice["Line"] if line.get("DetailType") == "SalesItemLineDetail"]
    first = json.loads(json.dumps(lines[0]))
    first["Amount"] = str(Decimal(str(first["Amount"])) + Decimal(by))
    first["SalesItemLineDetail"]["UnitPrice"] = first["Amount"]
    first["SalesItemLineDetail"]["Qty"] = 1
    _act(sandbox, "edit_invoice", {"invoice_id": invoice["Id"], "lines": [first, *lines[1:]]})


def _item_lines(invoice: dict) -> list[tuple[str, Decimal]]:
    return sorted(
        (line["SalesItemLineDetail"]["ItemRef"]["value"], Decimal(str(line["Amount"])))
        for line in invoice["Line"]
        if line.get("DetailType") == "SalesItemLineDetail"
    )


def test_an_invoice_edited_in_quickbooks_is_rewritten_under_ops_wins_and_held_under_flag(
    settings, sandbox
):
    pipeline.sync(settings, "run-e1")
    with connect(settings.warehouse_url) as wh:
        numbers = [
            r[0]
            for r in wh.fetchall("select invoice_number from raw_ops.invoices order by id limit 3")
        ]
    edited, paid, flagged = (_invoice_in_quickbooks(sandbox, n) for n in numbers)
    as_written = _item_lines(edited)

    # A bookkeeper edits one invoice's lines; a customer pays another (its SyncToken moves
    # too, but that is no edit).
    _raise_first_line(sandbox, edited, "25.00")
    _act(sandbox, "receive_payment", {"invoice_id": paid["Id"], "amount": "10.00"})
    assert _item_lines(_invoice_in_quickbooks(sandbox, numbers[0])) != as_written

    summary = pipeline.sync(settings, "run-e2")  # ops_wins, the invoice default
    assert _item_lines(_invoice_in_quickbooks(sandbox, numbers[0])) == as_written
    with connect(settings.warehouse_url) as wh:
        events = wh.fetchall(
            "select ops_id, operation, detail from fieldbooks.sync_events "
            "where run_id = 'run-e2' and entity = 'invoice' and direction = 'to_quickbooks'"
        )
    assert len(events) == 1
    ops_id, operation, detail = events[0]
    assert operation == "update"
    assert "edited in QuickBooks (lines)" in detail and "ops_wins" in detail
    assert summary["ties_out"], summary["lines"]

    # Nothing echoes: the rewritten invoice is as operations has it, the paid one unedited.
    pipeline.sync(settings, "run-e3")
    with connect(settings.warehouse_url) as wh:
        again = wh.scalar(
            "select count(*) from fieldbooks.sync_events where run_id = 'run-e3' "
            "and entity = 'invoice' and direction = 'to_quickbooks'"
        )
    assert again == 0

    # Under flag, an edit is held for a person, and QuickBooks keeps it.
    held = replace(settings, conflict_policies={"invoice": "flag"})
    _raise_first_line(sandbox, flagged, "40.00")
    edited_version = _item_lines(_invoice_in_quickbooks(sandbox, numbers[2]))
    pipeline.sync(held, "run-e4")
    assert _item_lines(_invoice_in_quickbooks(sandbox, numbers[2])) == edited_version
    with connect(settings.warehouse_url) as wh:
        issues = wh.fetchdicts(
            "select entity, kind, reason from fieldbooks.sync_issues where status = 'open'"
        )
        conflicts = wh.fetchdicts("select * from sync.sync_conflicts")
    assert [(i["entity"], i["kind"]) for i in issues] == [("invoice", "edited_in_quickbooks")]
    assert "changed in QuickBooks" in issues[0]["reason"] and "lines" in issues[0]["reason"]
    assert [(c["entity"], c["policy"], c["outcome"]) for c in conflicts] == [
        ("invoice", "flag", "hold")
    ]


def _revoke(sandbox, token: str) -> None:
    """As Intuit does when a connection is cut: the token stops working at once."""
    credentials = base64.b64encode(f"{sandbox.client_id}:{sandbox.client_secret}".encode())
    request = urllib.request.Request(
        f"{sandbox.base_url}/oauth2/v1/tokens/revoke",
        data=json.dumps({"token": token}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Basic {credentials.decode()}",
        },
        method="POST",
    )
    urllib.request.urlopen(request).close()


def test_a_cut_connection_stops_the_load_and_the_next_run_loses_nothing(
    settings, sandbox, monkeypatch
):
    settings = with_limits(settings, batch_items=4)
    _prepare(settings, "run-auth")
    real = push.Loader._record_success
    calls = Counter()

    def cut_after_the_first_invoice_batch(loader, plan, obj, operation):
        real(loader, plan, obj, operation)
        if plan.write.entity == "invoice":
            calls["invoice"] += 1
            if calls["invoice"] == 4:
                _revoke(sandbox, loader.client.auth_client.access_token)

    monkeypatch.setattr(push.Loader, "_record_success", cut_after_the_first_invoice_batch)
    with pytest.raises(push.QuickBooksAuthError, match="auth_failed"):
        push.load_quickbooks(settings, "run-auth")
    assert len(_objects(sandbox, "Invoice")) == 4
    with connect(settings.warehouse_url) as wh:
        issues = wh.fetchdicts(
            "select kind, hint from fieldbooks.sync_issues where status = 'open' and entity = 'invoice'"
        )
    # the batch QuickBooks refused: each of its invoices failed, none is left in doubt
    assert [i["kind"] for i in issues] == ["auth_failed"] * 4
    assert "Reconnect" in issues[0]["hint"]

    # The next run gets a fresh access token and writes the rest, each invoice once.
    monkeypatch.setattr(push.Loader, "_record_success", real)
    report = push.load_quickbooks(settings, "run-auth-2")
    invoices = _objects(sandbox, "Invoice")
    assert len(invoices) == 30
    assert Counter(i["DocNumber"] for i in invoices).most_common(1)[0][1] == 1
    assert report.written["invoice"] == 26
    with connect(settings.warehouse_url) as wh:
        still_open = wh.fetchall("select kind from fieldbooks.sync_issues where status = 'open'")
    assert still_open == []


def test_a_write_without_an_answer_is_looked_up_only_after_quickbooks_is_done(settings, sandbox):
    # QuickBooks takes 2 s over the first invoice batch; fieldbooks waits 1 s for answers
    # and treats a write as possibly still running for 3 s after it was sent.
    settings = with_limits(
        settings, batch_items=10, request_timeout_seconds=1.0, in_doubt_seconds=3.0
    )
    _prepare(settings, "run-doubt")
    with connect(settings.warehouse_url) as wh:
        # the batch requests the loader sends before the invoices: let those through
        before = sum(
            -(-wh.scalar(f"select count(*) from sync.{table} where action <> 'link'") // 10)
            for table in ("sync_qbo_customers", "sync_qbo_vendors", "sync_qbo_jobs")
        )
    slow = {
        "rules": [
            {
                "match": {"path": "^/batch"},
                "sequence": ["ok"] * before + ["slow"],
                "delay_seconds": 2,
            }
        ]
    }
    request = urllib.request.Request(
        f"{sandbox.admin_url}/faults",
        data=json.dumps(slow).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    urllib.request.urlopen(request).close()

    first = push.load_quickbooks(settings, "run-doubt")
    assert first.failed["invoice"] == 10  # no answer: in doubt, not sent again
    with connect(settings.warehouse_url) as wh:
        kinds = {
            r[0]
            for r in wh.fetchall("select kind from fieldbooks.sync_issues where entity = 'invoice'")
        }
        pending = wh.scalar(
            "select count(*) from fieldbooks.sync_ledger where entity = 'invoice' and state = 'pending'"
        )
    assert kinds == {"no_answer"} and pending == 10

    # At once, a rerun must not look: the write may still be running in QuickBooks.
    second = push.load_quickbooks(settings, "run-doubt")
    assert second.held["invoice"] == 10
    assert not second.written.get("invoice")

    time.sleep(3.5)  # QuickBooks is surely done now: the rerun finds them by DocNumber
    third = push.load_quickbooks(settings, "run-doubt")
    assert third.written["invoice"] == 10
    invoices = _objects(sandbox, "Invoice")
    assert len(invoices) == 30
    assert Counter(i["DocNumber"] for i in invoices).most_common(1)[0][1] == 1
    with connect(settings.warehouse_url) as wh:
        recovered = wh.scalar(
            "select count(*) from fieldbooks.sync_events where operation = 'recovered'"
        )
        still_open = wh.fetchall("select kind from fieldbooks.sync_issues where status = 'open'")
    assert recovered == 10 and still_open == []


def test_a_customer_operations_keeps_changing_during_syncs_becomes_an_issue(settings, sandbox):
    theirs = replace(settings, conflict_policies={"customer": "quickbooks_wins"})
    pipeline.sync(theirs, "run-w1")
    with connect(settings.warehouse_url) as wh:
        ops_id, qbo_id = wh.fetchall(
            "select ops_id, qbo_id from fieldbooks.sync_ledger where entity = 'customer' "
            "order by cast(ops_id as integer) limit 1"
        )[0]
    _edit_in_quickbooks(theirs, qbo_id, PrimaryEmailAddr={"Address": "qb@books.example"})

    def run_with_operations_editing_meanwhile(run_id: str, email: str) -> list[dict]:
        _prepare(theirs, run_id)
        pipeline.step_load_quickbooks(theirs, run_id)
        _edit_in_ops(theirs, ops_id, email=email)  # between extract and load_ops
        pipeline.step_load_ops(theirs, run_id)
        with connect(settings.warehouse_url) as wh:
            return wh.fetchdicts(
                "select kind, reason, hint from fieldbooks.sync_issues "
                "where status = 'open' and entity = 'customer'"
            )

    assert run_with_operations_editing_meanwhile("run-w2", "ops-1@example.com") == []
    issues = run_with_operations_editing_meanwhile("run-w3", "ops-2@example.com")
    assert [i["kind"] for i in issues] == ["changed_during_sync"]
    assert "2 runs in a row" in issues[0]["reason"] and "email" in issues[0]["reason"]

    # Left alone, operations takes QuickBooks' version and the issue resolves.
    pipeline.sync(theirs, "run-w4")
    engine = create_engine(settings.ops_url)
    with engine.connect() as conn:
        email = conn.execute(
            select(schema.customers.c.email).where(schema.customers.c.id == int(ops_id))
        ).scalar_one()
    engine.dispose()
    assert email == "qb@books.example"
    with connect(settings.warehouse_url) as wh:
        assert wh.fetchall("select kind from fieldbooks.sync_issues where status = 'open'") == []


def test_an_update_to_a_quickbooks_object_whose_raw_copy_is_broken_waits_until_it_reads_whole(
    settings, sandbox
):
    from fieldbooks.qbo.raw import raw_qbo_spec, raw_row
    from fieldbooks.warehouse.merge import merge_rows

    pipeline.sync(settings, "run-1")
    with connect(settings.warehouse_url) as wh:
        qbo_id = wh.scalar(
            "select qbo_id from fieldbooks.sync_ledger where entity = 'customer' and ops_id = '1'"
        )
    engine = create_engine(settings.ops_url)
    with engine.begin() as conn:
        conn.execute(
            update(schema.customers)
            .where(schema.customers.c.id == 1)
            .values(email="billing@renamed.example", updated_at=utcnow())
        )
    engine.dispose()

    def quickbooks_customer() -> dict:
        found = next(c for c in _objects(sandbox, "Customer") if c["Id"] == qbo_id)
        return json.loads(json.dumps(found), parse_float=Decimal)  # amounts exact

    def rest_of_the_run(run_id: str) -> dict:
        pipeline.step_validate_raw(settings, run_id)
        pipeline.step_transform(settings)
        pipeline.step_validate(settings, run_id)
        return pipeline.step_load_quickbooks(settings, run_id)

    before = quickbooks_customer()
    pipeline.step_extract_ops(settings, "run-2")
    pipeline.step_extract_qbo(settings)
    # The copy extract_qbo keeps of that customer arrives garbled: no SyncToken.
    garbled = {**before, "SyncToken": None}
    with connect(settings.warehouse_url) as wh:
        merge_rows(
            wh, raw_qbo_spec("Customer"), [raw_row(settings.qbo.realm_id, garbled, utcnow())]
        )

    report = rest_of_the_run("run-2")

    assert quickbooks_customer()["SyncToken"] == before["SyncToken"]  # nothing was sent
    assert report["held"].get("customer", 0) >= 1
    with connect(settings.warehouse_url) as wh:
        (issue,) = wh.fetchdicts(
            "select entity, qbo_id, kind, reason from fieldbooks.sync_issues where status = 'open'"
        )
    assert (issue["entity"], issue["qbo_id"], issue["kind"]) == ("customer", qbo_id, "raw_contract")

    # QuickBooks sends it whole again: the update goes out once and the issue resolves.
    with connect(settings.warehouse_url) as wh:
        merge_rows(wh, raw_qbo_spec("Customer"), [raw_row(settings.qbo.realm_id, before, utcnow())])
    report = rest_of_the_run("run-3")

    after = quickbooks_customer()
    assert after["PrimaryEmailAddr"]["Address"] == "billing@renamed.example"
    assert int(after["SyncToken"]) == int(before["SyncToken"]) + 1
    assert report["written"].get("customer") == 1
    with connect(settings.warehouse_url) as wh:
        assert wh.fetchall("select kind from fieldbooks.sync_issues where status = 'open'") == []


def test_an_expense_moved_to_on_account_waits_for_a_person_then_becomes_a_bill(settings, sandbox):
    pipeline.sync(settings, "run-1")
    with connect(settings.warehouse_url) as wh:
        written = dict(
            wh.fetchall(
                "select ops_id, qbo_id from fieldbooks.sync_ledger where entity = 'expense'"
            )
        )
    purchases = {p["Id"]: p for p in _objects(sandbox, "Purchase")}
    ops_id, qbo_id = next((o, q) for o, q in sorted(written.items()) if q in purchases)
    engine = create_engine(settings.ops_url)
    with engine.begin() as conn:
        conn.execute(
            update(schema.expenses)
            .where(schema.expenses.c.id == int(ops_id))
            .values(paid_by="on_account", due_date=date(2026, 12, 31), updated_at=utcnow())
        )
    engine.dispose()
    bills_before = len(_objects(sandbox, "Bill"))

    pipeline.sync(settings, "run-2")

    with connect(settings.warehouse_url) as wh:
        issues = wh.fetchdicts(
            "select ops_id, qbo_id, kind, reason, hint from fieldbooks.sync_issues "
            "where status = 'open' and kind <> 'reconciliation_difference'"
        )
    assert [(i["ops_id"], i["qbo_id"], i["kind"]) for i in issues] == [
        (ops_id, qbo_id, "expense_type_changed")
    ]
    assert f"Purchase {qbo_id}" in issues[0]["reason"] and "on account" in issues[0]["reason"]
    assert f"delete Purchase {qbo_id} in QuickBooks" in issues[0]["hint"]
    assert qbo_id in {p["Id"] for p in _objects(sandbox, "Purchase")}  # nothing deleted
    assert len(_objects(sandbox, "Bill")) == bills_before

    # The bookkeeper deletes the Purchase in QuickBooks, as the hint says: a Bill follows.
    _act(sandbox, "delete", {"entity": "Purchase", "id": qbo_id})
    pipeline.sync(settings, "run-3")
    pipeline.sync(settings, "run-4")  # a rerun writes nothing twice

    marker = f"fieldbooks:expense:{ops_id}"
    bills = [b for b in _objects(sandbox, "Bill") if b.get("PrivateNote") == marker]
    assert len(bills) == 1, [(b["Id"], b.get("PrivateNote"), b.get("DocNumber")) for b in bills]
    with connect(settings.warehouse_url) as wh:
        assert (
            wh.scalar(
                "select qbo_id from fieldbooks.sync_ledger where entity = 'expense' and ops_id = %s",
                (ops_id,),
            )
            == bills[0]["Id"]
        )
        assert wh.fetchall("select kind from fieldbooks.sync_issues where status = 'open'") == []
        status = wh.scalar(
            "select status from reconciliation.expense_tieout "
            "where cast(ops_expense_id as varchar) = %s",
            (ops_id,),
        )
    assert status == "matched"
