"""Evaluate parsed queries against rendered QBO objects: filter, order, page.

Comparison rules (QBO documents none of them precisely; these are the emulator's):
- a reference field (`CustomerRef`) compares by its `value`;
- strings compare case-insensitively, LIKE too (`%` is the only wildcard);
- two date/time strings compare as instants (a zoneless one is UTC);
- two numeric strings (Ids, DocNumbers) compare as numbers;
- a missing field matches nothing.
"""

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from qbo_sandbox.clock import parse_time
from qbo_sandbox.query import Condition, Literal, OrderKey

DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}(T[0-9:.]+([+-]\d{2}:\d{2}|Z)?)?$")


def field_value(obj: dict[str, Any], path: str) -> Any:
    """Value at a dotted path, with reference objects read as their `value`."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        if part in current:
            current = current[part]
        else:
            lowered = {key.lower(): key for key in current}
            key = lowered.get(part.lower())
            if key is None:
                return None
            current = current[key]
    if isinstance(current, dict) and "value" in current:
        return current["value"]
    return current


def mentions_field(conditions: tuple[Condition, ...], name: str) -> bool:
    """Whether any condition filters on this top-level field."""
    return any(c.field.lower() == name.lower() for c in conditions)


def matches(obj: dict[str, Any], conditions: tuple[Condition, ...]) -> bool:
    """Whether an object satisfies every condition."""
    return all(_matches_one(obj, condition) for condition in conditions)


def _matches_one(obj: dict[str, Any], condition: Condition) -> bool:
    """Whether an object satisfies one condition."""
    value = field_value(obj, condition.field)
    if value is None or isinstance(value, dict | list):
        return False
    if condition.op == "IN":
        return any(_compare(value, literal) == 0 for literal in condition.value)
    if condition.op == "LIKE":
        return _like(str(_plain(value)), str(condition.value))
    order = _compare(value, condition.value)
    if order is None:
        return False
    return {
        "=": order == 0,
        "<": order < 0,
        ">": order > 0,
        "<=": order <= 0,
        ">=": order >= 0,
    }[condition.op]


def _plain(value: Any) -> Any:
    """Booleans as the words QBO uses."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _like(text: str, pattern: str) -> bool:
    """SQL LIKE with `%` as the only wildcard, case-insensitive."""
    regex = ".*".join(re.escape(part) for part in pattern.split("%"))
    return re.fullmatch(regex, text, flags=re.IGNORECASE | re.DOTALL) is not None


def _as_decimal(value: Any) -> Decimal | None:
    """A number for numeric comparison, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _as_time(value: Any) -> datetime | None:
    """An instant for date/time comparison, or None."""
    if isinstance(value, str) and DATE_LIKE.match(value.strip()):
        try:
            return parse_time(value)
        except ValueError:
            return None
    return None


def _sign(left: Any, right: Any) -> int:
    """-1, 0 or 1."""
    return (left > right) - (left < right)


def _compare(value: Any, literal: Literal) -> int | None:
    """Order of a field value against a literal, or None when they cannot be compared."""
    if isinstance(literal, bool) or isinstance(value, bool):
        left = _plain(value)
        right = _plain(literal)
        if isinstance(left, str) and isinstance(right, str):
            return _sign(left.lower(), right.lower())
        return None
    left_time, right_time = _as_time(value), _as_time(literal)
    if left_time is not None and right_time is not None:
        return _sign(left_time, right_time)
    left_number, right_number = _as_decimal(value), _as_decimal(literal)
    if left_number is not None and right_number is not None:
        return _sign(left_number, right_number)
    return _sign(str(value).casefold(), str(literal).casefold())


def sort_objects(objects: list[dict[str, Any]], order_by: tuple[OrderKey, ...]) -> list[dict]:
    """Sort by the ORDERBY keys (stable, so ties keep Id order)."""
    result = list(objects)
    for key in reversed(order_by):
        result.sort(
            key=lambda obj, k=key: _sort_key(field_value(obj, k.field)), reverse=key.descending
        )
    return result


def _sort_key(value: Any) -> tuple:
    """A key that orders missing < numbers < times < text, each within its kind."""
    if value is None or isinstance(value, dict | list):
        return (0, 0)
    if isinstance(value, bool):
        return (1, Decimal(int(value)))
    number = _as_decimal(value)
    if number is not None:
        return (1, number)
    moment = _as_time(value)
    if moment is not None:
        return (2, moment.timestamp())
    return (3, str(value).casefold())
