"""Stay under a QuickBooks company's limits instead of hitting them.

QuickBooks allows, per company, 500 requests and 40 batch requests a minute and 10
requests in flight (QBO_FACTS.md, "Limits and throttling"). One `CompanyPacer` per
company makes callers wait for room in a sliding window; `pace_client` puts it in
front of every HTTP request a python-quickbooks client sends, and waits out a 429
(whose body is XML) rather than failing the run. Reads that answer 5xx are retried
with backoff; writes are not, because a 5xx may come after the write happened — the
loader decides, through the ledger, whether to look the object up or send again.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """One company's limits; the window is a minute unless a test shrinks it."""

    requests_per_window: int = 500
    batches_per_window: int = 40
    batch_items: int = 30  # items per batch request (Intuit's page once said 10)
    concurrency: int = 10
    window_seconds: float = 60.0
    throttled_wait_seconds: float = 60.0  # Intuit advises a minute after a 429
    max_throttled_waits: int = 10
    read_retries: int = 4
    read_backoff_seconds: float = 0.5
    # QuickBooks gives up on a request after 120 s; past that, the answer is not coming
    request_timeout_seconds: float = 130.0
    # a write sent without an answer (a timeout, a killed process) may still be running in
    # QuickBooks this long: it is looked up only after, never sent again before
    in_doubt_seconds: float = 120.0


class CompanyPacer:
    """A sliding-window pacer: `slot()` returns when one more request fits every limit."""

    def __init__(
        self,
        limits: Limits,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # when each request in the window was answered (sent, while it is in flight)
        self._requests: list[float] = []
        self._batches: list[float] = []
        self._in_flight = 0
        self.waited_seconds = 0.0
        self.throttled = 0

    def _room_in(self, now: float, batch: bool) -> float:
        """0 when a request fits now, else how long until the oldest one leaves the window."""
        horizon = now - self.limits.window_seconds
        for stamps in (self._requests, self._batches):
            del stamps[: bisect.bisect_right(stamps, horizon)]
        waits = []
        if len(self._requests) >= self.limits.requests_per_window:
            waits.append(self._requests[0] - horizon)
        if batch and len(self._batches) >= self.limits.batches_per_window:
            waits.append(self._batches[0] - horizon)
        if self._in_flight >= self.limits.concurrency:
            waits.append(0.01)
        return max(waits, default=0.0)

    def wait_for(self, batch: bool) -> float:
        """Seconds until one more request (a batch request, when `batch`) fits; 0 if now."""
        with self._lock:
            return self._room_in(self._clock(), batch)

    def writes_per_window(self) -> int:
        """The most writes the limits allow in one window: every batch request full, the
        rest of the request budget spent on single writes."""
        limits = self.limits
        batches = min(limits.batches_per_window, limits.requests_per_window)
        return batches * limits.batch_items + limits.requests_per_window - batches

    @contextmanager
    def slot(self, batch: bool = False) -> Iterator[None]:
        """Hold one request's place in the window (and one concurrency slot) while it runs."""
        while True:
            with self._lock:
                sent = self._clock()
                wait = self._room_in(sent, batch)
                if wait <= 0:
                    bisect.insort(self._requests, sent)
                    if batch:
                        bisect.insort(self._batches, sent)
                    self._in_flight += 1
                    break
            self.waited_seconds += wait
            self._sleep(wait)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                # QuickBooks counts a request when it arrives, which is after we sent it:
                # counted from its answer, it stays in our window at least as long as in
                # theirs, so a slot we free is one they have freed too
                answered = self._clock()
                for stamps, counted in ((self._requests, True), (self._batches, batch)):
                    if counted:
                        at = bisect.bisect_left(stamps, sent)
                        if at < len(stamps) and stamps[at] == sent:
                            del stamps[at]
                        bisect.insort(stamps, answered)

    def backoff_after_throttle(self, retry_after: float | None) -> None:
        """A 429 came back anyway (another client shares the company): wait it out."""
        wait = retry_after if retry_after is not None else self.limits.throttled_wait_seconds
        self.throttled += 1
        self.waited_seconds += wait
        log.warning("QuickBooks throttled the company; waiting %.1fs before going on", wait)
        self._sleep(wait)


_pacers: dict[str, CompanyPacer] = {}
_pacers_lock = threading.Lock()


def pacer_for(realm_id: str, limits: Limits) -> CompanyPacer:
    """The process-wide pacer of one company (created on first use)."""
    with _pacers_lock:
        pacer = _pacers.get(realm_id)
        if pacer is None or pacer.limits != limits:
            pacer = _pacers[realm_id] = CompanyPacer(limits)
        return pacer


def _is_read(method: str, url: str) -> bool:
    """GETs, and queries (which python-quickbooks POSTs), change nothing."""
    return method.upper() == "GET" or "/query" in url


def _retry_after(response: Any) -> float | None:
    """The Retry-After header in seconds, when QuickBooks sends one."""
    value = response.headers.get("Retry-After") if hasattr(response, "headers") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _sender(client: Any, timeout: float) -> Callable[..., Any]:
    """python-quickbooks' `process_request`, with a timeout: it sends none, so a request
    QuickBooks never answers would hold the task forever."""

    def send(request_type: str, url: str, headers: Any, params: Any, data: Any) -> Any:
        headers = {**(headers or {}), "Authorization": "Bearer " + client.session.access_token}
        return client.session.request(
            request_type, url, headers=headers, params=params, data=data, timeout=timeout
        )

    return send


def pace_client(client: Any, pacer: CompanyPacer) -> Any:
    """Route every request of a python-quickbooks client through the company's pacer."""
    limits = pacer.limits
    send = _sender(client, limits.request_timeout_seconds)

    def paced(
        request_type: str, url: str, headers: Any = "", params: Any = "", data: Any = ""
    ) -> Any:
        batch = url.rstrip("/").endswith("/batch")
        throttled = failures = 0
        while True:
            with pacer.slot(batch):
                response = send(request_type, url, headers, params, data)
            status = response.status_code
            if status == 429 and throttled < limits.max_throttled_waits:
                throttled += 1
                pacer.backoff_after_throttle(_retry_after(response))
                continue
            if status >= 500 and _is_read(request_type, url) and failures < limits.read_retries:
                delay = limits.read_backoff_seconds * 2**failures
                failures += 1
                log.warning("QuickBooks answered %s to a read; retry in %.1fs", status, delay)
                pacer._sleep(delay)
                continue
            return response

    client.process_request = paced
    client.pacer = pacer  # the loader asks it whether a batch request fits now
    return client
