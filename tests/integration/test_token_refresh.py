"""Token refresh serialised per company, proven with two processes against the sandbox.

The sandbox here rotates the refresh token on every refresh and revokes the old one at once
(`refresh_token_rotate_seconds=0`, no grace): two workers refreshing one company without a
lock would send the same token twice and the second would get `invalid_grant`. Both token
stores are tried: the JSON file (flock) and PostgreSQL (advisory lock, encrypted rows).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from fieldbooks.config import QboSettings
from fieldbooks.qbo.tokens import StoredToken, open_token_store
from qbo_sandbox.oauth import TOKEN_PATH
from qbo_sandbox.testing import running_sandbox

ROOT = Path(__file__).resolve().parents[2]
REFRESHES_EACH = 6


def worker(args: dict) -> None:
    """One worker process: refresh the company `refreshes` times (or crash after storing)."""
    from fieldbooks.qbo.client import auth_client, refresh_tokens

    qbo = QboSettings(**args["qbo"])
    store = open_token_store(Path(args["store_path"]))
    if args.get("crash_after_save"):
        real_locked = store.locked

        class CrashingSlot:
            def __init__(self, slot):
                self.slot = slot
                self.current = slot.current

            def save(self, token):
                self.slot.save(token)
                print(json.dumps({"saved": token.refresh_token}), flush=True)
                os._exit(3)  # killed after QuickBooks rotated and the store took it

        class Crashing:
            def __init__(self, realm):
                self.inner = real_locked(realm)

            def __enter__(self):
                return CrashingSlot(self.inner.__enter__())

            def __exit__(self, *exc):
                return self.inner.__exit__(*exc)

        store.locked = Crashing
    while time.time() < args["start_at"]:
        time.sleep(0.005)
    issued = []
    for _ in range(args["refreshes"]):
        issued.append(refresh_tokens(qbo, store, auth_client(qbo)).refresh_token)
    print(json.dumps({"issued": issued}), flush=True)


def _spawn(args: dict, env: dict) -> subprocess.Popen:
    code = (
        "import json, sys; from tests.integration.test_token_refresh import worker; "
        "worker(json.loads(sys.argv[1]))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(args)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _sandbox_tokens(sandbox, realm: str) -> tuple[list[str], list[tuple[int, str]]]:
    """The live refresh tokens of the company, and every token request (status, fault)."""
    requests.get(f"{sandbox.admin_url}/realms/{realm}/requests", timeout=10)  # flushes the log
    with sqlite3.connect(f"file:{sandbox.db_path}?mode=ro", uri=True) as db:
        live = [
            r[0]
            for r in db.execute(
                "select token from tokens where kind = 'refresh' and realm_id = ? and revoked = 0",
                (realm,),
            )
        ]
        asked = list(
            db.execute("select status, fault_code from request_log where path = ?", (TOKEN_PATH,))
        )
    return live, asked


@pytest.fixture(params=["file", "postgresql"])
def store_env(request, tmp_path):
    """Environment choosing the token store (PostgreSQL: a database of this test's own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDBOOKS_TOKEN")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "include"), str(ROOT)])
    env["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    if request.param == "postgresql":
        make = request.getfixturevalue("make_pg_database")
        env["FIELDBOOKS_TOKEN_STORE_URL"] = make("fb_tokens")
        env["FIELDBOOKS_TOKEN_KEY"] = Fernet.generate_key().decode()
    return env


def _qbo(sandbox) -> dict:
    return {
        "base_url": sandbox.base_url,
        "discovery_url": sandbox.discovery_url,
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "realm_id": sandbox.realm_id,
        "refresh_token": sandbox.refresh_token,
    }


def _store(env: dict, path: Path):
    return open_token_store(path, env=env)


@pytest.mark.postgres
def test_two_processes_refreshing_one_company_both_succeed(tmp_path, store_env):
    with running_sandbox(
        tmp_path / "qbo.sqlite", demo=True, refresh_token_rotate_seconds=0
    ) as sandbox:
        args = {
            "qbo": _qbo(sandbox),
            "store_path": str(tmp_path / "qbo_tokens.json"),
            "refreshes": REFRESHES_EACH,
            "start_at": time.time() + 3,
        }
        procs = [_spawn(args, store_env) for _ in range(2)]
        outs = [p.communicate(timeout=180) for p in procs]
        for proc, (_out, err) in zip(procs, outs, strict=True):
            assert proc.returncode == 0, err[-3000:]
        issued = [t for out, _ in outs for t in json.loads(out.splitlines()[-1])["issued"]]
        live, asked = _sandbox_tokens(sandbox, sandbox.realm_id)

    # every refresh got a new token (no two workers used the same one) ...
    assert len(issued) == len(set(issued)) == 2 * REFRESHES_EACH
    # ... QuickBooks never saw an old token again: every token request succeeded
    assert asked == [(200, None)] * (2 * REFRESHES_EACH)
    # ... and the store holds the newest, the only one still alive
    stored = _store(store_env, tmp_path / "qbo_tokens.json").get(sandbox.realm_id)
    assert live == [stored.refresh_token]
    assert stored.refresh_token in issued
    assert stored.expires_at is not None


@pytest.mark.postgres
def test_a_crash_after_rotation_loses_nothing(tmp_path, store_env):
    from fieldbooks.qbo.client import open_client

    with running_sandbox(
        tmp_path / "qbo.sqlite", demo=True, refresh_token_rotate_seconds=0
    ) as sandbox:
        args = {
            "qbo": _qbo(sandbox),
            "store_path": str(tmp_path / "qbo_tokens.json"),
            "refreshes": 1,
            "start_at": 0,
            "crash_after_save": True,
        }
        proc = _spawn(args, store_env)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 3, err[-3000:]
        saved = json.loads(out.splitlines()[-1])["saved"]

        store = _store(store_env, tmp_path / "qbo_tokens.json")
        assert store.get(sandbox.realm_id).refresh_token == saved
        live, _ = _sandbox_tokens(sandbox, sandbox.realm_id)
        assert live == [saved]  # the seed token is dead: only the stored one works

        # the next worker takes the (released) lock and carries on with the stored token
        client = open_client(QboSettings(**_qbo(sandbox)), store)
        answer = client.session.get(
            f"{sandbox.base_url}/v3/company/{sandbox.realm_id}/query",
            params={"query": "select count(*) from Customer", "minorversion": 75},
            headers={"Accept": "application/json"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        live, asked = _sandbox_tokens(sandbox, sandbox.realm_id)
        assert live == [store.get(sandbox.realm_id).refresh_token]
        assert [status for status, _ in asked] == [200, 200]


@pytest.mark.postgres
def test_postgres_rows_are_encrypted(make_pg_database):
    import psycopg

    url = make_pg_database("fb_tokens")
    env = {
        "FIELDBOOKS_TOKEN_STORE_URL": url,
        "FIELDBOOKS_TOKEN_KEY": Fernet.generate_key().decode(),
    }
    store = open_token_store(Path("/nonexistent"), env=env)
    store.put(StoredToken("4620816365", "rt-plain-secret", None))
    assert store.get("4620816365").refresh_token == "rt-plain-secret"
    with psycopg.connect(url) as conn:
        (raw,) = conn.execute("select refresh_token from fieldbooks_qbo_tokens").fetchone()
    assert b"rt-plain-secret" not in bytes(raw)


def test_the_sync_warns_of_an_expiring_token_and_clears_the_warning(tmp_path):
    from fieldbooks import pipeline
    from fieldbooks.config import load_settings
    from fieldbooks.issues import list_issues
    from fieldbooks.qbo.connection import check_token_expiry
    from fieldbooks.qbo.tokens import FileTokenStore, utcnow
    from fieldbooks.warehouse.connection import connect
    from tests.conftest import settings_env

    # a company whose refresh token has 10 days left (QuickBooks says so in its answer)
    with running_sandbox(
        tmp_path / "qbo.sqlite", demo=True, refresh_token_ttl_seconds=10 * 86400
    ) as sandbox:
        settings = load_settings(settings_env(tmp_path / "home", sandbox))
        pipeline.step_extract_qbo(settings, "run-1")

    with connect(settings.warehouse_url) as wh:
        (issue,) = list_issues(wh, kind="token_expiring")
    assert issue["realm_id"] == sandbox.realm_id
    assert issue["severity"] == "warning"
    assert issue["entity"] == "company"
    assert "in 9 days" in issue["reason"] or "in 10 days" in issue["reason"]
    assert "fieldbooks connect" in issue["hint"]
    assert issue["run_id"] == "run-1"

    # the company is reconnected: a token good for 100 days resolves the warning
    store = FileTokenStore(settings.token_store)
    store.put(StoredToken(sandbox.realm_id, "rt-new", utcnow() + timedelta(days=100)))
    assert check_token_expiry(settings, "run-2") == {
        "realm_id": sandbox.realm_id,
        "expiring": False,
    }
    with connect(settings.warehouse_url) as wh:
        assert list_issues(wh, kind="token_expiring") == []
        (resolved,) = list_issues(wh, status="resolved", kind="token_expiring")
    assert resolved["run_id"] == "run-2"
