"""JSON in and out of the emulator with Decimal numbers, never float.

Writing goes through the C encoder of the standard library: Decimals are first swapped for
marked strings, and the marks (with their quotes) are cut out of the text afterwards, so
`Decimal("12.38")` comes out as the number `12.38` with exactly its digits. A document
holding a string whose encoded text could hold a mark (the control character U+0001, or
the letters "u0001" after a backslash), which the fast path could not tell from a mark,
is written by a plain recursive writer instead.
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
    try:
        text = _ENCODER.encode(_marked(value))
    except _MarkInText:
        return _dumps_plain(value)
    if _OPEN not in text:
        return text
    return text.replace(_OPEN, "").replace(_CLOSE, "")


class _MarkInText(Exception):
    """A string of the document holds the mark's control character."""


def _dumps_plain(value: Any) -> str:
    """The slow, always-right writer: one value at a time."""
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                _ENCODER.encode(str(key)) + ":" + _dumps_plain(item) for key, item in value.items()
            )
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(_dumps_plain(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, float):
        return decimal_text(Decimal(repr(value)))
    if type(value) is Raw:
        return value.text
    if isinstance(value, str | int | bool) or value is None:
        return _ENCODER.encode(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _text(value: str) -> str:
    """A string as it is, unless its encoded text could hold a mark: the control
    character itself, or the letters of its escape after a backslash."""
    if _MARK[0] in value or "u0001" in value:
        raise _MarkInText
    return value


def _marked(value: Any) -> Any:
    """A copy of `value` with every Decimal (and float) replaced by its marked text."""
    kind = type(value)
    if kind is dict:
        return {_text(str(key)): _marked(item) for key, item in value.items()}
    if kind is str:
        return _text(value)
    if kind is list or kind is tuple:
        return [_marked(item) for item in value]
    if kind is Decimal:
        return _MARK + decimal_text(value) + _MARK
    if kind is float:
        return _MARK + decimal_text(Decimal(repr(value))) + _MARK
    if kind in (int, bool) or value is None:
        return value
    if isinstance(value, dict):
        return {_text(str(key)): _marked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_marked(item) for item in value]
    if isinstance(value, Decimal):
        return _MARK + decimal_text(value) + _MARK
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, int):
        return value
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def decimal_text(value: Decimal) -> str:
    """Write a Decimal as a plain JSON number (no exponent)."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a JSON number")
    return format(value, "f")
