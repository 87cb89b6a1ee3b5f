"""Throttling per company: requests, batches and reports per window, requests in flight;
HTTP 429 with QuickBooks' XML body. The window is shrunk from a minute to keep tests fast."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.item import Item

from qbo_sandbox.testing import running_sandbox

from .helpers import admin, admin_raw, api_get, api_post, connect

WINDOW = 0.6


def test_requests_over_the_limit_answer_429_with_xml_until_the_window_passes(tmp_path):
    with running_sandbox(
        tmp_path / "rpm.sqlite3", requests_per_minute=3, throttle_window_seconds=WINDOW
    ) as handle:
        client = connect(handle)
        time.sleep(WINDOW)  # the token refresh is not an API call, but start clean anyway
        for _ in range(3):
            Item.all(qb=client)
        refused = api_get(client, handle, "item/1")
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/xml")
        assert refused.text.startswith("<?xml")
        assert '<Error code="3001">' in refused.text and "ThrottleExceeded" in refused.text
        with pytest.raises(QuickbooksException) as raised:
            Item.all(qb=client)
        assert raised.value.error_code == 10000  # python-quickbooks cannot read the XML
        log = admin(handle, "GET", f"/realms/{handle.realm_id}/requests").json()
        assert [(e["status"], e["fault_code"]) for e in log[-2:]] == [(429, "3001")] * 2
        time.sleep(WINDOW)
        assert len(Item.all(qb=client)) == 6


def test_batch_and_report_limits_count_separately(tmp_path):
    with running_sandbox(
        tmp_path / "kinds.sqlite3",
        batch_requests_per_minute=1,
        report_requests_per_minute=2,
        throttle_window_seconds=30,
    ) as handle:
        client = connect(handle)
        batch = {"BatchItemRequest": [{"bId": "1", "Query": "select * from Item"}]}
        assert api_post(client, handle, "batch", batch).status_code == 200
        assert api_post(client, handle, "batch", batch).status_code == 429
        for _ in range(2):
            client.get_report("TrialBalance")
        assert api_get(client, handle, "reports/AgedReceivables").status_code == 429
        assert api_get(client, handle, "item/1").status_code == 200  # plain calls still go


def test_requests_in_flight_over_the_limit_are_refused(tmp_path):
    plan = {"rules": [{"match": {"operation": "read"}, "fault": "slow", "delay_seconds": 0.5}]}
    with running_sandbox(
        tmp_path / "concurrent.sqlite3", max_concurrent_requests=2, fault_plan=plan
    ) as handle:
        client = connect(handle)
        with ThreadPoolExecutor(max_workers=3) as pool:
            statuses = sorted(
                pool.map(lambda _: api_get(client, handle, "item/1").status_code, range(3))
            )
        assert statuses == [200, 200, 429]


def test_limits_change_at_run_time(tmp_path):
    with running_sandbox(tmp_path / "runtime.sqlite3") as handle:
        client = connect(handle)
        assert admin(handle, "GET", "/limits").json()["requests_per_minute"] is None
        admin(
            handle, "PUT", "/limits", json={"requests_per_minute": 1, "throttle_window_seconds": 30}
        )
        assert api_get(client, handle, "item/1").status_code == 200
        assert api_get(client, handle, "item/1").status_code == 429
        settings = admin(handle, "PUT", "/limits", json={"requests_per_minute": None}).json()
        assert settings["requests_per_minute"] is None
        assert api_get(client, handle, "item/1").status_code == 200
        assert admin_raw(handle, "PUT", "/limits", json={"no_such_limit": 1}).status_code == 400


def test_qbo_limit_defaults_are_off_but_one_flag_away():
    from qbo_sandbox.config import QBO_LIMITS, SandboxConfig

    config = SandboxConfig()
    assert all(getattr(config, name) is None for name in QBO_LIMITS)
    assert QBO_LIMITS == {
        "requests_per_minute": 500,
        "batch_requests_per_minute": 40,
        "max_concurrent_requests": 10,
        "report_requests_per_minute": 200,
    }
