"""Exact money arithmetic: Decimal to the cent, rounded half up as QuickBooks does."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def to_money(value: object) -> Decimal:
    """Parse an amount (str, int or Decimal; never float) and quantize it to the cent."""
    if isinstance(value, float):
        raise TypeError(f"money must not be a float: {value!r}")
    if isinstance(value, Decimal):
        amount = value
    else:
        amount = Decimal(str(value).strip())
    if not amount.is_finite():
        raise ValueError(f"money must be finite: {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """Quantity times unit price, rounded half up to the cent."""
    return (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def tax_on(taxable_subtotal: Decimal, rate: Decimal) -> Decimal:
    """Sales tax on a taxable subtotal at a fractional rate (0.0825), rounded half up."""
    return (taxable_subtotal * rate).quantize(CENT, rounding=ROUND_HALF_UP)


_DECIMAL_TOKEN = re.compile(r'"\\u0000dec:(-?[0-9.]+)"')


def dumps_exact(obj: Any) -> str:
    """JSON with every Decimal written as a JSON number digit for digit (no float on the way)."""

    def tag(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"\x00dec:{value}"
        if isinstance(value, dict):
            return {k: tag(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [tag(v) for v in value]
        if isinstance(value, float):
            raise TypeError(f"refusing to serialise a float: {value!r}")
        return value

    return _DECIMAL_TOKEN.sub(r"\1", json.dumps(tag(obj), ensure_ascii=False, sort_keys=True))


def loads_exact(text: str) -> Any:
    """Parse JSON with every non-integer number as a Decimal."""
    return json.loads(text, parse_float=Decimal)
