"""dbt build of dbt_project/ on DuckDB and PostgreSQL, from a seeded operations DB and QuickBooks objects.

Each warehouse is built the way the pipeline builds it: the demo operations DB is seeded
and extracted into raw_ops.*, a handful of realistic QuickBooks objects are merged into
raw_qbo.*, and `fieldbooks.transform.transform` runs `dbt build` twice: once with an empty
sync ledger, then again after the ledger records what a load would have pushed.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

try:
    import fieldbooks  # noqa: F401
except ImportError:  # not installed yet: use the checkout's include/
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "include"))

from fieldbooks.config import Settings, load_settings  # noqa: E402
from fieldbooks.ops import schema as ops_schema  # noqa: E402
from fieldbooks.ops.extract import extract_ops  # noqa: E402
from fieldbooks.ops.seed import seed_demo  # noqa: E402
from fieldbooks.qbo.raw import CDC_ENTITIES, QUERY_ENTITIES, raw_qbo_spec, raw_row  # noqa: E402
from fieldbooks.transform import transform  # noqa: E402
from fieldbooks.warehouse.connection import connect  # noqa: E402
from fieldbooks.warehouse.merge import ensure_table, merge_rows  # noqa: E402
from fieldbooks.warehouse.state import ensure_state, utcnow  # noqa: E402

REALM = "9130350000000001"
OTHER_REALM = "9130350000000999"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
# every raw_qbo table exists before dbt runs, as extract_qbo leaves it (most stay empty here)
QBO_ENTITIES = CDC_ENTITIES + QUERY_ENTITIES
ITEMS = [
    "Plumbing Service",
    "HVAC Service",
    "Electrical Service",
    "Materials",
    "Permit Fee",
    "Trip Charge",
]
UPDATED = "2026-09-28T09:00:00-07:00"


# --------------------------------------------------------------------------- scenario


@dataclass
class Scenario:
    """The operations records the QuickBooks side refers to, picked from the demo data."""

    ambiguous_customer: int  # two QuickBooks customers with the same normalised name
    name_customer: int  # one QuickBooks customer with the same normalised name
    email_customer: int  # one QuickBooks customer with the same email, another name
    synced_customer: int  # the customer of invoice A, already linked (ledger in run 2)
    invoice_a: dict  # pushed (ledger), then paid in QuickBooks: balance differs
    invoice_b: dict  # entered in QuickBooks under its DocNumber, no ledger row
    invoice_c: dict  # pushed, but the ledger hash is stale: must be updated
    invoice_d: dict  # its last push failed before QuickBooks had it: retry as a create
    invoice_e: dict  # paid in ops, pushed with its payment: nothing to do
    payment_e: dict  # the ops payment of invoice E, recorded in QuickBooks (ledger)
    lines: dict[int, list[dict]] = field(default_factory=dict)
    ops_invoice_count: int = 0
    ops_payment_count: int = 0
    ops_customer_count: int = 0


def pick_scenario(ops_url: str) -> Scenario:
    """Choose the demo records the QuickBooks fixtures are built around."""
    from sqlalchemy import create_engine, select

    engine = create_engine(ops_url)
    try:
        with engine.connect() as conn:
            customers = [dict(r._mapping) for r in conn.execute(select(ops_schema.customers))]
            invoices = [
                dict(r._mapping)
                for r in conn.execute(
                    select(ops_schema.invoices).order_by(ops_schema.invoices.c.id)
                )
            ]
            lines = [
                dict(r._mapping)
                for r in conn.execute(
                    select(ops_schema.invoice_lines).order_by(
                        ops_schema.invoice_lines.c.invoice_id,
                        ops_schema.invoice_lines.c.line_number,
                    )
                )
            ]
            payments = [dict(r._mapping) for r in conn.execute(select(ops_schema.payments))]
            applications = [
                dict(r._mapping) for r in conn.execute(select(ops_schema.payment_applications))
            ]
    finally:
        engine.dispose()
    by_name = {c["display_name"]: c["id"] for c in customers}
    reserved = {by_name["Seán O'Brien"], by_name["Renée Dubois"], 10}
    sent = [i for i in invoices if i["status"] == "sent" and i["customer_id"] not in reserved]
    invoice_a = sent[0]
    others = [i for i in sent[1:] if i["customer_id"] != invoice_a["customer_id"]]
    # an invoice paid by one payment that pays nothing else
    apps_by_payment = Counter(a["payment_id"] for a in applications)
    apps_by_invoice = Counter(a["invoice_id"] for a in applications)
    paid_once = [
        i
        for i in invoices
        if i["status"] == "paid"
        and i["customer_id"] not in reserved | {invoice_a["customer_id"]}
        and apps_by_invoice[i["id"]] == 1
        and any(
            a["invoice_id"] == i["id"] and apps_by_payment[a["payment_id"]] == 1
            for a in applications
        )
    ]
    invoice_e = paid_once[0]
    payment_id_e = next(a["payment_id"] for a in applications if a["invoice_id"] == invoice_e["id"])
    payment_e = next(p for p in payments if p["id"] == payment_id_e)
    grouped: dict[int, list[dict]] = {}
    for line in lines:
        grouped.setdefault(line["invoice_id"], []).append(line)
    return Scenario(
        ambiguous_customer=by_name["Seán O'Brien"],
        name_customer=by_name["Renée Dubois"],
        email_customer=10,
        synced_customer=invoice_a["customer_id"],
        invoice_a=invoice_a,
        invoice_b=others[0],
        invoice_c=others[1],
        invoice_d=others[2],
        invoice_e=invoice_e,
        payment_e=payment_e,
        lines=grouped,
        ops_invoice_count=len(invoices),
        ops_payment_count=len(payments),
        ops_customer_count=len(customers),
    )


def _meta() -> dict:
    return {"CreateTime": "2026-09-01T10:00:00-07:00", "LastUpdatedTime": UPDATED}


def qbo_customer(
    qbo_id: str, display: str, email: str | None = None, address: dict | None = None
) -> dict:
    """A QuickBooks customer as the API returns it (billed at `address`, an ops customer's)."""
    body: dict[str, Any] = {
        "Id": qbo_id,
        "SyncToken": "0",
        "DisplayName": display,
        "Taxable": True,
        "Active": True,
        "Job": False,
        "Balance": Decimal("0.00"),
        "BillAddr": {"Line1": "1 Main St", "City": "Sacramento", "CountrySubDivisionCode": "CA"},
        "MetaData": _meta(),
        "domain": "QBO",
        "sparse": False,
    }
    if address is not None:
        body["BillAddr"] = {
            "Line1": address["bill_line1"],
            "PostalCode": address["bill_postal_code"],
            "CountrySubDivisionCode": "CA",
        }
    if email is not None:
        body["PrimaryEmailAddr"] = {"Address": email}
    return body


def qbo_invoice(
    qbo_id: str,
    invoice: dict,
    lines: list[dict],
    customer_ref: str,
    balance: Decimal,
    sync_token: str = "1",
) -> dict:
    """A QuickBooks invoice mirroring an operations invoice, SubTotalLineDetail line included."""
    body_lines: list[dict] = []
    for n, line in enumerate(lines, start=1):
        item = line["category_id"]
        body_lines.append(
            {
                "Id": str(n),
                "LineNum": n,
                "Amount": line["amount"],
                "Description": line["description"],
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": str(item), "name": ITEMS[item - 1]},
                    "Qty": line["quantity"],
                    "UnitPrice": line["unit_price"],
                    "TaxCodeRef": {"value": "TAX" if line["taxable"] else "NON"},
                },
            }
        )
    body_lines.append(
        {
            "Amount": invoice["subtotal"],
            "DetailType": "SubTotalLineDetail",
            "SubTotalLineDetail": {},
        }
    )
    return {
        "Id": qbo_id,
        "SyncToken": sync_token,
        "DocNumber": invoice["invoice_number"],
        "TxnDate": invoice["issue_date"].isoformat(),
        "DueDate": invoice["due_date"].isoformat(),
        "CustomerRef": {"value": customer_ref},
        "Line": body_lines,
        "TxnTaxDetail": {"TxnTaxCodeRef": {"value": "1"}, "TotalTax": invoice["tax"]},
        "TotalAmt": invoice["total"],
        "Balance": balance,
        "PrivateNote": f"fieldbooks:invoice:{invoice['id']}",
        "MetaData": _meta(),
        "domain": "QBO",
    }


def qbo_payment(
    qbo_id: str, customer_ref: str, amount: Decimal, invoice_qbo_id: str, ref: str
) -> dict:
    """A QuickBooks payment applied to one invoice."""
    return {
        "Id": qbo_id,
        "SyncToken": "0",
        "CustomerRef": {"value": customer_ref},
        "TotalAmt": amount,
        "UnappliedAmt": Decimal("0"),
        "TxnDate": "2026-09-27",
        "PaymentRefNum": ref,
        "DepositToAccountRef": {"value": "35"},
        "Line": [
            {"Amount": amount, "LinkedTxn": [{"TxnId": invoice_qbo_id, "TxnType": "Invoice"}]}
        ],
        "MetaData": _meta(),
        "domain": "QBO",
    }


QBO_PAYMENT_AMOUNT = Decimal("50.00")


def quickbooks_objects(
    s: Scenario, ops_customers: dict[int, dict]
) -> dict[str, list[tuple[str, dict]]]:
    """The QuickBooks side of the scenario: (realm, object) per entity."""
    a, b, c, e = s.invoice_a, s.invoice_b, s.invoice_c, s.invoice_e
    synced = ops_customers[s.synced_customer]
    emailed = ops_customers[s.email_customer]
    customers = [
        qbo_customer("1", "Front Desk Account", f"  {emailed['email'].upper()} "),
        # a name matches only with the same billing address
        qbo_customer("2", "SEÁN  O’BRIEN", address=ops_customers[s.ambiguous_customer]),
        qbo_customer("3", "Seán O'Brien.", address=ops_customers[s.ambiguous_customer]),
        qbo_customer("4", synced["display_name"], synced["email"]),
        qbo_customer("5", "renée dubois", "billing@dubois.example", ops_customers[s.name_customer]),
    ]
    lines = s.lines
    invoices = [
        qbo_invoice("101", a, lines[a["id"]], "4", a["total"] - QBO_PAYMENT_AMOUNT),
        qbo_invoice("102", b, lines[b["id"]], "4", b["total"], sync_token="0"),
        qbo_invoice("105", c, lines[c["id"]], "4", c["total"]),
        qbo_invoice("106", e, lines[e["id"]], "4", Decimal("0.00"), sync_token="2"),
        {
            **qbo_invoice("103", b, lines[b["id"]], "4", b["total"]),
            "DocNumber": "QB-9001",
            "PrivateNote": "entered by the bookkeeper",
        },
        {
            "Id": "104",
            "status": "Deleted",
            "domain": "QBO",
            "MetaData": {"LastUpdatedTime": UPDATED},
        },
    ]
    payments = [
        qbo_payment("201", "4", QBO_PAYMENT_AMOUNT, "101", "QB-2001"),
        qbo_payment("202", "4", s.payment_e["amount"], "106", "QB-2002"),
        qbo_payment("203", "4", Decimal("12.34"), "103", "QB-2003"),
    ]
    items = [
        {
            "Id": str(n),
            "SyncToken": "0",
            "Name": name,
            "FullyQualifiedName": name,
            "Type": "Service",
            "Active": True,
            "Taxable": name == "Materials",
            "IncomeAccountRef": {"value": "79"},
            "MetaData": _meta(),
        }
        for n, name in enumerate(ITEMS, start=1)
    ]
    accounts = [
        {
            "Id": "79",
            "SyncToken": "0",
            "Name": "Sales of Product Income",
            "FullyQualifiedName": "Sales of Product Income",
            "AccountType": "Income",
            "AccountSubType": "SalesOfProductIncome",
            "Classification": "Revenue",
            "Active": True,
            "CurrentBalance": Decimal("0"),
            "MetaData": _meta(),
        }
    ]
    tax_codes = [
        {
            "Id": "1",
            "SyncToken": "0",
            "Name": "Local Sales Tax",
            "Description": "Local Sales Tax 8.25%",
            "Active": True,
            "Taxable": True,
            "TaxGroup": True,
            "MetaData": _meta(),
        }
    ]
    objects: dict[str, list[tuple[str, dict]]] = {
        "Customer": [(REALM, o) for o in customers],
        "Invoice": [(REALM, o) for o in invoices],
        "Payment": [(REALM, o) for o in payments],
        "Item": [(REALM, o) for o in items],
        "Account": [(REALM, o) for o in accounts],
        "TaxCode": [(REALM, o) for o in tax_codes],
    }
    # another company's invoice with a colliding Id: the realm filter keeps it out
    objects["Invoice"].append((OTHER_REALM, qbo_invoice("101", b, lines[b["id"]], "1", b["total"])))
    return objects


# --------------------------------------------------------------------------- building


@dataclass
class Build:
    """One warehouse after the two dbt builds."""

    kind: str
    settings: Settings
    scenario: Scenario
    first_run: dict[str, list[dict]]

    def query(self, sql: str) -> list[dict]:
        """Rows of a query against the warehouse."""
        with connect(self.settings.warehouse_url) as wh:
            return wh.fetchdicts(sql)


def _settings(home: Path, warehouse_url: str) -> Settings:
    return load_settings(
        {
            "FIELDBOOKS_HOME": str(home),
            "FIELDBOOKS_OPS_URL": f"sqlite:///{home / 'ops.sqlite'}",
            "FIELDBOOKS_WAREHOUSE_URL": warehouse_url,
            "FIELDBOOKS_QBO_REALM_ID": REALM,
        }
    )


def _run_transform(settings: Settings, scratch: Path) -> None:
    """dbt build, with dbt's target/ and logs/ kept out of the checkout."""
    saved = dict(os.environ)
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ["DBT_TARGET_PATH"] = str(scratch / "dbt_target")
    os.environ["DBT_LOG_PATH"] = str(scratch / "dbt_logs")
    try:
        transform(settings)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _ledger_row(
    entity: str, ops_id: Any, qbo_id: str | None, payload_hash: str | None, state: str
) -> tuple:
    now = utcnow()
    return (
        REALM,
        entity,
        str(ops_id),
        qbo_id,
        None if qbo_id is None else "1",
        payload_hash,
        state,
        f"req-{entity}-{ops_id}",
        f"fieldbooks:{entity}:{ops_id}",
        "ops",
        "throttled" if state == "failed" else None,
        now - timedelta(hours=1),
        now,
    )


OUTBOUND_QUERIES = {
    "customers": "select * from sync.sync_qbo_customers",
    "invoices": "select * from sync.sync_qbo_invoices",
    "payments": "select * from sync.sync_qbo_payments",
}


def build_warehouse(kind: str, home: Path, warehouse_url: str) -> Build:
    """Seed, extract, load the QuickBooks objects, dbt build; record the ledger; dbt build again."""
    settings = _settings(home, warehouse_url)
    seed_demo(settings.ops_url)
    scenario = pick_scenario(settings.ops_url)
    extract_ops(settings)

    with connect(warehouse_url) as wh:
        ops_customers = {
            int(r["id"]): r
            for r in wh.fetchdicts(
                "select id, display_name, email, bill_line1, bill_postal_code from raw_ops.customers"
            )
        }
        extracted_at = utcnow()
        with wh.transaction():
            ensure_state(wh)
            objects = quickbooks_objects(scenario, ops_customers)
            for entity in QBO_ENTITIES:
                spec = raw_qbo_spec(entity)
                ensure_table(wh, spec)
                rows = [raw_row(realm, obj, extracted_at) for realm, obj in objects.get(entity, [])]
                merge_rows(wh, spec, rows)

    _run_transform(settings, home)
    first = Build(kind, settings, scenario, {})
    first_run = {name: first.query(sql) for name, sql in OUTBOUND_QUERIES.items()}

    # what load_quickbooks would have recorded after pushing A and E (and a stale / failed pair)
    hashes = {r["ops_invoice_id"]: r["payload_hash"] for r in first_run["invoices"]}
    customer_hashes = {r["ops_customer_id"]: r["payload_hash"] for r in first_run["customers"]}
    payment_hashes = {r["ops_payment_id"]: r["payload_hash"] for r in first_run["payments"]}
    s = scenario
    ledger = [
        _ledger_row(
            "customer", s.synced_customer, "4", customer_hashes[str(s.synced_customer)], "confirmed"
        ),
        _ledger_row(
            "invoice", s.invoice_a["id"], "101", hashes[str(s.invoice_a["id"])], "confirmed"
        ),
        _ledger_row("invoice", s.invoice_c["id"], "105", "0" * 32, "confirmed"),
        _ledger_row("invoice", s.invoice_d["id"], None, None, "failed"),
        _ledger_row("invoice", s.invoice_e["id"], "106", hashes[str(s.invoice_e["id"])], "sent"),
        _ledger_row(
            "payment", s.payment_e["id"], "202", payment_hashes[str(s.payment_e["id"])], "confirmed"
        ),
    ]
    with connect(warehouse_url) as wh:
        wh.executemany(
            """insert into fieldbooks.sync_ledger (realm_id, entity, ops_id, qbo_id, sync_token,
               payload_hash, state, request_id, marker, origin, last_error, created_at, updated_at)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            ledger,
        )
    _run_transform(settings, home)
    return Build(kind, settings, scenario, first_run)


def _postgres_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3
        ):
            return True
    except Exception:
        return False


@pytest.fixture(scope="module")
def duckdb_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The DuckDB warehouse, built."""
    home = tmp_path_factory.mktemp("fb_duckdb")
    return build_warehouse("duckdb", home, f"duckdb:///{(home / 'warehouse.duckdb').resolve()}")


@pytest.fixture(scope="module")
def postgres_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    """A throw-away PostgreSQL database, built, then dropped."""
    if not _postgres_reachable():
        message = f"PostgreSQL at {PG_HOST}:{PG_PORT} is missing (user {PG_USER}, trust auth)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}: required under CI=true")
        pytest.skip(message)
    import psycopg

    dbname = f"fb_dbt_{uuid.uuid4().hex[:12]}"
    admin = dict(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True)
    with psycopg.connect(**admin) as conn:
        conn.execute(f'create database "{dbname}"')
    try:
        home = tmp_path_factory.mktemp("fb_postgres")
        yield build_warehouse(
            "postgres", home, f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"
        )
    finally:
        with psycopg.connect(**admin) as conn:
            conn.execute(f'drop database if exists "{dbname}" with (force)')


@pytest.fixture(scope="module")
def first_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The very first run: operations extracted, QuickBooks tables created but empty, no ledger."""
    home = tmp_path_factory.mktemp("fb_first")
    settings = _settings(home, f"duckdb:///{(home / 'warehouse.duckdb').resolve()}")
    seed_demo(settings.ops_url)
    scenario = pick_scenario(settings.ops_url)
    extract_ops(settings)
    with connect(settings.warehouse_url) as wh:
        for entity in QBO_ENTITIES:
            ensure_table(wh, raw_qbo_spec(entity))
    _run_transform(settings, home)
    return Build("duckdb", settings, scenario, {})


@pytest.fixture(params=["duckdb", "postgres"])
def build(request: pytest.FixtureRequest) -> Build:
    """Each warehouse in turn."""
    return request.getfixturevalue(f"{request.param}_build")


# --------------------------------------------------------------------------- the outcomes


def _by(rows: list[dict], key: str) -> dict[str, dict]:
    return {str(r[key]): r for r in rows}


def test_every_invoice_is_queued_for_quickbooks_before_anything_is_pushed(build: Build) -> None:
    invoices = build.first_run["invoices"]
    assert len(invoices) == build.scenario.ops_invoice_count == 200
    by_id = _by(invoices, "ops_invoice_id")
    # invoices already in QuickBooks under their DocNumber are updated, not created twice
    for invoice, qbo_id in (
        (build.scenario.invoice_a, "101"),
        (build.scenario.invoice_b, "102"),
        (build.scenario.invoice_c, "105"),
        (build.scenario.invoice_e, "106"),
    ):
        row = by_id[str(invoice["id"])]
        assert (row["action"], row["qbo_id"], row["reason"]) == ("update", qbo_id, "new")
    assert sum(r["action"] == "create" for r in invoices) == 196


def test_synced_invoices_leave_the_outbound_set_and_changed_ones_come_back(build: Build) -> None:
    s = build.scenario
    rows = build.query("select * from sync.sync_qbo_invoices")
    by_id = _by(rows, "ops_invoice_id")
    # A and E are pushed with the current hash: nothing to do
    assert str(s.invoice_a["id"]) not in by_id
    assert str(s.invoice_e["id"]) not in by_id
    assert len(rows) == 200 - 2
    assert sum(r["action"] == "create" for r in rows) == 200 - 4
    b, c, d = (by_id[str(i["id"])] for i in (s.invoice_b, s.invoice_c, s.invoice_d))
    assert (b["action"], b["qbo_id"], b["qbo_sync_token"], b["reason"]) == (
        "update",
        "102",
        "0",
        "new",
    )
    assert (c["action"], c["qbo_id"], c["qbo_sync_token"], c["reason"]) == (
        "update",
        "105",
        "1",
        "changed",
    )
    assert (d["action"], d["qbo_id"], d["reason"]) == ("create", None, "retry")


def test_outbound_invoice_carries_what_quickbooks_needs(build: Build) -> None:
    s = build.scenario
    invoice = s.invoice_d
    row = _by(build.query("select * from sync.sync_qbo_invoices"), "ops_invoice_id")[
        str(invoice["id"])
    ]
    lines = build.query(
        f"select * from sync.sync_qbo_invoice_lines where ops_invoice_id = '{invoice['id']}' "
        "order by line_number"
    )
    ops_lines = s.lines[invoice["id"]]
    assert row["doc_number"] == invoice["invoice_number"]
    assert row["private_note"] == f"fieldbooks:invoice:{invoice['id']}"
    assert row["txn_date"] == invoice["issue_date"] and row["due_date"] == invoice["due_date"]
    assert (row["subtotal"], row["tax"], row["total"]) == (
        invoice["subtotal"],
        invoice["tax"],
        invoice["total"],
    )
    assert row["lines_total"] == invoice["subtotal"]
    assert (row["line_count"], row["unmapped_line_count"]) == (len(ops_lines), 0)
    assert row["tax_code_id"] == ("1" if any(line["taxable"] for line in ops_lines) else None)
    assert [line["qbo_item_id"] for line in lines] == [str(x["category_id"]) for x in ops_lines]
    assert [line["quantity"] for line in lines] == [x["quantity"] for x in ops_lines]
    assert [line["amount"] for line in lines] == [x["amount"] for x in ops_lines]
    assert [line["tax_code"] for line in lines] == [
        "TAX" if x["taxable"] else "NON" for x in ops_lines
    ]
    assert all(isinstance(line["amount"], Decimal) for line in lines)


def test_customers_are_linked_by_crosswalk_email_or_name_and_ambiguity_is_held(
    build: Build,
) -> None:
    s = build.scenario
    rows = _by(build.query("select * from sync.sync_qbo_customers"), "ops_customer_id")
    # the customer recorded in the ledger with the current payload is not sent again
    assert str(s.synced_customer) not in rows
    assert len(rows) == s.ops_customer_count - 1
    emailed = rows[str(s.email_customer)]
    assert (
        emailed["action"],
        emailed["resolution"],
        emailed["match_method"],
        emailed["qbo_id"],
    ) == (
        "link",
        "linked",
        "email",
        "1",
    )
    named = rows[str(s.name_customer)]
    assert (named["action"], named["match_method"], named["qbo_id"]) == (
        "link",
        "name_address",
        "5",
    )
    held = rows[str(s.ambiguous_customer)]
    assert (held["resolution"], held["match_method"], held["qbo_id"]) == (
        "ambiguous",
        "name_address",
        None,
    )
    assert held["candidate_qbo_ids"] == "2,3"
    others = [
        r
        for k, r in rows.items()
        if k not in {str(s.email_customer), str(s.name_customer), str(s.ambiguous_customer)}
    ]
    assert {(r["action"], r["resolution"], r["reason"]) for r in others} == {
        ("create", "to_create", "new")
    }
    # in the first run, before the ledger knew it, the synced customer was linked by email
    first = _by(build.first_run["customers"], "ops_customer_id")[str(s.synced_customer)]
    assert (first["action"], first["match_method"], first["qbo_id"]) == ("link", "email", "4")


def test_invoices_of_a_linked_customer_carry_its_quickbooks_id(build: Build) -> None:
    rows = build.query(
        "select customer_resolution, customer_qbo_id from sync.sync_qbo_invoices "
        f"where ops_customer_id = '{build.scenario.email_customer}'"
    )
    assert rows and all(
        r == {"customer_resolution": "linked", "customer_qbo_id": "1"} for r in rows
    )


def test_payment_recorded_in_quickbooks_is_written_back_to_its_ops_invoice(build: Build) -> None:
    s = build.scenario
    rows = build.query("select * from sync.sync_ops_payments order by qbo_payment_id, line_index")
    by_payment = _by(rows, "qbo_payment_id")
    assert set(by_payment) == {"201", "203"}  # 202 is in the ledger
    paid = by_payment["201"]
    assert paid["ops_invoice_id"] == str(s.invoice_a["id"])
    assert paid["ops_customer_id"] == str(s.invoice_a["customer_id"])
    assert (paid["qbo_invoice_id"], paid["line_index"], paid["amount"]) == (
        "101",
        0,
        QBO_PAYMENT_AMOUNT,
    )
    assert paid["payment_ref_num"] == "QB-2001"
    assert str(paid["txn_date"]) == "2026-09-27"
    # a payment of an invoice operations does not know stays, unlinked, for validation
    assert by_payment["203"]["ops_invoice_id"] is None


def test_ops_payments_not_yet_in_quickbooks_are_queued(build: Build) -> None:
    s = build.scenario
    rows = _by(build.query("select * from sync.sync_qbo_payments"), "ops_payment_id")
    assert str(s.payment_e["id"]) not in rows
    assert len(rows) == s.ops_payment_count - 1
    row = next(iter(rows.values()))
    assert row["private_note"] == f"fieldbooks:payment:{row['ops_payment_id']}"
    assert {r["reason"] for r in rows.values()} == {"new"}


def test_invoice_tieout_tells_matched_mismatched_and_missing(build: Build) -> None:
    s = build.scenario
    rows = build.query("select * from reconciliation.invoice_tieout")
    status = {(r["ops_invoice_id"], r["qbo_invoice_id"]): r["status"] for r in rows}
    assert status[(str(s.invoice_a["id"]), "101")] == "amount_mismatch"
    assert status[(str(s.invoice_b["id"]), "102")] == "matched"
    assert status[(str(s.invoice_c["id"]), "105")] == "matched"
    assert status[(str(s.invoice_e["id"]), "106")] == "matched"
    assert status[(None, "103")] == "missing_in_ops"
    assert "104" not in {r["qbo_invoice_id"] for r in rows}  # deleted in QuickBooks
    counts = {k: sum(v == k for v in status.values()) for k in set(status.values())}
    assert counts == {
        "matched": 3,
        "amount_mismatch": 1,
        "missing_in_ops": 1,
        "missing_in_quickbooks": 196,
    }
    a = next(r for r in rows if r["qbo_invoice_id"] == "101")
    assert (a["total_difference"], a["balance_difference"]) == (Decimal("0.00"), QBO_PAYMENT_AMOUNT)
    summary = build.query("select * from reconciliation.tieout_summary")
    assert len(summary) == 1 and summary[0]["entity"] == "invoice"
    assert summary[0]["record_count"] == len(rows)
    assert summary[0]["matched_count"] == 3 and summary[0]["missing_in_ops_count"] == 1


def test_marts_land_in_their_schemas_with_exact_money(build: Build) -> None:
    with connect(build.settings.warehouse_url) as wh:
        for schema, table in (
            ("sync", "sync_qbo_customers"),
            ("sync", "sync_qbo_invoices"),
            ("sync", "sync_qbo_invoice_lines"),
            ("sync", "sync_qbo_payments"),
            ("sync", "sync_ops_payments"),
            ("reconciliation", "invoice_tieout"),
            ("reconciliation", "tieout_summary"),
            ("mappings", "map_service_categories"),
            ("mappings", "map_tax_jurisdictions"),
        ):
            assert wh.table_exists(schema, table), f"{schema}.{table}"
        types = dict(
            wh.fetchall(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'sync' and table_name = 'sync_qbo_invoice_lines'"
            )
        )
    assert types["amount"].lower().startswith(("decimal(18,2)", "numeric"))
    assert types["quantity"].lower().startswith(("decimal(18,4)", "numeric"))
    assert not any(
        "double" in t.lower() or "real" in t.lower() or "float" in t.lower() for t in types.values()
    )


def test_payload_hashes_are_identical_on_duckdb_and_postgresql(
    duckdb_build: Build, postgres_build: Build
) -> None:
    for name, key in (
        ("invoices", "ops_invoice_id"),
        ("customers", "ops_customer_id"),
        ("payments", "ops_payment_id"),
    ):
        duck = {r[key]: r["payload_hash"] for r in duckdb_build.first_run[name]}
        pg = {r[key]: r["payload_hash"] for r in postgres_build.first_run[name]}
        assert duck and duck == pg, name


def test_very_first_build_with_an_empty_quickbooks_queues_everything_for_creation(
    first_build: Build,
) -> None:
    invoices = first_build.query(
        "select action, reason, customer_resolution from sync.sync_qbo_invoices"
    )
    assert len(invoices) == 200
    assert {(r["action"], r["reason"], r["customer_resolution"]) for r in invoices} == {
        ("create", "new", "to_create")
    }
    customers = first_build.query("select action, resolution from sync.sync_qbo_customers")
    assert len(customers) == first_build.scenario.ops_customer_count
    assert {(r["action"], r["resolution"]) for r in customers} == {("create", "to_create")}
    assert first_build.query("select count(*) as n from sync.sync_ops_payments") == [{"n": 0}]
    summary = first_build.query("select * from reconciliation.tieout_summary")[0]
    assert (summary["record_count"], summary["missing_in_quickbooks_count"]) == (200, 200)
    assert (
        summary["qbo_total"] == Decimal("0.00")
        and summary["total_difference"] == summary["ops_total"]
    )


def test_dbt_docs_generate_documents_every_model(build: Build) -> None:
    """`dbt docs generate` works on the built warehouse, and the catalog has every model
    the project declares (the outbound sets, reconciliation, job costing)."""
    import json

    from fieldbooks.transform import run_dbt

    run_dbt(build.settings, ["docs", "generate"])
    target = build.settings.home / "dbt" / "target"
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    tables = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] != "ephemeral"
    }
    documented = {key.split(".")[-1] for key in catalog["nodes"]}
    assert tables - documented == set()
    assert {"sync_qbo_voids", "sync_conflicts", "sync_ops_customers", "expense_tieout"} <= tables
    assert (target / "index.html").exists()
