"""The emulator's adjustable clock and QBO's time formats.

Every MetaData time, token expiry, request-id lifetime and CDC window is read from this
clock, so a test can jump 35 days ahead; the offset is persisted and survives restarts.
Object times are whole seconds, as QBO shows them.
"""

import time
from datetime import UTC, date, datetime, timedelta, timezone

from qbo_sandbox.store import Store

OFFSET_KEY = "clock_offset_seconds"


class SandboxClock:
    """Wall-clock time plus a persisted offset."""

    def __init__(self, store: Store) -> None:
        self._store = store
        stored = store.get_setting(OFFSET_KEY)
        self._offset = float(stored) if stored is not None else 0.0

    @property
    def offset_seconds(self) -> float:
        """How far the sandbox clock runs ahead of the wall clock."""
        return self._offset

    def now_precise(self) -> float:
        """Sandbox time as epoch seconds with fractions."""
        return time.time() + self._offset

    def now(self) -> int:
        """Sandbox time as whole epoch seconds."""
        return int(self.now_precise())

    def set_offset(self, seconds: float) -> None:
        """Put the clock `seconds` ahead of the wall clock (negative goes back)."""
        self._offset = float(seconds)
        self._store.set_setting(OFFSET_KEY, repr(self._offset))

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds`."""
        self.set_offset(self._offset + seconds)


def company_zone(offset_minutes: int) -> timezone:
    """The company's fixed UTC offset."""
    return timezone(timedelta(minutes=offset_minutes))


def format_time(epoch: int, offset_minutes: int) -> str:
    """QBO's MetaData form: `2026-11-22T10:00:00-08:00`."""
    moment = datetime.fromtimestamp(int(epoch), company_zone(offset_minutes))
    return moment.isoformat(timespec="seconds")


def format_response_time(epoch: float, offset_minutes: int) -> str:
    """The `time` stamp of a response, with milliseconds as QBO sends it."""
    moment = datetime.fromtimestamp(epoch, company_zone(offset_minutes))
    return moment.isoformat(timespec="milliseconds")


def local_date(epoch: int, offset_minutes: int) -> str:
    """The company's calendar date at `epoch` (default TxnDate)."""
    return datetime.fromtimestamp(int(epoch), company_zone(offset_minutes)).date().isoformat()


def parse_time(text: str) -> datetime:
    """Read an ISO date or time; one without a zone is taken as UTC (the server's zone)."""
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def to_epoch(moment: datetime) -> float:
    """Epoch seconds of an aware datetime."""
    return moment.timestamp()
