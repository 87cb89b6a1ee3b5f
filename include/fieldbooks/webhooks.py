"""QuickBooks webhooks: check `intuit-signature`, read both payload shapes, record every
notification, and start a `fieldbooks_sync` run for the company that changed.

Served inside the Airflow api-server by plugins/fieldbooks_webhooks.py at
`POST /webhooks/quickbooks`. The request path only verifies, parses and records (a few
milliseconds); deciding whether to start a run and creating it happens after the answer is
sent, so QuickBooks always hears back well inside its 3 s.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import os
import queue
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "intuit-signature"
VERIFIER_TOKEN_ENV = "FIELDBOOKS_QBO_WEBHOOK_VERIFIER_TOKEN"
DEFAULT_DAG_ID = "fieldbooks_sync"
TRIGGERING_USER = "fieldbooks-webhooks"
# Intuit's operations, and the past tense the CloudEvents `type` carries
OPERATIONS = {
    "created": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "merged": "Merge",
    "voided": "Void",
    "emailed": "Emailed",
}
# CloudEvents types are lower case; keep QuickBooks' own entity names in the record
ENTITY_NAMES = {
    name.lower(): name
    for name in (
        "Account",
        "Bill",
        "BillPayment",
        "Budget",
        "Class",
        "CreditMemo",
        "Currency",
        "Customer",
        "Department",
        "Deposit",
        "Employee",
        "Estimate",
        "Invoice",
        "Item",
        "JournalCode",
        "JournalEntry",
        "Payment",
        "PaymentMethod",
        "Preferences",
        "Purchase",
        "PurchaseOrder",
        "RefundReceipt",
        "SalesReceipt",
        "TaxAgency",
        "Term",
        "TimeActivity",
        "Transfer",
        "Vendor",
        "VendorCredit",
    )
}
# Outcomes a recorded notification ends with (the status page can show them)
PENDING = "pending"
TRIGGERED = "triggered"
COVERED = "covered"  # a queued or running sync of this company will pick it up
RECENT = "recent"  # a sync was started for this company within the de-duplication window
UNKNOWN_REALM = "unknown_realm"
ERROR = "error"


class PayloadError(ValueError):
    """The body is neither the classic nor the CloudEvents notification shape."""


# --- signature -------------------------------------------------------------------------


def sign(body: bytes, verifier_token: str) -> str:
    """Intuit's `intuit-signature`: base64 HMAC-SHA256 of the raw body, keyed by the token."""
    digest = hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(body: bytes, header: str | None, verifier_token: str | None) -> bool:
    """Whether the header is the body's signature under the token (constant-time compare)."""
    if not header or not verifier_token:
        return False
    expected = sign(body, verifier_token).encode("ascii")
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))


# --- payloads --------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    """One changed QuickBooks object, whichever shape announced it."""

    shape: str  # classic | cloudevents
    realm_id: str
    entity: str
    entity_id: str
    operation: str
    occurred_at: str | None = None
    event_id: str | None = None
    deleted_id: str | None = None


def _text(value: Any, what: str) -> str:
    """A required scalar field as text."""
    if value is None or isinstance(value, dict | list) or str(value).strip() == "":
        raise PayloadError(f"{what} is missing")
    return str(value).strip()


def _optional(value: Any) -> str | None:
    """An optional scalar field as text."""
    return None if value is None or isinstance(value, dict | list) else str(value)


def _classic(payload: dict[str, Any]) -> list[Notification]:
    """`{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [...]}}]}`."""
    events = payload.get("eventNotifications")
    if not isinstance(events, list):
        raise PayloadError("eventNotifications is not a list")
    found: list[Notification] = []
    for event in events:
        if not isinstance(event, dict):
            raise PayloadError("an eventNotifications entry is not an object")
        realm = _text(event.get("realmId"), "realmId")
        change = event.get("dataChangeEvent") or {}
        entities = change.get("entities") if isinstance(change, dict) else None
        if not isinstance(entities, list):
            raise PayloadError(f"realm {realm}: dataChangeEvent.entities is not a list")
        for entity in entities:
            if not isinstance(entity, dict):
                raise PayloadError(f"realm {realm}: an entity is not an object")
            found.append(
                Notification(
                    shape="classic",
                    realm_id=realm,
                    entity=_text(entity.get("name"), "entity name"),
                    entity_id=_text(entity.get("id"), "entity id"),
                    operation=_text(entity.get("operation"), "operation"),
                    occurred_at=_optional(entity.get("lastUpdated")),
                    deleted_id=_optional(entity.get("deletedId")),
                )
            )
    return found


def _cloudevent(event: Any) -> Notification:
    """One `{"specversion": "1.0", "type": "qbo.invoice.updated.v1", ...}` event."""
    if not isinstance(event, dict):
        raise PayloadError("a CloudEvents entry is not an object")
    kind = _text(event.get("type"), "type")
    parts = kind.split(".")
    if len(parts) < 3 or parts[0].lower() != "qbo":
        raise PayloadError(f"type {kind!r} is not qbo.<entity>.<operation>[.v<n>]")
    entity, verb = parts[1].lower(), parts[2].lower()
    return Notification(
        shape="cloudevents",
        realm_id=_text(event.get("intuitaccountid"), "intuitaccountid"),
        entity=ENTITY_NAMES.get(entity, entity[:1].upper() + entity[1:]),
        entity_id=_text(event.get("intuitentityid"), "intuitentityid"),
        operation=OPERATIONS.get(verb, verb[:1].upper() + verb[1:]),
        occurred_at=_optional(event.get("time")),
        event_id=_optional(event.get("id")),
    )


def parse_notifications(payload: Any) -> list[Notification]:
    """Every change a notification body announces, classic or CloudEvents."""
    if isinstance(payload, dict) and "eventNotifications" in payload:
        return _classic(payload)
    if isinstance(payload, dict) and "specversion" in payload:
        return [_cloudevent(payload)]
    if isinstance(payload, list):
        return [_cloudevent(event) for event in payload]
    raise PayloadError("neither eventNotifications nor a list of CloudEvents")


def realms_named(payload: Any) -> set[str]:
    """The realm ids a body names, read leniently (for picking verifier tokens)."""
    realms: set[str] = set()
    if isinstance(payload, dict) and isinstance(payload.get("eventNotifications"), list):
        items: Iterable[Any] = payload["eventNotifications"]
        key = "realmId"
    elif isinstance(payload, list) or (isinstance(payload, dict) and "specversion" in payload):
        items = payload if isinstance(payload, list) else [payload]
        key = "intuitaccountid"
    else:
        return realms
    for item in items:
        if isinstance(item, dict) and item.get(key) not in (None, ""):
            realms.add(str(item[key]).strip())
    return realms


# --- companies and their verifier tokens -----------------------------------------------


@dataclass(frozen=True)
class Receiver:
    """What the receiver knows about one company: its realm and verifier token."""

    key: str
    realm_id: str
    verifier_token: str | None


ConnectionExtra = Callable[[str], Mapping[str, Any] | None]


def airflow_connection_extra(conn_id: str) -> Mapping[str, Any] | None:
    """The extra of an Airflow connection (secrets backends, env, metadata DB); None if absent."""
    try:
        from airflow.models.connection import Connection

        return Connection.get_connection_from_secrets(conn_id).extra_dejson
    except Exception as error:  # absent, or no Airflow here: the env token applies
        log.debug("no connection %s for a webhook verifier token: %s", conn_id, error)
        return None


def _companies(env: Mapping[str, str]) -> list[tuple[str, Any, str]]:
    """(key, Settings, connection id) per company; one `default` company without companies.py."""
    try:
        from fieldbooks.companies import load_companies
    except ModuleNotFoundError as error:
        if error.name != "fieldbooks.companies":
            raise
        from fieldbooks.config import load_settings

        return [("default", load_settings(dict(env)), "fieldbooks_qbo_default")]
    return [
        (c.key, c.settings, getattr(c, "qbo_conn_id", f"fieldbooks_qbo_{c.key}"))
        for c in load_companies(dict(env))
    ]


def _token_envs(env: Mapping[str, str]) -> dict[str, str]:
    """Per company key, `webhook_verifier_token_env` from the companies file, if any."""
    path = env.get("FIELDBOOKS_COMPANIES_FILE")
    if not path or not Path(path).is_file():
        return {}
    with open(path, "rb") as file:
        companies = tomllib.load(file).get("companies", {})
    return {
        key: str(entry["webhook_verifier_token_env"])
        for key, entry in companies.items()
        if isinstance(entry, dict) and entry.get("webhook_verifier_token_env")
    }


def load_receivers(
    env: Mapping[str, str] | None = None,
    connection_extra: ConnectionExtra = airflow_connection_extra,
) -> dict[str, Receiver]:
    """Realm id → company, with each company's verifier token.

    The token comes from the company's QuickBooks connection extra `webhook_verifier_token`,
    else from the environment variable its companies-file entry names in
    `webhook_verifier_token_env`, else from FIELDBOOKS_QBO_WEBHOOK_VERIFIER_TOKEN.
    """
    env = dict(os.environ if env is None else env)
    token_envs = _token_envs(env)
    receivers: dict[str, Receiver] = {}
    for key, settings, conn_id in _companies(env):
        extra = connection_extra(conn_id) or {}
        token = (
            extra.get("webhook_verifier_token")
            or (env.get(token_envs[key]) if key in token_envs else None)
            or env.get(VERIFIER_TOKEN_ENV)
        )
        realm = str(settings.qbo.realm_id)
        if realm in receivers:
            log.error(
                "companies %s and %s share realm %s; webhooks go to %s",
                receivers[realm].key,
                key,
                realm,
                receivers[realm].key,
            )
            continue
        receivers[realm] = Receiver(key=key, realm_id=realm, verifier_token=token or None)
    return receivers


class ReceiverCache:
    """load_receivers() kept for a while, so the request path reads no connection or file."""

    def __init__(
        self,
        loader: Callable[[], dict[str, Receiver]],
        ttl_seconds: float = 60.0,
        unknown_reload_seconds: float = 5.0,
    ) -> None:
        self._loader = loader
        self._ttl = ttl_seconds
        self._unknown_reload = unknown_reload_seconds
        self._lock = threading.Lock()
        self._receivers: dict[str, Receiver] | None = None
        self._loaded_at = 0.0

    def get(self, realms: Iterable[str] = ()) -> dict[str, Receiver]:
        """The receivers; reloaded when stale, or when a realm is unknown (a new company)."""
        with self._lock:
            age = time.monotonic() - self._loaded_at
            current = self._receivers
            stale = current is None or age > self._ttl
            unknown = current is not None and any(r not in current for r in realms)
            if stale or (unknown and age > self._unknown_reload):
                self._receivers = self._loader()
                self._loaded_at = time.monotonic()
            assert self._receivers is not None
            return self._receivers


def verify(body: bytes, header: str | None, realms: set[str], receivers: dict[str, Receiver]):
    """None when the signature holds for every realm named, else why not.

    A known realm needs its company's token; an unknown realm (or a body naming none) may
    match any configured token, so a signed note about a realm we do not serve is accepted
    and logged rather than refused.
    """
    every_token = {r.verifier_token for r in receivers.values() if r.verifier_token}
    if not every_token:
        return "no webhook verifier token is configured"
    if not header:
        return f"no {SIGNATURE_HEADER} header"
    for realm in realms or {""}:
        receiver = receivers.get(realm)
        if receiver is not None:
            if not receiver.verifier_token:
                return f"company {receiver.key} has no webhook verifier token"
            if not signature_matches(body, header, receiver.verifier_token):
                return f"signature does not match company {receiver.key}'s verifier token"
        elif not any(signature_matches(body, header, token) for token in every_token):
            return "signature matches no configured verifier token"
    return None


# --- the record of notifications and triggers ------------------------------------------

metadata = sa.MetaData()
notifications = sa.Table(
    "fieldbooks_webhook_notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("delivery_id", sa.String(36), nullable=False, index=True),
    sa.Column("shape", sa.String(16), nullable=False),
    sa.Column("realm_id", sa.String(64), nullable=False),
    sa.Column("company", sa.String(40)),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("entity_id", sa.String(64), nullable=False),
    sa.Column("operation", sa.String(32), nullable=False),
    sa.Column("occurred_at", sa.String(40)),
    sa.Column("event_id", sa.String(64)),
    sa.Column("deleted_id", sa.String(64)),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("run_id", sa.String(250)),
    sa.Column("detail", sa.Text),
)
triggers = sa.Table(
    "fieldbooks_webhook_triggers",
    metadata,
    sa.Column("company", sa.String(40), primary_key=True),
    sa.Column("triggered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_id", sa.String(250)),
)


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive times; every time stored here is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


RETENTION_ENV = "FIELDBOOKS_WEBHOOK_RETENTION_DAYS"
DEFAULT_RETENTION = timedelta(days=30)
# Once an hour is enough: a month's notifications are kept, so an hour more is nothing, and
# each prune then deletes about one hour's worth of rows.
PRUNE_EVERY = timedelta(hours=1)
# Short transactions: on SQLite a delete holds the one write lock the receiver's own
# inserts need, and a first prune after upgrading may face months of rows.
PRUNE_BATCH = 1000


class WebhookStore:
    """The notifications received and the last sync each company was given, in one database
    (Airflow's metadata DB inside the api-server, so every api-server shares them)."""

    def __init__(
        self,
        engine: Engine,
        retention: timedelta = DEFAULT_RETENTION,
        prune_every: timedelta = PRUNE_EVERY,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        if retention <= timedelta(0):
            raise ValueError(f"webhook retention must be positive, not {retention}")
        self.engine = engine
        self.retention = retention
        self.prune_every = prune_every
        self._clock = clock
        self._ready = False
        self._lock = threading.Lock()
        self._prune_lock = threading.Lock()
        self._pruned_at: datetime | None = None

    def ensure_tables(self) -> None:
        """Create the two tables once (two api-servers racing is harmless)."""
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                try:
                    metadata.create_all(self.engine, checkfirst=True)
                except sa.exc.DatabaseError:
                    # another process created them between the check and the create
                    if not sa.inspect(self.engine).has_table(triggers.name):
                        raise
                self._ready = True

    def record(
        self,
        delivery_id: str,
        found: list[Notification],
        companies: Mapping[str, str | None],
        received_at: datetime | None = None,
    ) -> None:
        """Keep every notification of one delivery; unknown realms end as such right away."""
        self.ensure_tables()
        received_at = received_at or self._clock()
        rows = [
            {
                "received_at": received_at,
                "delivery_id": delivery_id,
                "shape": n.shape,
                "realm_id": n.realm_id,
                "company": companies.get(n.realm_id),
                "entity": n.entity[:64],
                "entity_id": n.entity_id[:64],
                "operation": n.operation[:32],
                "occurred_at": (n.occurred_at or "")[:40] or None,
                "event_id": (n.event_id or "")[:64] or None,
                "deleted_id": (n.deleted_id or "")[:64] or None,
                "outcome": PENDING if companies.get(n.realm_id) else UNKNOWN_REALM,
            }
            for n in found
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(notifications.insert(), rows)

    def prune(self, now: datetime | None = None) -> int:
        """Delete the notifications received more than the retention ago; how many went.

        Only notifications: the per-company trigger rows that de-duplicate bursts stay,
        however old. Batches by id keep each transaction short (see PRUNE_BATCH).
        """
        self.ensure_tables()
        cutoff = (now or self._clock()) - self.retention
        pruned = 0
        while True:
            with self.engine.begin() as conn:
                ids = (
                    conn.execute(
                        sa.select(notifications.c.id)
                        .where(notifications.c.received_at < cutoff)
                        .limit(PRUNE_BATCH)
                    )
                    .scalars()
                    .all()
                )
                if ids:
                    conn.execute(notifications.delete().where(notifications.c.id.in_(ids)))
            pruned += len(ids)
            if len(ids) < PRUNE_BATCH:
                break
        if pruned:
            log.info(
                "webhook: pruned %d notification(s) received before %s (retention %s)",
                pruned,
                cutoff.isoformat(timespec="seconds"),
                self.retention,
            )
        else:
            log.debug("webhook: no notification older than %s to prune", cutoff)
        return pruned

    def prune_if_due(self, now: datetime | None = None) -> int | None:
        """prune() at most once per `prune_every` in this process; None when not due.

        Called after a delivery is recorded and answered: new rows are what make old ones
        worth deleting, and a quiet receiver has nothing to add. A failed prune waits for
        the next interval too, so a sick database is not hit on every delivery.
        """
        now = now or self._clock()
        with self._prune_lock:
            if self._pruned_at is not None and now - self._pruned_at < self.prune_every:
                return None
            self._pruned_at = now
        return self.prune(now)

    def set_outcome(
        self,
        delivery_id: str,
        company: str,
        outcome: str,
        run_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        """What became of one company's notifications in one delivery."""
        with self.engine.begin() as conn:
            conn.execute(
                notifications.update()
                .where(
                    notifications.c.delivery_id == delivery_id,
                    notifications.c.company == company,
                )
                .values(outcome=outcome, run_id=run_id, detail=detail)
            )

    def claim(self, company: str, window: timedelta, now: datetime | None = None) -> bool:
        """Take the company's de-duplication window: False when a sync started within it.

        A conditional UPDATE or a primary-key INSERT, so two requests (or two api-servers)
        at once cannot both win.
        """
        self.ensure_tables()
        now = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            taken = conn.execute(
                triggers.update()
                .where(triggers.c.company == company, triggers.c.triggered_at <= now - window)
                .values(triggered_at=now, run_id=None)
            ).rowcount
            if taken:
                return True
        try:
            with self.engine.begin() as conn:
                conn.execute(triggers.insert().values(company=company, triggered_at=now))
        except sa.exc.IntegrityError:
            return False
        return True

    def last_trigger(self, company: str) -> tuple[datetime, str | None] | None:
        """When the company's last sync was started here, and its run id."""
        self.ensure_tables()
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(triggers.c.triggered_at, triggers.c.run_id).where(
                    triggers.c.company == company
                )
            ).first()
        return None if row is None else (_utc(row.triggered_at), row.run_id)

    def set_run(self, company: str, run_id: str) -> None:
        """Remember the run started for the claimed window."""
        with self.engine.begin() as conn:
            conn.execute(
                triggers.update().where(triggers.c.company == company).values(run_id=run_id)
            )

    def release(self, company: str) -> None:
        """Give the window back after a failed trigger, so the next notification tries again."""
        with self.engine.begin() as conn:
            conn.execute(triggers.delete().where(triggers.c.company == company))

    def recent(self, limit: int = 200, company: str | None = None) -> list[dict[str, Any]]:
        """The latest notifications, newest first (for the status page)."""
        self.ensure_tables()
        query = sa.select(notifications).order_by(notifications.c.id.desc()).limit(limit)
        if company is not None:
            query = query.where(notifications.c.company == company)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [dict(row, received_at=_utc(row["received_at"])) for row in rows]


# --- starting syncs --------------------------------------------------------------------


class Runs(Protocol):
    """Where sync runs live (Airflow's metadata DB in production)."""

    def active_run(self, company: str) -> tuple[str, str] | None:
        """(run id, state) of a queued or running sync that covers the company, if any."""

    def trigger(self, company: str, run_id: str, note: str) -> str:
        """Create a sync run for the company; its run id."""


def run_covers(conf: Any, company: str) -> bool:
    """Whether a sync run with this conf syncs the company (no `companies`: all of them)."""
    if not isinstance(conf, dict) or not conf.get("companies"):
        return True
    companies = conf["companies"]
    return company in (companies if isinstance(companies, list | tuple) else [companies])


@dataclass
class AirflowRuns:
    """DAG runs in the metadata DB, read and created in-process inside the api-server.

    `trigger_dag` is the function `airflow dags trigger` (through its local client) and
    `airflow assets materialize` call: it creates the run the way the REST route does,
    without a token or an HTTP round trip to ourselves.
    """

    dag_id: str = DEFAULT_DAG_ID

    def active_run(self, company: str) -> tuple[str, str] | None:
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session
        from airflow.utils.state import DagRunState

        with create_session() as session:
            rows = session.execute(
                sa.select(DagRun.run_id, DagRun.state, DagRun.conf)
                .where(
                    DagRun.dag_id == self.dag_id,
                    DagRun.state.in_([DagRunState.QUEUED, DagRunState.RUNNING]),
                )
                .order_by(DagRun.id)
            ).all()
        for run_id, state, conf in rows:
            if run_covers(conf, company):
                return run_id, str(getattr(state, "value", state))
        return None

    def trigger(self, company: str, run_id: str, note: str) -> str:
        from airflow.api.common.trigger_dag import trigger_dag
        from airflow.utils.types import DagRunTriggeredByType

        run = trigger_dag(
            self.dag_id,
            triggered_by=DagRunTriggeredByType.REST_API,
            triggering_user_name=TRIGGERING_USER,
            run_id=run_id,
            conf={"companies": [company]},
            note=note[:1000],
        )
        return run.run_id if run is not None else run_id


def describe(found: list[Notification], limit: int = 8) -> str:
    """`Invoice 12 Update, Customer 3 Create, … (+4 more)` for a run note and logs."""
    parts = [f"{n.entity} {n.entity_id} {n.operation}" for n in found[:limit]]
    more = f" (+{len(found) - limit} more)" if len(found) > limit else ""
    return ", ".join(parts) + more


def start_sync(
    company: str,
    found: list[Notification],
    store: WebhookStore,
    runs: Runs,
    window: timedelta,
    delivery_id: str,
    now: datetime | None = None,
) -> tuple[str, str | None]:
    """Start a sync of the company unless one is queued, running or just started.

    Returns (outcome, run id) and records it on the delivery's notifications.
    """
    now = now or datetime.now(UTC)
    try:
        active = runs.active_run(company)
        if active is not None:
            run_id, state = active
            store.set_outcome(delivery_id, company, COVERED, run_id, f"{state} run")
            log.info("webhook: %s already has a %s sync %s", company, state, run_id)
            return COVERED, run_id
        if not store.claim(company, window, now):
            last = store.last_trigger(company)
            run_id = last[1] if last else None
            store.set_outcome(delivery_id, company, RECENT, run_id, f"within {window}")
            log.info("webhook: %s synced within the last %s (%s)", company, window, run_id)
            return RECENT, run_id
        run_id = f"webhook__{company}__{now.strftime('%Y-%m-%dT%H:%M:%S.%f')}"
        note = f"QuickBooks webhook: {describe(found)}"
        try:
            run_id = runs.trigger(company, run_id, note)
        except Exception:
            store.release(company)
            raise
        store.set_run(company, run_id)
        store.set_outcome(delivery_id, company, TRIGGERED, run_id)
        log.info("webhook: started sync %s for %s (%s)", run_id, company, describe(found))
        return TRIGGERED, run_id
    except Exception as error:
        log.exception("webhook: could not start a sync for %s", company)
        try:
            store.set_outcome(delivery_id, company, ERROR, None, f"{type(error).__name__}: {error}")
        except Exception:
            log.exception("webhook: could not record the outcome for %s", company)
        return ERROR, None


class SyncStarter:
    """One thread per api-server process starts syncs, in arrival order, after the answers
    went out: a burst queues work here instead of racing threads against the request path."""

    def __init__(self, work: Callable[..., Any] = start_sync) -> None:
        self._work = work
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, *args: Any) -> None:
        """Queue one start_sync call (never blocks)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, daemon=True, name="fieldbooks-webhook-syncs"
                )
                self._thread.start()
        self._queue.put(args)

    def wait(self, timeout: float = 30.0) -> bool:
        """Whether everything queued was handled within the timeout (for tests)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _run(self) -> None:
        while True:
            args = self._queue.get()
            try:
                self._work(*args)
            except Exception:  # start_sync records its own errors; this is the last net
                log.exception("webhook: starting a sync failed")
            finally:
                self._queue.task_done()


# --- configuration and the app ---------------------------------------------------------


@dataclass(frozen=True)
class WebhookConfig:
    """The receiver's settings (environment variables, see README)."""

    dag_id: str = DEFAULT_DAG_ID
    dedup_seconds: float = 60.0
    receivers_ttl_seconds: float = 60.0
    max_body_bytes: int = 1_000_000
    db_url: str | None = None  # None: Airflow's metadata DB
    retention_days: float = DEFAULT_RETENTION.days

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebhookConfig:
        """Read FIELDBOOKS_WEBHOOK_* variables."""
        env = os.environ if env is None else env
        return cls(
            dag_id=env.get("FIELDBOOKS_WEBHOOK_DAG_ID", DEFAULT_DAG_ID),
            dedup_seconds=float(env.get("FIELDBOOKS_WEBHOOK_DEDUP_SECONDS", "60")),
            receivers_ttl_seconds=float(env.get("FIELDBOOKS_WEBHOOK_RECEIVERS_TTL_SECONDS", "60")),
            max_body_bytes=int(env.get("FIELDBOOKS_WEBHOOK_MAX_BODY_BYTES", "1000000")),
            db_url=env.get("FIELDBOOKS_WEBHOOK_DB_URL") or None,
            retention_days=_retention_days(env.get(RETENTION_ENV)),
        )


def _retention_days(value: str | None) -> float:
    """FIELDBOOKS_WEBHOOK_RETENTION_DAYS as a positive number of days (unset: 30)."""
    if value is None or not value.strip():
        return float(DEFAULT_RETENTION.days)
    try:
        days = float(value)
    except ValueError:
        days = math.nan
    if not math.isfinite(days) or days <= 0:
        raise ValueError(
            f"{RETENTION_ENV}={value!r} is not a positive number of days: set how many days "
            f"to keep webhook notifications (e.g. 30), or unset it for the default "
            f"{DEFAULT_RETENTION.days}"
        )
    return days


def airflow_engine() -> Engine:
    """The api-server's own metadata DB engine."""
    from airflow import settings

    if settings.engine is None:
        settings.configure_orm()
    assert settings.engine is not None
    return settings.engine


@dataclass
class Receiving:
    """Everything a request needs, built lazily on the first request (not at plugin import)."""

    config: WebhookConfig
    store_factory: Callable[[], WebhookStore]
    runs_factory: Callable[[], Runs]
    receivers_loader: Callable[[], dict[str, Receiver]]
    _built: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _get(self, name: str, make: Callable[[], Any]) -> Any:
        with self._lock:
            if name not in self._built:
                self._built[name] = make()
            return self._built[name]

    @property
    def store(self) -> WebhookStore:
        return self._get("store", self.store_factory)

    @property
    def runs(self) -> Runs:
        return self._get("runs", self.runs_factory)

    @property
    def starter(self) -> SyncStarter:
        return self._get("starter", SyncStarter)

    @property
    def receivers(self) -> ReceiverCache:
        return self._get(
            "receivers",
            lambda: ReceiverCache(self.receivers_loader, self.config.receivers_ttl_seconds),
        )


def default_receiving(config: WebhookConfig | None = None) -> Receiving:
    """Production wiring: Airflow's metadata DB, Airflow's DAG runs, the companies config."""
    config = config or WebhookConfig.from_env()

    def store() -> WebhookStore:
        engine = sa.create_engine(config.db_url) if config.db_url else airflow_engine()
        return WebhookStore(engine, retention=timedelta(days=config.retention_days))

    return Receiving(
        config=config,
        store_factory=store,
        runs_factory=lambda: AirflowRuns(config.dag_id),
        receivers_loader=load_receivers,
    )


def prune_quietly(store: WebhookStore) -> None:
    """store.prune_if_due(), run after the answer went out; a failure is only logged."""
    try:
        store.prune_if_due()
    except Exception:
        log.exception("webhook: could not prune old notifications")


def _remote(request: Request) -> str:
    """Who sent it: the peer address, and what a proxy says it forwarded."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    return f"{peer} (x-forwarded-for {forwarded})" if forwarded else peer


def create_app(receiving: Receiving | None = None) -> FastAPI:
    """The FastAPI app the Airflow plugin mounts at /webhooks."""
    state = receiving or default_receiving()
    app = FastAPI(
        title="fieldbooks webhooks",
        description="QuickBooks Online change notifications start a fieldbooks sync.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    def answer(status: int, background: BackgroundTask | None = None, **body: Any) -> JSONResponse:
        return JSONResponse(body, status_code=status, background=background)

    @app.get("/quickbooks")
    def quickbooks_ready() -> dict[str, Any]:
        """Liveness for whoever sets the endpoint up (no configuration is revealed)."""
        return {"receiver": "fieldbooks", "method": "POST"}

    @app.post("/quickbooks")
    async def quickbooks(request: Request) -> JSONResponse:
        """Verify, parse and record a notification; start syncs after answering."""
        started = time.monotonic()
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > state.config.max_body_bytes:
            log.warning("webhook refused from %s: %s bytes declared", _remote(request), declared)
            return answer(413, error="body too large")
        body = await request.body()
        if len(body) > state.config.max_body_bytes:
            log.warning("webhook refused from %s: body of %d bytes", _remote(request), len(body))
            return answer(413, error="body too large")
        header = request.headers.get(SIGNATURE_HEADER)
        try:
            payload: Any = json.loads(body)
        except ValueError:
            payload = None
        realms = realms_named(payload)
        try:
            receivers = await run_in_threadpool(state.receivers.get, realms)
        except Exception:
            # QuickBooks retries a 5xx, so nothing is lost while the configuration is fixed
            log.exception("webhook: cannot load the companies; answering 503")
            return answer(503, error="receiver not configured")
        why = verify(body, header, realms, receivers)
        if why is not None:
            log.warning("webhook refused from %s: %s (%d bytes)", _remote(request), why, len(body))
            return answer(401, error="invalid signature")
        try:
            found = parse_notifications(payload)
        except PayloadError as error:
            log.warning("webhook from %s not understood: %s", _remote(request), error)
            return answer(400, error=str(error))
        delivery_id = str(uuid.uuid4())
        companies = {realm: r.key for realm, r in receivers.items()}
        unknown = sorted({n.realm_id for n in found if n.realm_id not in companies})
        for realm in unknown:
            log.warning(
                "webhook for unknown realm %s (%s) from %s: recorded, no sync started",
                realm,
                describe([n for n in found if n.realm_id == realm]),
                _remote(request),
            )
        try:
            await run_in_threadpool(state.store.record, delivery_id, found, companies)
        except Exception:
            log.exception("webhook: cannot record delivery %s; answering 503", delivery_id)
            return answer(503, error="cannot record the notification")
        by_company: dict[str, list[Notification]] = {}
        for n in found:
            if n.realm_id in companies:
                by_company.setdefault(companies[n.realm_id], []).append(n)
        window = timedelta(seconds=state.config.dedup_seconds)
        for company, theirs in by_company.items():
            state.starter.submit(company, theirs, state.store, state.runs, window, delivery_id)
        log.info(
            "webhook %s: %d notification(s) for %s in %.0f ms",
            delivery_id,
            len(found),
            ", ".join(sorted(by_company) + [f"unknown realm {r}" for r in unknown]) or "nobody",
            (time.monotonic() - started) * 1000,
        )
        return answer(
            200,
            # after the answer is sent, so pruning never counts against QuickBooks' 3 s
            background=BackgroundTask(prune_quietly, state.store),
            delivery_id=delivery_id,
            notifications=len(found),
            companies=sorted(by_company),
            unknown_realms=unknown,
        )

    return app
