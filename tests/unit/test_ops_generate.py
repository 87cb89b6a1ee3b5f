"""The generator writes what each scale promises, exactly and deterministically (no database)."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from fieldbooks.ops import schema
from fieldbooks.ops.catalog import DEMO_CATEGORY_IDS
from fieldbooks.ops.generate import NOTABLE_CUSTOMERS, iter_rows
from fieldbooks.ops.seed import plan_for


def _rows(plan) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = defaultdict(list)
    for table, row in iter_rows(plan):
        rows[table].append(row)
    return rows


def _digest(plan) -> str:
    digest = hashlib.sha256()
    for table, row in iter_rows(plan):
        digest.update(f"{table}{sorted(row.items())!r}".encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def small() -> dict[str, list[dict]]:
    return _rows(plan_for("small"))


@pytest.fixture(scope="module")
def company() -> dict[str, list[dict]]:
    """The whole-company profile at a size a unit test can afford, dirty cases on."""
    return _rows(plan_for("medium", invoices=6_000))


def test_small_is_the_demo_that_the_sandbox_company_takes_whole(small):
    assert len(small["customers"]) == 60 and len(small["invoices"]) == 200
    assert {line["category_id"] for line in small["invoice_lines"]} <= DEMO_CATEGORY_IDS
    assert {i["tax_jurisdiction"] for i in small["invoices"]} == {"LOCAL"}
    assert {i["status"] for i in small["invoices"]} <= {"sent", "partially_paid", "paid"}
    assert not small["credits"] and not small["refunds"]
    names = [c["display_name"] for c in small["customers"]]
    for given, family, company in NOTABLE_CUSTOMERS:
        assert (company or f"{given} {family}") in names
    assert [c["display_name"] for c in small["customers"] if c["tax_exempt"]] == [
        "St. Mary's Parish"
    ]
    assert len(set(names)) == len(names), "the demo's customers must have unique names"
    emails = [c["email"] for c in small["customers"]]
    assert len(set(emails)) == len(emails) and all("@" in e for e in emails)
    # every payment is used up on invoices: no over-payment in the demo
    applied = Counter()
    for app in small["payment_applications"]:
        applied[app["payment_id"]] += app["amount"]
    assert all(applied[p["id"]] == p["amount"] for p in small["payments"])


def test_small_has_payments_that_pay_several_invoices(small):
    per_payment = Counter(a["payment_id"] for a in small["payment_applications"])
    assert any(count > 1 for count in per_payment.values())


def test_every_row_carries_exactly_its_tables_columns(company, small):
    for rows in (company, small):
        for table, table_rows in rows.items():
            columns = {c.name for c in schema.metadata.tables[table].columns}
            assert all(set(row) == columns for row in table_rows), table


def test_money_is_never_a_float(company):
    for table, rows in company.items():
        for row in rows[:500]:
            assert not any(isinstance(v, float) for v in row.values()), table


@pytest.mark.parametrize("invoices,customers", [(1, 1), (7, 20), (200, 60), (999, 250)])
def test_exactly_the_asked_number_of_invoices(invoices, customers):
    rows = _rows(plan_for("small", invoices=invoices, customers=customers))
    assert len(rows["invoices"]) == invoices
    assert len(rows["customers"]) == customers


def test_ids_are_dense_and_parents_come_before_children(company):
    seen: dict[str, set[int]] = defaultdict(set)
    for table in schema.SYNCED_TABLES:
        ids = [row["id"] for row in company[table.name]]
        assert ids == list(range(1, len(ids) + 1)), table.name
    for table, row in iter_rows(plan_for("medium", invoices=800)):
        for column in schema.metadata.tables[table].columns:
            for fk in column.foreign_keys:
                value = row[column.name]
                if value is not None:
                    assert value in seen[fk.column.table.name], f"{table}.{column.name}"
        seen[table].add(row["id"])


def test_the_same_seed_gives_the_same_rows_and_another_seed_others():
    plan = plan_for("medium", invoices=1_500)
    assert _digest(plan) == _digest(plan)
    assert _digest(plan) != _digest(plan_for("medium", invoices=1_500, seed=43))


def test_the_whole_company_has_every_trade_and_kind_of_money_movement(company):
    jobs = company["jobs"]
    assert {j["trade_id"] for j in jobs} == {1, 2, 3, 4, 5}
    assert {j["contract_type"] for j in jobs} == {
        "service_call",
        "installation",
        "maintenance_agreement",
        "project",
    }
    assert any(j["is_warranty"] for j in jobs) and any(j["is_insurance_claim"] for j in jobs)
    invoices = company["invoices"]
    assert {i["status"] for i in invoices} == {"draft", "sent", "partially_paid", "paid", "void"}
    assert {i["tax_jurisdiction"] for i in invoices} == {"LOCAL", "REGIONAL"}
    assert {i["retainage_percent"] for i in invoices} >= {
        Decimal("0"),
        Decimal("5.00"),
        Decimal("10.00"),
    }
    assert max(i["progress_sequence"] or 0 for i in invoices) >= 3
    assert {p["method"] for p in company["payments"]} == {
        "card",
        "online_card",
        "check",
        "ach",
        "cash",
    }
    assert company["credits"] and company["refunds"] and company["maintenance_agreements"]
    assert {e["paid_by"] for e in company["expenses"]} == {"card", "cash", "on_account"}
    assert {e["category"] for e in company["expenses"]} == {
        "material",
        "subcontract",
        "permit",
        "equipment_rental",
    }
    kinds = {line["category_id"] for line in company["invoice_lines"]}
    assert {7, 8, 9} <= kinds  # equipment, subcontract, discount


def test_ticket_sizes_differ_by_trade(company):
    jobs = {j["id"]: j for j in company["jobs"]}
    totals: dict[int, list[Decimal]] = defaultdict(list)
    for invoice in company["invoices"]:
        totals[jobs[invoice["job_id"]]["trade_id"]].append(invoice["total"])
    median = {trade: sorted(v)[len(v) // 2] for trade, v in totals.items()}
    # a general-contracting progress bill is worth many service calls
    assert median[4] > 10 * median[1]
    assert median[1] < Decimal("1500")


def test_a_million_lines_at_large_scale_is_on_course():
    # large writes 300,000 invoices; the whole-company profile averages over 3.4 lines
    rows = _rows(plan_for("medium"))
    assert len(rows["invoices"]) == 20_000
    assert len(rows["invoice_lines"]) / 20_000 * 300_000 >= 1_000_000
