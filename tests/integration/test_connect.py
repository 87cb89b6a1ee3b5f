"""The QuickBooks connection: read from Airflow (env var and metadata DB), made by
`fieldbooks connect` against the sandbox's OAuth, and seen by Airflow's provider manager."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet

from fieldbooks.config import load_settings
from fieldbooks.qbo.connection import qbo_settings_from_connection, quickbooks_connection
from fieldbooks.qbo.pacing import Limits
from qbo_sandbox.testing import running_sandbox
from tests.conftest import settings_env

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


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

        connect = subprocess.Popen(
            [PYTHON, "-m", "fieldbooks.cli", "connect", "--no-browser", "--timeout", "60"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = []
        for line in connect.stdout:
            lines.append(line)
            if line.startswith("http"):
                break
        assert lines, connect.communicate(timeout=30)[1][-3000:]
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
        assert used["status"] == 200 and used["count"] > 0
    print(
        f"airflow db migrate {migrated - started:.1f} s, connect and checks "
        f"{time.monotonic() - migrated:.1f} s"
    )


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
