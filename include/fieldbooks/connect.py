"""`fieldbooks connect`: connect a QuickBooks company with the OAuth 2.0 authorization-code flow.

1. Read the app's endpoints from the discovery document (the company's discovery URL).
2. Listen on 127.0.0.1:<port> for the redirect; open (or print) the `authorize` URL, which
   carries a random `state`.
3. A person signs in to QuickBooks and picks the company; QuickBooks redirects to the listener
   with `code`, `realmId` and the `state`, which must match (else the answer is refused).
4. Exchange the code at the token endpoint; store the refresh token in the token store first
   (it is what the sync uses), then the Airflow connection (type quickbooks) when Airflow is
   configured here (AIRFLOW_HOME or AIRFLOW__DATABASE__SQL_ALCHEMY_CONN set).

Nothing secret is printed: the summary names what was stored and where.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fieldbooks.config import QboSettings, Settings, load_settings
from fieldbooks.qbo.connection import (
    CONN_TYPE,
    DISCOVERY_URLS,
    SANDBOX_API,
    QuickBooksConnection,
    connection_extra,
)
from fieldbooks.qbo.tokens import TokenStore, token_from_answer

CALLBACK_PATH = "/callback"
DEFAULT_TIMEOUT_SECONDS = 300


class ConnectError(RuntimeError):
    """The flow did not complete (refused, state mismatch, timeout)."""


@dataclass(frozen=True)
class Target:
    """The company being connected: its key, settings and Airflow connection id."""

    key: str
    settings: Settings
    conn_id: str


def resolve_company(key: str | None) -> Target:
    """The company from the companies file, or the single `default` company without one."""
    key = key or "default"
    try:
        from fieldbooks.companies import load_company
    except ImportError:
        if key != "default":
            raise ConnectError(
                f"no company {key!r}: only `default` exists without FIELDBOOKS_COMPANIES_FILE"
            ) from None
        return Target(key, load_settings(), f"fieldbooks_qbo_{key}")
    company = load_company(key)
    return Target(company.key, company.settings, company.qbo_conn_id)


@dataclass
class _Callback:
    """What the redirect brought back."""

    state: str
    done: threading.Event
    code: str | None = None
    realm_id: str | None = None
    error: str | None = None


def _handler(result: _Callback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet: no codes in logs
            return

        def _answer(self, status: int, text: str) -> None:
            body = f"<!doctype html><title>fieldbooks</title><p>{html.escape(text)}</p>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            parts = urlsplit(self.path)
            if parts.path != CALLBACK_PATH:
                self._answer(404, "Not the fieldbooks callback.")
                return
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if not secrets.compare_digest(query.get("state", ""), result.state):
                # not our request (or a forged one): refuse it and keep waiting
                self._answer(400, "The state does not match this connect; nothing was stored.")
                return
            if "error" in query:
                result.error = query["error"]
                self._answer(400, f"QuickBooks refused the connection: {query['error']}.")
            elif not query.get("code") or not query.get("realmId"):
                result.error = "the redirect lacks code or realmId"
                self._answer(400, "The redirect lacks the code or the company (realmId).")
            else:
                result.code, result.realm_id = query["code"], query["realmId"]
                self._answer(200, "QuickBooks is connected to fieldbooks. You can close this page.")
            result.done.set()

    return Handler


def _say(text: str) -> None:
    """Print at once (the address must show while the command waits)."""
    print(text, flush=True)


def airflow_configured(env: dict[str, str] | None = None) -> bool:
    """Whether an Airflow deployment is configured in this environment."""
    env = dict(os.environ if env is None else env)
    return bool(env.get("AIRFLOW_HOME") or env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"))


def store_airflow_connection(found: QuickBooksConnection) -> str:
    """Create or update the Airflow connection in the metadata DB; 'created' or 'updated'."""
    # The metadata DB's ORM model (airflow.sdk.Connection is no table row): what
    # `airflow connections add` writes, password and extra Fernet-encrypted by Airflow.
    from airflow.models.connection import Connection as ConnectionRow
    from airflow.utils.session import create_session
    from sqlalchemy import select

    fields = {
        "conn_type": CONN_TYPE,
        "description": f"QuickBooks Online company {found.realm_id} (fieldbooks connect)",
        "host": found.base_url,
        "login": found.client_id,
        "password": found.client_secret,
        "extra": json.dumps(connection_extra(found)),
    }
    with create_session() as session:
        existing = session.scalar(
            select(ConnectionRow).where(ConnectionRow.conn_id == found.conn_id)
        )
        if existing is None:
            session.add(ConnectionRow(conn_id=found.conn_id, **fields))
            return "created"
        for name, value in fields.items():
            setattr(existing, name, value)
        return "updated"


def connect(
    key: str | None = None,
    *,
    port: int = 0,
    open_browser: bool = True,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    use_airflow: bool | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the flow for one company; returns the summary printed (no secrets)."""
    say = say or _say
    from intuitlib.enums import Scopes

    from fieldbooks.qbo.client import auth_client

    target = resolve_company(key)
    qbo = target.settings.qbo
    result = _Callback(state=secrets.token_urlsafe(32), done=threading.Event())
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(result))
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}{CALLBACK_PATH}"
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="fieldbooks-connect")
    thread.start()
    try:
        auth = auth_client(replace(qbo, redirect_uri=redirect_uri))
        url = auth.get_authorization_url([Scopes.ACCOUNTING], state_token=result.state)
        say(f"Connecting company {target.key!r} (Airflow connection {target.conn_id}).")
        say("Open this address, sign in to QuickBooks and choose the company:")
        say(url)
        if open_browser:
            webbrowser.open(url)
        if not result.done.wait(timeout):
            raise ConnectError(f"no answer from QuickBooks within {timeout:.0f} s")
    finally:
        server.shutdown()
        server.server_close()
    if result.error:
        raise ConnectError(result.error)
    auth.get_bearer_token(result.code, realm_id=result.realm_id)
    return _store(target, qbo, auth, redirect_uri, use_airflow, say)


def _store(
    target: Target,
    qbo: QboSettings,
    auth: Any,
    redirect_uri: str,
    use_airflow: bool | None,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Store the new refresh token (token store first), then the Airflow connection."""
    from fieldbooks.qbo.client import token_store_for

    realm = str(auth.realm_id)
    token = token_from_answer(realm, auth.refresh_token, auth.x_refresh_token_expires_in)
    store: TokenStore = token_store_for(target.settings.token_store)
    store.put(token)
    summary: dict[str, Any] = {
        "company": target.key,
        "realm_id": realm,
        "token_store": store.description,
        "refresh_token_expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }
    sandbox = qbo.discovery_url == DISCOVERY_URLS["sandbox"] or qbo.base_url == SANDBOX_API
    environment = "sandbox" if sandbox else "production"
    found = QuickBooksConnection(
        conn_id=target.conn_id,
        client_id=qbo.client_id,
        client_secret=qbo.client_secret,
        base_url=qbo.base_url,
        realm_id=realm,
        refresh_token=token.refresh_token,
        discovery_url=qbo.discovery_url,
        redirect_uri=redirect_uri,
        environment=environment,
    )
    if use_airflow is None:
        use_airflow = airflow_configured()
    if use_airflow:
        summary["airflow_connection"] = {
            "conn_id": target.conn_id,
            "conn_type": CONN_TYPE,
            "action": store_airflow_connection(found),
            "host": found.base_url,
            "login": found.client_id,
            "extra_keys": sorted(connection_extra(found)),
        }
    else:
        summary["airflow_connection"] = None
    say(
        f"Stored company {realm}: refresh token in {store.description}"
        + (
            f"; Airflow connection {target.conn_id} {summary['airflow_connection']['action']}"
            if use_airflow
            else "; no Airflow configured here (set AIRFLOW_HOME to store the connection)"
        )
    )
    say(json.dumps(summary, indent=2))
    return summary
