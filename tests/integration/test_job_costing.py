"""Job costing (dbt_project/models/marts/job_costing) on DuckDB and PostgreSQL, checked against Python.

The whole-company profile (every trade, warranty work, insurance roofing, retainage, maintenance
agreements, drafts and voids) is seeded at a small size, a few jobs are given QuickBooks
sub-customers with their expenses booked as Purchases and Bills, and `+path:models/marts/job_costing`
is built. Every figure checked here is recomputed independently from the operations DB with Decimal.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

try:
    import fieldbooks  # noqa: F401
except ImportError:  # not installed yet: use the checkout's include/
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "include"))

from fieldbooks.config import Settings, load_settings  # noqa: E402
from fieldbooks.ops import schema as ops  # noqa: E402
from fieldbooks.ops.extract import extract_ops  # noqa: E402
from fieldbooks.ops.seed import plan_for, seed_plan  # noqa: E402
from fieldbooks.qbo.raw import CDC_ENTITIES, QUERY_ENTITIES, raw_qbo_spec, raw_row  # noqa: E402
from fieldbooks.transform import run_dbt  # noqa: E402
from fieldbooks.warehouse.connection import connect  # noqa: E402
from fieldbooks.warehouse.merge import ensure_table, merge_rows  # noqa: E402
from fieldbooks.warehouse.state import ensure_state, utcnow  # noqa: E402

REALM = "9130350000000001"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# a whole-company sample: all five trades, warranty, insurance, retainage, agreements, voids
INVOICES = 400
QBO_JOBS = 3  # jobs given a QuickBooks sub-customer, their expenses booked there
QBO_EXTRA = Decimal("10.00")  # what the bookkeeper added to one Purchase by hand
SELECT = ["--select", "+path:models/marts/job_costing", "--indirect-selection", "cautious"]


def cents(value: Decimal) -> Decimal:
    """Half up (away from zero) to the cent."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------- expected, in Python


@dataclass
class Expected:
    """Job costing recomputed from the operations DB."""

    jobs: dict[str, dict[str, Any]]
    retainage: dict[str, tuple[Decimal, str]]  # invoice id -> (amount, held|released)
    agreements: dict[str, dict[str, Any]]
    qbo_jobs: dict[str, str]  # job id -> QuickBooks sub-customer id


def _rows(conn: Any, table: Any) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(table.select())]


def expected_from_ops(ops_url: str) -> Expected:
    """Every job's revenue, costs and margin, by the accounting rules, independently of dbt."""
    from sqlalchemy import create_engine

    engine = create_engine(ops_url)
    try:
        with engine.connect() as conn:
            jobs = [j for j in _rows(conn, ops.jobs) if j["deleted_at"] is None]
            invoices = _rows(conn, ops.invoices)
            lines = _rows(conn, ops.invoice_lines)
            kinds = {c["id"]: c["kind"] for c in _rows(conn, ops.service_categories)}
            items = {i["id"]: i["name"] for i in _rows(conn, ops.price_book_items)}
            agreements = {
                a["id"]: a
                for a in _rows(conn, ops.maintenance_agreements)
                if a["deleted_at"] is None
            }
            labor = [e for e in _rows(conn, ops.labor_entries) if e["deleted_at"] is None]
            expenses = [e for e in _rows(conn, ops.expenses) if e["deleted_at"] is None]
    finally:
        engine.dispose()
    by_job: dict[int, dict[str, Any]] = {
        j["id"]: {
            "job": j,
            "revenue": ZERO,
            "permits_billed": ZERO,
            "agreement_billed": ZERO,
            "warranty_billed_net": ZERO,
            "labor_cost": ZERO,
            "materials_cost": ZERO,
            "subcontract_cost": ZERO,
            "permit_cost": ZERO,
            "equipment_cost": ZERO,
        }
        for j in jobs
    }
    billed = {
        i["id"]: i
        for i in invoices
        if i["deleted_at"] is None
        and i["status"] not in ("draft", "void")
        and i["job_id"] in by_job
    }
    for line in lines:
        invoice = billed.get(line["invoice_id"])
        if line["deleted_at"] is not None or invoice is None:
            continue
        entry = by_job[invoice["job_id"]]
        job = entry["job"]
        agreement = agreements.get(job["agreement_id"])
        if kinds[line["category_id"]] == "permit":
            entry["permits_billed"] += line["amount"]
        elif job["is_warranty"]:
            entry["warranty_billed_net"] += line["amount"]
        elif agreement is not None and items.get(line["item_id"]) == agreement["plan_name"]:
            entry["agreement_billed"] += line["amount"]
        else:
            entry["revenue"] += line["amount"]
    for e in labor:
        if e["job_id"] in by_job:
            by_job[e["job_id"]]["labor_cost"] += cents(e["hours"] * e["cost_rate"])
    groups = {
        "material": "materials_cost",
        "subcontract": "subcontract_cost",
        "permit": "permit_cost",
        "equipment_rental": "equipment_cost",
    }
    for e in expenses:
        if e["job_id"] in by_job:
            by_job[e["job_id"]][groups[e["category"]]] += e["amount"]
    result: dict[str, dict[str, Any]] = {}
    for job_id, entry in by_job.items():
        job = entry.pop("job")
        job_cost = (
            entry["labor_cost"]
            + entry["materials_cost"]
            + entry["subcontract_cost"]
            + entry["equipment_cost"]
        )
        cost_of_revenue = ZERO if job["is_warranty"] else job_cost
        margin = entry["revenue"] - cost_of_revenue
        percent = None
        if entry["revenue"] > 0:
            percent = (100 * margin / entry["revenue"]).quantize(CENT, rounding=ROUND_HALF_UP)
        result[str(job_id)] = entry | {
            "job_cost": job_cost,
            "cost_of_revenue": cost_of_revenue,
            "warranty_expense": job_cost - entry["warranty_billed_net"]
            if job["is_warranty"]
            else ZERO,
            "gross_margin": margin,
            "gross_margin_percent": percent,
            "is_warranty": job["is_warranty"],
            "is_insurance_claim": job["is_insurance_claim"],
            "trade_id": str(job["trade_id"]),
            "status": job["status"],
        }
    retainage = {}
    for invoice in billed.values():
        if invoice["retainage_percent"] > 0:
            job = next(j for j in jobs if j["id"] == invoice["job_id"])
            amount = cents(invoice["total"] * invoice["retainage_percent"] / 100)
            retainage[str(invoice["id"])] = (
                amount,
                "released" if job["status"] == "completed" else "held",
            )
    return Expected(result, retainage, {str(k): v for k, v in agreements.items()}, qbo_jobs={})


# --------------------------------------------------------------------------- QuickBooks side


def give_jobs_sub_customers(ops_url: str) -> tuple[dict[str, str], list[dict]]:
    """As a sync would: a few jobs with expenses get a QuickBooks id, and so do their expenses."""
    from sqlalchemy import create_engine, select, update

    engine = create_engine(ops_url)
    try:
        with engine.begin() as conn:
            expenses = [
                dict(r._mapping)
                for r in conn.execute(
                    select(ops.expenses)
                    .where(ops.expenses.c.deleted_at.is_(None), ops.expenses.c.job_id.is_not(None))
                    .order_by(ops.expenses.c.id)
                )
            ]
            job_ids: list[int] = []
            for e in expenses:
                if e["job_id"] not in job_ids:
                    job_ids.append(e["job_id"])
            chosen = job_ids[:QBO_JOBS]
            qbo_jobs = {str(j): f"5{j:05d}" for j in chosen}
            booked = [e for e in expenses if e["job_id"] in chosen]
            for job_id in chosen:
                conn.execute(
                    update(ops.jobs)
                    .where(ops.jobs.c.id == job_id)
                    .values(qbo_id=qbo_jobs[str(job_id)])
                )
            for e in booked:
                e["qbo_id"] = f"7{e['id']:05d}"
                conn.execute(
                    update(ops.expenses)
                    .where(ops.expenses.c.id == e["id"])
                    .values(qbo_id=e["qbo_id"])
                )
    finally:
        engine.dispose()
    return qbo_jobs, booked


def _meta() -> dict:
    return {
        "CreateTime": "2026-09-01T10:00:00-07:00",
        "LastUpdatedTime": "2026-09-28T09:00:00-07:00",
    }


def _expense_line(amount: Decimal, customer: str, text: str) -> dict:
    return {
        "Id": "1",
        "Amount": amount,
        "Description": text,
        "DetailType": "AccountBasedExpenseLineDetail",
        "AccountBasedExpenseLineDetail": {
            "AccountRef": {"value": "80"},
            "CustomerRef": {"value": customer},
            "BillableStatus": "Billable",
        },
    }


def quickbooks_costs(qbo_jobs: dict[str, str], booked: list[dict]) -> dict[str, list[dict]]:
    """Each booked expense as its Purchase or Bill; one Purchase gets $10 more, one is the bookkeeper's."""
    purchases: list[dict] = []
    bills: list[dict] = []
    for n, e in enumerate(booked):
        amount = e["amount"] + (QBO_EXTRA if n == 0 else ZERO)
        body = {
            "Id": e["qbo_id"],
            "SyncToken": "0",
            "TxnDate": e["expense_date"].isoformat(),
            "Line": [_expense_line(amount, qbo_jobs[str(e["job_id"])], e["description"] or "")],
            "TotalAmt": amount,
            "MetaData": _meta(),
        }
        if e["paid_by"] == "on_account":
            bills.append(body | {"VendorRef": {"value": "3"}, "Balance": amount})
        else:
            purchases.append(body | {"PaymentType": "CreditCard", "AccountRef": {"value": "41"}})
    first_job = next(iter(qbo_jobs.values()))
    purchases += [
        # entered by the bookkeeper: no operations expense, so unclassified
        {
            "Id": "99001",
            "SyncToken": "0",
            "PaymentType": "Cash",
            "TxnDate": "2026-09-01",
            "Line": [_expense_line(Decimal("42.17"), first_job, "Fuel")],
            "TotalAmt": Decimal("42.17"),
            "MetaData": _meta(),
        },
        # booked against the parent customer, not a job: not job cost
        {
            "Id": "99002",
            "SyncToken": "0",
            "PaymentType": "Cash",
            "TxnDate": "2026-09-01",
            "Line": [_expense_line(Decimal("5.00"), "1", "Office")],
            "TotalAmt": Decimal("5.00"),
            "MetaData": _meta(),
        },
        {"Id": "99003", "status": "Deleted", "domain": "QBO", "MetaData": _meta()},
    ]
    return {"Purchase": purchases, "Bill": bills}


# --------------------------------------------------------------------------- building


@dataclass
class Build:
    """One warehouse with the job-costing marts built."""

    kind: str
    settings: Settings
    expected: Expected
    booked: list[dict]
    seconds: float

    def query(self, sql: str) -> list[dict]:
        """Rows of a query against the warehouse."""
        with connect(self.settings.warehouse_url) as wh:
            return wh.fetchdicts(sql)


def build_job_costing(kind: str, home: Path, warehouse_url: str) -> Build:
    """Seed, give jobs sub-customers, extract, load QuickBooks costs, build the job-costing marts."""
    settings = load_settings(
        {
            "FIELDBOOKS_HOME": str(home),
            "FIELDBOOKS_OPS_URL": f"sqlite:///{home / 'ops.sqlite'}",
            "FIELDBOOKS_WAREHOUSE_URL": warehouse_url,
            "FIELDBOOKS_QBO_REALM_ID": REALM,
        }
    )
    seed_plan(settings.ops_url, plan_for("medium", invoices=INVOICES))
    qbo_jobs, booked = give_jobs_sub_customers(settings.ops_url)
    expected = expected_from_ops(settings.ops_url)
    expected.qbo_jobs = qbo_jobs
    extract_ops(settings)
    objects = quickbooks_costs(qbo_jobs, booked)
    with connect(warehouse_url) as wh:
        extracted_at = utcnow()
        with wh.transaction():
            ensure_state(wh)
            for entity in (*CDC_ENTITIES, *QUERY_ENTITIES):
                spec = raw_qbo_spec(entity)
                ensure_table(wh, spec)
                rows = [raw_row(REALM, obj, extracted_at) for obj in objects.get(entity, [])]
                if rows:
                    merge_rows(wh, spec, rows)
    started = time.monotonic()
    run_dbt(settings, ["build", *SELECT])
    return Build(kind, settings, expected, booked, time.monotonic() - started)


@pytest.fixture(scope="module")
def duckdb_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The DuckDB warehouse, built."""
    home = tmp_path_factory.mktemp("jc_duckdb")
    return build_job_costing("duckdb", home, f"duckdb:///{(home / 'warehouse.duckdb').resolve()}")


@pytest.fixture(scope="module")
def postgres_url() -> Any:
    """A throw-away PostgreSQL database for the module (make_pg_database is per test)."""
    from tests.conftest import PG_ADMIN_DSN, require_postgres

    require_postgres()
    import uuid

    import psycopg

    name = f"fb_jc_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="module")
def postgres_build(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Build:
    """The PostgreSQL warehouse, built."""
    return build_job_costing("postgres", tmp_path_factory.mktemp("jc_postgres"), postgres_url)


@pytest.fixture(params=["duckdb", "postgres"])
def build(request: pytest.FixtureRequest) -> Build:
    """Each warehouse in turn."""
    return request.getfixturevalue(f"{request.param}_build")


def _jobs(build: Build) -> dict[str, dict]:
    return {r["job_id"]: r for r in build.query("select * from job_costing.job_costing")}


# --------------------------------------------------------------------------- the outcomes


def test_every_job_has_the_revenue_costs_and_margin_an_accountant_would_compute(
    build: Build,
) -> None:
    rows = _jobs(build)
    expected = build.expected.jobs
    assert set(rows) == set(expected)
    fields = (
        "revenue",
        "permits_billed",
        "agreement_billed",
        "warranty_billed_net",
        "labor_cost",
        "materials_cost",
        "subcontract_cost",
        "permit_cost",
        "equipment_cost",
        "job_cost",
        "cost_of_revenue",
        "warranty_expense",
        "gross_margin",
        "gross_margin_percent",
    )
    for job_id, want in expected.items():
        got = rows[job_id]
        assert {f: got[f] for f in fields} == {f: want[f] for f in fields}, job_id
    # money stays exact: Decimals at the cent, never floats
    one = next(iter(rows.values()))
    assert isinstance(one["revenue"], Decimal) and isinstance(one["gross_margin"], Decimal)
    assert one["revenue"].as_tuple().exponent == -2


def test_one_installation_job_splits_equipment_from_labor_and_keeps_permits_apart(
    build: Build,
) -> None:
    rows = _jobs(build)
    job_id = next(
        j
        for j, r in sorted(rows.items(), key=lambda kv: int(kv[0]))
        if r["revenue_equipment"] > 0 and r["permits_billed"] > 0 and r["revenue_service"] > 0
    )
    got, want = rows[job_id], build.expected.jobs[job_id]
    assert got["revenue"] == want["revenue"]
    assert got["revenue"] == sum(
        got[f"revenue_{k}"]
        for k in ("service", "equipment", "materials", "subcontract", "fees", "discounts", "other")
    )
    assert got["permits_billed"] == want["permits_billed"] > 0
    assert got["labor_cost"] == want["labor_cost"] > 0
    assert got["gross_margin"] == want["revenue"] - want["cost_of_revenue"]


def test_warranty_jobs_have_no_revenue_and_their_cost_is_warranty_expense(build: Build) -> None:
    rows = _jobs(build)
    warranty = [j for j, w in build.expected.jobs.items() if w["is_warranty"]]
    assert warranty, "the sample must hold warranty work"
    for job_id in warranty:
        row = rows[job_id]
        assert row["revenue"] == ZERO and row["cost_of_revenue"] == ZERO
        assert row["gross_margin_percent"] is None
        assert row["warranty_expense"] == build.expected.jobs[job_id]["warranty_expense"] > 0
    total = sum(build.expected.jobs[j]["warranty_expense"] for j in warranty)
    by_trade = build.query(
        "select sum(warranty_expense) as w from job_costing.job_costing_by_trade"
    )
    assert by_trade[0]["w"] == total


def test_retainage_is_withheld_per_progress_bill_and_released_when_the_job_completes(
    build: Build,
) -> None:
    rows = {r["invoice_id"]: r for r in build.query("select * from job_costing.job_retainage")}
    expected = build.expected.retainage
    assert expected and set(rows) == set(expected)
    for invoice_id, (amount, status) in expected.items():
        assert (rows[invoice_id]["retainage_amount"], rows[invoice_id]["retainage_status"]) == (
            amount,
            status,
        )
    held = sum((a for a, s in expected.values() if s == "held"), ZERO)
    released = sum((a for a, s in expected.values() if s == "released"), ZERO)
    assert held > 0 and released > 0
    totals = build.query(
        "select sum(retainage_held) as held, sum(retainage_released) as released "
        "from job_costing.job_costing"
    )[0]
    assert (totals["held"], totals["released"]) == (held, released)


def test_agreement_revenue_is_recognised_month_by_month_over_the_term(build: Build) -> None:
    rows = build.query(
        "select * from job_costing.agreement_revenue_schedule order by agreement_id, period_number"
    )
    agreements = build.expected.agreements
    assert agreements
    by_agreement: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_agreement[row["agreement_id"]].append(row)
    for agreement_id, agreement in agreements.items():
        periods = by_agreement[agreement_id]
        assert len(periods) == agreement["term_months"]
        assert sum(p["recognized_amount"] for p in periods) == agreement["price"]
        price, term = agreement["price"], agreement["term_months"]
        for p in periods:
            n = p["period_number"]
            assert p["recognized_amount"] == cents(price * n / term) - cents(price * (n - 1) / term)
        start = agreement["starts_on"]
        assert periods[0]["recognition_month"] == date(start.year, start.month, 1)
    # the plan is deferred on the job, not revenue
    plan_jobs = [j for j, w in build.expected.jobs.items() if w["agreement_billed"] > 0]
    assert plan_jobs
    jobs = _jobs(build)
    for job_id in plan_jobs:
        assert jobs[job_id]["agreement_billed"] == build.expected.jobs[job_id]["agreement_billed"]


def test_roofing_revenue_is_split_between_insurance_claims_and_retail(build: Build) -> None:
    trades = {
        r["trade_id"]: r for r in build.query("select * from job_costing.job_costing_by_trade")
    }
    roofing = [w for w in build.expected.jobs.values() if w["trade_id"] == "5"]
    insurance = sum((w["revenue"] for w in roofing if w["is_insurance_claim"]), ZERO)
    retail = sum((w["revenue"] for w in roofing if not w["is_insurance_claim"]), ZERO)
    assert insurance > 0 and retail > 0
    assert (trades["5"]["revenue_insurance"], trades["5"]["revenue_retail"]) == (insurance, retail)


def test_quickbooks_costs_sit_beside_the_operations_costs_of_the_job(build: Build) -> None:
    rows = _jobs(build)
    first_job = next(iter(build.expected.qbo_jobs))
    for job_id, qbo_id in build.expected.qbo_jobs.items():
        row = rows[job_id]
        assert row["qbo_customer_id"] == qbo_id
        ops_cost = sum((e["amount"] for e in build.booked if str(e["job_id"]) == job_id), ZERO)
        extra = QBO_EXTRA if str(build.booked[0]["job_id"]) == job_id else ZERO
        unclassified = Decimal("42.17") if job_id == first_job else ZERO
        assert row["vendor_cost"] == ops_cost
        assert row["qbo_vendor_cost"] == ops_cost + extra + unclassified
        assert row["qbo_unclassified_cost"] == unclassified
        assert row["vendor_cost_difference"] == -(extra + unclassified)
    # jobs without a sub-customer have nothing on the QuickBooks side
    others = [r for j, r in rows.items() if j not in build.expected.qbo_jobs]
    assert all(r["qbo_vendor_cost"] == ZERO for r in others)


def test_rollups_by_trade_branch_month_and_technician_add_up_to_the_jobs(build: Build) -> None:
    revenue = sum((w["revenue"] for w in build.expected.jobs.values()), ZERO)
    margin = sum((w["gross_margin"] for w in build.expected.jobs.values()), ZERO)
    labor = sum((w["labor_cost"] for w in build.expected.jobs.values()), ZERO)
    for table in ("job_costing_by_trade", "job_costing_by_branch"):
        row = build.query(
            f"select sum(revenue) as r, sum(gross_margin) as m from job_costing.{table}"
        )[0]
        assert (row["r"], row["m"]) == (revenue, margin), table
    month = build.query("select sum(revenue) as r from job_costing.job_costing_by_month")[0]
    assert month["r"] == revenue
    tech = build.query("select sum(labor_cost) as l from job_costing.job_costing_by_technician")[0]
    assert tech["l"] == labor
    trades = build.query("select count(*) as n from job_costing.job_costing_by_trade")[0]
    assert trades["n"] == 5


def test_both_warehouses_give_the_same_job_costing(
    duckdb_build: Build, postgres_build: Build
) -> None:
    columns = "job_id, revenue, cost_of_revenue, gross_margin, gross_margin_percent"
    sql = f"select {columns} from job_costing.job_costing order by job_id"
    assert duckdb_build.query(sql) == postgres_build.query(sql)
    print(
        f"\nbuild seconds: duckdb {duckdb_build.seconds:.1f}, postgres {postgres_build.seconds:.1f}"
    )
