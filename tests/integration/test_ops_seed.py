"""Seeding real SQLite and PostgreSQL databases: same seed, same database; rules hold; dirt counted."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

import pytest
from sqlalchemy import create_engine, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from fieldbooks.ops import dirty, schema
from fieldbooks.ops.checksum import database_checksum, table_checksums
from fieldbooks.ops.generate import NOTABLE_CUSTOMERS
from fieldbooks.ops.invariants import check_invariants
from fieldbooks.ops.seed import create_schema, plan_for, seed, seed_plan

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# the whole company with its dirt, small enough for a test
COMPANY = {"scale": "medium", "invoices": 4_000, "customers": 2_500}


@pytest.fixture(params=["sqlite", "postgres"])
def ops_url(request, tmp_path):
    """An empty operations database on each backend."""
    if request.param == "postgres":
        return request.getfixturevalue("make_pg_database")("fb_seed")
    return f"sqlite:///{tmp_path / 'ops.sqlite'}"


def _checksum(url: str) -> str:
    engine = create_engine(url)
    try:
        return database_checksum(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_same_seed_gives_the_same_database_on_sqlite_and_postgresql(tmp_path, make_pg_database):
    for options in ({"scale": "small"}, COMPANY):
        sqlite_a = f"sqlite:///{tmp_path / 'a.sqlite'}"
        sqlite_b = f"sqlite:///{tmp_path / 'b.sqlite'}"
        postgres = make_pg_database("fb_same")
        for url in (sqlite_a, sqlite_b, postgres):
            seed(url, **options)
        assert _checksum(sqlite_a) == _checksum(sqlite_b) == _checksum(postgres), options
        (tmp_path / "a.sqlite").unlink()
        (tmp_path / "b.sqlite").unlink()


def test_another_seed_gives_another_database(tmp_path):
    one, two = f"sqlite:///{tmp_path / '1.sqlite'}", f"sqlite:///{tmp_path / '2.sqlite'}"
    seed(one, seed=1)
    seed(two, seed=2)
    engine_one, engine_two = create_engine(one), create_engine(two)
    first, second = table_checksums(engine_one), table_checksums(engine_two)
    engine_one.dispose()
    engine_two.dispose()
    # the catalog is the same for everyone; the company's history is not
    assert first["service_categories"] == second["service_categories"]
    assert first["invoices"] != second["invoices"]


@pytest.mark.parametrize("options", [{"scale": "small"}, COMPANY], ids=["small", "company"])
def test_invariants_hold_after_seeding(ops_url, options):
    counts = seed(ops_url, **options)
    assert counts.invoices == (200 if options["scale"] == "small" else 4_000)
    engine = create_engine(ops_url)
    try:
        assert check_invariants(engine) == []
    finally:
        engine.dispose()


def _count_dirty(url: str) -> tuple[Counter, int, int]:
    """Find every dirty case in the database by looking at the data itself."""
    found: Counter = Counter()
    engine = create_engine(url)
    with engine.connect() as conn:
        vendors = set(conn.execute(select(schema.vendors.c.display_name)).scalars())
        names: set[str] = set()
        emails: set[str] = set()
        customers = conn.execute(
            select(
                schema.customers.c.id, schema.customers.c.display_name, schema.customers.c.email
            ).order_by(schema.customers.c.id)
        ).all()
        for row in customers:
            name, email = row.display_name, row.email
            if row.id > len(NOTABLE_CUSTOMERS):
                if len(name) > dirty.QBO_DISPLAY_NAME_MAX:
                    found["long_name"] += 1
                elif name in vendors:
                    found["vendor_name"] += 1
                elif name in names:
                    found["duplicate_name"] += 1
                elif "\\" in name:
                    found["backslash"] += 1
                elif any(unicodedata.category(ch) == "So" for ch in name):
                    found["emoji"] += 1
                elif "'" in name:
                    found["apostrophe"] += 1
                elif "&" in name:
                    found["ampersand"] += 1
                elif not name.isascii():
                    found["accents"] += 1
                if email == "":
                    found["empty_email"] += 1
                elif not EMAIL.match(email) or "@@" in email:
                    found["invalid_email"] += 1
                elif email in emails:
                    found["duplicate_email"] += 1
            names.add(name)
            emails.add(email)
        lines = schema.invoice_lines
        for quantity, price, description in conn.execute(
            select(lines.c.quantity, lines.c.unit_price, lines.c.description)
        ):
            if quantity == 0:
                found["zero_quantity"] += 1
            elif quantity < 0:
                found["negative_quantity"] += 1
            elif dirty.is_half_cent(quantity, price):
                found["half_cent"] += 1
            if len(description or "") > dirty.QBO_DESCRIPTION_MAX:
                found["long_description"] += 1
        invoices = conn.execute(select(schema.invoices.c.id)).scalars().all()
    engine.dispose()
    return found, len(customers) - len(NOTABLE_CUSTOMERS), len(invoices)


def test_dirty_cases_appear_in_the_stated_proportions(tmp_path):
    url = f"sqlite:///{tmp_path / 'dirty.sqlite'}"
    seed(url, **COMPANY)
    found, customers, invoices = _count_dirty(url)
    sizes = {"customers": customers, "customer_emails": customers, "invoices": invoices}
    for case in dirty.CASES:
        size = sizes[case.population]
        expected = dirty.expected_count(case.name, size)
        assert found[case.name] == expected, case.name
        assert expected > 0 and abs(expected - case.rate * size) <= len(case.residues), case.name


def test_the_demo_and_no_dirty_has_none_of_the_dirty_cases(tmp_path):
    for options in ({"scale": "small"}, {**COMPANY, "dirty": False}):
        url = f"sqlite:///{tmp_path / 'clean.sqlite'}"
        seed(url, **options)
        found, _, _ = _count_dirty(url)
        assert sum(found.values()) == 0, (options, found)
        (tmp_path / "clean.sqlite").unlink()


def test_seed_refuses_a_database_that_has_customers(ops_url):
    seed(ops_url, invoices=5, customers=3)
    with pytest.raises(RuntimeError, match="already has customers"):
        seed(ops_url, invoices=5, customers=3)


@pytest.mark.postgres
def test_postgresql_gets_its_keys_indexes_and_sequences_after_the_bulk_load(make_pg_database):
    url = make_pg_database("fb_keys")
    seed(url, invoices=50, customers=20)
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        for table in schema.SYNCED_TABLES:
            assert len(inspector.get_foreign_keys(table.name)) == len(table.foreign_keys), (
                table.name
            )
            indexed = {tuple(i["column_names"]) for i in inspector.get_indexes(table.name)}
            assert ("updated_at",) in indexed, table.name
        with engine.begin() as conn:
            new_id = conn.execute(
                insert(schema.tax_rates)
                .values(
                    jurisdiction="NEW",
                    name="New",
                    rate="0.05",
                    created_at=text("now()"),
                    updated_at=text("now()"),
                )
                .returning(schema.tax_rates.c.id)
            ).scalar_one()
            assert new_id == 3
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                insert(schema.service_sites).values(
                    customer_id=99_999,
                    name="nowhere",
                    created_at=text("now()"),
                    updated_at=text("now()"),
                )
            )
    finally:
        engine.dispose()


def test_seeding_into_a_schema_that_already_exists_still_loads(ops_url):
    engine = create_engine(ops_url)
    create_schema(engine)
    engine.dispose()
    counts = seed_plan(ops_url, plan_for("medium", invoices=300, customers=100), chunk_rows=97)
    assert counts.invoices == 300
    engine = create_engine(ops_url)
    try:
        assert check_invariants(engine) == []
    finally:
        engine.dispose()
