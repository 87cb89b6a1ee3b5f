"""The webhook receiver: signatures, both payload shapes, realms to companies, bursts."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from fieldbooks.webhooks import (
    COVERED,
    ERROR,
    PENDING,
    PRUNE_BATCH,
    RECENT,
    TRIGGERED,
    UNKNOWN_REALM,
    Notification,
    PayloadError,
    Receiver,
    ReceiverCache,
    Receiving,
    WebhookConfig,
    WebhookStore,
    create_app,
    load_receivers,
    parse_notifications,
    realms_named,
    run_covers,
    sign,
    signature_matches,
    start_sync,
    triggers,
    verify,
)
from qbo_sandbox.store import Change
from qbo_sandbox.webhooks import classic_payload, cloudevents_payload, signature

TOKEN = "verifier-token-acme"
OTHER_TOKEN = "verifier-token-bravo"
ACME_REALM = "9130350000000001"
BRAVO_REALM = "9130350000000002"

CLASSIC = {
    "eventNotifications": [
        {
            "realmId": ACME_REALM,
            "dataChangeEvent": {
                "entities": [
                    {
                        "name": "Invoice",
                        "id": "12",
                        "operation": "Update",
                        "lastUpdated": "2026-01-05T17:03:11.000Z",
                    },
                    {
                        "name": "Customer",
                        "id": "7",
                        "operation": "Merge",
                        "lastUpdated": "2026-01-05T17:03:12.000Z",
                        "deletedId": "9",
                    },
                ]
            },
        }
    ]
}
CLOUDEVENTS = [
    {
        "specversion": "1.0",
        "id": "4f1c7d0e-1",
        "source": "intuit.qbo",
        "type": "qbo.billpayment.voided.v1",
        "datacontenttype": "application/json",
        "time": "2026-01-05T17:03:11.000Z",
        "intuitentityid": "31",
        "intuitaccountid": ACME_REALM,
        "data": {},
    },
    {
        "specversion": "1.0",
        "id": "4f1c7d0e-2",
        "type": "qbo.invoice.created.v1",
        "intuitentityid": "40",
        "intuitaccountid": BRAVO_REALM,
    },
]


def _body(payload) -> bytes:
    return json.dumps(payload).encode()


# --- signature -------------------------------------------------------------------------


def test_signature_is_what_the_sandbox_and_intuit_send():
    body = _body(CLASSIC)
    assert sign(body, TOKEN) == signature(body, TOKEN)
    assert signature_matches(body, signature(body, TOKEN), TOKEN)
    assert signature_matches(body, "  " + sign(body, TOKEN) + "\n", TOKEN)


@pytest.mark.parametrize(
    "header, token, body",
    [
        (None, TOKEN, b"{}"),
        ("", TOKEN, b"{}"),
        (sign(b"{}", TOKEN), None, b"{}"),
        (sign(b"{}", OTHER_TOKEN), TOKEN, b"{}"),
        (sign(b"{}", TOKEN), TOKEN, b"{} "),
        ("not base64 at all é", TOKEN, b"{}"),
    ],
)
def test_a_wrong_or_missing_signature_does_not_match(header, token, body):
    assert not signature_matches(body, header, token)


@given(st.binary(max_size=300), st.text(min_size=1, max_size=40))
def test_any_body_signed_with_the_token_matches_and_a_changed_body_does_not(body, token):
    header = sign(body, token)
    assert signature_matches(body, header, token)
    assert not signature_matches(body + b"x", header, token)


# --- payloads --------------------------------------------------------------------------


def test_classic_notifications_parse_into_entities_ids_and_operations():
    found = parse_notifications(CLASSIC)
    assert found == [
        Notification("classic", ACME_REALM, "Invoice", "12", "Update", "2026-01-05T17:03:11.000Z"),
        Notification(
            "classic",
            ACME_REALM,
            "Customer",
            "7",
            "Merge",
            "2026-01-05T17:03:12.000Z",
            deleted_id="9",
        ),
    ]


def test_cloudevents_parse_with_quickbooks_entity_names_and_operations():
    found = parse_notifications(CLOUDEVENTS)
    assert [(n.shape, n.realm_id, n.entity, n.entity_id, n.operation) for n in found] == [
        ("cloudevents", ACME_REALM, "BillPayment", "31", "Void"),
        ("cloudevents", BRAVO_REALM, "Invoice", "40", "Create"),
    ]
    assert found[0].event_id == "4f1c7d0e-1"
    assert parse_notifications(CLOUDEVENTS[0]) == found[:1]  # a single event, not a list


def test_what_the_sandbox_sends_parses_in_both_shapes():
    changes = [
        Change(ACME_REALM, "Invoice", "5", "Update", 1_767_632_591),
        Change(BRAVO_REALM, "Payment", "8", "Delete", 1_767_632_592),
    ]
    classic = parse_notifications(json.loads(_body(classic_payload(changes))))
    cloud = parse_notifications(json.loads(_body(cloudevents_payload(changes, "intuit.x"))))
    expected = [(ACME_REALM, "Invoice", "5", "Update"), (BRAVO_REALM, "Payment", "8", "Delete")]
    assert [(n.realm_id, n.entity, n.entity_id, n.operation) for n in classic] == expected
    assert [(n.realm_id, n.entity, n.entity_id, n.operation) for n in cloud] == expected


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"eventNotifications": {}},
        {"eventNotifications": [{"dataChangeEvent": {"entities": []}}]},
        {"eventNotifications": [{"realmId": "1", "dataChangeEvent": {"entities": [{"id": 1}]}}]},
        [{"specversion": "1.0", "type": "invoice.updated", "intuitentityid": "1"}],
        [{"specversion": "1.0", "type": "qbo.invoice.updated.v1", "intuitentityid": "1"}],
        ["nope"],
        "text",
        None,
    ],
)
def test_a_body_of_neither_shape_is_a_payload_error(payload):
    with pytest.raises(PayloadError):
        parse_notifications(payload)


def test_realms_named_reads_both_shapes_leniently():
    assert realms_named(CLASSIC) == {ACME_REALM}
    assert realms_named(CLOUDEVENTS) == {ACME_REALM, BRAVO_REALM}
    assert realms_named(None) == set()
    assert realms_named({"x": 1}) == set()


# --- companies and tokens --------------------------------------------------------------

RECEIVERS = {
    ACME_REALM: Receiver("acme", ACME_REALM, TOKEN),
    BRAVO_REALM: Receiver("bravo", BRAVO_REALM, OTHER_TOKEN),
}


def test_each_realm_needs_its_own_companys_token():
    body = _body(CLASSIC)
    assert verify(body, sign(body, TOKEN), {ACME_REALM}, RECEIVERS) is None
    assert "acme" in verify(body, sign(body, OTHER_TOKEN), {ACME_REALM}, RECEIVERS)
    # a body naming two companies must be signed with a token both accept
    assert verify(body, sign(body, TOKEN), {ACME_REALM, BRAVO_REALM}, RECEIVERS) is not None
    assert verify(body, None, {ACME_REALM}, RECEIVERS) == "no intuit-signature header"


def test_an_unknown_realm_may_be_signed_with_any_configured_token():
    body = _body({"eventNotifications": []})
    assert verify(body, sign(body, OTHER_TOKEN), {"123"}, RECEIVERS) is None
    assert verify(body, sign(body, "forged"), {"123"}, RECEIVERS) is not None
    assert verify(body, sign(body, TOKEN), set(), RECEIVERS) is None


def test_without_any_token_every_notification_is_refused():
    body = b"{}"
    receivers = {ACME_REALM: Receiver("acme", ACME_REALM, None)}
    assert "no webhook verifier token" in verify(body, sign(body, "x"), {ACME_REALM}, receivers)


def test_the_default_company_takes_the_env_token_unless_its_connection_has_one():
    env = {"FIELDBOOKS_QBO_REALM_ID": ACME_REALM, "FIELDBOOKS_QBO_WEBHOOK_VERIFIER_TOKEN": "env"}
    assert load_receivers(env, lambda conn_id: None) == {
        ACME_REALM: Receiver("default", ACME_REALM, "env")
    }
    asked = []

    def extra(conn_id):
        asked.append(conn_id)
        return {"webhook_verifier_token": "from-connection"}

    assert load_receivers(env, extra)[ACME_REALM].verifier_token == "from-connection"
    assert asked == ["fieldbooks_qbo_default"]
    del env["FIELDBOOKS_QBO_WEBHOOK_VERIFIER_TOKEN"]
    assert load_receivers(env, lambda conn_id: None)[ACME_REALM].verifier_token is None


def test_the_receivers_are_cached_and_reloaded_for_an_unknown_realm():
    loads = []

    def loader():
        loads.append(1)
        return dict(RECEIVERS)

    cache = ReceiverCache(loader, ttl_seconds=3600, unknown_reload_seconds=0)
    cache.get([ACME_REALM])
    cache.get([ACME_REALM, BRAVO_REALM])
    assert len(loads) == 1
    cache.get(["999"])  # maybe a company added since: look again
    assert len(loads) == 2


# --- de-duplication --------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> WebhookStore:
    return WebhookStore(sa.create_engine(f"sqlite:///{tmp_path / 'webhooks.sqlite'}"))


class Runs:
    """Sync runs as Airflow would keep them: queued until someone says otherwise."""

    def __init__(self, fail: bool = False) -> None:
        self.runs: dict[str, dict] = {}
        self.fail = fail

    def active_run(self, company):
        for run_id, run in self.runs.items():
            if run["state"] in ("queued", "running") and run_covers(run["conf"], company):
                return run_id, run["state"]
        return None

    def trigger(self, company, run_id, note):
        if self.fail:
            raise RuntimeError("Dag id fieldbooks_sync not found")
        self.runs[run_id] = {"state": "queued", "conf": {"companies": [company]}, "note": note}
        return run_id

    def finish(self):
        for run in self.runs.values():
            run["state"] = "success"


T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=60)
INVOICE = [Notification("classic", ACME_REALM, "Invoice", "12", "Update")]


def _sync(store, runs, at, delivery="d1", company="acme"):
    store.record(delivery, INVOICE, {ACME_REALM: company}, received_at=at)
    return start_sync(company, INVOICE, store, runs, WINDOW, delivery, now=at)


def test_the_window_is_claimed_once_and_free_again_after_it(store):
    assert store.claim("acme", WINDOW, T0)
    assert not store.claim("acme", WINDOW, T0 + timedelta(seconds=59))
    assert store.claim("bravo", WINDOW, T0 + timedelta(seconds=59))
    assert store.claim("acme", WINDOW, T0 + timedelta(seconds=60))
    store.release("acme")
    assert store.claim("acme", WINDOW, T0 + timedelta(seconds=61))


def test_a_burst_starts_one_sync_and_records_every_notification(store):
    runs = Runs()
    outcomes = [
        _sync(store, runs, T0 + timedelta(seconds=i), delivery=f"d{i}")[0] for i in range(5)
    ]
    assert outcomes == [TRIGGERED, COVERED, COVERED, COVERED, COVERED]
    [(run_id, run)] = runs.runs.items()
    assert run["conf"] == {"companies": ["acme"]}
    assert "Invoice 12 Update" in run["note"]
    recorded = store.recent()
    assert len(recorded) == 5
    assert {r["run_id"] for r in recorded} == {run_id}
    assert {(r["entity"], r["entity_id"], r["operation"]) for r in recorded} == {
        ("Invoice", "12", "Update")
    }


def test_a_finished_sync_within_the_window_still_holds_off_a_new_one(store):
    runs = Runs()
    first = _sync(store, runs, T0)
    runs.finish()
    assert _sync(store, runs, T0 + timedelta(seconds=30), delivery="d2") == (RECENT, first[1])
    outcome, run_id = _sync(store, runs, T0 + timedelta(seconds=61), delivery="d3")
    assert outcome == TRIGGERED and run_id != first[1]
    assert len(runs.runs) == 2


def test_a_scheduled_run_of_every_company_covers_each_of_them(store):
    runs = Runs()
    runs.runs["scheduled__x"] = {"state": "running", "conf": {}}
    runs.runs["manual__bravo"] = {"state": "queued", "conf": {"companies": ["bravo"]}}
    assert _sync(store, runs, T0) == (COVERED, "scheduled__x")
    runs.runs["scheduled__x"]["state"] = "success"
    assert _sync(store, runs, T0, delivery="d2")[0] == TRIGGERED  # bravo's run is not acme's


def test_a_failed_trigger_is_recorded_and_gives_the_window_back(store):
    outcome, run_id = _sync(store, Runs(fail=True), T0)
    assert (outcome, run_id) == (ERROR, None)
    [row] = store.recent()
    assert row["outcome"] == ERROR and "not found" in row["detail"]
    assert _sync(store, Runs(), T0 + timedelta(seconds=1), delivery="d2")[0] == TRIGGERED


# --- the app ---------------------------------------------------------------------------


class App:
    """The receiver app in-process, with the syncs it starts."""

    def __init__(self, store, receivers=RECEIVERS, loader=None) -> None:
        self.runs = Runs()
        self.receiving = Receiving(
            config=WebhookConfig(dedup_seconds=60),
            store_factory=lambda: store,
            runs_factory=lambda: self.runs,
            receivers_loader=loader or (lambda: dict(receivers)),
        )
        self.client = TestClient(create_app(self.receiving))

    def post(self, payload, token=TOKEN, header=None):
        """POST a body signed with the token (or with the header given, or unsigned)."""
        body = _body(payload)
        headers = {"content-type": "application/json"}
        if token is not None or header is not None:
            headers["intuit-signature"] = header if header is not None else sign(body, token)
        answer = self.client.post("/quickbooks", content=body, headers=headers)
        assert self.receiving.starter.wait()
        return answer


@pytest.fixture
def app(store) -> App:
    return App(store)


def test_a_signed_classic_notification_starts_a_sync_of_its_company(app, store):
    answer = app.post(CLASSIC)
    assert answer.status_code == 200
    assert answer.json()["companies"] == ["acme"]
    [run] = app.runs.runs.values()
    assert run["conf"] == {"companies": ["acme"]}
    assert {r["outcome"] for r in store.recent()} == {TRIGGERED}


def test_signed_cloudevents_start_a_sync_for_each_company(store):
    # one app, one verifier token: every company's connection holds the same one
    app = App(store, {realm: Receiver(r.key, realm, TOKEN) for realm, r in RECEIVERS.items()})
    answer = app.post(CLOUDEVENTS)
    assert answer.status_code == 200, answer.text
    assert answer.json()["companies"] == ["acme", "bravo"]
    assert sorted(r["conf"]["companies"][0] for r in app.runs.runs.values()) == ["acme", "bravo"]


def test_a_forged_or_missing_signature_is_refused_and_logged(app, store, caplog):
    with caplog.at_level(logging.WARNING, logger="fieldbooks.webhooks"):
        assert app.post(CLASSIC, token="guess").status_code == 401
        assert app.post(CLASSIC, token=None).status_code == 401
        assert app.post(CLASSIC, header="AAAA").status_code == 401
    assert app.runs.runs == {}
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 3
    assert all("testclient" in message for message in refused)  # the remote address
    assert store.recent() == []


def test_an_unknown_realm_is_accepted_recorded_and_starts_nothing(app, store, caplog):
    payload = json.loads(json.dumps(CLASSIC).replace(ACME_REALM, "4620816365000000000"))
    with caplog.at_level(logging.WARNING, logger="fieldbooks.webhooks"):
        answer = app.post(payload)
    assert answer.status_code == 200
    assert answer.json()["unknown_realms"] == ["4620816365000000000"]
    assert app.runs.runs == {}
    assert {r["outcome"] for r in store.recent()} == {UNKNOWN_REALM}
    assert any("unknown realm 4620816365000000000" in r.getMessage() for r in caplog.records)


def test_a_burst_of_notifications_starts_one_sync(app, store):
    for _ in range(6):
        assert app.post(CLASSIC).status_code == 200
    assert len(app.runs.runs) == 1
    outcomes = [r["outcome"] for r in reversed(store.recent())]
    assert outcomes[:2] == [TRIGGERED, TRIGGERED] and set(outcomes[2:]) == {COVERED}
    assert PENDING not in outcomes


def test_a_signed_body_of_neither_shape_is_a_400_and_too_big_a_413(app):
    assert app.post({"hello": "world"}).status_code == 400
    big = {"eventNotifications": [], "pad": "x" * 1_000_001}
    assert app.post(big).status_code == 413
    assert app.runs.runs == {}


def test_the_receiver_answers_503_when_the_companies_cannot_be_loaded(store):
    def broken():
        raise ValueError("FIELDBOOKS_COMPANIES_FILE: bad TOML")

    answer = App(store, loader=broken).post(CLASSIC)
    assert answer.status_code == 503  # QuickBooks retries: nothing is lost meanwhile


# --- retention -------------------------------------------------------------------------


class Clock:
    """The store's idea of now, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _notice(entity_id: str) -> list[Notification]:
    return [Notification("classic", ACME_REALM, "Invoice", entity_id, "Update")]


@pytest.fixture
def clocked(tmp_path: Path) -> tuple[WebhookStore, Clock]:
    """A store keeping 30 days, pruning at most hourly, on a clock the test moves."""
    clock = Clock(T0)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'retention.sqlite'}")
    store = WebhookStore(engine, retention=timedelta(days=30), clock=clock)
    return store, clock


def test_old_notifications_go_and_recent_ones_and_the_trigger_rows_stay(clocked, caplog):
    store, clock = clocked
    runs = Runs()
    _sync(store, runs, T0 - timedelta(days=40), delivery="old")  # claims acme's window
    store.record("older", _notice("1"), {ACME_REALM: "acme"}, received_at=T0 - timedelta(days=31))
    store.record("edge", _notice("2"), {ACME_REALM: "acme"}, received_at=T0 - timedelta(days=30))
    store.record("new", _notice("3"), {ACME_REALM: "acme"}, received_at=T0 - timedelta(days=1))
    store.record("now", _notice("4"), {ACME_REALM: "acme"})  # the store's clock: T0
    with caplog.at_level(logging.INFO, logger="fieldbooks.webhooks"):
        assert store.prune_if_due() == 2
    assert "pruned 2 notification(s)" in caplog.text
    # the status page's listing: what is left, newest first, times still UTC
    recent = store.recent()
    assert [r["delivery_id"] for r in recent] == ["now", "new", "edge"]
    assert recent[0]["received_at"] == T0
    # the window claimed 40 days ago is bookkeeping, not a notification: it stays
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(triggers)).scalar() == 1
    last = store.last_trigger("acme")
    assert last is not None and last[0] == T0 - timedelta(days=40)
    assert last[1] in runs.runs


def test_pruning_runs_at_most_once_an_interval(clocked):
    store, clock = clocked
    old = T0 - timedelta(days=31)
    store.record("a", _notice("1"), {ACME_REALM: "acme"}, received_at=old)
    assert store.prune_if_due() == 1
    store.record("b", _notice("2"), {ACME_REALM: "acme"}, received_at=old)
    clock.now = T0 + timedelta(minutes=59, seconds=59)
    assert store.prune_if_due() is None  # not due: the old row waits
    assert [r["delivery_id"] for r in store.recent()] == ["b"]
    clock.now = T0 + timedelta(hours=1)
    assert store.prune_if_due() == 1
    assert store.recent() == []
    assert store.prune_if_due() is None
    # another process (another store on the same database) keeps its own hour
    other = WebhookStore(store.engine, retention=timedelta(days=30), clock=clock)
    assert other.prune_if_due() == 0


def test_a_large_backlog_is_pruned_in_batches_and_completely(clocked):
    store, clock = clocked
    backlog = PRUNE_BATCH * 2 + 5
    old = T0 - timedelta(days=90)
    found = [
        Notification("classic", ACME_REALM, "Invoice", str(i), "Update") for i in range(backlog)
    ]
    store.record("backlog", found, {ACME_REALM: "acme"}, received_at=old)
    store.record("keep", _notice("x"), {ACME_REALM: "acme"})
    assert store.prune() == backlog
    assert [r["delivery_id"] for r in store.recent(limit=10_000)] == ["keep"]


def test_received_at_is_indexed_so_pruning_does_not_scan_the_table(store):
    store.ensure_tables()
    store._ready = False
    store.ensure_tables()  # again, on the existing tables: harmless
    indexes = sa.inspect(store.engine).get_indexes("fieldbooks_webhook_notifications")
    assert ["received_at"] in [index["column_names"] for index in indexes]


def test_the_receiver_prunes_after_answering_and_at_most_hourly(tmp_path):
    clock = Clock(T0)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'receiver.sqlite'}")
    store = WebhookStore(engine, retention=timedelta(days=30), clock=clock)
    store.record("old", _notice("1"), {ACME_REALM: "acme"}, received_at=T0 - timedelta(days=31))
    app = App(store)
    assert app.post(CLASSIC).status_code == 200
    assert "old" not in {r["delivery_id"] for r in store.recent()}
    store.record("old2", _notice("2"), {ACME_REALM: "acme"}, received_at=T0 - timedelta(days=31))
    clock.now = T0 + timedelta(minutes=30)
    assert app.post(CLASSIC).status_code == 200
    assert "old2" in {r["delivery_id"] for r in store.recent()}  # within the hour: kept
    clock.now = T0 + timedelta(hours=1, minutes=1)
    assert app.post(CLASSIC).status_code == 200
    kept = store.recent()
    assert "old2" not in {r["delivery_id"] for r in kept}
    assert len(kept) == 3 * len(parse_notifications(CLASSIC))


def test_a_failed_prune_does_not_cost_the_delivery(store, caplog):
    app = App(store)

    def broken(now=None):
        raise sa.exc.OperationalError("DELETE", {}, Exception("database is locked"))

    store.prune = broken
    with caplog.at_level(logging.ERROR, logger="fieldbooks.webhooks"):
        answer = app.post(CLASSIC)
    assert answer.status_code == 200
    assert {r["outcome"] for r in store.recent()} == {TRIGGERED}
    assert "could not prune" in caplog.text


def test_the_retention_is_read_with_the_other_settings_and_must_be_positive():
    assert WebhookConfig.from_env({}).retention_days == 30
    assert WebhookConfig.from_env({"FIELDBOOKS_WEBHOOK_RETENTION_DAYS": "7"}).retention_days == 7
    assert (
        WebhookConfig.from_env({"FIELDBOOKS_WEBHOOK_RETENTION_DAYS": "0.5"}).retention_days == 0.5
    )
    for bad in ("0", "-3", "forever", "nan", "inf"):
        with pytest.raises(ValueError, match="FIELDBOOKS_WEBHOOK_RETENTION_DAYS"):
            WebhookConfig.from_env({"FIELDBOOKS_WEBHOOK_RETENTION_DAYS": bad})
