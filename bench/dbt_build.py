"""Benchmark: `dbt build` of dbt_project/ on the `medium` data set, DuckDB against PostgreSQL.

    .venv/bin/python bench/dbt_build.py all > bench/results/dbt_build.raw.jsonl
    .venv/bin/python bench/dbt_build.py all --scale small --dest duckdb   # a quick check

`all` builds one warehouse per destination the way the pipeline leaves it, then times
`dbt build` (seeds, models, tests, unit tests: the whole project) on it:

1. seeds the scale (`medium` by default: 5,000 customers, 20,000 invoices, 68,119 invoice
   lines) into an embedded SQLite operations DB (fieldbooks.ops.seed), once;
2. gives it a QuickBooks side of the same size, synthesised (no emulator, no HTTP): a
   company fieldbooks has been syncing for a while. About 90 % of the customers (their
   jobs as sub-customers), of the sent invoices, of the payments and of the expenses are
   in QuickBooks, as the objects QuickBooks returns (the shape the `stg_qbo__*` models
   read); their QuickBooks ids are written back to the operations rows (as `load_ops`
   does) and the sync ledger records the customers, invoices and payments. A little is
   off on purpose: 2 % of those invoices carry a payment taken in QuickBooks (balance
   differs), 1 % of those customers were edited there, 0.5 % more invoices were entered
   by the bookkeeper, a few objects are deleted. Lists (accounts, items, tax codes,
   classes, departments, payment methods) are the emulator's demo company
   (qbo_sandbox.demo_company), which the mapping seeds point at;
3. per destination (a DuckDB file, a new PostgreSQL database on 127.0.0.1 dropped
   afterwards): `extract_ops` into raw_ops.*, the QuickBooks objects merged into every
   raw_qbo.* table (`ensure_table` + `merge_rows`, as `extract_qbo` leaves them) and the
   ledger rows inserted; then `--runs` (3) runs of `dbt build`, each in its own process
   (`fieldbooks.transform.run_dbt(settings, ["build"])`, in-process dbt), sharing one
   FIELDBOOKS_HOME: the first on a fresh target directory (cold: full parse, every
   relation created), the next ones warm (partial parse, relations replaced).

Each run reports its wall clock (around the dbt invocation, dbt imported before the
clock starts) and the whole child process' wall clock, its peak RSS (getrusage: DuckDB
runs in-process and is counted, PostgreSQL's server is not), node counts by type and
status, and the slowest nodes from `$FIELDBOOKS_HOME/dbt/target/run_results.json`.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import _harness as harness
from _harness import PG_URL, ROOT

sys.path.insert(0, str(ROOT / "include"))

REALM = "9130350000000001"  # the demo company's realm: the project's default realm_id
QUIET_ENV = {**harness.QUIET_ENV, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
SYNCED_SHARE = 0.9
SLOWEST = 10
RUN_CAP_SECONDS = 900
# QuickBooks ids of the synthesised objects: sub-customers and vendors apart from customers
JOB_ID_BASE = 1_000_000
VENDOR_ID_BASE = 2_000_000
EXTRA_INVOICE_ID_BASE = 3_000_000
QBO_STAMP = "2026-09-30T12:00:00-07:00"


# ---- the child: one dbt build -------------------------------------------------------


def _node_summary(target: Path) -> dict:
    """Counts by resource type and status, and the slowest nodes, from run_results.json."""
    path = target / "run_results.json"
    if not path.exists():
        return {"run_results": "missing"}
    results = json.loads(path.read_text())
    statuses: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    failing = []
    for node in results["results"]:
        kind = node["unique_id"].split(".", 1)[0]
        statuses[node["status"]] += 1
        by_type[f"{kind}:{node['status']}"] += 1
        if node["status"] in ("error", "fail", "warn", "runtime error"):
            failing.append(
                f"{node['unique_id']}: {node['status']}: {(node.get('message') or '')[:160]}"
            )
    slowest = sorted(results["results"], key=lambda n: n["execution_time"], reverse=True)
    return {
        "dbt_elapsed": round(results.get("elapsed_time", 0.0), 2),
        "nodes": len(results["results"]),
        "statuses": dict(statuses),
        "by_type": dict(sorted(by_type.items())),
        "not_passing": failing[:20],
        "slowest": [
            [n["unique_id"], round(n["execution_time"], 2), n["status"]] for n in slowest[:SLOWEST]
        ],
        "sum_node_seconds": round(sum(n["execution_time"] for n in results["results"]), 2),
    }


def run_build(home: str, ops_url: str, warehouse_url: str) -> dict:
    """`dbt build` through fieldbooks.transform.run_dbt; wall clock, statuses, slowest nodes."""
    os.environ.update(QUIET_ENV)
    import dbt.cli.main  # noqa: F401  (imported before the clock starts)

    from fieldbooks.config import load_settings
    from fieldbooks.transform import TransformError, run_dbt

    settings = load_settings(
        {
            "FIELDBOOKS_HOME": home,
            "FIELDBOOKS_OPS_URL": ops_url,
            "FIELDBOOKS_WAREHOUSE_URL": warehouse_url,
            "FIELDBOOKS_QBO_REALM_ID": REALM,
        }
    )
    target = Path(home) / "dbt" / "target"
    partial = (target / "partial_parse.msgpack").exists()
    error = None
    started = time.perf_counter()
    try:
        run_dbt(settings, ["build"])
    except TransformError as exc:
        error = str(exc).splitlines()[:12]
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "partial_parse_file": partial,
        "ok": error is None,
        "error": error,
        **_node_summary(target),
    }


# ---- the parent: the operations DB, the QuickBooks side, the warehouses --------------


def _admin_on(dbname: str, sql: str) -> None:
    """One statement on one of this benchmark's databases, autocommit."""
    import psycopg

    with psycopg.connect(PG_URL.format(name=dbname), autocommit=True) as conn:
        conn.execute(sql)


def _seed_map(name: str, key: str, value: str) -> dict[str, str]:
    """key -> value of one mapping seed (dbt_project/seeds/<name>.csv), read, never written."""
    with open(ROOT / "dbt_project" / "seeds" / f"{name}.csv", newline="") as handle:
        return {row[key]: row[value] for row in csv.DictReader(handle)}


def seed_ops(ops_path: Path, scale: str) -> dict:
    """Seed the scale into a new SQLite operations DB."""
    from fieldbooks.ops.seed import plan_for, seed_plan

    started = time.perf_counter()
    counts = seed_plan(f"sqlite:///{ops_path}", plan_for(scale)).rows
    return {
        "step": "seed",
        "scale": scale,
        "ops_db": "sqlite",
        "invoice_lines": counts.get("invoice_lines", 0),
        "rows": sum(counts.values()),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _meta(stamp: str = QBO_STAMP) -> dict:
    return {"CreateTime": "2026-01-05T09:00:00-08:00", "LastUpdatedTime": stamp}


def _ref(value: Any, name: str | None = None) -> dict:
    ref = {"value": str(value)}
    if name is not None:
        ref["name"] = name
    return ref


def _lists() -> dict[str, list[dict]]:
    """The demo company's lists, as QuickBooks returns them."""
    from qbo_sandbox import demo_company as demo

    accounts = [
        {
            "Id": demo.ACCOUNT_IDS[name],
            "SyncToken": "0",
            "Name": name,
            "FullyQualifiedName": name,
            "AccountType": kind,
            "AccountSubType": sub,
            "Classification": "Revenue" if kind == "Income" else "Expense",
            "Active": True,
            "CurrentBalance": Decimal("0"),
            "MetaData": _meta(),
        }
        for name, kind, sub in demo.ACCOUNTS
    ]
    items = []
    for name, kind, income, expense in demo.ITEMS:
        item = {
            "Id": demo.ITEM_IDS[name],
            "SyncToken": "0",
            "Name": name,
            "FullyQualifiedName": name,
            "Type": kind,
            "Active": True,
            "Taxable": name == "Materials",
            "IncomeAccountRef": _ref(demo.ACCOUNT_IDS[income], income),
            "MetaData": _meta(),
        }
        if expense:
            item["ExpenseAccountRef"] = _ref(demo.ACCOUNT_IDS[expense], expense)
        items.append(item)

    def named(ids: dict[str, str]) -> list[dict]:
        return [
            {"Id": i, "SyncToken": "0", "Name": n, "FullyQualifiedName": n, "Active": True}
            | {"MetaData": _meta()}
            for n, i in ids.items()
        ]

    tax_codes = [
        {
            "Id": i,
            "SyncToken": "0",
            "Name": n,
            "Description": n,
            "Active": True,
            "Taxable": True,
            "TaxGroup": False,
            "MetaData": _meta(),
        }
        for n, i in demo.TAX_CODE_IDS.items()
    ]
    rates = {"Local Sales Tax": demo.TAX_RATE_PERCENT, "Regional Sales Tax": Decimal("9.975")}
    tax_rates = [
        {"Id": i, "SyncToken": "0", "Name": n, "RateValue": rates[n], "Active": True}
        | {"MetaData": _meta()}
        for n, i in demo.TAX_RATE_IDS.items()
    ]
    methods = [
        {"Id": demo.PAYMENT_METHOD_IDS[n], "SyncToken": "0", "Name": n, "Type": t}
        | {"Active": True, "MetaData": _meta()}
        for n, t in demo.PAYMENT_METHODS
    ]
    return {
        "Account": accounts,
        "Item": items,
        "Class": named(demo.CLASS_IDS),
        "Department": named(demo.DEPARTMENT_IDS),
        "TaxCode": tax_codes,
        "TaxRate": tax_rates,
        "PaymentMethod": methods,
    }


def _rows(conn: Any, table: Any) -> list[dict]:
    from sqlalchemy import select

    return [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.id))]


def quickbooks_side(ops_url: str) -> tuple[dict[str, list[dict]], list[tuple], dict]:
    """The synthesised QuickBooks objects per entity and the ledger rows; writes qbo_id back."""
    from sqlalchemy import bindparam, create_engine, update

    from fieldbooks.ops import schema as s
    from qbo_sandbox import demo_company as demo

    rng = random.Random(42)
    engine = create_engine(ops_url)
    with engine.connect() as conn:
        customers = _rows(conn, s.customers)
        jobs = _rows(conn, s.jobs)
        invoices = _rows(conn, s.invoices)
        lines = _rows(conn, s.invoice_lines)
        payments = _rows(conn, s.payments)
        applications = _rows(conn, s.payment_applications)
        expenses = _rows(conn, s.expenses)
        vendors = _rows(conn, s.vendors)
        categories = {c["id"]: c for c in _rows(conn, s.service_categories)}

    item_by_category = _seed_map("map_service_categories", "category_id", "qbo_item_id")
    item_by_kind = {"material": "4", "equipment": "4", "permit": "5", "fee": "6", "discount": "6"}
    item_names = {v: k for k, v in demo.ITEM_IDS.items()}
    tax_code_by_jurisdiction = _seed_map(
        "map_tax_jurisdictions", "tax_jurisdiction", "qbo_tax_code_id"
    )
    account_by_category = _seed_map("map_expense_categories", "expense_category", "qbo_account_id")
    class_by_trade = _seed_map("map_trades", "trade_id", "qbo_class_id")
    department_by_branch = _seed_map("map_branches", "branch_id", "qbo_department_id")
    method_ids = {
        "cash": demo.PAYMENT_METHOD_IDS["Cash"],
        "check": demo.PAYMENT_METHOD_IDS["Check"],
        "card": demo.PAYMENT_METHOD_IDS["Credit Card"],
        "online_card": demo.PAYMENT_METHOD_IDS["Credit Card"],
        "ach": demo.PAYMENT_METHOD_IDS["ACH"],
    }
    objects = _lists()
    ledger: list[tuple] = []
    now = datetime.now(UTC).replace(tzinfo=None)

    def ledger_row(entity: str, ops_id: int, qbo_id: str) -> tuple:
        return (
            REALM,
            entity,
            str(ops_id),
            qbo_id,
            "0",
            None,
            "confirmed",
            f"bench-{entity}-{ops_id}",
            f"fieldbooks:{entity}:{ops_id}",
            "ops",
            None,
            now,
            now,
        )

    # vendors: all of them (a company's vendor list is small and complete)
    vendor_qbo = {v["id"]: str(VENDOR_ID_BASE + v["id"]) for v in vendors}
    objects["Vendor"] = [
        {
            "Id": vendor_qbo[v["id"]],
            "SyncToken": "0",
            "DisplayName": v["display_name"][:500],
            "CompanyName": (v["company_name"] or "")[:500] or None,
            "PrimaryEmailAddr": {"Address": v["email"]} if v["email"] else None,
            "PrimaryPhone": {"FreeFormNumber": v["phone"]} if v["phone"] else None,
            "BillAddr": {
                "Line1": v["line1"],
                "City": v["city"],
                "CountrySubDivisionCode": v["state"],
                "PostalCode": v["postal_code"],
            },
            "Vendor1099": v["is_1099"],
            "Active": v["active"],
            "Balance": Decimal("0.00"),
            "MetaData": _meta(),
        }
        for v in vendors
    ]

    # customers, and their jobs as sub-customers
    customer_qbo: dict[int, str] = {}
    qbo_customers = []
    for c in customers:
        if rng.random() >= SYNCED_SHARE:
            continue
        qbo_id = str(c["id"])
        customer_qbo[c["id"]] = qbo_id
        body = {
            "Id": qbo_id,
            "SyncToken": "0",
            "DisplayName": c["display_name"][:500],
            "GivenName": c["given_name"],
            "FamilyName": c["family_name"],
            "CompanyName": (c["company_name"] or "")[:500] or None,
            "FullyQualifiedName": c["display_name"][:500],
            "PrimaryEmailAddr": {"Address": c["email"]} if c["email"] else None,
            "PrimaryPhone": {"FreeFormNumber": c["phone"]} if c["phone"] else None,
            "BillAddr": {
                "Line1": c["bill_line1"],
                "City": c["bill_city"],
                "CountrySubDivisionCode": c["bill_state"],
                "PostalCode": c["bill_postal_code"],
                "Country": c["bill_country"],
            },
            "Taxable": not c["tax_exempt"],
            "Active": c["status"] == "active",
            "Job": False,
            "Balance": Decimal("0.00"),
            "MetaData": _meta(),
        }
        if rng.random() < 0.01:  # edited by the bookkeeper
            body["SyncToken"] = "1"
            body["PrimaryPhone"] = {"FreeFormNumber": "(916) 555-0199"}
            body["MetaData"] = _meta("2026-10-02T08:30:00-07:00")
        qbo_customers.append(body)
        ledger.append(ledger_row("customer", c["id"], qbo_id))
    job_qbo: dict[int, str] = {}
    for j in jobs:
        parent = customer_qbo.get(j["customer_id"])
        if parent is None or rng.random() >= SYNCED_SHARE:
            continue
        qbo_id = str(JOB_ID_BASE + j["id"])
        job_qbo[j["id"]] = qbo_id
        qbo_customers.append(
            {
                "Id": qbo_id,
                "SyncToken": "0",
                "DisplayName": j["job_number"],
                "FullyQualifiedName": f"{parent}:{j['job_number']}",
                "ParentRef": _ref(parent),
                "Job": True,
                "Active": j["status"] != "cancelled",
                "Balance": Decimal("0.00"),
                "MetaData": _meta(),
            }
        )
    objects["Customer"] = qbo_customers

    # invoices (void ones as QuickBooks keeps a voided invoice: zeroed), their lines
    lines_of: dict[int, list[dict]] = {}
    for line in lines:
        lines_of.setdefault(line["invoice_id"], []).append(line)
    invoice_qbo: dict[int, str] = {}
    qbo_invoices = []
    for inv in invoices:
        customer = customer_qbo.get(inv["customer_id"])
        if customer is None or inv["status"] == "draft" or rng.random() >= SYNCED_SHARE:
            continue
        qbo_id = str(inv["id"])
        invoice_qbo[inv["id"]] = qbo_id
        void = inv["status"] == "void"
        body_lines = []
        for n, line in enumerate(lines_of.get(inv["id"], []), start=1):
            category = categories[line["category_id"]]
            item = item_by_category.get(str(line["category_id"])) or item_by_kind.get(
                category["kind"], "1"
            )
            body_lines.append(
                {
                    "Id": str(n),
                    "LineNum": n,
                    "Amount": Decimal("0.00") if void else line["amount"],
                    "Description": (line["description"] or "")[:4000] or None,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {
                        "ItemRef": _ref(item, item_names.get(item)),
                        "Qty": Decimal("0") if void else line["quantity"],
                        "UnitPrice": line["unit_price"],
                        "TaxCodeRef": _ref("TAX" if line["taxable"] else "NON"),
                    },
                }
            )
        body_lines.append(
            {
                "Amount": Decimal("0.00") if void else inv["subtotal"],
                "DetailType": "SubTotalLineDetail",
                "SubTotalLineDetail": {},
            }
        )
        balance = Decimal("0.00") if void else inv["balance"]
        if not void and balance > 0 and rng.random() < 0.02:  # paid in QuickBooks too
            balance = Decimal("0.00")
        body = {
            "Id": qbo_id,
            "SyncToken": "1",
            "DocNumber": inv["invoice_number"],
            "TxnDate": inv["issue_date"].isoformat(),
            "DueDate": inv["due_date"].isoformat(),
            "CustomerRef": _ref(job_qbo.get(inv["job_id"], customer)),
            "Line": body_lines,
            "TotalAmt": Decimal("0.00") if void else inv["total"],
            "Balance": balance,
            "PrivateNote": "Voided" if void else f"fieldbooks:invoice:{inv['id']}",
            "MetaData": _meta(),
        }
        code = tax_code_by_jurisdiction.get(inv["tax_jurisdiction"] or "")
        if code and inv["tax"] and not void:
            body["TxnTaxDetail"] = {"TxnTaxCodeRef": _ref(code), "TotalTax": inv["tax"]}
        else:
            body["TxnTaxDetail"] = {"TotalTax": Decimal("0.00")}
        qbo_invoices.append(body)
        ledger.append(ledger_row("invoice", inv["id"], qbo_id))
    # entered by the bookkeeper: copies of synced invoices under their own DocNumber
    for n, source in enumerate(rng.sample(qbo_invoices, k=len(qbo_invoices) // 200), start=1):
        qbo_invoices.append(
            source
            | {
                "Id": str(EXTRA_INVOICE_ID_BASE + n),
                "SyncToken": "0",
                "DocNumber": f"QB-{n:05d}",
                "PrivateNote": "entered by the bookkeeper",
            }
        )
    # deleted in QuickBooks: stripped objects
    qbo_invoices.extend(
        {"Id": str(EXTRA_INVOICE_ID_BASE + 90_000 + n), "status": "Deleted", "MetaData": _meta()}
        for n in range(20)
    )
    objects["Invoice"] = qbo_invoices

    # payments, applied to the invoices QuickBooks has
    apps_of: dict[int, list[dict]] = {}
    for app in applications:
        apps_of.setdefault(app["payment_id"], []).append(app)
    payment_qbo: dict[int, str] = {}
    qbo_payments = []
    for p in payments:
        customer = customer_qbo.get(p["customer_id"])
        apps = apps_of.get(p["id"], [])
        if (
            customer is None
            or any(a["invoice_id"] not in invoice_qbo for a in apps)
            or rng.random() >= SYNCED_SHARE
        ):
            continue
        qbo_id = str(p["id"])
        payment_qbo[p["id"]] = qbo_id
        applied = sum((a["amount"] for a in apps), Decimal("0.00"))
        body = {
            "Id": qbo_id,
            "SyncToken": "0",
            "CustomerRef": _ref(customer),
            "TotalAmt": p["amount"],
            "UnappliedAmt": p["amount"] - applied,
            "TxnDate": p["received_on"].isoformat(),
            "PaymentRefNum": (p["reference"] or "")[:21] or None,
            "PrivateNote": f"fieldbooks:payment:{p['id']}",
            "DepositToAccountRef": _ref(
                demo.ACCOUNT_IDS["Checking" if p["deposited"] else "Undeposited Funds"]
            ),
            "Line": [
                {
                    "Amount": a["amount"],
                    "LinkedTxn": [{"TxnId": invoice_qbo[a["invoice_id"]], "TxnType": "Invoice"}],
                }
                for a in apps
            ],
            "MetaData": _meta(),
        }
        if p["method"] in method_ids:
            body["PaymentMethodRef"] = _ref(method_ids[p["method"]])
        qbo_payments.append(body)
        ledger.append(ledger_row("payment", p["id"], qbo_id))
    objects["Payment"] = qbo_payments

    # expenses: Purchases (card, cash) and Bills (on account), booked against the job
    job_by_id = {j["id"]: j for j in jobs}
    expense_qbo: dict[int, str] = {}
    purchases, bills = [], []
    for e in expenses:
        if rng.random() >= SYNCED_SHARE:
            continue
        qbo_id = str(e["id"])
        expense_qbo[e["id"]] = qbo_id
        detail: dict[str, Any] = {
            "AccountRef": _ref(account_by_category.get(e["category"], "7")),
            "BillableStatus": "Billable" if e["billable"] else "NotBillable",
        }
        job = job_by_id.get(e["job_id"])
        if job is not None and e["job_id"] in job_qbo:
            detail["CustomerRef"] = _ref(job_qbo[e["job_id"]])
            detail["ClassRef"] = _ref(class_by_trade.get(str(job["trade_id"]), "1"))
        body = {
            "Id": qbo_id,
            "SyncToken": "0",
            "TxnDate": e["expense_date"].isoformat(),
            "DocNumber": (e["reference"] or "")[:21] or None,
            "TotalAmt": e["amount"],
            "PrivateNote": f"fieldbooks:expense:{e['id']}",
            "Line": [
                {
                    "Id": "1",
                    "LineNum": 1,
                    "Amount": e["amount"],
                    "Description": e["description"],
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": detail,
                }
            ],
            "MetaData": _meta(),
        }
        if e["branch_id"] is not None:
            body["DepartmentRef"] = _ref(department_by_branch.get(str(e["branch_id"]), "1"))
        if e["paid_by"] == "on_account":
            body |= {
                "VendorRef": _ref(vendor_qbo[e["vendor_id"]]),
                "APAccountRef": _ref(demo.ACCOUNT_IDS["Accounts Payable (A/P)"]),
                "DueDate": (e["due_date"] or e["expense_date"]).isoformat(),
                "Balance": Decimal("0.00"),
            }
            bills.append(body)
        else:
            card = e["paid_by"] == "card"
            body |= {
                "PaymentType": "CreditCard" if card else "Cash",
                "AccountRef": _ref(
                    demo.ACCOUNT_IDS["Business Credit Card" if card else "Checking"]
                ),
                "EntityRef": {"value": vendor_qbo[e["vendor_id"]], "type": "Vendor"},
            }
            purchases.append(body)
    objects["Purchase"] = purchases
    objects["Bill"] = bills

    # QuickBooks ids back into operations, as load_ops writes them (updated_at untouched)
    written = {}
    with engine.begin() as conn:
        for table, ids in (
            (s.customers, customer_qbo),
            (s.jobs, job_qbo),
            (s.invoices, invoice_qbo),
            (s.payments, payment_qbo),
            (s.expenses, expense_qbo),
            (s.vendors, vendor_qbo),
        ):
            conn.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(qbo_id=bindparam("b_qbo")),
                [{"b_id": k, "b_qbo": v} for k, v in ids.items()],
            )
            written[table.name] = len(ids)
    engine.dispose()
    for entity in objects:  # QuickBooks leaves out what is not set
        objects[entity] = [{k: v for k, v in o.items() if v is not None} for o in objects[entity]]
    summary = {
        "step": "quickbooks_side",
        "objects": {e: len(o) for e, o in objects.items()},
        "ledger_rows": len(ledger),
        "qbo_ids_written_to_ops": written,
    }
    return objects, ledger, summary


def prepare(dest: str, ref: str, home: Path, ops_url: str, objects: dict, ledger: list) -> dict:
    """extract_ops into a fresh warehouse, then raw_qbo.* and the ledger, as the pipeline does."""
    from fieldbooks.config import load_settings
    from fieldbooks.ops.extract import extract_ops
    from fieldbooks.qbo.raw import CDC_ENTITIES, QUERY_ENTITIES, raw_qbo_spec, raw_row
    from fieldbooks.warehouse.connection import connect
    from fieldbooks.warehouse.merge import ensure_table, merge_rows
    from fieldbooks.warehouse.state import ensure_state

    settings = load_settings(
        {
            "FIELDBOOKS_HOME": str(home),
            "FIELDBOOKS_OPS_URL": ops_url,
            "FIELDBOOKS_WAREHOUSE_URL": ref,
            "FIELDBOOKS_QBO_REALM_ID": REALM,
        }
    )
    started = time.perf_counter()
    extracted = extract_ops(settings)
    extract_seconds = time.perf_counter() - started
    started = time.perf_counter()
    extracted_at = datetime.now(UTC).replace(tzinfo=None)
    raw_rows = 0
    with connect(ref) as wh:
        with wh.transaction():
            ensure_state(wh)
            for entity in CDC_ENTITIES + QUERY_ENTITIES:
                spec = raw_qbo_spec(entity)
                ensure_table(wh, spec)
                rows = [raw_row(REALM, o, extracted_at) for o in objects.get(entity, [])]
                raw_rows += merge_rows(wh, spec, rows)
            wh.executemany(
                """insert into fieldbooks.sync_ledger (realm_id, entity, ops_id, qbo_id,
                   sync_token, payload_hash, state, request_id, marker, origin, last_error,
                   created_at, updated_at)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                ledger,
            )
    return {
        "step": "prepare",
        "dest": dest,
        "raw_ops_rows": sum(t.rows for t in extracted),
        "extract_seconds": round(extract_seconds, 1),
        "raw_qbo_rows": raw_rows,
        "raw_qbo_seconds": round(time.perf_counter() - started, 1),
    }


def _child(home: Path, ops_url: str, ref: str) -> dict:
    """One dbt build in its own process; its JSON line."""
    args = ["--home", str(home), "--ops-url", ops_url, "--warehouse-url", ref]
    done, seconds = harness.run_child(__file__, args, QUIET_ENV, RUN_CAP_SECONDS)
    if done is None:
        return {"capped": True, "process_seconds": round(seconds, 1)}
    try:
        record = harness.last_record(done.stdout)
    except (IndexError, json.JSONDecodeError):
        return {"crashed": done.returncode, "stderr": done.stderr.strip().splitlines()[-8:]}
    return {**record, "process_seconds": round(seconds, 2)}


def run_all(scale: str, runs: int, dests: list[str], analyze: bool) -> None:
    """Seed once, synthesise QuickBooks once, then per destination: prepare, build `runs` times."""
    packages = ("dbt-core", "dbt-duckdb", "dbt-postgres", "duckdb")
    harness.emit({"machine": harness.machine(load_average=True, packages=packages)})
    workdir = Path(tempfile.mkdtemp(prefix="fb_bench_dbt_"))
    try:
        ops_path = workdir / "ops.sqlite"
        harness.emit(seed_ops(ops_path, scale))
        ops_url = f"sqlite:///{ops_path}"
        started = time.perf_counter()
        objects, ledger, summary = quickbooks_side(ops_url)
        summary["seconds"] = round(time.perf_counter() - started, 1)
        harness.emit(summary)
        for dest in dests:
            home = workdir / f"home_{dest}"
            pg_name = None
            if dest == "duckdb":
                ref = f"duckdb:///{home / 'warehouse.duckdb'}"
            else:
                pg_name = harness.create_database("fb_bench_dbt_")
                ref = PG_URL.format(name=pg_name)
            try:
                harness.emit(prepare(dest, ref, home, ops_url, objects, ledger))
                if pg_name and analyze:
                    # what autovacuum would do some time after a load (off on some servers)
                    started = time.perf_counter()
                    _admin_on(pg_name, "analyze")
                    seconds = round(time.perf_counter() - started, 1)
                    harness.emit({"step": "analyze", "dest": dest, "seconds": seconds})
                for n in range(1, runs + 1):
                    record = _child(home, ops_url, ref)
                    label = {"scale": scale, "dest": dest, "run": n}
                    if pg_name:
                        label["analyzed"] = analyze
                    label["kind"] = "cold" if n == 1 else "warm"
                    harness.emit({**label, **record})
            finally:
                if pg_name:
                    harness.drop_database(pg_name)
    finally:
        shutil.rmtree(workdir)


def main(argv: list[str] | None = None) -> int:
    """Run one dbt build (a child), or the whole benchmark."""
    parser, one, every = harness.commands(__doc__)
    one.add_argument("--home", required=True)
    one.add_argument("--ops-url", required=True)
    one.add_argument("--warehouse-url", required=True)
    every.add_argument("--scale", choices=["small", "medium", "large"], default="medium")
    every.add_argument("--runs", type=int, default=3)
    every.add_argument("--dest", nargs="+", choices=["duckdb", "postgres"])
    every.add_argument(
        "--analyze", action="store_true", help="ANALYZE the PostgreSQL warehouse before dbt"
    )
    args = parser.parse_args(argv)
    if args.command == "all":
        run_all(args.scale, args.runs, args.dest or ["duckdb", "postgres"], args.analyze)
        return 0
    result = run_build(args.home, args.ops_url, args.warehouse_url)
    result["peak_rss_mb"] = harness.peak_rss_mb()
    harness.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
