"""Money stays exact from parsing to JSON and back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldbooks.money import dumps_exact, line_amount, loads_exact, tax_on, to_money

cents = st.decimals(
    min_value=Decimal("-9999999999999.99"), max_value=Decimal("9999999999999.99"), places=2
)


@given(cents)
def test_any_amount_round_trips_through_json_digit_for_digit(amount):
    text = dumps_exact({"Amount": amount})
    assert loads_exact(text)["Amount"] == amount
    assert str(amount) in text


def test_floats_are_refused_everywhere():
    with pytest.raises(TypeError):
        to_money(0.1)
    with pytest.raises(TypeError):
        dumps_exact({"Amount": 0.1})


def test_rounding_is_half_up_like_quickbooks():
    assert line_amount(Decimal("0.5"), Decimal("0.05")) == Decimal("0.03")
    assert tax_on(Decimal("10.50"), Decimal("0.0825")) == Decimal("0.87")  # 0.86625
    assert to_money("2.345") == Decimal("2.35")


@given(st.text())
def test_strings_survive_the_exact_encoder(text):
    assert loads_exact(dumps_exact({"Name": text}))["Name"] == text


def test_non_finite_amounts_are_refused():
    with pytest.raises(ValueError):
        to_money("NaN")
