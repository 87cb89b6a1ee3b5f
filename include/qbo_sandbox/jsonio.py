"""JSON in and out of the emulator with Decimal numbers, never float.

Writing goes through the C encoder of the standard library: Decimals are first swapped for
marked strings, and the marks (with their quotes) are cut out of the text afterwards, so
`Decimal("12.38")` comes out as the number `12.38` with exactly its digits. (A string
that itself starts with the mark, control character U+0001 then "#", would be garbled.)
"""

import json
from decimal import Decimal
from typing import Any

_MARK = "\x01#"
# How the encoder writes the start and end of a marked string (control character escaped).
_OPEN = '"\\u0001#'
_CLOSE = '\\u0001#"'
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


class Raw:
    """JSON text already encoded, placed as is (a value of the top-level object only)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def loads(text: str | bytes) -> Any:
    """Parse JSON, reading every non-integer number as a Decimal."""
    return json.loads(text, parse_float=Decimal)


def dumps(value: Any) -> str:
    """Serialise to JSON, writing Decimals as numbers with their exact digits."""
    if type(value) is dict and any(type(item) is Raw for item in value.values()):
        parts = [
            _ENCODER.encode(str(key)) + ":" + (item.text if type(item) is Raw else dumps(item))
            for key, item in value.items()
        ]
        return "{" + ",".join(parts) + "}"
    text = _ENCODER.encode(_marked(value))
    if _OPEN not in text:
        return text
    return text.replace(_OPEN, "").replace(_CLOSE, "")


def _marked(value: Any) -> Any:
    """A copy of `value` with every Decimal (and float) replaced by its marked text."""
    kind = type(value)
    if kind is dict:
        return {str(key): _marked(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_marked(item) for item in value]
    if kind is Decimal:
        return _MARK + decimal_text(value) + _MARK
    if kind is float:
        return _MARK + decimal_text(Decimal(repr(value))) + _MARK
    if kind in (str, int, bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(key): _marked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_marked(item) for item in value]
    if isinstance(value, Decimal):
        return _MARK + decimal_text(value) + _MARK
    if isinstance(value, str | int):
        return value
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def decimal_text(value: Decimal) -> str:
    """Write a Decimal as a plain JSON number (no exponent)."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a JSON number")
    return format(value, "f")
