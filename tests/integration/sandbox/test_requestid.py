"""requestid: a repeat returns the first answer and writes nothing; the request log."""

from pathlib import Path

import pytest
from quickbooks.exceptions import ObjectNotFoundException
from quickbooks.objects.customer import Customer

from qbo_sandbox.testing import running_sandbox

from .helpers import admin, connect


def named(name: str) -> Customer:
    customer = Customer()
    customer.DisplayName = name
    return customer


def test_repeated_requestid_returns_the_first_answer_and_writes_nothing(qb, company):
    saved = named("Retry Rachel").save(qb=qb, request_id="req-0001")
    replayed = named("Retry Rachel").save(qb=qb, request_id="req-0001")
    assert (replayed.Id, replayed.MetaData) == (saved.Id, saved.MetaData)
    customers = company.admin("GET", "/objects/Customer").json()
    assert [c["DisplayName"] for c in customers] == ["Retry Rachel"]
    log = company.admin("GET", "/requests").json()
    creates = [entry for entry in log if entry["request_id"] == "req-0001"]
    assert [(e["operation"], e["entity"], e["status"], e["replayed"]) for e in creates] == [
        ("create", "Customer", 200, False),
        ("create", "Customer", 200, True),
    ]


def test_a_refused_request_is_replayed_too(qb, company):
    first = named("Twice")
    first.save(qb=qb)
    duplicate = named("Twice")
    for _ in range(2):
        with pytest.raises(Exception) as raised:
            duplicate.save(qb=qb, request_id="dup-1")
        assert raised.value.error_code == 6240
    log = company.admin("GET", "/requests").json()
    assert [e["replayed"] for e in log if e["request_id"] == "dup-1"] == [False, True]


def test_requestid_is_forgotten_after_its_lifetime(tmp_path):
    with running_sandbox(Path(tmp_path) / "ttl.sqlite3", request_id_ttl_seconds=60) as short:
        client = connect(short)
        kept = named("Early Bird").save(qb=client, request_id="req-ttl")
        admin(short, "POST", "/clock", json={"advance_seconds": 30})
        assert named("Late Bird").save(qb=client, request_id="req-ttl").Id == kept.Id
        admin(short, "POST", "/clock", json={"advance_seconds": 60})
        assert named("Late Bird").save(qb=client, request_id="req-ttl").Id != kept.Id


def test_request_log_records_method_path_status_and_faults_and_can_be_cleared(qb, company):
    with pytest.raises(ObjectNotFoundException):
        Customer.get("404", qb=qb)
    log = company.admin("GET", "/requests").json()
    assert log[0]["operation"] == "token"
    last = log[-1]
    assert (last["method"], last["operation"], last["status"], last["fault_code"]) == (
        "GET",
        "read",
        400,
        "610",
    )
    assert last["path"].endswith("/customer/404") and last["time"]
    company.admin("DELETE", "/requests")
    assert company.admin("GET", "/requests").json() == []
