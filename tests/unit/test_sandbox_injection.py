"""Fault plans: reading them, matching requests, sequences and seeded probabilities."""

import pytest

from qbo_sandbox.injection import FaultPlan, PlanError, describe

CREATE = {
    "method": "POST",
    "entity": "Invoice",
    "operation": "create",
    "realm": "1",
    "path": "/invoice",
}
READ = {
    "method": "GET",
    "entity": "Invoice",
    "operation": "read",
    "realm": "1",
    "path": "/invoice/5",
}


def test_sequence_steps_through_matching_requests_only():
    plan = FaultPlan(
        {"rules": [{"match": {"operation": "create"}, "sequence": ["ok", "503", "reset"]}]}
    )
    assert plan.pick(READ) is None
    assert [plan.pick(CREATE) for _ in range(4)] == [None, ("503", 5.0), ("reset", 5.0), None]


def test_repeat_and_times():
    plan = FaultPlan({"rules": [{"match": {}, "sequence": ["500"], "repeat": True, "times": 2}]})
    assert [plan.pick(CREATE) for _ in range(3)] == [("500", 5.0), ("500", 5.0), None]


def test_same_seed_same_faults():
    rules = [{"match": {"entity": "invoice"}, "fault": "http_502", "probability": 0.3}]
    first = FaultPlan({"seed": 9, "rules": rules})
    second = FaultPlan({"seed": 9, "rules": rules})
    picks = [first.pick(CREATE) for _ in range(50)]
    assert picks == [second.pick(CREATE) for _ in range(50)]
    assert 5 < picks.count(("502", 5.0)) < 30


def test_path_is_a_regular_expression():
    plan = FaultPlan(
        {"rules": [{"match": {"path": r"^/invoice/\d+$"}, "fault": "slow", "delay_seconds": 2}]}
    )
    assert plan.pick(READ) == ("slow", 2.0) and plan.pick(CREATE) is None


@pytest.mark.parametrize(
    "raw",
    [
        {"rules": [{"fault": "explode"}]},
        {"rules": [{"match": {"colour": "red"}, "fault": "500"}]},
        {"rules": [{"match": {}}]},
        {"rules": [{"fault": "500", "probability": 1.5}]},
        {"rules": [{"fault": "500", "match": {"path": "("}}]},
        {"rules": ["500"]},
    ],
)
def test_bad_plans_raise(raw):
    with pytest.raises(PlanError):
        FaultPlan(raw)


def test_requests_are_described_for_matching():
    body = b'{"Id": "5", "SyncToken": "0", "sparse": true}'
    described = describe("/v3/company/77/invoice", "POST", b"minorversion=75", body)
    assert described == {
        "method": "POST",
        "path": "/invoice",
        "operation": "update",
        "entity": "Invoice",
        "realm": "77",
    }
    assert (
        describe("/v3/company/77/invoice", "POST", b"operation=delete", b"{}")["operation"]
        == "delete"
    )
    assert describe("/oauth2/v1/tokens/bearer", "POST", b"", b"")["operation"] == "token"
    assert describe("/_sandbox/health", "GET", b"", b"") is None
