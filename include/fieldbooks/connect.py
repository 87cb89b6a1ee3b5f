"""`fieldbooks connect`: connect a QuickBooks company with the OAuth 2.0 authorization-code flow.

1. Read the app's endpoints from the discovery document (the company's discovery URL).
2. Listen on 127.0.0.1:<port> for the redirect; open (or print) the `authorize` URL, which
   carries a random `state`.
3. A person signs in to QuickBooks and picks the company; QuickBooks redirects to the listener
   with `code`, `realmId` and the `state`, which must match (else the answer is refused).
4. Exchange the code at the token endpoint; store the refresh token in the token store first
   (it is what the sync uses), then the Airflow connection (type quickbooks) when Airflow is
   configured here (AIRFLOW_HOME or AIRFLOW__DATABASE__SQL_ALCHEMY_CONN set).

Intuit's production keys take only https redirect URIs, which no listener here can answer.
With such a `--redirect-uri`, step 2 listens nowhere: the person's browser lands on that
address (whatever it shows), and they paste the address it was sent to; its state, path,
code and realmId are checked the way the listener checks them, then step 4 is the same.

Nothing secret is printed: the summary names what was stored and where.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import socket
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

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
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


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


def _handler(result: _Callback, path: str = CALLBACK_PATH) -> type[BaseHTTPRequestHandler]:
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
            if parts.path != path:
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


class _Server6(ThreadingHTTPServer):
    """The listener on [::1], for a redirect URI that names it."""

    address_family = socket.AF_INET6


def is_loopback_http(uri: str) -> bool:
    """Whether the redirect URI is plain http on this machine (a listener can answer it)."""
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def check_redirect_uri(uri: str, port: int = 0) -> None:
    """Refuse what Intuit refuses, before anyone signs in: http off this machine, no host,
    a fragment; and a --port the URI contradicts."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectError(
            f"--redirect-uri {uri!r} is not an absolute http(s) URL; give the redirect URI "
            "registered for the app in Intuit's developer portal"
        )
    if parts.fragment:
        raise ConnectError(f"--redirect-uri {uri!r} has a #fragment, which OAuth forbids")
    if parts.scheme == "http" and not is_loopback_http(uri):
        raise ConnectError(
            f"--redirect-uri {uri!r}: Intuit takes plain http only for 127.0.0.1 or "
            "localhost; register and give the https address (e.g. "
            "https://airflow.example.com/qbo/callback)"
        )
    uri_port = parts.port or (443 if parts.scheme == "https" else 80)
    if port and (parts.scheme == "https" or port != uri_port):
        raise ConnectError(
            f"--port {port} contradicts --redirect-uri {uri!r}: "
            + (
                "nothing listens for an https redirect; drop --port"
                if parts.scheme == "https"
                else f"it names port {uri_port}; drop --port or make them agree"
            )
        )


def _place(parts: SplitResult) -> tuple[str, str, int | None, str]:
    """Scheme, host, port and path: where a redirect went, spelled one way."""
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a port that is no number
        port = -1
    return parts.scheme, (parts.hostname or "").lower(), port, parts.path or "/"


def read_redirect(pasted: str, redirect_uri: str, state: str) -> tuple[str, str]:
    """(code, realmId) from the address the browser was sent to, checked as the listener
    checks a callback: the redirect URI's host and path, our state, no `error`."""
    parts, expected = urlsplit(pasted.strip()), urlsplit(redirect_uri)
    if _place(parts) != _place(expected):
        raise ConnectError(
            f"the address pasted is not {redirect_uri}: copy the whole address from the "
            "browser's address bar on the page QuickBooks sent you to (it starts with "
            f"{expected.scheme}://{expected.netloc}{expected.path}?); nothing was stored"
        )
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    if not secrets.compare_digest(query.get("state", ""), state):
        raise ConnectError(
            "the state in the address pasted does not match this connect (an old or someone "
            "else's sign-in?); nothing was stored: run fieldbooks connect again and paste the "
            "address of that sign-in"
        )
    if "error" in query:
        raise ConnectError(
            f"QuickBooks refused the connection: {query['error']}"
            + (f" ({query['error_description']})" if query.get("error_description") else "")
            + "; nothing was stored"
        )
    if not query.get("code") or not query.get("realmId"):
        raise ConnectError(
            "the address pasted lacks the code or the company (realmId): copy it whole, "
            "after QuickBooks redirected; nothing was stored"
        )
    return query["code"], query["realmId"]


def _listen(
    redirect_uri: str | None, port: int, result: _Callback
) -> tuple[ThreadingHTTPServer, str]:
    """The listener and the redirect URI it answers (ours, or the loopback one given)."""
    parts = urlsplit(redirect_uri) if redirect_uri else None
    host = "127.0.0.1" if parts is None or parts.hostname != "::1" else "::1"
    if parts is not None:
        port = parts.port or 80
    server_class = _Server6 if host == "::1" else ThreadingHTTPServer
    path = (parts.path or "/") if parts is not None else CALLBACK_PATH
    try:
        server = server_class((host, port), _handler(result, path))
    except OSError as error:
        raise ConnectError(
            f"cannot listen on {host} port {port} for the redirect: {error.strerror or error}; "
            "pick a free port and register it with the app"
        ) from error
    if redirect_uri is None:
        redirect_uri = f"http://127.0.0.1:{server.server_address[1]}{CALLBACK_PATH}"
    return server, redirect_uri


def connect(
    key: str | None = None,
    *,
    port: int = 0,
    redirect_uri: str | None = None,
    open_browser: bool = True,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    use_airflow: bool | None = None,
    say: Callable[[str], None] | None = None,
    ask: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Run the flow for one company; returns the summary printed (no secrets).

    redirect_uri: None or a loopback http URI, listen for the redirect; an https one, ask
    (`ask`, default input()) for the address the browser was sent to.
    """
    say = say or _say
    from intuitlib.enums import Scopes

    from fieldbooks.qbo.client import auth_client

    if redirect_uri is not None:
        check_redirect_uri(redirect_uri, port)
    target = resolve_company(key)
    qbo = target.settings.qbo
    state = secrets.token_urlsafe(32)
    listening = redirect_uri is None or is_loopback_http(redirect_uri)
    if listening:
        result = _Callback(state=state, done=threading.Event())
        server, redirect_uri = _listen(redirect_uri, port, result)
        thread = threading.Thread(
            target=server.serve_forever, daemon=True, name="fieldbooks-connect"
        )
        thread.start()
    assert redirect_uri is not None
    try:
        auth = auth_client(replace(qbo, redirect_uri=redirect_uri))
        url = auth.get_authorization_url([Scopes.ACCOUNTING], state_token=state)
        say(f"Connecting company {target.key!r} (Airflow connection {target.conn_id}).")
        say("Open this address, sign in to QuickBooks and choose the company:")
        say(url)
        if open_browser:
            webbrowser.open(url)
        if listening:
            if not result.done.wait(timeout):
                raise ConnectError(f"no answer from QuickBooks within {timeout:.0f} s")
        else:
            code, realm_id = _pasted(redirect_uri, state, ask or input, say)
    finally:
        if listening:
            server.shutdown()
            server.server_close()
    if listening:
        if result.error:
            raise ConnectError(result.error)
        assert result.code is not None and result.realm_id is not None
        code, realm_id = result.code, result.realm_id
    _exchange(auth, code, realm_id)
    return _store(target, qbo, auth, redirect_uri, use_airflow, say)


def _pasted(
    redirect_uri: str, state: str, ask: Callable[[str], str], say: Callable[[str], None]
) -> tuple[str, str]:
    """(code, realmId) from the address the person pastes after signing in."""
    say(
        f"QuickBooks then sends your browser to {redirect_uri}?code=…; whatever that page "
        "shows, copy the whole address from the address bar and paste it here."
    )
    try:
        pasted = ask("Address: ")
    except EOFError:
        raise ConnectError("no address was pasted; nothing was stored") from None
    return read_redirect(pasted, redirect_uri, state)


def _exchange(auth: Any, code: str, realm_id: str) -> None:
    """Trade the code for tokens (held on auth); a refusal is a ConnectError with a hint."""
    from intuitlib.exceptions import AuthClientError

    try:
        auth.get_bearer_token(code, realm_id=realm_id)
    except AuthClientError as error:
        try:
            reason = error.response.json().get("error") or ""
        except Exception:  # not JSON: the status says enough
            reason = ""
        raise ConnectError(
            f"QuickBooks refused the code (HTTP {error.status_code} {reason}".rstrip()
            + "): a code works once, within minutes, and only with the redirect URI it was "
            "issued for; run fieldbooks connect again"
        ) from error


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
