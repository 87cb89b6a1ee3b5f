"""The pacer keeps a company under its limits by waiting, never by failing."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from fieldbooks.qbo.pacing import CompanyPacer, Limits, pace_client


class FakeClock:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _pacer(**limits) -> tuple[CompanyPacer, FakeClock]:
    clock = FakeClock()
    return CompanyPacer(Limits(**limits), clock=clock, sleep=clock.sleep), clock


@given(st.integers(1, 40), st.integers(1, 200))
@settings(max_examples=50)
def test_no_window_ever_holds_more_requests_than_the_limit(limit, calls):
    pacer, clock = _pacer(requests_per_window=limit, window_seconds=60.0)
    stamps = []
    for _ in range(calls):
        with pacer.slot():
            stamps.append(clock.now)
    for i, start in enumerate(stamps):
        in_window = [s for s in stamps[i:] if s < start + 60.0]
        assert len(in_window) <= limit


def test_the_pacer_waits_only_as_long_as_it_must():
    pacer, clock = _pacer(requests_per_window=500, window_seconds=60.0)
    for _ in range(1000):
        with pacer.slot():
            pass
    # 1,000 requests at 500 a minute: the second 500 wait for the first minute to pass.
    assert clock.now == 60.0
    assert pacer.waited_seconds == 60.0


def test_batch_requests_have_their_own_smaller_limit():
    pacer, clock = _pacer(requests_per_window=500, batches_per_window=40, window_seconds=60.0)
    for _ in range(80):
        with pacer.slot(batch=True):
            pass
    assert clock.now == 60.0


@dataclass
class FakeResponse:
    status_code: int
    headers: dict = field(default_factory=dict)


class FakeSession:
    """What python-quickbooks sends through: an OAuth session with its bearer token."""

    access_token = "token"

    def __init__(self, statuses: list[int], headers: dict) -> None:
        self.statuses = statuses
        self.headers = headers
        self.calls: list[tuple[str, str]] = []
        self.timeouts: list[float] = []
        self.authorizations: list[str] = []

    def request(self, method, url, headers, params, data, timeout):
        self.calls.append((method, url))
        self.timeouts.append(timeout)
        self.authorizations.append(headers["Authorization"])
        return FakeResponse(self.statuses.pop(0), self.headers)


class FakeClient:
    def __init__(self, statuses: list[int], headers: dict | None = None) -> None:
        self.session = FakeSession(statuses, headers or {})

    def process_request(self, request_type, url, headers="", params="", data=""):
        raise AssertionError("the pacer sends through the session, with a timeout")

    @property
    def calls(self) -> list[tuple[str, str]]:
        return self.session.calls


def test_a_429_is_waited_out_and_the_request_sent_again():
    pacer, clock = _pacer(throttled_wait_seconds=60.0)
    client = pace_client(FakeClient([429, 429, 200]), pacer)
    assert client.process_request("POST", "https://q/v3/company/1/invoice").status_code == 200
    assert clock.now == 120.0
    assert pacer.throttled == 2


def test_reads_are_retried_on_5xx_but_writes_are_not():
    pacer, _ = _pacer(read_backoff_seconds=0.1)
    reads = pace_client(FakeClient([503, 502, 200]), pacer)
    assert reads.process_request("GET", "https://q/v3/company/1/cdc").status_code == 200
    queries = pace_client(FakeClient([500, 200]), pacer)
    assert queries.process_request("POST", "https://q/v3/company/1/query").status_code == 200
    writes = pace_client(FakeClient([500, 200]), pacer)
    assert writes.process_request("POST", "https://q/v3/company/1/invoice").status_code == 500
    assert len(writes.calls) == 1


def test_retry_after_is_honoured_when_quickbooks_sends_it():
    pacer, clock = _pacer(throttled_wait_seconds=60.0)
    client = pace_client(FakeClient([429, 200], {"Retry-After": "7"}), pacer)
    client.process_request("GET", "https://q/v3/company/1/invoice/3")
    assert clock.now == 7.0


def test_a_company_that_stays_throttled_fails_the_request_in_the_end():
    pacer, _ = _pacer(max_throttled_waits=3, throttled_wait_seconds=1.0)
    client = pace_client(FakeClient([429] * 5), pacer)
    assert client.process_request("GET", "https://q/v3/company/1/cdc").status_code == 429
    assert len(client.calls) == 4


def test_every_request_carries_a_timeout_and_the_bearer_token():
    pacer, _ = _pacer(request_timeout_seconds=2.5)
    client = pace_client(FakeClient([200]), pacer)
    client.process_request("POST", "https://q/v3/company/1/batch", headers={})
    assert client.session.timeouts == [2.5]
    assert client.session.authorizations == ["Bearer token"]


def test_a_request_is_counted_from_its_answer_as_quickbooks_counts_it_from_arrival():
    # One request a 10 s window; the first takes 5 s to come back. QuickBooks counted it
    # when it arrived (after it was sent), so the next may go at 15 s, not at 10 s.
    pacer, clock = _pacer(requests_per_window=1, window_seconds=10.0)
    with pacer.slot():
        clock.sleep(5.0)
    with pacer.slot():
        assert clock.now == 15.0


def test_the_most_writes_a_window_allows_spends_both_budgets():
    pacer, _ = _pacer(requests_per_window=500, batches_per_window=40, batch_items=30)
    assert pacer.writes_per_window() == 40 * 30 + 460
