"""The sync-status page inside a real Airflow UI, opened in headless Chromium.

A real `airflow api-server` (its own AIRFLOW_HOME, SQLite metadata, the simple auth manager
with everyone an admin, a free port) loads plugins/fieldbooks_status.py; the warehouse is
the one a real sync into the QuickBooks sandbox left (tests/unit/test_status.py's
synced_company). Chromium (Debian's package, driven by Playwright) opens the page from the
UI's navigation, the figures it shows are compared with the warehouse's, and Retry must
leave a fieldbooks_retry_issues run with the contract's conf. A full-page screenshot is
kept under the test's tmp dir, and copied to $FIELDBOOKS_ARTIFACTS when that is set.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fieldbooks.airflow_local import airflow_env, prepare_airflow
from fieldbooks.config import load_settings, project_root
from fieldbooks.status import fmt_money
from fieldbooks.warehouse.connection import connect
from tests.unit.test_status import HELD_INVOICES, synced_company

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("FIELDBOOKS_CHROMIUM", "/usr/bin/chromium"))
RETRY_DAG_ID = "fieldbooks_retry_issues"
# Only when dags/ has no fieldbooks_retry_issues yet: the DAG's id and Params as the
# contract states them, to prove the page triggers it; it does nothing.
STAND_IN_RETRY_DAG = '''
"""Stand-in for fieldbooks_retry_issues (tests only)."""
from airflow.sdk import Param, dag, task


@dag(
    schedule=None,
    catchup=False,
    tags=["fieldbooks"],
    default_args={"retries": 2},
    params={
        "companies": Param([], type="array"),
        "issue_ids": Param([], type="array"),
        "kinds": Param([], type="array"),
    },
)
def fieldbooks_retry_issues():
    @task
    def retry():
        return None

    retry()


fieldbooks_retry_issues()
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dags_folder(tmp_path: Path) -> Path:
    """dags/ when it has the retry DAG, else a folder with the stand-in."""
    real = project_root() / "dags"
    if any(RETRY_DAG_ID in p.read_text() for p in real.glob("*.py")):
        return real
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "fieldbooks_retry_issues.py").write_text(STAND_IN_RETRY_DAG)
    return folder


def _playwright():
    """Playwright's sync API, or a skip when Chromium cannot run here."""
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true needs Chromium at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    return sync_api.sync_playwright


@pytest.fixture(scope="module")
def api_server(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    """A running api-server serving the plugin over a synced warehouse: (base URL, env)."""
    tmp_path = tmp_path_factory.mktemp("status_page")
    company_env = synced_company(tmp_path / "company")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = airflow_env(
        tmp_path / "airflow",
        {
            **company_env,
            "AIRFLOW__CORE__DAGS_FOLDER": str(_dags_folder(tmp_path)),
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
            "FIELDBOOKS_STATUS_CACHE_SECONDS": "0",
        },
    )
    log_file = tmp_path / "airflow.log"
    prepare_airflow(tmp_path / "airflow", env, log_file)
    airflow = str(Path(sys.executable).with_name("airflow"))
    with open(log_file, "a") as log:
        subprocess.run(
            [airflow, "dags", "reserialize"], env=env, stdout=log, stderr=log, check=True
        )
        server = subprocess.Popen(
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log_file.read_text()[-4000:]
                pytest.fail(f"airflow api-server did not start; log tail:\n{tail}")
            time.sleep(1)
        yield base, env
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _keep(path: Path) -> None:
    """Copy a test artefact to $FIELDBOOKS_ARTIFACTS when that is set."""
    target = os.environ.get("FIELDBOOKS_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(target) / path.name)


def _dag_run(base: str, run_id: str) -> dict:
    """A run of the retry DAG, read back through Airflow's REST API."""
    token = httpx.get(f"{base}/auth/token", timeout=10).json()["access_token"]
    answer = httpx.get(
        f"{base}/api/v2/dags/{RETRY_DAG_ID}/dagRuns/{run_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _run_count(base: str, token: str) -> int:
    answer = httpx.get(
        f"{base}/api/v2/dags/{RETRY_DAG_ID}/dagRuns",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["total_entries"]


def test_status_page_in_the_airflow_ui_shows_the_warehouse_and_retry_starts_a_run(
    api_server, tmp_path
):
    sync_playwright = _playwright()
    base, env = api_server
    settings = load_settings(env)
    with connect(settings.warehouse_url) as wh:
        ledger = wh.fetchall(
            "select entity, state, count(*) from fieldbooks.sync_ledger group by 1, 2"
        )
        issues = wh.fetchall(
            "select issue_id, kind, reason, hint from fieldbooks.sync_issues "
            "where status in ('open', 'retrying') order by kind, last_seen desc, issue_id"
        )
        ar_difference, ops_total, qbo_total = wh.fetchall(
            "select ar_difference, ops_total, qbo_total from reconciliation.tieout_summary"
        )[0]
        ar_days = wh.scalar("select count(*) from reconciliation.ar_by_day")
        runs = [r[0] for r in wh.fetchall("select run_id from fieldbooks.sync_runs")]
    assert ar_difference != 0 and len(issues) >= len(HELD_INVOICES)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/auth/token/login")  # all admins: the token cookie, no form
            page.goto(f"{base}/")
            # the entry in the UI's navigation leads to the page, in the UI's frame
            page.get_by_role("link", name="Sync status").first.click()
            page.wait_for_url("**/plugin/fieldbooks-status")
            frame = page.frame_locator("iframe")
            section = frame.locator('section[data-company="default"]')
            section.wait_for(timeout=60_000)
            assert section.get_attribute("data-state") == "ok"

            for entity in {e for e, _, _ in ledger}:
                counts = {s: n for e, s, n in ledger if e == entity}
                row = section.locator(f'table.entities tr[data-entity="{entity}"]')
                synced = counts.get("confirmed", 0) + counts.get("sent", 0)
                assert row.locator(".synced").inner_text() == f"{synced:,}"
                assert row.locator(".pending").inner_text() == f"{counts.get('pending', 0):,}"
                assert row.locator(".failed").inner_text() == f"{counts.get('failed', 0):,}"
            assert section.locator(".open-issue-count").inner_text() == str(len(issues))
            for issue_id, _kind, reason, hint in issues:
                row = section.locator(f'tr[data-issue-id="{issue_id}"]')
                assert row.locator(".reason").inner_text() == reason
                assert row.locator(".hint").inner_text() == hint
            tieout = section.locator("table.tieout")
            ar_row = tieout.locator('tr[data-tieout="accounts receivable"]')
            assert ar_row.locator(".difference").inner_text() == fmt_money(ar_difference)
            invoices = tieout.locator('tr[data-tieout="invoices"]')
            assert invoices.locator(".ops").inner_text() == fmt_money(ops_total)
            assert invoices.locator(".qbo").inner_text() == fmt_money(qbo_total)
            assert section.locator("#ar-chart").get_attribute("data-days") == str(ar_days)
            for run_id in runs:
                assert section.locator(f'tr[data-run-id="{run_id}"]').count() == 1

            page.screenshot(path=str(tmp_path / "status_page_in_airflow_ui.png"), full_page=True)

            # Retry one issue: a run of the retry DAG with the contract's conf
            issue_id = issues[0][0]
            section.locator(f'[data-testid="retry-{issue_id}"]').click()
            started = frame.locator("#retry-run-id")
            started.wait_for(timeout=30_000)
            run = _dag_run(base, started.inner_text())
            assert run["conf"] == {"companies": ["default"], "issue_ids": [issue_id]}
            assert run["run_type"] == "manual"

            # and every issue of a kind
            kind = issues[0][1]
            frame.locator(f'[data-testid="retry-kind-default-{kind}"]').click()
            frame.locator("#retry-run-id").filter(has_not_text=started.inner_text()).wait_for()
            kind_run = _dag_run(base, frame.locator("#retry-run-id").inner_text())
            assert kind_run["conf"] == {"companies": ["default"], "kinds": [kind]}

            # the page itself, whole, as the artefact people look at
            direct = browser.new_page(viewport={"width": 1400, "height": 1000})
            direct.context.add_cookies(page.context.cookies())
            direct.goto(f"{base}/fieldbooks/status/")
            shot = tmp_path / "fieldbooks_status_page.png"
            direct.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    _keep(shot)
    _keep(tmp_path / "status_page_in_airflow_ui.png")


def test_retry_without_the_pages_form_token_starts_nothing(api_server):
    base, _env = api_server
    token = httpx.get(f"{base}/auth/token", timeout=10).json()["access_token"]
    cookies = {"_token": token}
    before = _run_count(base, token)
    forged = httpx.post(
        f"{base}/fieldbooks/status/retry",
        data={"company": "default", "kind": "validation_failed", "csrf": "forged"},
        cookies=cookies,
        timeout=30,
    )
    assert forged.status_code == 403
    assert "The form expired" in forged.text
    assert _run_count(base, token) == before
    # a caller Airflow does not know sees no figures: sent to the login (everyone else is
    # an admin here, [core] simple_auth_manager_all_admins)
    forged_token = {"Authorization": "Bearer not-a-token"}
    stranger = httpx.get(f"{base}/fieldbooks/status/", headers=forged_token, timeout=30)
    assert stranger.status_code == 307 and "/login" in stranger.headers["location"]
    assert "Open issues" not in stranger.text
