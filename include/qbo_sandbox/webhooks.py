"""Outgoing webhooks: change notifications POSTed to the app's endpoint, signed like Intuit's.

Every committed change of an entity QuickBooks sends webhooks for (Create, Update, Delete,
Void) is queued; a background thread gathers changes for `webhook_batch_seconds`, builds
one notification in the classic shape

    {"eventNotifications": [{"realmId": "...", "dataChangeEvent": {"entities": [
        {"name": "Invoice", "id": "12", "operation": "Update",
         "lastUpdated": "2026-01-05T17:03:11.000Z"}]}}]}

and/or the CloudEvents shape (a list of `{"specversion": "1.0", "id", "source", "type":
"qbo.invoice.updated.v1", "datacontenttype", "time", "intuitentityid", "intuitaccountid",
"data": {}}`), and POSTs it with `intuit-signature` = base64 HMAC-SHA256 of the raw body
keyed with the verifier token. A delivery that fails (no 2xx within the timeout) is retried
after each of `webhook_retry_delays_seconds`. The API request that made the change never
waits for any of this. Deliveries are kept in memory (the last 1,000) for `/_sandbox`.
"""

import base64
import hashlib
import hmac
import itertools
import logging
import queue
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import requests

from qbo_sandbox import jsonio
from qbo_sandbox.config import WEBHOOK_FORMATS, SandboxConfig
from qbo_sandbox.store import Change

log = logging.getLogger(__name__)
# Entities Intuit sends webhooks for, among those the emulator has.
WEBHOOK_ENTITIES = (
    "Account",
    "Bill",
    "BillPayment",
    "Class",
    "CreditMemo",
    "Customer",
    "Department",
    "Deposit",
    "Invoice",
    "Item",
    "Payment",
    "PaymentMethod",
    "Purchase",
    "RefundReceipt",
    "Vendor",
)
PAST_TENSE = {
    "Create": "created",
    "Update": "updated",
    "Delete": "deleted",
    "Void": "voided",
    "Merge": "merged",
}
KEPT_DELIVERIES = 1000


def signature(body: bytes, verifier_token: str) -> str:
    """Intuit's `intuit-signature`: base64 HMAC-SHA256 of the raw body."""
    digest = hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _utc(epoch: float) -> str:
    """A UTC time with milliseconds and a Z, as the notification samples show."""
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def classic_payload(changes: list[Change]) -> dict[str, Any]:
    """`eventNotifications`, one entry per company."""
    by_realm: dict[str, list[dict[str, str]]] = {}
    for change in changes:
        by_realm.setdefault(change.realm_id, []).append(
            {
                "name": change.entity,
                "id": change.id,
                "operation": change.operation,
                "lastUpdated": _utc(change.update_time),
            }
        )
    return {
        "eventNotifications": [
            {"realmId": realm, "dataChangeEvent": {"entities": entities}}
            for realm, entities in by_realm.items()
        ]
    }


def cloudevents_payload(changes: list[Change], source: str) -> list[dict[str, Any]]:
    """The CloudEvents-style list Intuit is moving to."""
    return [
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": source,
            "type": f"qbo.{change.entity.lower()}.{PAST_TENSE[change.operation]}.v1",
            "datacontenttype": "application/json",
            "time": _utc(change.update_time),
            "intuitentityid": change.id,
            "intuitaccountid": change.realm_id,
            "data": {},
        }
        for change in changes
    ]


class WebhookDispatcher:
    """Queues committed changes and delivers them from a background thread."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._queue: queue.Queue[list[Change] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._deliveries: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._session = requests.Session()

    @property
    def enabled(self) -> bool:
        """Whether a webhook URL is configured."""
        return bool(self.config.webhook_url)

    def settings(self) -> dict[str, Any]:
        """The webhook configuration."""
        config = self.config
        return {
            "url": config.webhook_url,
            "verifier_token": config.webhook_verifier_token,
            "format": config.webhook_format,
            "batch_seconds": config.webhook_batch_seconds,
            "timeout_seconds": config.webhook_timeout_seconds,
            "retry_delays_seconds": list(config.webhook_retry_delays_seconds),
        }

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the webhook settings at run time (url None turns webhooks off)."""
        names = {
            "url": "webhook_url",
            "verifier_token": "webhook_verifier_token",
            "format": "webhook_format",
            "batch_seconds": "webhook_batch_seconds",
            "timeout_seconds": "webhook_timeout_seconds",
            "retry_delays_seconds": "webhook_retry_delays_seconds",
        }
        for key, value in changes.items():
            if key not in names:
                raise KeyError(key)
            if key == "format" and value not in WEBHOOK_FORMATS:
                raise ValueError(f"format must be one of {', '.join(WEBHOOK_FORMATS)}")
            if key == "retry_delays_seconds":
                value = tuple(float(v) for v in value)
            elif key in ("batch_seconds", "timeout_seconds"):
                value = float(value)
            setattr(self.config, names[key], value)
        return self.settings()

    def notify(self, changes: list[Change]) -> None:
        """Queue committed changes (called by the store; never blocks)."""
        if not self.enabled:
            return
        wanted = [c for c in changes if c.entity in WEBHOOK_ENTITIES and c.operation in PAST_TENSE]
        if not wanted:
            return
        self._ensure_thread()
        self._queue.put(wanted)

    def deliveries(self) -> list[dict[str, Any]]:
        """Every delivery kept, oldest first."""
        with self._lock:
            return [dict(d, attempts=list(d["attempts"])) for d in self._deliveries]

    def clear(self) -> None:
        """Forget the delivery history."""
        with self._lock:
            self._deliveries.clear()

    def stop(self) -> None:
        """Stop the background thread (pending retries are dropped)."""
        self._stopping.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._session.close()

    def _ensure_thread(self) -> None:
        """Start the delivery thread on first use."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, daemon=True, name="qbo_sandbox-webhooks"
                )
                self._thread.start()

    def _run(self) -> None:
        """Gather changes for a moment, then deliver them; forever."""
        while not self._stopping.is_set():
            first = self._queue.get()
            if first is None:
                return
            changes = list(first)
            deadline = time.monotonic() + float(self.config.webhook_batch_seconds)
            while (left := deadline - time.monotonic()) > 0:
                try:
                    more = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if more is None:
                    self._stopping.set()
                    break
                changes.extend(more)
            for delivery in self._payloads(changes):
                self._deliver(delivery)

    def _payloads(self, changes: list[Change]) -> list[dict[str, Any]]:
        """One delivery record per configured format."""
        fmt = self.config.webhook_format
        bodies: list[tuple[str, Any]] = []
        if fmt in ("classic", "both"):
            bodies.append(("classic", classic_payload(changes)))
        if fmt in ("cloudevents", "both"):
            source = "intuit.qbo_sandbox." + self.config.client_id
            bodies.append(("cloudevents", cloudevents_payload(changes, source)))
        deliveries = []
        for kind, payload in bodies:
            raw = jsonio.dumps(payload).encode("utf-8")
            delivery = {
                "id": next(self._ids),
                "format": kind,
                "url": self.config.webhook_url,
                "signature": signature(raw, self.config.webhook_verifier_token),
                "payload": payload,
                "raw": raw.decode("utf-8"),
                "attempts": [],
                "delivered": False,
            }
            with self._lock:
                self._deliveries.append(delivery)
                del self._deliveries[:-KEPT_DELIVERIES]
            deliveries.append(delivery)
        return deliveries

    def _deliver(self, delivery: dict[str, Any]) -> None:
        """POST one notification, retrying after each configured delay until it lands."""
        delays = list(self.config.webhook_retry_delays_seconds)
        for attempt in range(len(delays) + 1):
            if self._stopping.is_set():
                return
            status, error = self._post(delivery)
            with self._lock:
                delivery["attempts"].append(
                    {"at": _utc(time.time()), "status": status, "error": error}
                )
                if status is not None and 200 <= status < 300:
                    delivery["delivered"] = True
                    return
            if attempt < len(delays):
                self._stopping.wait(delays[attempt])
        log.warning("webhook delivery %s to %s failed for good", delivery["id"], delivery["url"])

    def _post(self, delivery: dict[str, Any]) -> tuple[int | None, str | None]:
        """One attempt: (HTTP status, error text)."""
        try:
            response = self._session.post(
                str(delivery["url"]),
                data=delivery["raw"].encode("utf-8"),
                headers={
                    "Content-Type": "application/json",
                    "intuit-signature": delivery["signature"],
                    "User-Agent": "qbo_sandbox-webhooks",
                },
                timeout=float(self.config.webhook_timeout_seconds),
            )
        except requests.RequestException as error:
            return None, f"{type(error).__name__}: {error}"
        return response.status_code, None if response.ok else response.text[:200]
