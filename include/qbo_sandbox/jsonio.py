"""JSON in and out of the emulator with Decimal numbers, never float."""

import json
from decimal import Decimal
from typing import Any


def loads(text: str | bytes) -> Any:
    """Parse JSON, reading every non-integer number as a Decimal."""
    return json.loads(text, parse_float=Decimal)


def dumps(value: Any) -> str:
    """Serialise to JSON, writing Decimals as numbers with their exact digits."""
    return "".join(_encode(value))


def _encode(value: Any) -> list[str]:
    """Encode one value into JSON text fragments."""
    if value is None:
        return ["null"]
    if value is True:
        return ["true"]
    if value is False:
        return ["false"]
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, Decimal):
        return [decimal_text(value)]
    if isinstance(value, float):
        return [decimal_text(Decimal(repr(value)))]
    if isinstance(value, str):
        return [json.dumps(value, ensure_ascii=False)]
    if isinstance(value, dict):
        parts = ["{"]
        for index, (key, item) in enumerate(value.items()):
            if index:
                parts.append(",")
            parts.append(json.dumps(str(key), ensure_ascii=False))
            parts.append(":")
            parts.extend(_encode(item))
        parts.append("}")
        return parts
    if isinstance(value, list | tuple):
        parts = ["["]
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            parts.extend(_encode(item))
        parts.append("]")
        return parts
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def decimal_text(value: Decimal) -> str:
    """Write a Decimal as a plain JSON number (no exponent)."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a JSON number")
    return format(value, "f")
