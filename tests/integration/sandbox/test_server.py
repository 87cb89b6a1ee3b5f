"""Running the emulator: the command line, TLS, state across restarts and in memory,
concurrent clients, minor versions and unknown entities."""

import json
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from quickbooks.exceptions import UnsupportedException, ValidationException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item

from qbo_sandbox import demo_company
from qbo_sandbox.testing import SandboxHandle, running_sandbox
from qbo_sandbox.tls import tls_available

from .helpers import admin, api_get, connect, new_customer, new_invoice, pay, sales_line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_command_line_serves_in_memory_fixtures_limits_and_a_fault_plan(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"rules": [{"match": {"operation": "cdc"}, "fault": "503"}]}))
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qbo_sandbox",
            "--port",
            str(port),
            "--db",
            ":memory:",
            "--company",
            "demo",
            "--company",
            "empty",
            "--qbo-limits",
            "--limit-window-seconds",
            "30",
            "--fault-plan",
            str(plan),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "OAUTHLIB_INSECURE_TRANSPORT" in line or not line:
                break
        banner = "".join(lines)
        base = f"http://127.0.0.1:{port}"
        assert f"base URL: {base}" in banner
        assert f"realm id: {demo_company.REALM_ID} (demo company), refresh token: " in banner
        assert f"realm id: {demo_company.EMPTY_REALM_ID} (empty company)" in banner
        assert "client id: fieldbooks-demo" in banner and "client secret: " in banner
        for _ in range(100):
            try:
                requests.get(base + "/_sandbox/health", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        handle = SandboxHandle(
            base_url=base,
            realm_id=demo_company.EMPTY_REALM_ID,
            refresh_token=demo_company.EMPTY_REFRESH_TOKEN,
            client_id="fieldbooks-demo",
            client_secret="fieldbooks-demo-secret",
            discovery_url=base + "/.well-known/openid_configuration",
            redirect_uri="http://127.0.0.1/callback",
            db_path=":memory:",
        )
        client = connect(handle)
        assert Item.all(qb=client) == []
        assert admin(handle, "GET", "/limits").json()["requests_per_minute"] == 500
        assert (
            api_get(
                client, handle, "cdc", entities="Customer", changedSince="2026-01-01"
            ).status_code
            == 503
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_state_and_clock_survive_a_restart_and_memory_state_does_not(tmp_path):
    db = tmp_path / "persist.sqlite3"
    with running_sandbox(db) as handle:
        new_customer(connect(handle), "Persistent Pete")
        admin(handle, "POST", "/clock", json={"offset_seconds": 3600})
    with running_sandbox(db) as handle:
        assert [c.DisplayName for c in Customer.all(qb=connect(handle))] == ["Persistent Pete"]
        assert admin(handle, "GET", "/clock").json()["offset_seconds"] == 3600
    with running_sandbox(":memory:") as handle:
        new_customer(connect(handle), "Fleeting Fay")
    with running_sandbox(":memory:") as handle:
        assert Customer.all(qb=connect(handle)) == []


@pytest.mark.skipif(not tls_available(), reason="trustme is not installed")
def test_tls_mode_serves_https_without_the_insecure_transport_switch(tmp_path, monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT")
    with running_sandbox(tmp_path / "tls.sqlite3", tls=True) as handle:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", handle.ca_path)
        assert handle.base_url.startswith("https://")
        assert new_customer(connect(handle), "Secure Sue").Id == "1"


def test_concurrent_clients_get_distinct_ids_and_consistent_balances(company):
    def work(worker: int) -> list[str]:
        client = company.client()
        customer = new_customer(client, f"Worker {worker}")
        ids = []
        for _ in range(4):
            invoice = new_invoice(client, customer, [sales_line("1", "10.00")], tax_code=None)
            pay(client, customer, "4.00", {invoice.Id: "4.00"})
            ids.append(invoice.Id)
        return ids

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = [invoice_id for batch in pool.map(work, range(6)) for invoice_id in batch]
    assert sorted(ids, key=int) == [str(n) for n in range(1, 25)]
    client = company.client()
    invoices = Invoice.all(qb=client, max_results=1000)
    assert {i.Balance for i in invoices} == {Decimal("6.00")}
    assert len({i.DocNumber for i in invoices}) == 24
    balances = [c.Balance for c in Customer.all(qb=client)]
    assert balances == [Decimal("24.00")] * 6


def test_minor_version_is_accepted_and_checked(qb, company):
    assert api_get(qb, company.handle, "item/1", minorversion="4").status_code == 200
    bad = api_get(qb, company.handle, "item/1", minorversion="latest")
    assert bad.status_code == 400 and bad.json()["Fault"]["Error"][0]["code"] == "2010"


def test_unknown_entity_answers_unsupported_operation(qb):
    with pytest.raises(UnsupportedException) as raised:
        qb.get_single_object("Spaceship", "1")
    assert "not emulated" in raised.value.detail
    with pytest.raises(ValidationException):
        qb.query("select * from Spaceship")


def test_health_and_config_endpoints(server):
    assert requests.get(server.admin_url + "/health", timeout=5).json() == {"ok": True}
    config = requests.get(server.admin_url + "/config", timeout=5).json()
    assert config["requests_per_minute"] is None and config["fault_plan"] is None
