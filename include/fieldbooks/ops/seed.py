"""Create the reference operations database and fill it with deterministic demo data.

The data fits the sandbox's demo company: every service category has a mapping to
one of its items (dbt_project/seeds/map_service_categories.csv).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, create_engine, insert, text

from fieldbooks.money import line_amount, tax_on
from fieldbooks.ops import schema

ANCHOR = datetime(2026, 10, 1, 8, 0, 0)
LOCAL_TAX_RATE = Decimal("0.0825")

CATEGORIES = [
    # name, kind, taxable
    ("Plumbing Service", "service", False),
    ("HVAC Service", "service", False),
    ("Electrical Service", "service", False),
    ("Materials", "material", True),
    ("Permit Fee", "permit", False),
    ("Trip Charge", "fee", False),
]
SERVICE_RATES = {"Plumbing Service": 125, "HVAC Service": 140, "Electrical Service": 135}

# Names that break naive query building or encodings, kept on purpose.
NOTABLE_CUSTOMERS = [
    ("Seán", "O'Brien", None),
    ("Renée", "Dubois", None),
    ("José", "Núñez", None),
    (None, None, "D'Angelo & Sons Contracting"),
    ("Zoë", "Ångström", None),
    (None, None, "St. Mary's Parish"),  # the tax-exempt one
]
GIVEN = [
    "Alice",
    "Brian",
    "Carmen",
    "David",
    "Elena",
    "Frank",
    "Grace",
    "Hector",
    "Ivy",
    "Jamal",
    "Keiko",
    "Liam",
    "Maria",
    "Noah",
    "Olga",
    "Priya",
    "Quinn",
    "Rosa",
    "Samir",
    "Tara",
]
FAMILY = [
    "Anderson",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Johnson",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Nguyen",
    "Okafor",
    "Patel",
    "Reyes",
    "Smith",
]
COMPANY_WORDS = ["Oakridge", "Lakeside", "Summit", "Riverside", "Pinecrest", "Harbor", "Maple"]
COMPANY_KINDS = ["Property Management", "Dental Group", "Apartments", "Bakery", "Auto Repair"]
STREETS = ["Main St", "Oak Ave", "Elm St", "2nd St", "Park Blvd", "Lake Rd", "Hill Dr"]
CITIES = [("Sacramento", "CA", "958"), ("Davis", "CA", "956"), ("Folsom", "CA", "956")]


@dataclass(frozen=True)
class SeedCounts:
    """How many rows of each kind a seed wrote."""

    customers: int
    invoices: int
    invoice_lines: int
    payments: int


def create_schema(engine: Engine) -> None:
    """Create every operations table that does not exist yet."""
    schema.metadata.create_all(engine)


def _customers(rng: random.Random, count: int) -> list[dict]:
    """Customer rows: the notable names first, then generated people and companies."""
    rows: list[dict] = []
    used: set[str] = set()
    for n in range(count):
        if n < len(NOTABLE_CUSTOMERS):
            given, family, company = NOTABLE_CUSTOMERS[n]
        elif rng.random() < 0.3:
            given, family = None, None
            company = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)}"
        else:
            given, family, company = rng.choice(GIVEN), rng.choice(FAMILY), None
        display = company or f"{given} {family}"
        base, k = display, 2
        while display.lower() in used:
            display, k = f"{base} ({k})", k + 1
        used.add(display.lower())
        slug = "".join(ch for ch in display.lower() if ch.isascii() and ch.isalnum())[:20]
        city, state, zip3 = rng.choice(CITIES)
        created = ANCHOR - timedelta(days=60 - n % 30, minutes=n)
        exempt = company == "St. Mary's Parish"
        rows.append(
            {
                "id": n + 1,
                "display_name": display,
                "given_name": given,
                "family_name": family,
                "company_name": company,
                "email": f"{slug}{n + 1}@example.com",
                "phone": f"(916) 555-{1000 + n:04d}",
                "bill_line1": f"{rng.randint(10, 9999)} {rng.choice(STREETS)}",
                "bill_city": city,
                "bill_state": state,
                "bill_postal_code": f"{zip3}{rng.randint(10, 99)}",
                "bill_country": "USA",
                "tax_exempt": exempt,
                "tax_exempt_reason": "Religious organization (certificate on file)"
                if exempt
                else None,
                "qbo_id": None,
                "created_at": created,
                "updated_at": created,
                "deleted_at": None,
            }
        )
    return rows


def build_invoice(
    rng: random.Random,
    invoice_id: int,
    customer: dict,
    issue_date: date,
    first_line_id: int,
    stamp: datetime,
) -> tuple[dict, list[dict]]:
    """One invoice with 1-4 lines, its tax and totals computed exactly."""
    lines: list[dict] = []
    trade = rng.choice(list(SERVICE_RATES))
    picks = [(trade, Decimal(rng.randint(2, 16)) / 4, Decimal(SERVICE_RATES[trade]))]
    if rng.random() < 0.7:
        picks.append(
            ("Materials", Decimal(rng.randint(1, 12)), Decimal(rng.randint(500, 25000)) / 100)
        )
    if rng.random() < 0.2:
        picks.append(("Permit Fee", Decimal(1), Decimal(rng.choice([75, 150, 250]))))
    if rng.random() < 0.3:
        picks.append(("Trip Charge", Decimal(1), Decimal(89)))
    category_ids = {name: i + 1 for i, (name, _, _) in enumerate(CATEGORIES)}
    taxable_kinds = {name for name, _, taxable in CATEGORIES if taxable}
    for n, (name, qty, price) in enumerate(picks, start=1):
        amount = line_amount(qty, price)
        lines.append(
            {
                "id": first_line_id + n - 1,
                "invoice_id": invoice_id,
                "line_number": n,
                "category_id": category_ids[name],
                "description": f"{name} - {customer['bill_line1']}",
                "quantity": qty,
                "unit_price": price,
                "amount": amount,
                "taxable": name in taxable_kinds and not customer["tax_exempt"],
                "created_at": stamp,
                "updated_at": stamp,
                "deleted_at": None,
            }
        )
    subtotal = sum((line["amount"] for line in lines), Decimal("0.00"))
    taxable = sum((line["amount"] for line in lines if line["taxable"]), Decimal("0.00"))
    tax = tax_on(taxable, LOCAL_TAX_RATE)
    total = subtotal + tax
    invoice = {
        "id": invoice_id,
        "invoice_number": f"FB-{10000 + invoice_id}",
        "customer_id": customer["id"],
        "issue_date": issue_date,
        "due_date": issue_date + timedelta(days=30),
        "status": "sent",
        "tax_jurisdiction": "LOCAL",
        "tax_rate": LOCAL_TAX_RATE,
        "subtotal": subtotal,
        "tax": tax,
        "total": total,
        "balance": total,
        "memo": None,
        "qbo_id": None,
        "created_at": stamp,
        "updated_at": stamp,
        "deleted_at": None,
    }
    return invoice, lines


def seed_demo(
    ops_url: str, *, seed: int = 42, customers: int = 60, invoices: int = 200
) -> SeedCounts:
    """Create the schema and write the deterministic demo data set (empty database only)."""
    engine = create_engine(ops_url)
    create_schema(engine)
    rng = random.Random(seed)
    customer_rows = _customers(rng, customers)
    invoice_rows: list[dict] = []
    line_rows: list[dict] = []
    payment_rows: list[dict] = []
    for n in range(invoices):
        customer = customer_rows[rng.randrange(len(customer_rows))]
        issue = (ANCHOR - timedelta(days=rng.randint(1, 25))).date()
        stamp = datetime.combine(issue, ANCHOR.time()) + timedelta(minutes=n)
        invoice, lines = build_invoice(rng, n + 1, customer, issue, len(line_rows) + 1, stamp)
        invoice_rows.append(invoice)
        line_rows.extend(lines)
        roll = rng.random()
        if roll < 0.6:
            paid = (
                invoice["total"] if roll < 0.4 else (invoice["total"] / 2).quantize(Decimal("0.01"))
            )
            method = rng.choice(["check", "card", "ach", "cash"])
            received = issue + timedelta(days=rng.randint(0, 10))
            payment_rows.append(
                {
                    "id": len(payment_rows) + 1,
                    "invoice_id": invoice["id"],
                    "customer_id": customer["id"],
                    "method": method,
                    "amount": paid,
                    "received_on": received,
                    "reference": f"CHK {1000 + n}" if method == "check" else None,
                    "source": "ops",
                    "qbo_id": None,
                    "created_at": stamp + timedelta(hours=1),
                    "updated_at": stamp + timedelta(hours=1),
                    "deleted_at": None,
                }
            )
            invoice["balance"] = invoice["total"] - paid
            invoice["status"] = "paid" if invoice["balance"] == 0 else "partially_paid"
    with engine.begin() as conn:
        if conn.execute(schema.customers.select().limit(1)).first() is not None:
            raise RuntimeError(
                f"the operations database at {engine.url!r} already has customers; "
                "seed only writes into an empty database"
            )
        now = ANCHOR - timedelta(days=90)
        conn.execute(
            insert(schema.service_categories),
            [
                {
                    "id": i + 1,
                    "name": name,
                    "kind": kind,
                    "taxable": taxable,
                    "created_at": now,
                    "updated_at": now,
                    "deleted_at": None,
                }
                for i, (name, kind, taxable) in enumerate(CATEGORIES)
            ],
        )
        conn.execute(insert(schema.customers), customer_rows)
        conn.execute(insert(schema.invoices), invoice_rows)
        conn.execute(insert(schema.invoice_lines), line_rows)
        conn.execute(insert(schema.payments), payment_rows)
        if conn.dialect.name == "postgresql":
            # Explicit ids leave the serial sequences behind; move them past the seeded rows.
            for table in schema.SYNCED_TABLES:
                conn.execute(
                    text(
                        f"select setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(select coalesce(max(id), 1) from {table.name}))"
                    )
                )
    engine.dispose()
    return SeedCounts(len(customer_rows), len(invoice_rows), len(line_rows), len(payment_rows))
