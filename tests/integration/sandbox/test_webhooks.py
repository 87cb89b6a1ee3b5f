"""Outgoing webhooks: signed change notifications in the classic and CloudEvents shapes,
sent in the background with retries."""

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice

from qbo_sandbox.testing import running_sandbox

from .helpers import admin, connect, new_customer, new_invoice, sales_line

TOKEN = "verifier-123"
FAST = {
    "webhook_verifier_token": TOKEN,
    "webhook_batch_seconds": 0.1,
    "webhook_timeout_seconds": 1.0,
    "webhook_retry_delays_seconds": (0.05, 0.05, 0.05),
}


class Receiver:
    """An app's webhook endpoint: records what arrives, can fail or dawdle on purpose."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.failures = 0
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(500)
                else:
                    receiver.received.append((dict(self.headers), raw))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int = 1, timeout: float = 5.0) -> list[tuple[dict, bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received

    def entities(self) -> list[tuple[str, str, str]]:
        found = []
        for _, raw in self.received:
            payload = json.loads(raw)
            if not isinstance(payload, dict):
                continue  # a CloudEvents list
            for note in payload["eventNotifications"]:
                for entity in note["dataChangeEvent"]["entities"]:
                    found.append((entity["name"], entity["id"], entity["operation"]))
        return found


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.server.shutdown()


def signed_by(headers: dict, raw: bytes) -> bool:
    expected = base64.b64encode(hmac.new(TOKEN.encode(), raw, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(headers["intuit-signature"], expected)


def test_classic_notifications_are_signed_and_list_every_change(tmp_path, receiver):
    with running_sandbox(tmp_path / "hooks.sqlite3", webhook_url=receiver.url, **FAST) as handle:
        client = connect(handle)
        customer = new_customer(client, "Hooked Hannah")
        invoice = new_invoice(client, customer, [sales_line("1", "10.00")])
        Invoice.get(invoice.Id, qb=client).delete(qb=client)
        receiver.wait()
        time.sleep(0.3)
        headers, raw = receiver.received[0]
        assert signed_by(headers, raw)
        note = json.loads(raw)["eventNotifications"][0]
        assert note["realmId"] == handle.realm_id
        entity = note["dataChangeEvent"]["entities"][0]
        assert set(entity) == {"name", "id", "operation", "lastUpdated"}
        assert entity["lastUpdated"].endswith("Z")
        assert receiver.entities() == [
            ("Customer", customer.Id, "Create"),
            ("Invoice", invoice.Id, "Create"),
            ("Invoice", invoice.Id, "Delete"),
        ]
        deliveries = admin(handle, "GET", "/webhooks/deliveries").json()
        assert all(d["delivered"] and d["format"] == "classic" for d in deliveries)


def test_cloudevents_shape_and_void_events_configured_at_run_time(tmp_path, receiver):
    with running_sandbox(tmp_path / "ce.sqlite3", **FAST) as handle:
        client = connect(handle)
        new_customer(client, "Before Hooks")  # webhooks off: nothing is sent
        admin(handle, "PUT", "/webhooks", json={"url": receiver.url, "format": "both"})
        customer = new_customer(client, "Cloud Carl")
        invoice = new_invoice(client, customer, [sales_line("1", "10.00")])
        Invoice.get(invoice.Id, qb=client).void(qb=client)
        receiver.wait(2)
        time.sleep(0.3)
        kinds = {type(json.loads(raw)).__name__ for _, raw in receiver.received}
        assert kinds == {"dict", "list"}
        events = [
            event
            for _, raw in receiver.received
            if isinstance(json.loads(raw), list)
            for event in json.loads(raw)
        ]
        assert [e["type"] for e in events] == [
            "qbo.customer.created.v1",
            "qbo.invoice.created.v1",
            "qbo.invoice.voided.v1",
        ]
        first = events[0]
        assert (first["specversion"], first["intuitentityid"], first["intuitaccountid"]) == (
            "1.0",
            customer.Id,
            handle.realm_id,
        )
        assert first["datacontenttype"] == "application/json" and first["data"] == {}
        assert all(signed_by(headers, raw) for headers, raw in receiver.received)
        assert receiver.entities() == [  # nothing for "Before Hooks" (Customer 1)
            ("Customer", customer.Id, "Create"),
            ("Invoice", invoice.Id, "Create"),
            ("Invoice", invoice.Id, "Void"),
        ]


def test_failed_deliveries_are_retried(tmp_path, receiver):
    receiver.failures = 2
    with running_sandbox(tmp_path / "retry.sqlite3", webhook_url=receiver.url, **FAST) as handle:
        new_customer(connect(handle), "Retry Ray")
        receiver.wait()
        delivery = admin(handle, "GET", "/webhooks/deliveries").json()[0]
        assert [a["status"] for a in delivery["attempts"]] == [500, 500, 200]
        assert delivery["delivered"] is True
        assert receiver.entities() == [("Customer", "1", "Create")]


def test_a_slow_endpoint_never_slows_the_api(tmp_path, receiver):
    receiver.delay = 0.6  # five blocking creates would take 3 s
    with running_sandbox(tmp_path / "slow.sqlite3", webhook_url=receiver.url, **FAST) as handle:
        client = connect(handle)
        started = time.monotonic()
        for n in range(5):
            new_customer(client, f"Quick {n}")
        assert time.monotonic() - started < 1.0
        receiver.wait()


def test_nothing_is_sent_for_replays_failed_batch_items_or_new_companies(tmp_path, receiver):
    with running_sandbox(tmp_path / "quiet.sqlite3", webhook_url=receiver.url, **FAST) as handle:
        client = connect(handle)
        admin(handle, "POST", "/realms", json={"demo": True})
        named = Customer()
        named.DisplayName = "Once"
        named.save(qb=client, request_id="once")
        named.save(qb=client, request_id="once")
        client.batch_operation(
            json.dumps(
                {
                    "BatchItemRequest": [
                        {"bId": "1", "operation": "create", "Customer": {"DisplayName": "Once"}}
                    ]
                }
            )
        )
        receiver.wait()
        time.sleep(0.3)
        assert receiver.entities() == [("Customer", "1", "Create")]
