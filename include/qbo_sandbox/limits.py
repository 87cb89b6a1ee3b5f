"""QuickBooks' throttles per company: requests per window (a minute in QuickBooks), batch
requests per window, report requests per window and requests in flight. Each is off (None)
unless configured, and each can be changed while the emulator runs (the limiter reads the
config on every call). Real time, not the sandbox clock: throttling is about how fast a
client really calls.
"""

import threading
import time
from collections import deque
from typing import Any

from qbo_sandbox.config import LIMIT_FIELDS, SandboxConfig


class Limiter:
    """Admits or refuses a request for a company, QBO-style."""

    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._recent: dict[tuple[str, str], deque[float]] = {}
        self._in_flight: dict[str, int] = {}

    def try_enter(self, realm: str, batch: bool = False, report: bool = False) -> bool:
        """Admit a request (and count it) or refuse it because a limit is reached."""
        config = self._config
        with self._lock:
            now = time.monotonic()
            window = float(config.throttle_window_seconds)
            in_flight = self._in_flight.get(realm, 0)
            if (
                config.max_concurrent_requests is not None
                and in_flight >= config.max_concurrent_requests
            ):
                return False
            kinds = [("all", config.requests_per_minute)]
            if batch:
                kinds.append(("batch", config.batch_requests_per_minute))
            if report:
                kinds.append(("report", config.report_requests_per_minute))
            counted = []
            for kind, limit in kinds:
                times = _pruned(self._recent.setdefault((realm, kind), deque()), now, window)
                if limit is not None and len(times) >= limit:
                    return False
                counted.append(times)
            for times in counted:
                times.append(now)
            self._in_flight[realm] = in_flight + 1
            return True

    def leave(self, realm: str) -> None:
        """A request admitted by `try_enter` has finished."""
        with self._lock:
            self._in_flight[realm] = max(0, self._in_flight.get(realm, 0) - 1)

    def reset(self, realm: str | None = None) -> None:
        """Forget the counted requests (of one company, or all)."""
        with self._lock:
            for key in list(self._recent):
                if realm is None or key[0] == realm:
                    del self._recent[key]

    def settings(self) -> dict[str, Any]:
        """The limits in force."""
        return {name: getattr(self._config, name) for name in LIMIT_FIELDS}

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change limits at run time (None turns one off); unknown names raise KeyError."""
        for name, value in changes.items():
            if name not in LIMIT_FIELDS:
                raise KeyError(name)
            if name == "throttle_window_seconds":
                value = float(value)
                if value <= 0:
                    raise ValueError("throttle_window_seconds must be positive")
            elif value is not None:
                value = int(value)
                if value < 0:
                    raise ValueError(f"{name} cannot be negative")
            setattr(self._config, name, value)
        return self.settings()


def _pruned(times: deque[float], now: float, window: float) -> deque[float]:
    """Drop entries older than the window."""
    while times and times[0] <= now - window:
        times.popleft()
    return times
