"""The dirty-on-purpose cases of a seed: what they are, which records get them, how many.

A case is chosen by a record's position, not by chance: the i-th generated customer
(0-based, after the notable ones) or the i-th invoice, by its residue modulo the case's
period. Every period of records holds exactly the stated share, so `expected_count`
says how many of each case a seed wrote, and tests count them in the database.
Cases never share a record within one population (checked on import), so each is
counted alone; a customer may still have both a dirty name and a dirty email.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

QBO_DISPLAY_NAME_MAX = 500
QBO_DESCRIPTION_MAX = 4000


@dataclass(frozen=True)
class Case:
    """One dirty case: the records it applies to and what it does to them."""

    name: str
    population: str  # customers, customer_emails or invoices
    period: int
    residues: frozenset[int]
    what: str

    @property
    def rate(self) -> Fraction:
        """The share of the population that gets this case."""
        return Fraction(len(self.residues), self.period)

    def applies(self, index: int) -> bool:
        """Whether the record at this 0-based position gets the case."""
        return index % self.period in self.residues


def _case(name: str, population: str, period: int, residues: set[int], what: str) -> Case:
    """A case from plain values."""
    return Case(name, population, period, frozenset(residues), what)


CASES = (
    _case(
        "apostrophe",
        "customers",
        100,
        {5, 30, 55, 80},
        "an apostrophe: Alice O'Hughes, Oakridge's Dental Group",
    ),
    _case("ampersand", "customers", 100, {10, 35, 60, 85}, "an ampersand: Oakridge & Sons Bakery"),
    _case("accents", "customers", 100, {15, 40, 65, 90}, "accented letters: Alice Ándérsön"),
    # residue 20, the customer copied, is clean in every name case
    _case("duplicate_name", "customers", 100, {21}, "the display name of the customer before it"),
    _case("backslash", "customers", 1000, {50, 250, 450, 650, 850}, "a backslash: Anderson\\Alice"),
    _case("emoji", "customers", 1000, {70, 270, 470, 670, 870}, "an emoji: Harbor Bakery 🥐"),
    _case(
        "vendor_name",
        "customers",
        1000,
        {75, 275, 475, 675, 875},
        "a vendor's exact name (QuickBooks shares one namespace)",
    ),
    _case(
        "long_name",
        "customers",
        1000,
        {95, 595},
        f"a display name over QuickBooks' {QBO_DISPLAY_NAME_MAX} characters",
    ),
    # residue 0, the customer copied, keeps a clean email
    _case("duplicate_email", "customer_emails", 100, {1}, "the email of the customer before it"),
    _case(
        "invalid_email",
        "customer_emails",
        100,
        {45, 46},
        "an email that is not one: 'n/a', 'bob@', 'x at y.com'",
    ),
    _case("empty_email", "customer_emails", 100, {47, 48}, "an empty string for an email"),
    _case("zero_quantity", "invoices", 1000, {100, 600}, "an extra line with quantity 0"),
    _case(
        "negative_quantity",
        "invoices",
        1000,
        {200, 700},
        "an extra line with quantity -1 (a returned part)",
    ),
    _case(
        "half_cent",
        "invoices",
        100,
        {33},
        "an extra line whose quantity times price ends on half a cent",
    ),
    _case(
        "long_description",
        "invoices",
        1000,
        {450},
        f"a line description over QuickBooks' {QBO_DESCRIPTION_MAX} characters",
    ),
)
CASE_BY_NAME = {case.name: case for case in CASES}


def _check_disjoint() -> None:
    """No two cases of one population may pick the same record."""
    for population in {case.population for case in CASES}:
        cases = [case for case in CASES if case.population == population]
        span = 1
        for case in cases:
            span = span * case.period // _gcd(span, case.period)
        for index in range(span):
            hits = [case.name for case in cases if case.applies(index)]
            if len(hits) > 1:
                raise AssertionError(f"dirty cases {hits} overlap at {population}[{index}]")


def _gcd(a: int, b: int) -> int:
    """The greatest common divisor of two periods."""
    while b:
        a, b = b, a % b
    return a


_check_disjoint()


def case_for(population: str, index: int) -> str | None:
    """The case (if any) the record at this position gets."""
    for case in CASES:
        if case.population == population and case.applies(index):
            return case.name
    return None


def expected_count(name: str, population_size: int) -> int:
    """How many records of a population of this size get the case."""
    case = CASE_BY_NAME[name]
    full, rest = divmod(population_size, case.period)
    return full * len(case.residues) + sum(1 for r in case.residues if r < rest)


PARTNERS = ("Tom", "Ana", "Raj", "Lee", "Sam", "Eva", "Ben", "Mia")
EMOJI = ("🔧", "🏠", "🥐", "☀️", "🚿", "⚡", "🌲", "😀")
_ACCENTS = str.maketrans({"a": "á", "e": "é", "o": "ö", "u": "ü", "n": "ñ", "c": "ç", "A": "Á"})
_INVALID_EMAILS = (
    "n/a",
    "{slug}@",
    "{slug} at example.com",
    "{slug}@@example.com",
    "{slug}@example",
)
_LONG_TAIL = (
    " - billing contact: accounts payable department, attention property accountant; "
    "send statements monthly, reference the building and unit on every invoice, "
    "call the site manager before arrival, gate code at the front office"
)


@dataclass(frozen=True)
class Names:
    """A customer's name fields."""

    display_name: str
    given_name: str | None
    family_name: str | None
    company_name: str | None


def dirty_names(case: str, names: Names, index: int) -> Names:
    """The names of a customer given one name case (vendor and duplicate names are set by the caller)."""
    given, family, company = names.given_name, names.family_name, names.company_name
    person = company is None
    if case == "apostrophe":
        if person:
            return Names(f"{given} O'{family}", given, f"O'{family}", None)
        first, _, rest = names.display_name.partition(" ")
        return _company(f"{first}'s {rest}")
    if case == "ampersand":
        if person:
            pair = f"{given} & {PARTNERS[index % len(PARTNERS)]}"
            return Names(f"{pair} {family}", pair, family, None)
        first, _, rest = names.display_name.partition(" ")
        return _company(f"{first} & Sons {rest}")
    if case == "accents":
        if person:
            accented = str(family).translate(_ACCENTS)
            return Names(f"{given} {accented}", given, accented, None)
        first, _, rest = names.display_name.partition(" ")
        return _company(f"{first.translate(_ACCENTS)} {rest}")
    if case == "backslash":
        if person:
            return Names(f"{family}\\{given}", given, family, None)
        return _company(names.display_name.replace(" ", "\\", 1))
    if case == "emoji":
        decorated = f"{names.display_name} {EMOJI[index % len(EMOJI)]}"
        return Names(decorated, given, family, decorated if company else None)
    if case == "long_name":
        long = names.display_name
        while len(long) <= QBO_DISPLAY_NAME_MAX + 20:
            long += _LONG_TAIL
        return Names(long, given, family, long if company else None)
    raise ValueError(f"not a name case: {case}")


def _company(name: str) -> Names:
    """The names of a company called this."""
    return Names(name, None, None, name)


def dirty_email(case: str, clean: str, previous_clean: str, index: int) -> str:
    """A customer's email given one email case."""
    if case == "duplicate_email":
        return previous_clean
    if case == "empty_email":
        return ""
    if case == "invalid_email":
        slug = clean.split("@", 1)[0]
        return _INVALID_EMAILS[index % len(_INVALID_EMAILS)].format(slug=slug)
    raise ValueError(f"not an email case: {case}")


def long_description(base: str) -> str:
    """A scope-of-work text longer than QuickBooks accepts on a line."""
    paragraph = (
        f"{base}. Scope of work as agreed with the customer on site: isolate and protect the "
        "work area, remove and dispose of existing materials, verify clearances and code "
        "requirements, install per manufacturer instructions, test under load, clean up, "
        "and walk the customer through operation and warranty registration. "
    )
    text = paragraph
    while len(text) <= QBO_DESCRIPTION_MAX + 100:
        text += paragraph
    return text


def is_half_cent(quantity: Decimal, unit_price: Decimal) -> bool:
    """Whether quantity times price lands exactly on half a cent (x.xx5)."""
    product = quantity * unit_price
    return (product * 1000) % 10 == 5 and (product * 1000) == (product * 1000).to_integral_value()
