"""QuickBooks timestamps: parse its ISO times and format the ones it accepts."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_qbo_time(text: str) -> datetime:
    """Parse a QuickBooks time (`2026-11-22T10:00:00-08:00`) to naive UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def format_qbo_time(value: datetime) -> str:
    """Format naive UTC as the zoned ISO time QuickBooks filters accept."""
    return value.replace(tzinfo=UTC).isoformat(timespec="seconds")
