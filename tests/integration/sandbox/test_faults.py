"""Fault injection per endpoint: 5xx answers, slow answers past a client timeout, connection
resets, and "commit, then drop the response"; by scripted sequence or seeded probability."""

import time

import pytest
import requests
from intuitlib.exceptions import AuthClientError
from quickbooks.exceptions import QuickbooksException, SevereException
from quickbooks.objects.customer import Customer

from qbo_sandbox.testing import running_sandbox

from .helpers import admin, admin_raw, api_get, api_post, connect


def set_plan(company, *rules, seed=None):
    return admin(company.handle, "PUT", "/faults", json={"seed": seed, "rules": list(rules)})


@pytest.fixture
def faults(company):
    """Fault rules on the shared emulator, limited to this test's company."""
    yield company
    admin(company.handle, "DELETE", "/faults")


def rule(company, **fields):
    match = {"realm": company.realm_id, **fields.pop("match", {})}
    return {"match": match, **fields}


def named(name):
    customer = Customer()
    customer.DisplayName = name
    return customer


def count(qb, entity="Customer"):
    return qb.query(f"select count(*) from {entity}")["QueryResponse"]["totalCount"]


def test_injected_5xx_answers_write_nothing(qb, faults):
    set_plan(
        faults,
        rule(faults, match={"operation": "create"}, sequence=["503", "502", "500"]),
    )
    with pytest.raises(QuickbooksException) as raised:
        named("Unlucky").save(qb=qb)
    assert raised.value.error_code == 10000  # an HTML gateway page is no JSON
    assert "503 Service Unavailable" in raised.value.message
    with pytest.raises(QuickbooksException):
        named("Unlucky").save(qb=qb)
    with pytest.raises(SevereException) as raised:
        named("Unlucky").save(qb=qb)  # 500 comes with a QuickBooks Fault body
    assert raised.value.error_code == 10000
    assert count(qb) == 0
    assert named("Lucky").save(qb=qb).Id == "1"  # the sequence is spent
    log = faults.admin("GET", "/requests").json()
    assert [(e["status"], e["injected"]) for e in log if e["injected"]] == [
        (503, "503"),
        (502, "502"),
        (500, "500"),
    ]


def test_slow_answer_times_the_client_out_but_the_write_happens(qb, faults):
    set_plan(
        faults, rule(faults, match={"entity": "Customer"}, fault="slow", delay_seconds=1.0, times=1)
    )
    with pytest.raises(requests.exceptions.Timeout):
        api_post(qb, faults.handle, "customer", {"DisplayName": "Slowpoke"}, timeout=0.3)
    stored = []
    for _ in range(40):
        stored = faults.admin("GET", "/objects/Customer").json()
        if stored:
            break
        time.sleep(0.05)
    assert [c["DisplayName"] for c in stored] == ["Slowpoke"]


def test_connection_reset_writes_nothing(qb, faults):
    set_plan(
        faults, rule(faults, match={"method": "POST", "path": "^/customer"}, fault="reset", times=1)
    )
    with pytest.raises(requests.exceptions.ConnectionError):
        named("Reset Rita").save(qb=qb)
    assert count(qb) == 0
    entry = faults.admin("GET", "/requests").json()[-2]
    assert (entry["status"], entry["injected"], entry["operation"]) == (0, "reset", "create")


def test_commit_then_drop_writes_and_a_retry_with_the_same_requestid_replays(qb, faults):
    set_plan(
        faults,
        rule(
            faults,
            match={"entity": "Customer", "operation": "create"},
            fault="commit_then_drop",
            times=1,
        ),
    )
    with pytest.raises(requests.exceptions.ConnectionError):
        named("Dropped Dora").save(qb=qb, request_id="drop-1")
    assert count(qb) == 1  # the write happened although the client saw a failure
    again = named("Dropped Dora").save(qb=qb, request_id="drop-1")
    assert again.Id == "1" and count(qb) == 1
    with pytest.raises(QuickbooksException) as raised:
        named("Dropped Dora").save(qb=qb)  # a retry without requestid is a duplicate
    assert raised.value.error_code == 6240
    log = faults.admin("GET", "/requests").json()
    writes = [
        (e["status"], e["injected"], e["replayed"]) for e in log if e["request_id"] == "drop-1"
    ]
    assert writes == [(200, "commit_then_drop", False), (200, None, True)]


def test_seeded_probability_repeats_the_same_failures(qb, faults):
    def run() -> list[int]:
        set_plan(
            faults, rule(faults, match={"operation": "read"}, fault="503", probability=0.5), seed=42
        )
        return [api_get(qb, faults.handle, "item/1").status_code for _ in range(16)]

    first = run()
    assert set(first) == {200, 503}
    assert run() == first
    state = admin(faults.handle, "GET", "/faults").json()
    assert state["seed"] == 42 and state["rules"][0]["fired"] == first.count(503)


def test_token_endpoint_can_fail_too(faults):
    set_plan(faults, {"match": {"operation": "token"}, "sequence": ["503"]})
    with pytest.raises(AuthClientError) as raised:
        faults.client()
    assert raised.value.status_code == 503
    assert faults.client().auth_client.access_token


def test_bad_plans_are_refused(company):
    for plan in (
        {"rules": [{"fault": "explode"}]},
        {"rules": [{"match": {"colour": "red"}, "fault": "500"}]},
        {"rules": [{"match": {}}]},
        {"rules": [{"fault": "500", "probability": 2}]},
    ):
        assert admin_raw(company.handle, "PUT", "/faults", json=plan).status_code == 400


def test_plan_given_at_start_and_rules_added_at_run_time(tmp_path):
    plan = {"seed": 1, "rules": [{"match": {"path": "^/query"}, "sequence": ["ok", "500"]}]}
    with running_sandbox(tmp_path / "plan.sqlite3", fault_plan=plan) as handle:
        client = connect(handle)
        assert count(client, "Item") == 6
        with pytest.raises(SevereException):
            count(client, "Item")
        assert count(client, "Item") == 6
        admin(
            handle, "POST", "/faults/rules", json={"match": {"operation": "read"}, "fault": "502"}
        )
        assert api_get(client, handle, "item/1").status_code == 502
        assert len(admin(handle, "GET", "/faults").json()["rules"]) == 2
