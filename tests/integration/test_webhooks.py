"""The webhook receiver inside a real `airflow api-server`, fed by the sandbox's signed
webhooks: a notification starts one `fieldbooks_sync` run for its company, in either shape;
a burst starts one; a forged signature is refused; every answer comes within 3 s.

The api-server runs as its own process (own AIRFLOW_HOME, SQLite metadata, simple auth
manager with everyone admin, a free port); no scheduler runs, so triggered runs stay queued.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from fieldbooks.airflow_local import airflow_env
from fieldbooks.config import project_root
from fieldbooks.webhooks import WebhookStore, sign
from qbo_sandbox.testing import SandboxHandle, running_sandbox

pytestmark = pytest.mark.slow

TOKEN = "integration-verifier-token"
DAG_ID = "fieldbooks_sync"
DEDUP_SECONDS = 2.0
ANSWER_LIMIT_SECONDS = 3.0
STARTUP_SECONDS = 180.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _airflow(args: list[str], env: dict[str, str], log: Path) -> None:
    airflow = Path(sys.executable).with_name("airflow")
    with open(log, "a") as out:
        out.write(f"\n$ airflow {' '.join(args)}\n")
        out.flush()
        code = subprocess.run([str(airflow), *args], env=env, stdout=out, stderr=out).returncode
    assert code == 0, f"airflow {' '.join(args)} failed; see {log}"


@dataclass
class Deployment:
    """A running api-server with the plugin, and the sandbox posting to it."""

    url: str
    sandbox: SandboxHandle
    log: Path
    metadata_db: Path

    @property
    def receiver(self) -> str:
        return self.url + "/webhooks/quickbooks"

    def token(self) -> str:
        return requests.get(self.url + "/auth/token", timeout=10).json()["access_token"]

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token()}"}
        answer = requests.request(
            method, self.url + "/api/v2" + path, headers=headers, timeout=30, **kwargs
        )
        answer.raise_for_status()
        return answer

    def runs(self) -> list[dict]:
        return self.api("GET", f"/dags/{DAG_ID}/dagRuns?limit=100").json()["dag_runs"]

    def settle(self) -> None:
        """No active sync and no de-duplication window left from an earlier test."""
        for run in self.runs():
            if run["state"] in ("queued", "running"):
                self.api(
                    "PATCH",
                    f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}",
                    json={"state": "failed"},
                )
        time.sleep(DEDUP_SECONDS + 0.5)

    def webhooks(self, **settings) -> dict:
        answer = requests.put(self.sandbox.admin_url + "/webhooks", json=settings, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def deliveries(self) -> list[dict]:
        return requests.get(self.sandbox.admin_url + "/webhooks/deliveries", timeout=10).json()

    def change(self, name: str, realm: str | None = None) -> str:
        """An accountant adds a customer in QuickBooks; its id."""
        answer = requests.post(
            f"{self.sandbox.admin_url}/realms/{realm or self.sandbox.realm_id}"
            "/actions/create_customer",
            json={"DisplayName": name},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()["Customer"]["Id"]

    def wait_delivered(self, count: int, timeout: float = 30.0) -> list[dict]:
        """The first `count` deliveries, once each has been answered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [d for d in self.deliveries() if d["attempts"]]
            if len(done) >= count:
                return done
            time.sleep(0.1)
        raise AssertionError(f"{count} deliveries expected; got {self.deliveries()}")

    def wait_runs(self, count: int, timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs()
            if len(runs) >= count:
                return runs
            time.sleep(0.2)
        raise AssertionError(f"{count} runs expected; got {self.runs()}")

    def notifications(self) -> list[dict]:
        engine = sa.create_engine(f"sqlite:///{self.metadata_db}")
        try:
            return WebhookStore(engine).recent(limit=1000)
        finally:
            engine.dispose()

    def post(self, body: bytes, signature: str | None) -> tuple[int, float]:
        """POST a body as QuickBooks would; (status, seconds taken)."""
        headers = {"content-type": "application/json"}
        if signature is not None:
            headers["intuit-signature"] = signature
        started = time.monotonic()
        answer = requests.post(self.receiver, data=body, headers=headers, timeout=10)
        return answer.status_code, time.monotonic() - started


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("webhooks")
    home = tmp / "airflow"
    home.mkdir()
    log = tmp / "airflow.log"
    with running_sandbox(tmp / "qbo.sqlite3", demo=True) as sandbox:
        port = _free_port()
        include = str(project_root() / "include")
        env = airflow_env(
            home,
            {
                "PYTHONPATH": os.pathsep.join(
                    [include, str(project_root()), os.environ.get("PYTHONPATH", "")]
                ),
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API__WORKERS": "1",
                "FIELDBOOKS_HOME": str(tmp / "fieldbooks"),
                "FIELDBOOKS_QBO_BASE_URL": sandbox.base_url,
                "FIELDBOOKS_QBO_REALM_ID": sandbox.realm_id,
                "FIELDBOOKS_QBO_WEBHOOK_VERIFIER_TOKEN": TOKEN,
                "FIELDBOOKS_WEBHOOK_DEDUP_SECONDS": str(DEDUP_SECONDS),
            },
        )
        env.pop("FIELDBOOKS_COMPANIES_FILE", None)
        _airflow(["db", "migrate"], env, log)
        _airflow(["dags", "reserialize"], env, log)
        airflow = Path(sys.executable).with_name("airflow")
        with open(log, "a") as out:
            server = subprocess.Popen(
                [str(airflow), "api-server", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                assert server.poll() is None, f"api-server exited; see {log}"
                try:
                    if requests.get(url + "/webhooks/quickbooks", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, f"api-server did not start; see {log}"
                time.sleep(0.5)
            yield Deployment(url, sandbox, log, home / "airflow.db")
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


def _answered_in_time(deliveries: list[dict]) -> None:
    """Each delivery's first attempt was a 2xx within the sandbox's 3 s timeout."""
    for delivery in deliveries:
        first = delivery["attempts"][0]
        assert first["status"] == 200, delivery
        assert first["error"] is None, delivery


def test_signed_webhooks_in_both_shapes_start_a_sync_of_their_company(deployment):
    deployment.settle()
    requests.delete(deployment.sandbox.admin_url + "/webhooks/deliveries", timeout=10)
    deployment.webhooks(
        url=deployment.receiver,
        verifier_token=TOKEN,
        format="classic",
        batch_seconds=0.2,
        timeout_seconds=ANSWER_LIMIT_SECONDS,
        retry_delays_seconds=[],
    )
    before = {r["dag_run_id"] for r in deployment.runs()}
    classic_id = deployment.change("Webhook Classic Carla")
    [classic] = deployment.wait_delivered(1)
    _answered_in_time([classic])
    assert classic["format"] == "classic"
    runs = [r for r in deployment.wait_runs(len(before) + 1) if r["dag_run_id"] not in before]
    assert [r["conf"] for r in runs] == [{"companies": ["default"]}]
    assert runs[0]["dag_run_id"].startswith("webhook__default__")
    assert runs[0]["triggered_by"] == "rest_api"
    assert f"Customer {classic_id} Create" in (runs[0]["note"] or "")

    deployment.settle()
    deployment.webhooks(format="cloudevents")
    cloud_id = deployment.change("Webhook Cloud Cody")
    delivered = deployment.wait_delivered(2)
    _answered_in_time(delivered)
    assert delivered[1]["format"] == "cloudevents"
    runs = [r for r in deployment.wait_runs(len(before) + 2) if r["dag_run_id"] not in before]
    assert [r["conf"] for r in runs] == [{"companies": ["default"]}] * 2
    assert any(f"Customer {cloud_id} Create" in (r["note"] or "") for r in runs)

    recorded = {
        (n["shape"], n["entity"], n["entity_id"], n["operation"], n["company"], n["outcome"])
        for n in deployment.notifications()
    }
    assert ("classic", "Customer", classic_id, "Create", "default", "triggered") in recorded
    assert ("cloudevents", "Customer", cloud_id, "Create", "default", "triggered") in recorded


def test_a_burst_of_webhooks_starts_one_sync_and_records_every_notification(deployment):
    deployment.settle()
    requests.delete(deployment.sandbox.admin_url + "/webhooks/deliveries", timeout=10)
    # no gathering: every change is its own delivery, in both shapes
    deployment.webhooks(
        url=deployment.receiver,
        verifier_token=TOKEN,
        format="both",
        batch_seconds=0,
        timeout_seconds=ANSWER_LIMIT_SECONDS,
        retry_delays_seconds=[],
    )
    before = {r["dag_run_id"] for r in deployment.runs()}
    ids = [deployment.change(f"Burst Customer {i}") for i in range(5)]
    delivered = deployment.wait_delivered(10)
    _answered_in_time(delivered)
    assert {d["format"] for d in delivered} == {"classic", "cloudevents"}
    time.sleep(1.0)  # let the receiver decide on the last ones
    new = [r for r in deployment.runs() if r["dag_run_id"] not in before]
    assert len(new) == 1, new
    assert new[0]["conf"] == {"companies": ["default"]}
    recorded = [n for n in deployment.notifications() if n["entity_id"] in ids]
    assert {(n["shape"], n["entity_id"]) for n in recorded} == {
        (shape, i) for shape in ("classic", "cloudevents") for i in ids
    }
    assert {n["run_id"] for n in recorded} == {new[0]["dag_run_id"]}
    assert {n["outcome"] for n in recorded} <= {"triggered", "covered"}


def test_a_forged_or_missing_signature_is_refused_logged_and_starts_nothing(deployment):
    deployment.settle()
    requests.delete(deployment.sandbox.admin_url + "/webhooks/deliveries", timeout=10)
    before = {r["dag_run_id"] for r in deployment.runs()}
    deployment.webhooks(
        url=deployment.receiver,
        verifier_token="not-our-token",
        format="classic",
        batch_seconds=0.2,
        timeout_seconds=ANSWER_LIMIT_SECONDS,
        retry_delays_seconds=[],
    )
    deployment.change("Forged Fiona")
    [forged] = deployment.wait_delivered(1)
    assert forged["attempts"][0]["status"] == 401
    body = forged["raw"].encode()
    assert deployment.post(body, None)[0] == 401
    status, seconds = deployment.post(body, sign(body, TOKEN + "x"))
    assert status == 401 and seconds < ANSWER_LIMIT_SECONDS
    status, seconds = deployment.post(body, sign(body, TOKEN))  # the same body, signed right
    assert status == 200 and seconds < ANSWER_LIMIT_SECONDS
    time.sleep(1.0)
    new = [r for r in deployment.runs() if r["dag_run_id"] not in before]
    assert len(new) == 1  # only the rightly signed one
    log = deployment.log.read_text()
    assert log.count("webhook refused from 127.0.0.1") >= 3


def test_a_signed_webhook_for_an_unknown_company_is_accepted_and_starts_nothing(deployment):
    deployment.settle()
    requests.delete(deployment.sandbox.admin_url + "/webhooks/deliveries", timeout=10)
    other = requests.post(
        deployment.sandbox.admin_url + "/realms", json={"demo": False}, timeout=10
    ).json()["realm_id"]
    deployment.webhooks(
        url=deployment.receiver,
        verifier_token=TOKEN,
        format="cloudevents",
        batch_seconds=0.2,
        timeout_seconds=ANSWER_LIMIT_SECONDS,
        retry_delays_seconds=[],
    )
    before = {r["dag_run_id"] for r in deployment.runs()}
    customer_id = deployment.change("Stranger Stan", realm=other)
    [delivery] = deployment.wait_delivered(1)
    _answered_in_time([delivery])
    time.sleep(1.0)
    assert [r for r in deployment.runs() if r["dag_run_id"] not in before] == []
    [recorded] = [
        n for n in deployment.notifications() if n["realm_id"] == other
    ]  # kept for the status page
    assert (recorded["entity_id"], recorded["outcome"], recorded["company"]) == (
        customer_id,
        "unknown_realm",
        None,
    )
    assert f"unknown realm {other}" in deployment.log.read_text()
    assert json.loads(delivery["raw"])[0]["intuitaccountid"] == other


@pytest.mark.postgres
def test_the_record_and_the_window_hold_on_postgresql(make_pg_database):
    """What a CeleryExecutor deployment's metadata DB holds: the same store on PostgreSQL."""
    from datetime import UTC, datetime, timedelta

    from fieldbooks.webhooks import Notification, start_sync

    class Runs:
        def __init__(self) -> None:
            self.started: list[str] = []

        def active_run(self, company):
            return None  # every run finishes at once: only the window holds syncs off

        def trigger(self, company, run_id, note):
            self.started.append(run_id)
            return run_id

    engine = sa.create_engine(make_pg_database("fb_webhooks").replace("://", "+psycopg://", 1))
    try:
        store, runs = WebhookStore(engine), Runs()
        window = timedelta(seconds=60)
        t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        found = [Notification("classic", "1", "Invoice", "12", "Update")]
        outcomes = []
        for second in (0, 10, 59, 60, 61):
            delivery = f"d{second}"
            store.record(delivery, found, {"1": "acme"}, received_at=t0)
            now = t0 + timedelta(seconds=second)
            outcomes.append(start_sync("acme", found, store, runs, window, delivery, now=now)[0])
        assert outcomes == ["triggered", "recent", "recent", "triggered", "recent"]
        assert len(runs.started) == 2
        recorded = store.recent()
        assert len(recorded) == 5 and recorded[0]["received_at"].tzinfo is not None
        # a second api-server racing for the same window loses
        assert not WebhookStore(engine).claim("acme", window, t0 + timedelta(seconds=62))
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_old_notifications_are_pruned_hourly_on_postgresql_and_the_window_stays(
    make_pg_database,
):
    """Retention on the metadata DB a CeleryExecutor deployment uses: old rows go in one
    prune an hour, the status page still lists what is left, the trigger rows stay."""
    from datetime import UTC, datetime, timedelta

    from fieldbooks.webhooks import Notification, triggers

    now = [datetime(2026, 3, 1, 12, 0, tzinfo=UTC)]
    engine = sa.create_engine(make_pg_database("fb_webhooks").replace("://", "+psycopg://", 1))
    try:
        store = WebhookStore(engine, retention=timedelta(days=30), clock=lambda: now[0])
        found = [Notification("classic", "1", "Invoice", "12", "Update")]
        t0 = now[0]
        assert store.claim("acme", timedelta(seconds=60), t0 - timedelta(days=45))
        for delivery, age in (("d45", 45), ("d31", 31), ("d29", 29), ("d0", 0)):
            store.record(delivery, found, {"1": "acme"}, received_at=t0 - timedelta(days=age))
        indexes = sa.inspect(engine).get_indexes("fieldbooks_webhook_notifications")
        assert ["received_at"] in [index["column_names"] for index in indexes]

        assert store.prune_if_due() == 2
        listed = store.recent()
        assert [r["delivery_id"] for r in listed] == ["d0", "d29"]
        assert listed[0]["received_at"] == t0
        store.record("d40", found, {"1": "acme"}, received_at=t0 - timedelta(days=40))
        now[0] = t0 + timedelta(minutes=59)
        assert store.prune_if_due() is None
        now[0] = t0 + timedelta(hours=1)
        assert store.prune_if_due() == 1
        assert [r["delivery_id"] for r in store.recent()] == ["d0", "d29"]
        with engine.connect() as conn:
            assert conn.execute(sa.select(triggers.c.company)).scalars().all() == ["acme"]
        # the window claimed 45 days ago is long over: a new burst claims it again
        assert store.claim("acme", timedelta(seconds=60), now[0])
    finally:
        engine.dispose()
