"""The dirty cases are picked by position, never overlap, and say how many a seed wrote."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from fieldbooks.ops import dirty


@pytest.mark.parametrize("case", dirty.CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("size", [0, 1, 99, 1000, 2_345, 60_000])
def test_expected_count_is_the_number_of_records_the_rule_picks(case, size):
    picked = sum(1 for index in range(size) if case.applies(index))
    assert dirty.expected_count(case.name, size) == picked
    # every full period holds exactly the stated share
    assert abs(picked - case.rate * size) <= len(case.residues)


def test_no_record_gets_two_cases_of_one_population():
    for population in {c.population for c in dirty.CASES}:
        for index in range(10_000):
            hits = [c.name for c in dirty.CASES if c.population == population and c.applies(index)]
            assert len(hits) <= 1, (population, index, hits)


def test_the_records_copied_by_duplicate_cases_are_clean():
    for name, population in (
        ("duplicate_name", "customers"),
        ("duplicate_email", "customer_emails"),
    ):
        case = dirty.CASE_BY_NAME[name]
        for index in range(2_000):
            if case.applies(index):
                assert dirty.case_for(population, index - 1) is None


def test_proportions_are_the_ones_documented():
    rates = {c.name: c.rate for c in dirty.CASES}
    assert rates["apostrophe"] == Fraction(4, 100)
    assert rates["long_name"] == Fraction(2, 1000)
    assert rates["half_cent"] == Fraction(1, 100)


def test_dirty_names_break_what_they_promise():
    person = dirty.Names("Alice Hughes", "Alice", "Hughes", None)
    company = dirty.Names("Oakridge Dental Group", None, None, "Oakridge Dental Group")
    assert "'" in dirty.dirty_names("apostrophe", person, 5).display_name
    assert "&" in dirty.dirty_names("ampersand", company, 10).display_name
    assert "\\" in dirty.dirty_names("backslash", person, 50).display_name
    assert not dirty.dirty_names("accents", person, 15).display_name.isascii()
    assert len(dirty.dirty_names("long_name", company, 95).display_name) > 500
    assert dirty.dirty_email("empty_email", "a@example.com", "b@example.com", 47) == ""
    assert (
        dirty.dirty_email("duplicate_email", "a@example.com", "b@example.com", 1) == "b@example.com"
    )
    assert len(dirty.long_description("Scope")) > 4000


def test_half_cent_is_exactly_half_a_cent():
    assert dirty.is_half_cent(Decimal("0.5"), Decimal("24.99"))
    assert not dirty.is_half_cent(Decimal("0.25"), Decimal("125"))
    assert not dirty.is_half_cent(Decimal("3"), Decimal("8.40"))
