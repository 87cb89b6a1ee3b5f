"""A company's QuickBooks connection as an Airflow connection of type `quickbooks`.

    login = OAuth client id            password = client secret
    host  = API base URL (https://quickbooks.api.intuit.com when empty; the sandbox's own URL)
    extra = {"realm_id", "refresh_token", "discovery_url", "redirect_uri", "environment",
             "webhook_verifier_token", "minorversion"}

Read through the Airflow Task SDK (`Connection.get`), which asks the secrets backends: in a
task the API server (metadata DB) and any configured backend; anywhere, `AIRFLOW_CONN_<ID>`
environment variables (JSON or URI form). Outside a task (the `fieldbooks` command) the
metadata DB is asked too when Airflow is configured here (AIRFLOW_HOME or the database URL
set), so a company connected with `fieldbooks connect` works from the command line.

The refresh token in the connection is the seed: after the first refresh the token store
(fieldbooks.qbo.tokens) holds the newest one and wins.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from fieldbooks.config import QboSettings
from fieldbooks.qbo.pacing import Limits

log = logging.getLogger(__name__)

CONN_TYPE = "quickbooks"
PRODUCTION_API = "https://quickbooks.api.intuit.com"
SANDBOX_API = "https://sandbox-quickbooks.api.intuit.com"
# intuit-oauth's discovery documents (intuitlib.config.DISCOVERY_URL)
DISCOVERY_URLS = {
    "production": "https://developer.intuit.com/.well-known/openid_configuration/",
    "sandbox": "https://developer.intuit.com/.well-known/openid_sandbox_configuration/",
}
EXTRA_FIELDS = (
    "realm_id",
    "refresh_token",
    "discovery_url",
    "redirect_uri",
    "environment",
    "webhook_verifier_token",
    "minorversion",
)


@dataclass(frozen=True)
class QuickBooksConnection:
    """Everything a `quickbooks` connection holds, defaults filled in."""

    conn_id: str
    client_id: str
    client_secret: str = field(repr=False)
    base_url: str
    realm_id: str
    refresh_token: str = field(repr=False)
    discovery_url: str
    redirect_uri: str
    environment: str
    webhook_verifier_token: str | None = field(default=None, repr=False)
    minorversion: int = 75

    def qbo_settings(self, limits: Limits) -> QboSettings:
        """The QboSettings the pipeline uses."""
        return QboSettings(
            base_url=self.base_url,
            discovery_url=self.discovery_url,
            client_id=self.client_id,
            client_secret=self.client_secret,
            realm_id=self.realm_id,
            refresh_token=self.refresh_token,
            minorversion=self.minorversion,
            redirect_uri=self.redirect_uri,
            limits=limits,
        )


def _base_url(conn: Any, environment: str) -> str:
    """The API base URL from host (a URL, or a host name with schema/port)."""
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        return SANDBOX_API if environment == "sandbox" else PRODUCTION_API
    if "://" in host:
        return host
    scheme = (conn.schema or "https").strip() or "https"
    return f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")


def parse_connection(conn: Any) -> QuickBooksConnection:
    """A QuickBooksConnection from an Airflow connection (SDK or core model)."""
    extra = {
        key.removeprefix(f"extra__{CONN_TYPE}__"): value
        for key, value in (conn.extra_dejson or {}).items()
        if value not in (None, "")
    }
    missing = [
        name
        for name, value in (
            ("login (client id)", conn.login),
            ("password (client secret)", conn.password),
            ("extra.realm_id", extra.get("realm_id")),
            ("extra.refresh_token", extra.get("refresh_token")),
        )
        if not value
    ]
    if missing:
        raise ValueError(
            f"Airflow connection {conn.conn_id!r} (type quickbooks) lacks {', '.join(missing)}; "
            f"run `fieldbooks connect` for this company"
        )
    environment = str(extra.get("environment") or "production").lower()
    base_url = _base_url(conn, environment)
    discovery = extra.get("discovery_url") or DISCOVERY_URLS.get(environment)
    if not discovery:
        raise ValueError(
            f"Airflow connection {conn.conn_id!r}: environment {environment!r} is neither "
            "production nor sandbox; set extra.discovery_url"
        )
    return QuickBooksConnection(
        conn_id=conn.conn_id,
        client_id=conn.login,
        client_secret=conn.password,
        base_url=base_url,
        realm_id=str(extra["realm_id"]),
        refresh_token=str(extra["refresh_token"]),
        discovery_url=discovery,
        redirect_uri=extra.get("redirect_uri") or QboSettings.redirect_uri,
        environment=environment,
        webhook_verifier_token=extra.get("webhook_verifier_token") or None,
        minorversion=int(extra.get("minorversion") or 75),
    )


def _in_task() -> bool:
    """Whether this runs inside an Airflow task (the SDK then reaches the metadata DB)."""
    try:
        from airflow.sdk.execution_time import task_runner

        return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None
    except ImportError:
        return False


def _airflow_configured() -> bool:
    """Whether this environment points at an Airflow deployment (not ~/airflow by default)."""
    return bool(
        os.environ.get("AIRFLOW_HOME")
        or os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
        or os.environ.get("_AIRFLOW_PROCESS_CONTEXT") == "server"
    )


def _from_metastore(conn_id: str) -> Any:
    """The connection from Airflow's metadata DB, or None (no DB, no table, no row)."""
    try:
        from airflow.secrets.metastore import MetastoreBackend

        return MetastoreBackend().get_connection(conn_id)
    except Exception as exc:  # no database here is as good as no connection
        log.debug("metadata DB not read for connection %s: %s", conn_id, exc)
        return None


def get_airflow_connection(conn_id: str) -> Any:
    """The Airflow connection, or None when it is not defined anywhere this process can see."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        pass
    if not _in_task() and _airflow_configured():
        return _from_metastore(conn_id)
    return None


def quickbooks_connection(conn_id: str) -> QuickBooksConnection | None:
    """The `quickbooks` connection `conn_id`, or None when it is not defined."""
    conn = get_airflow_connection(conn_id)
    if conn is None:
        return None
    if conn.conn_type and conn.conn_type != CONN_TYPE:
        raise ValueError(
            f"Airflow connection {conn_id!r} is of type {conn.conn_type!r}, not {CONN_TYPE!r}"
        )
    return parse_connection(conn)


def qbo_settings_from_connection(conn_id: str, limits: Limits) -> QboSettings | None:
    """How to reach the company from its Airflow connection; None when it is not defined."""
    found = quickbooks_connection(conn_id)
    return None if found is None else found.qbo_settings(limits)


def connection_extra(found: QuickBooksConnection) -> dict[str, Any]:
    """The extra JSON of a `quickbooks` connection (the secrets included: for storing only)."""
    extra: dict[str, Any] = {
        "realm_id": found.realm_id,
        "refresh_token": found.refresh_token,
        "discovery_url": found.discovery_url,
        "redirect_uri": found.redirect_uri,
        "environment": found.environment,
        "minorversion": found.minorversion,
    }
    if found.webhook_verifier_token:
        extra["webhook_verifier_token"] = found.webhook_verifier_token
    return extra


def check_token_expiry(settings: Any, run_id: str, within: Any = None) -> dict[str, Any]:
    """Raise a `token_expiring` issue (warning) when the company's refresh token expires soon,
    resolve it once the token is good for longer. Returns what it found (no secrets)."""
    from fieldbooks.issues import Issue, raise_issue
    from fieldbooks.qbo.client import token_store_for
    from fieldbooks.qbo.tokens import EXPIRY_WARNING, tokens_expiring, utcnow
    from fieldbooks.warehouse.connection import connect
    from fieldbooks.warehouse.state import ensure_state

    realm = settings.qbo.realm_id
    store = token_store_for(settings.token_store)
    expiring = [t for t in tokens_expiring(store, within or EXPIRY_WARNING) if t.realm_id == realm]
    with connect(settings.warehouse_url) as wh:
        ensure_state(wh)
        if not expiring:
            wh.execute(
                "update fieldbooks.sync_issues set status = 'resolved', last_seen = %s, "
                "run_id = %s where realm_id = %s and kind = 'token_expiring' "
                "and status in ('open', 'retrying')",
                (utcnow(), run_id, realm),
            )
            return {"realm_id": realm, "expiring": False}
        token = expiring[0]
        days = max(0, (token.expires_at - utcnow()).days)
        company = _company_key_for(realm)
        where = f" --company {company}" if company else ""
        raise_issue(
            wh,
            Issue(
                realm_id=realm,
                entity="company",
                ops_id=None,
                kind="token_expiring",
                reason=(
                    f"the QuickBooks refresh token of company {realm} expires on "
                    f"{token.expires_at:%Y-%m-%d %H:%M} UTC (in {days} days); after that the "
                    "sync cannot reach QuickBooks until the company is reconnected"
                ),
                hint=f"run `fieldbooks connect{where}` and sign in to QuickBooks for this company",
                severity="warning",
            ),
            run_id,
        )
        return {"realm_id": realm, "expiring": True, "expires_at": token.expires_at.isoformat()}


def _company_key_for(realm: str) -> str | None:
    """The company key whose settings name this realm, when a companies file says so."""
    try:
        from fieldbooks.companies import load_companies
    except ImportError:
        return None
    try:
        return next((c.key for c in load_companies() if c.settings.qbo.realm_id == realm), None)
    except Exception as exc:  # a hint is not worth failing the run for
        log.debug("no company key for realm %s: %s", realm, exc)
        return None
