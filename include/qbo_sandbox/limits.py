"""QuickBooks' throttles per company: requests per minute, batch requests per minute, and
requests in flight. Each is off (None) unless configured; real time, not the sandbox clock,
because throttling is about how fast a client really calls.
"""

import threading
import time
from collections import deque

from qbo_sandbox.config import SandboxConfig

WINDOW_SECONDS = 60.0


class Limiter:
    """Admits or refuses a request for a company, QBO-style."""

    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}
        self._recent_batches: dict[str, deque[float]] = {}
        self._in_flight: dict[str, int] = {}

    def try_enter(self, realm: str, batch: bool) -> bool:
        """Admit a request (and count it) or refuse it because a limit is reached."""
        config = self._config
        with self._lock:
            now = time.monotonic()
            in_flight = self._in_flight.get(realm, 0)
            if (
                config.max_concurrent_requests is not None
                and in_flight >= config.max_concurrent_requests
            ):
                return False
            recent = _pruned(self._recent.setdefault(realm, deque()), now)
            if config.requests_per_minute is not None and len(recent) >= config.requests_per_minute:
                return False
            batches = _pruned(self._recent_batches.setdefault(realm, deque()), now)
            if (
                batch
                and config.batch_requests_per_minute is not None
                and len(batches) >= config.batch_requests_per_minute
            ):
                return False
            recent.append(now)
            if batch:
                batches.append(now)
            self._in_flight[realm] = in_flight + 1
            return True

    def leave(self, realm: str) -> None:
        """A request admitted by `try_enter` has finished."""
        with self._lock:
            self._in_flight[realm] = max(0, self._in_flight.get(realm, 0) - 1)


def _pruned(times: deque[float], now: float) -> deque[float]:
    """Drop entries older than the one-minute window."""
    while times and times[0] <= now - WINDOW_SECONDS:
        times.popleft()
    return times
