"""The QuickBooks connection: read from Airflow (env var and metadata DB), made by
`fieldbooks connect` against the sandbox's OAuth (through its loopback listener, or from the
address pasted after an https redirect), and seen by Airflow's provider manager."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError

from fieldbooks.config import load_settings
from fieldbooks.connect import ConnectError, connect
from fieldbooks.qbo.connection import qbo_settings_from_connection, quickbooks_connection
from fieldbooks.qbo.pacing import Limits
from qbo_sandbox.testing import running_sandbox
from tests.conftest import settings_env

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# what a production app registers: Intuit takes only https off this machine
HTTPS_REDIRECT = "https://airflow.example.com/qbo/callback"


def _subprocess_env(extra: dict[str, str], *paths: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "FIELDBOOKS_")) and k != "_AIRFLOW_PROCESS_CONTEXT"
    }
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "include"), str(ROOT), *paths])
    env.update(extra)
    return env


def test_settings_from_an_environment_connection(monkeypatch):
    extra = {
        "realm_id": "4620816365",
        "refresh_token": "rt-from-env",
        "environment": "sandbox",
        "webhook_verifier_token": "verifier",
    }
    monkeypatch.setenv(
        "AIRFLOW_CONN_FIELDBOOKS_QBO_ACME",
        json.dumps(
            {
                "conn_type": "quickbooks",
                "login": "client-id",
                "password": "client-secret",
                "extra": extra,
            }
        ),
    )
    limits = Limits(requests_per_window=100)
    qbo = qbo_settings_from_connection("fieldbooks_qbo_acme", limits)
    assert qbo.client_id == "client-id"
    assert qbo.client_secret == "client-secret"
    assert qbo.realm_id == "4620816365"
    assert qbo.refresh_token == "rt-from-env"
    assert qbo.base_url == "https://sandbox-quickbooks.api.intuit.com"
    assert qbo.discovery_url.endswith("openid_sandbox_configuration/")
    assert qbo.limits is limits
    assert quickbooks_connection("fieldbooks_qbo_acme").webhook_verifier_token == "verifier"
    assert qbo_settings_from_connection("fieldbooks_qbo_nobody", limits) is None

    monkeypatch.setenv(
        "AIRFLOW_CONN_FIELDBOOKS_QBO_HALF",
        json.dumps({"conn_type": "quickbooks", "login": "x", "extra": {"realm_id": "1"}}),
    )
    with pytest.raises(ValueError, match="fieldbooks connect"):
        qbo_settings_from_connection("fieldbooks_qbo_half", limits)


def _start_connect(
    args: list[str], env: dict[str, str], stdin: bool = False
) -> tuple[subprocess.Popen, list[str]]:
    """`fieldbooks connect --no-browser ARGS` started, and what it printed up to the
    authorize address (its last line)."""
    process = subprocess.Popen(
        [PYTHON, "-m", "fieldbooks.cli", "connect", "--no-browser", *args],
        env=env,
        cwd=ROOT,
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("http"):
            break
    assert lines, process.communicate(timeout=30)[1][-3000:]
    return process, lines


@pytest.mark.slow
def test_fieldbooks_connect_stores_a_working_connection(tmp_path):
    airflow_home = tmp_path / "airflow"
    airflow_home.mkdir()
    fernet_key = Fernet.generate_key().decode()
    started = time.monotonic()
    with running_sandbox(tmp_path / "qbo.sqlite", demo=True) as sandbox:
        env = _subprocess_env(
            {
                **settings_env(tmp_path / "home", sandbox),
                "AIRFLOW_HOME": str(airflow_home),
                "AIRFLOW__CORE__FERNET_KEY": fernet_key,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "OAUTHLIB_INSECURE_TRANSPORT": "1",
            }
        )
        migrate = subprocess.run(
            [str(Path(PYTHON).with_name("airflow")), "db", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        migrated = time.monotonic()

        connect, lines = _start_connect(["--timeout", "60"], env)
        url = lines[-1].strip()
        query = parse_qs(urlsplit(url).query)
        assert url.startswith(sandbox.base_url + "/oauth2/v1/authorize?")
        assert query["scope"] == ["com.intuit.quickbooks.accounting"]
        assert len(query["state"][0]) >= 32
        callback = query["redirect_uri"][0]
        assert callback.startswith("http://127.0.0.1:")

        # a redirect that is not ours (wrong state) is refused and changes nothing
        forged = requests.get(
            callback, params={"code": "ac-forged", "realmId": "1", "state": "x"}, timeout=10
        )
        assert forged.status_code == 400
        # the person consents: the sandbox redirects to the listener with code and state
        consent = requests.get(url, timeout=30)
        assert consent.status_code == 200, consent.text
        assert consent.history[0].status_code == 302
        out, err = connect.communicate(timeout=60)
        assert connect.returncode == 0, err[-3000:]
        printed = "".join(lines) + out + err

        settings = load_settings(env)
        from fieldbooks.qbo.tokens import open_token_store

        stored = open_token_store(settings.token_store, env={}).get(sandbox.realm_id)
        assert stored is not None and stored.expires_at is not None
        # nothing secret on the terminal
        assert stored.refresh_token not in printed
        assert sandbox.client_secret not in printed
        summary = json.loads(out[out.index("{") :])
        assert summary["realm_id"] == sandbox.realm_id
        assert summary["airflow_connection"]["action"] == "created"
        assert summary["airflow_connection"]["conn_type"] == "quickbooks"

        # the connection is in the metadata DB, encrypted by Airflow's Fernet key
        with sqlite3.connect(airflow_home / "airflow.db") as db:
            row = db.execute(
                "select conn_type, login, host, is_encrypted, is_extra_encrypted, extra "
                "from connection where conn_id = 'fieldbooks_qbo_default'"
            ).fetchone()
        assert row[:5] == ("quickbooks", sandbox.client_id, sandbox.base_url, 1, 1)
        assert stored.refresh_token not in row[5]

        # the same company reconnected through a production app's https redirect URI: nothing
        # listens; the person pastes the address the sandbox sent the browser to
        reconnect, again = _start_connect(["--redirect-uri", HTTPS_REDIRECT], env, stdin=True)
        assert parse_qs(urlsplit(again[-1]).query)["redirect_uri"] == [HTTPS_REDIRECT]
        out, err = reconnect.communicate(_sign_in(again[-1].strip()) + "\n", timeout=60)
        assert reconnect.returncode == 0, err[-3000:]
        summary = json.loads(out[out.index("{") :])
        assert summary["airflow_connection"]["action"] == "updated"
        stored = open_token_store(settings.token_store, env={}).get(sandbox.realm_id)
        assert stored is not None and stored.refresh_token not in "".join(again) + out + err

        # ... and it works: read back through fieldbooks (metadata DB, outside a task) and used
        # by the hook on a fresh token store, so the connection's own refresh token is the one
        check = subprocess.run(
            [
                PYTHON,
                "-c",
                "import json\n"
                "from fieldbooks.qbo.connection import quickbooks_connection\n"
                "from fieldbooks.qbo.hook import QuickBooksHook\n"
                "from fieldbooks.qbo.tokens import FileTokenStore\n"
                "c = quickbooks_connection('fieldbooks_qbo_default')\n"
                f"store = FileTokenStore(__import__('pathlib').Path({str(tmp_path / 'fresh.json')!r}))\n"
                "client = QuickBooksHook('fieldbooks_qbo_default', token_store=store).get_client()\n"
                "from fieldbooks.qbo.client import company_url\n"
                "r = client.session.get(company_url(client, 'query'), timeout=30,\n"
                "    params={'query': 'select count(*) from Account', 'minorversion': 75},\n"
                "    headers={'Accept': 'application/json'})\n"
                "print(json.dumps({'realm': c.realm_id, 'token': c.refresh_token,\n"
                "    'redirect_uri': c.redirect_uri,\n"
                "    'status': r.status_code, 'count': r.json()['QueryResponse']['totalCount']}))\n",
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert check.returncode == 0, check.stderr[-3000:]
        used = json.loads(check.stdout.splitlines()[-1])
        assert used["realm"] == sandbox.realm_id
        assert used["token"] == stored.refresh_token
        assert used["redirect_uri"] == HTTPS_REDIRECT
        assert used["status"] == 200 and used["count"] > 0
    print(
        f"airflow db migrate {migrated - started:.1f} s, connect and checks "
        f"{time.monotonic() - migrated:.1f} s"
    )


def _sign_in(authorize_url: str) -> str:
    """A person signs in and consents: the address the sandbox sends the browser to (its
    Location), not followed, as a browser stuck on an unreachable https page shows it."""
    answer = requests.get(authorize_url, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


@pytest.fixture
def company(tmp_path, sandbox, monkeypatch):
    """This process configured for the sandbox's demo company, no Airflow, no companies file."""
    for name in list(os.environ):
        if name.startswith(("AIRFLOW", "FIELDBOOKS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # restored after: the sandbox's http
    for name, value in settings_env(tmp_path / "home", sandbox).items():
        monkeypatch.setenv(name, value)
    return sandbox


def _app(sandbox) -> AuthClient:
    """The app's own OAuth client, registered with the https redirect URI."""
    return AuthClient(
        sandbox.client_id, sandbox.client_secret, HTTPS_REDIRECT, environment=sandbox.discovery_url
    )


def _stored(sandbox):
    """The token store's entry for the sandbox's company (None: nothing stored)."""
    from fieldbooks.qbo.tokens import open_token_store

    return open_token_store(load_settings().token_store, env={}).get(sandbox.realm_id)


class Person:
    """Reads what connect prints, and pastes what it is told to (the sign-in's address,
    or that address changed by `tamper`)."""

    def __init__(self, tamper=lambda address: address) -> None:
        self.said: list[str] = []
        self.tamper = tamper
        self.pasted: str | None = None

    @property
    def authorize_url(self) -> str:
        return next(line for line in self.said if line.startswith("http"))

    def ask(self, prompt: str) -> str:
        self.pasted = self.tamper(_sign_in(self.authorize_url))
        return self.pasted


def test_an_https_redirect_uri_connects_from_the_pasted_address(company):
    person = Person()
    summary = connect(
        redirect_uri=HTTPS_REDIRECT,
        open_browser=False,
        use_airflow=False,
        say=person.said.append,
        ask=person.ask,
    )
    query = parse_qs(urlsplit(person.authorize_url).query)
    assert query["redirect_uri"] == [HTTPS_REDIRECT]
    assert len(query["state"][0]) >= 32
    assert person.pasted.startswith(HTTPS_REDIRECT + "?")
    assert summary["realm_id"] == company.realm_id
    stored = _stored(company)
    assert stored is not None and stored.expires_at is not None
    assert stored.refresh_token != company.refresh_token  # the code's, not the demo's
    assert not any(stored.refresh_token in line for line in person.said)
    # the pasted code was the one exchanged: it works once
    code = parse_qs(urlsplit(person.pasted).query)["code"][0]
    with pytest.raises(AuthClientError):
        _app(company).get_bearer_token(code, realm_id=company.realm_id)


def test_a_pasted_address_with_a_tampered_state_is_refused_and_nothing_stored(company):
    person = Person(lambda address: address.replace("state=", "state=x", 1))
    with pytest.raises(ConnectError, match="state .* does not match") as raised:
        connect(
            redirect_uri=HTTPS_REDIRECT,
            open_browser=False,
            use_airflow=False,
            say=person.said.append,
            ask=person.ask,
        )
    assert "nothing was stored" in str(raised.value)
    assert _stored(company) is None
    # refused before any exchange: the code is still unspent
    code = parse_qs(urlsplit(person.pasted).query)["code"][0]
    auth = _app(company)
    auth.get_bearer_token(code, realm_id=company.realm_id)
    assert auth.refresh_token


def test_a_sign_in_the_person_cancels_gives_a_clear_error_and_stores_nothing(company):
    """Cancel on Intuit's consent page sends `error=access_denied` with our state (the
    sandbox consents at once, so its redirect is rewritten into the refusal)."""

    def cancelled(address: str) -> str:
        state = parse_qs(urlsplit(address).query)["state"][0]
        return f"{HTTPS_REDIRECT}?error=access_denied&state={state}"

    person = Person(cancelled)
    with pytest.raises(ConnectError, match="QuickBooks refused the connection: access_denied"):
        connect(
            redirect_uri=HTTPS_REDIRECT,
            open_browser=False,
            use_airflow=False,
            say=person.said.append,
            ask=person.ask,
        )
    assert _stored(company) is None


def test_a_loopback_redirect_uri_given_keeps_the_listener_on_its_port_and_path(company):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    redirect = f"http://127.0.0.1:{port}/qbo/callback"
    said: list[str] = []
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["summary"] = connect(
                redirect_uri=redirect,
                open_browser=False,
                timeout=30,
                use_airflow=False,
                say=said.append,
                ask=lambda prompt: pytest.fail("the loopback flow asked for a paste"),
            )
        except Exception as error:  # handed to the test thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 30
    while not any(line.startswith("http") for line in said):
        assert time.monotonic() < deadline and thread.is_alive(), outcome
        time.sleep(0.05)
    url = next(line for line in said if line.startswith("http"))
    assert parse_qs(urlsplit(url).query)["redirect_uri"] == [redirect]
    # the default /callback path is not this listener's
    assert requests.get(f"http://127.0.0.1:{port}/callback", timeout=10).status_code == 404
    consent = requests.get(url, timeout=30)  # followed to the listener, as a browser does
    assert consent.status_code == 200, consent.text
    thread.join(timeout=60)
    assert "error" not in outcome, outcome
    assert outcome["summary"]["realm_id"] == company.realm_id
    assert _stored(company) is not None


@pytest.fixture(scope="module")
def provider_install(tmp_path_factory) -> Path:
    """fieldbooks installed into a temporary --target (its metadata carries the entry point);
    the shared venv keeps its editable install of /work/main."""
    base = tmp_path_factory.mktemp("provider")
    src = base / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copytree(ROOT / "include", src / "include", ignore=shutil.ignore_patterns("__pycache__"))
    target = base / "target"
    done = subprocess.run(
        [PYTHON, "-m", "uv", "pip", "install", "--python", PYTHON, "--no-deps"]
        + ["--target", str(target), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return target


@pytest.mark.slow
def test_airflow_provider_manager_sees_the_quickbooks_connection_type(tmp_path, provider_install):
    code = """
import json, warnings
warnings.simplefilter("ignore")
from airflow.providers_manager import ProvidersManager
from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
pm = ProvidersManager()
hook = pm.hooks["quickbooks"]
runtime = ProvidersManagerTaskRuntime().hooks["quickbooks"]
print(json.dumps({
    "provider": pm.providers["fieldbooks"].data["package-name"],
    "hook_class": hook.hook_class_name,
    "hook_name": hook.hook_name,
    "conn_id_attr": hook.connection_id_attribute_name,
    "runtime_hook_class": runtime.hook_class_name,
    "widgets": {k: v.field for k, v in pm.connection_form_widgets.items()
                if k.startswith("extra__quickbooks__")},
    "sensitive": sorted(k for k, v in pm.connection_form_widgets.items()
                        if k.startswith("extra__quickbooks__") and v.is_sensitive),
    "behaviour": pm.field_behaviours["quickbooks"],
}))
"""
    env = _subprocess_env({"AIRFLOW_HOME": str(tmp_path)}, str(provider_install))
    done = subprocess.run(
        [PYTHON, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["provider"] == "fieldbooks"
    assert seen["hook_class"] == seen["runtime_hook_class"] == "fieldbooks.qbo.hook.QuickBooksHook"
    assert seen["hook_name"] == "QuickBooks Online"
    assert seen["conn_id_attr"] == "qbo_conn_id"
    assert set(seen["widgets"]) == {
        f"extra__quickbooks__{name}"
        for name in (
            "realm_id",
            "refresh_token",
            "environment",
            "discovery_url",
            "redirect_uri",
            "webhook_verifier_token",
        )
    }
    assert seen["widgets"]["extra__quickbooks__realm_id"]["schema"]["title"] == (
        "Realm ID (company id)"
    )
    assert seen["sensitive"] == [
        "extra__quickbooks__refresh_token",
        "extra__quickbooks__webhook_verifier_token",
    ]
    assert seen["behaviour"]["hidden_fields"] == ["schema", "port", "extra"]
    assert seen["behaviour"]["relabeling"] == {
        "login": "Client ID",
        "password": "Client secret",
        "host": "API base URL",
    }
