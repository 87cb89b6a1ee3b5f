"""The emulator's JSON writer: Decimals come out as numbers with exactly their digits."""

import json
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from qbo_sandbox import jsonio

amounts = st.decimals(
    allow_nan=False, allow_infinity=False, places=3, min_value=-(10**9), max_value=10**9
)
leaves = st.one_of(st.none(), st.booleans(), st.integers(), amounts, st.text())
documents = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(documents)
def test_any_document_round_trips_exactly(document):
    # including strings that hold the writer's internal mark (U+0001 then "#")
    assert jsonio.loads(jsonio.dumps(document)) == document


@given(amounts)
def test_decimals_keep_their_digits(amount):
    assert jsonio.dumps({"Amount": amount}) == '{"Amount":' + format(amount, "f") + "}"


def test_output_is_compact_utf8_json():
    text = jsonio.dumps({"Name": 'Zoë\'s "Plumbing"', "Qty": 2, "Rate": Decimal("8.250")})
    assert text == '{"Name":"Zoë\'s \\"Plumbing\\"","Qty":2,"Rate":8.250}'
    assert json.loads(text)["Name"] == 'Zoë\'s "Plumbing"'


def test_raw_values_are_placed_as_they_are():
    text = jsonio.dumps({"Invoice": jsonio.Raw('{"Id":"1"}'), "time": "now"})
    assert text == '{"Invoice":{"Id":"1"},"time":"now"}'


def test_a_string_holding_the_mark_is_not_mistaken_for_a_number():
    document = {"\x01#": Decimal("0.000"), "Note": "\x01#12.50\x01#"}
    assert jsonio.loads(jsonio.dumps(document)) == document
    escaped = {"\\u0001#": Decimal("0.000"), "\\u0001#x\\u0001#": "\\u0001#"}
    assert jsonio.loads(jsonio.dumps(escaped)) == escaped
