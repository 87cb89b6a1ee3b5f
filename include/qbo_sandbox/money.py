"""Money arithmetic for the emulator: Decimal in, cents rounded half-up out."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from qbo_sandbox.faults import invalid_property

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_decimal(value: Any, element: str) -> Decimal:
    """Read a JSON number or numeric string as a Decimal; 2010 if it is not one."""
    if isinstance(value, bool) or value is None:
        raise invalid_property(f"{element} must be a number, got {value!r}", element)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise invalid_property(f"{element} must be a number, got {value!r}", element) from None
    else:
        raise invalid_property(f"{element} must be a number, got {value!r}", element)
    if not result.is_finite():
        raise invalid_property(f"{element} must be a finite number", element)
    return result


def cents(value: Decimal) -> Decimal:
    """Round to cents, half-up, as QuickBooks rounds."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_money(value: Any, element: str) -> Decimal:
    """Read an amount and round it to cents."""
    return cents(to_decimal(value, element))
