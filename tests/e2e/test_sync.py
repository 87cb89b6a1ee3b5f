"""A whole sync, end to end, against the sandbox over HTTP and real databases.

The embedded run (SQLite + DuckDB) and the PostgreSQL run (operations DB and warehouse
both on PostgreSQL) go through the same steps; the Airflow variant runs the real DAG on
the embedded defaults (the DAG on PostgreSQL runs under Celery in
tests/integration/test_celery.py, whose dbt tasks are the same).
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select

from fieldbooks.config import load_settings, project_root
from fieldbooks.money import dumps_exact, to_money
from fieldbooks.ops import schema
from fieldbooks.ops.seed import seed_demo
from fieldbooks.pipeline import sync
from fieldbooks.qbo.client import open_client
from fieldbooks.warehouse.connection import connect
from tests.conftest import settings_env

WRITE_OPERATIONS = {"create", "update", "delete", "void", "batch"}


def _requests(sandbox) -> list[dict]:
    with urllib.request.urlopen(
        f"{sandbox.base_url}/_sandbox/realms/{sandbox.realm_id}/requests"
    ) as r:
        return json.load(r)


def _clear_requests(sandbox) -> None:
    req = urllib.request.Request(
        f"{sandbox.base_url}/_sandbox/realms/{sandbox.realm_id}/requests", method="DELETE"
    )
    urllib.request.urlopen(req).close()


def _objects(sandbox, entity: str) -> list[dict]:
    with urllib.request.urlopen(
        f"{sandbox.base_url}/_sandbox/realms/{sandbox.realm_id}/objects/{entity}"
    ) as r:
        return json.load(r, parse_float=Decimal)


def _writes(sandbox) -> list[dict]:
    return [r for r in _requests(sandbox) if r.get("operation") in WRITE_OPERATIONS]


def _pay_in_quickbooks(settings, doc_number: str) -> tuple[str, Decimal]:
    """As a bookkeeper: a check for the invoice's whole balance, recorded in QuickBooks."""
    client = open_client(settings.qbo, settings.token_store)
    invoice = client.query(f"SELECT * FROM Invoice WHERE DocNumber = '{doc_number}'")[
        "QueryResponse"
    ]["Invoice"][0]
    amount = to_money(invoice["Balance"])
    body = {
        "CustomerRef": {"value": invoice["CustomerRef"]["value"]},
        "TotalAmt": amount,
        "PaymentRefNum": "CHK 901",
        "TxnDate": str(date.today()),
        "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
    }
    payment = client.create_object("Payment", dumps_exact(body))["Payment"]
    return payment["Id"], amount


def _open_invoice_number(settings) -> str:
    engine = create_engine(settings.ops_url)
    with engine.connect() as conn:
        number = (
            conn.execute(
                select(schema.invoices.c.invoice_number)
                .where(schema.invoices.c.status == "sent")
                .order_by(schema.invoices.c.id)
            )
            .scalars()
            .first()
        )
    engine.dispose()
    return number


def _ops_invoice(settings, number: str):
    engine = create_engine(settings.ops_url)
    with engine.connect() as conn:
        inv = conn.execute(
            select(schema.invoices).where(schema.invoices.c.invoice_number == number)
        ).one()
        apps = schema.payment_applications
        pays = conn.execute(
            select(schema.payments)
            .join(apps, apps.c.payment_id == schema.payments.c.id)
            .where(apps.c.invoice_id == inv.id)
        ).all()
    engine.dispose()
    return inv, pays


def _assert_first_sync_wrote_everything(sandbox, summary, settings) -> None:
    assert summary["ties_out"], summary["lines"]
    assert summary["invoice_tieout"] == {"matched": 200}
    invoices = [o for o in _objects(sandbox, "Invoice") if o.get("status") != "Deleted"]
    assert len(invoices) == 200
    assert len({i["DocNumber"] for i in invoices}) == 200
    # jobs are sub-customers (jobs_as_subcustomers): Customer objects with Job true
    customers = [c for c in _objects(sandbox, "Customer") if not c.get("Job")]
    assert len(customers) == 60
    engine = create_engine(settings.ops_url)
    with engine.connect() as conn:
        ops_total = sum(conn.execute(select(schema.invoices.c.total)).scalars())
        missing_ids = conn.execute(
            select(schema.invoices.c.id).where(schema.invoices.c.qbo_id.is_(None))
        ).all()
        ops_payments = len(conn.execute(select(schema.payments.c.id)).all())
    engine.dispose()
    assert sum(to_money(i["TotalAmt"]) for i in invoices) == ops_total
    assert missing_ids == []
    # one payment per operations payment, a line per invoice it pays (some pay several)
    payments = [p for p in _objects(sandbox, "Payment") if p.get("status") != "Deleted"]
    assert len(payments) == ops_payments
    assert any(len(p["Line"]) > 1 for p in payments)


def _run_scenario(sandbox, settings, run) -> None:
    """First sync, a rerun that writes nothing, then a QuickBooks payment that reaches operations."""
    seed_demo(settings.ops_url)
    first = run("run-1")
    _assert_first_sync_wrote_everything(sandbox, first, settings)

    _clear_requests(sandbox)
    second = run("run-2")
    assert _writes(sandbox) == [], "a second run straight after a successful one must write nothing"
    assert second["written_to_quickbooks"] == {}
    assert second["ties_out"]

    number = _open_invoice_number(settings)
    before, _ = _ops_invoice(settings, number)
    qbo_payment_id, amount = _pay_in_quickbooks(settings, number)
    _clear_requests(sandbox)
    third = run("run-3")
    assert _writes(sandbox) == [], "a payment recorded in QuickBooks must not be pushed back"
    inv, pays = _ops_invoice(settings, number)
    from_qbo = [p for p in pays if p.source == "quickbooks"]
    assert [(p.qbo_id, p.amount) for p in from_qbo] == [(qbo_payment_id, amount)]
    assert inv.balance == Decimal("0.00") and before.balance == amount
    assert inv.status == "paid"
    assert before.reminders_enabled and not inv.reminders_enabled  # paid: no more reminders
    assert third["written_to_ops"] == {"payment": 1}
    assert third["ties_out"], third["lines"]
    with connect(settings.warehouse_url) as wh:
        assert wh.scalar("select count(*) from fieldbooks.sync_issues where status = 'open'") == 0


def _direct(settings):
    def run(run_id: str) -> dict:
        return sync(settings, run_id)

    return run


@pytest.mark.slow
def test_sync_on_embedded_defaults(sandbox, tmp_path):
    settings = load_settings(settings_env(tmp_path, sandbox))
    _run_scenario(sandbox, settings, _direct(settings))


@pytest.mark.slow
@pytest.mark.postgres
def test_sync_with_operations_and_warehouse_on_postgres(sandbox, tmp_path, make_pg_database):
    env = settings_env(
        tmp_path,
        sandbox,
        ops_url=make_pg_database("fb_ops"),
        warehouse_url=make_pg_database("fb_wh"),
    )
    settings = load_settings(env)
    _run_scenario(sandbox, settings, _direct(settings))


def _through_airflow(tmp_path, env: dict[str, str]):
    """Each run is a real `airflow dags test fieldbooks_sync` on a private Airflow home."""
    from fieldbooks.airflow_local import airflow_env, dags_test, prepare_airflow
    from fieldbooks.reconcile import summarize

    home = tmp_path / "airflow"
    aenv = airflow_env(home, env)
    log_file = tmp_path / "airflow.log"
    prepare_airflow(home, aenv, log_file)
    settings = load_settings(env)

    def run(_: str) -> dict:
        dags_test("fieldbooks_sync", aenv, log_file)
        with connect(settings.warehouse_url) as wh:
            run_id = wh.scalar(
                "select run_id from fieldbooks.sync_runs order by finished_at desc limit 1"
            )
            assert not run_id.startswith("cli__")
            summary = summarize(wh, run_id)
        return {**summary.__dict__, "ties_out": summary.ties_out, "lines": summary.lines()}

    return run


@pytest.mark.slow
def test_dag_run_through_airflow_on_embedded_defaults(sandbox, tmp_path):
    env = settings_env(tmp_path, sandbox)
    _run_scenario(sandbox, load_settings(env), _through_airflow(tmp_path, env))


def _watermark(settings, source: str, stream: str, realm_id: str = "") -> str | None:
    from fieldbooks.warehouse.state import get_watermark

    with connect(settings.warehouse_url) as wh:
        return get_watermark(wh, source, stream, realm_id)


@pytest.mark.slow
def test_one_companys_failure_leaves_the_other_syncing_through_airflow(sandbox, tmp_path):
    """Two companies in one deployment; south's QuickBooks connection is wrong. North syncs
    in full, south stops at its QuickBooks extract (at once: no retry helps a refused
    connection), and a run limited to south by conf skips north altogether."""
    from fieldbooks.airflow_local import airflow_env, dags_test, last_run_states, prepare_airflow
    from fieldbooks.companies import load_company

    # north maps with a folder of its own (the demo's ids, one note changed to tell it apart)
    north_mappings = tmp_path / "north_mappings"
    shutil.copytree(project_root() / "dbt_project" / "seeds", north_mappings)
    trades = north_mappings / "map_trades.csv"
    row = "1,PLB,Plumbing,1,Plumbing,1.00,true,"
    assert row + "\n" in trades.read_text()
    trades.write_text(trades.read_text().replace(row, row + "north's own"))
    companies = tmp_path / "companies.toml"
    companies.write_text(
        '[companies.north]\nmappings = "north_mappings"\n\n'
        "[companies.south]\n"
        "[companies.south.env]\n"
        'FIELDBOOKS_QBO_CLIENT_SECRET = "not-the-secret"\n'
    )
    env = {**settings_env(tmp_path, sandbox), "FIELDBOOKS_COMPANIES_FILE": str(companies)}
    north = load_company("north", env, connection=False).settings
    south = load_company("south", env, connection=False).settings
    for settings in (north, south):
        settings.home.mkdir(parents=True)
        seed_demo(settings.ops_url)
    home = tmp_path / "airflow"
    aenv = airflow_env(home, env)
    log_file = tmp_path / "airflow.log"
    prepare_airflow(home, aenv, log_file)

    dags_test("fieldbooks_sync", aenv, log_file, expect_success=False)
    state, tasks = last_run_states("fieldbooks_sync", aenv)
    assert state == "failed"
    north_tasks = {t: s for t, s in tasks.items() if t.startswith("company_north.")}
    assert set(north_tasks.values()) == {"success"}, north_tasks
    assert tasks["company_south.extract_ops"] == "success"
    assert tasks["company_south.extract_qbo"] == "failed"
    assert tasks["company_south.reconcile"] == "upstream_failed"
    with connect(north.warehouse_url) as wh:
        run_id = wh.scalar("select run_id from fieldbooks.sync_runs order by finished_at desc")
    from fieldbooks.reconcile import summarize

    with connect(north.warehouse_url) as wh:
        summary = summarize(wh, run_id)
    assert summary.ties_out and summary.invoice_tieout == {"matched": 200}
    with connect(north.warehouse_url) as wh:
        note = wh.scalar(
            "select note from mappings.map_trades where cast(trade_id as varchar) = '1'"
        )
    assert note == "north's own"  # cosmos built north from north's mapping folder
    assert _watermark(south, "qbo", "cdc", south.qbo.realm_id) is None
    output = log_file.read_text()
    assert "company south: QuickBooks refused its connection" in output

    # A run limited by conf to south: north's group says no and skips, south fails again.
    dags_test(
        "fieldbooks_sync", aenv, log_file, conf={"companies": ["south"]}, expect_success=False
    )
    state, tasks = last_run_states("fieldbooks_sync", aenv)
    assert state == "failed"
    assert tasks["company_south.extract_qbo"] == "failed"
    assert tasks["company_north.selected"] == "success"  # it ran, and said no
    north_rest = {t: s for t, s in tasks.items() if t.startswith("company_north.")}
    north_rest.pop("company_north.selected")
    assert set(north_rest.values()) == {"skipped"}, north_rest


@pytest.mark.slow
def test_manual_dags_through_airflow_reset_watermarks_retry_issues_and_queue_a_sync(tmp_path):
    """fieldbooks_full_resync moves no watermark itself: it queues a fieldbooks_sync run whose
    conf carries the resync request, and that run's extract_ops (in the company's warehouse
    pool) moves the chosen stream back and reads it again, for the chosen company only.
    fieldbooks_retry_issues likewise marks nothing itself: the run it queues puts the chosen
    issue back in line in the company's extract_ops."""
    from fieldbooks.airflow_local import _airflow, airflow_env, dags_test, prepare_airflow
    from fieldbooks.companies import load_company
    from fieldbooks.issues import Issue, raise_issue
    from fieldbooks.ops.extract import extract_ops
    from fieldbooks.warehouse.state import ensure_state, set_watermark, utcnow

    future = "2100-01-01T00:00:00"  # past every row: a plain extract reads nothing
    companies = tmp_path / "companies.toml"
    companies.write_text("[companies.north]\n[companies.south]\n")
    env = {"FIELDBOOKS_HOME": str(tmp_path), "FIELDBOOKS_COMPANIES_FILE": str(companies)}
    keys = ("north", "south")
    settings = {k: load_company(k, env, connection=False).settings for k in keys}
    north, south = settings["north"], settings["south"]
    issue_ids = {}
    for key, s in settings.items():
        s.home.mkdir(parents=True)
        seed_demo(s.ops_url)
        extract_ops(s)
        with connect(s.warehouse_url) as wh:
            ensure_state(wh)
            set_watermark(wh, "qbo", "cdc", "2026-03-01T00:00:00", s.qbo.realm_id)
            set_watermark(wh, "ops", "invoices", future)
            set_watermark(wh, "ops", "customers", future)
            issue = Issue(s.qbo.realm_id, "invoice", "7", "validation", "why", "what to do")
            issue_ids[key] = raise_issue(wh, issue, "run-0")
    home = tmp_path / "airflow"
    aenv = airflow_env(home, env)
    log_file = tmp_path / "airflow.log"
    prepare_airflow(home, aenv, log_file)

    form = {"companies": ["north"], "entities": ["invoices"], "since": "2000-01-01T00:00:00Z"}
    dags_test("fieldbooks_full_resync", aenv, log_file, conf=form)
    assert _watermark(north, "ops", "invoices") == future  # the reset waits for the sync

    def statuses() -> dict[str, str]:
        found = {}
        for key in keys:
            with connect(settings[key].warehouse_url) as wh:
                found[key] = wh.scalar(
                    "select status from fieldbooks.sync_issues where issue_id = %s",
                    (issue_ids[key],),
                )
        return found

    conf = {"companies": ["south"], "issue_ids": [issue_ids["south"]], "kinds": []}
    dags_test("fieldbooks_retry_issues", aenv, log_file, conf=conf)
    assert statuses() == {"north": "open", "south": "open"}  # the marking waits for the sync

    # the queued fieldbooks_sync runs, as the scheduler will pick them up
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "select run_id, state, conf from dag_run where dag_id = 'fieldbooks_sync'"
        ).fetchall()
    queued = {run_id.split("__")[0]: (state, json.loads(conf)) for run_id, state, conf in rows}
    resync_conf = {
        "companies": ["north"],
        "resync": {"entities": ["invoices"], "since": "2000-01-01T00:00:00Z"},
    }
    retry_conf = {"companies": ["south"], "retry": {"issue_ids": [issue_ids["south"]], "kinds": []}}
    assert queued == {
        "full_resync": ("queued", resync_conf),
        "retry_issues": ("queued", retry_conf),
    }

    # fieldbooks_sync with that conf: each group's selected and extract_ops run for real,
    # every later step is marked done (they neither read nor write watermarks)
    before = utcnow()
    start = log_file.stat().st_size
    args = ["dags", "test", "fieldbooks_sync", "--conf", json.dumps(resync_conf)]
    pattern = r"(?!company_\w+\.(selected|extract_ops)$).*"
    assert _airflow([*args, "--mark-success-pattern", pattern], aenv, log_file) == 0
    output = log_file.read_text()[start:]
    assert "state=success" in output.split("DagRun Finished")[-1], output[-3000:]
    assert "company north: watermarks reset {'invoices': '2000-01-01T00:00:00'}" in output

    newest = _watermark(north, "ops", "invoices")
    assert newest is not None and newest < future  # moved back, then up to the newest row
    assert _watermark(north, "ops", "customers") == future  # not chosen
    assert _watermark(south, "ops", "invoices") == future  # not among the run's companies
    with connect(north.warehouse_url) as wh:
        reread = {
            table: wh.scalar(
                f"select count(*) from raw_ops.{table} where _extracted_at >= %s", (before,)
            )
            for table in ("invoices", "customers")
        }
    assert reread == {"invoices": 200, "customers": 0}

    # and the retry's run: south's extract_ops puts its issue back in line, north's stays
    args = ["dags", "test", "fieldbooks_sync", "--conf", json.dumps(retry_conf)]
    assert _airflow([*args, "--mark-success-pattern", pattern], aenv, log_file) == 0
    assert statuses() == {"north": "open", "south": "retrying"}
