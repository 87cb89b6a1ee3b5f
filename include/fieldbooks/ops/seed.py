"""Create the reference operations database and fill it: deterministic by seed, at any scale.

`small` is the demo: clean data that the sandbox's demo company takes whole (categories
1..6 map to its items 1..6, tax jurisdiction LOCAL to its tax code 1), so `fieldbooks demo`
ties out. `medium` and `large` are the whole company, dirty on purpose (fieldbooks.ops.dirty);
`--dirty`/`--no-dirty` overrides either. Rows stream from fieldbooks.ops.generate into
fieldbooks.ops.bulk, so memory stays flat at every scale.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, create_engine, func, inspect, select

from fieldbooks.money import line_amount, tax_on
from fieldbooks.ops import schema
from fieldbooks.ops.bulk import CHUNK_ROWS, BulkLoader
from fieldbooks.ops.catalog import CATEGORIES, DEMO_CATEGORY_IDS
from fieldbooks.ops.generate import Plan, iter_rows

LOCAL_TAX_RATE = Decimal("0.0825")
SERVICE_RATES = {"Plumbing Service": 125, "HVAC Service": 140, "Electrical Service": 135}


@dataclass(frozen=True)
class Scale:
    """A named size and profile of the reference data."""

    name: str
    customers: int
    invoices: int
    demo: bool
    dirty: bool
    history_days: int
    technicians_per_crew: int


SCALES = {
    "small": Scale(
        "small", 60, 200, demo=True, dirty=False, history_days=60, technicians_per_crew=2
    ),
    "medium": Scale(
        "medium", 5_000, 20_000, demo=False, dirty=True, history_days=730, technicians_per_crew=6
    ),
    # about 3.4 lines an invoice: a little over 1,000,000 invoice lines
    "large": Scale(
        "large", 60_000, 300_000, demo=False, dirty=True, history_days=1095, technicians_per_crew=20
    ),
}


@dataclass(frozen=True)
class SeedCounts:
    """How many rows of each table a seed wrote."""

    rows: dict[str, int] = field(default_factory=dict)

    @property
    def customers(self) -> int:
        """Customers written."""
        return self.rows.get("customers", 0)

    @property
    def invoices(self) -> int:
        """Invoices written."""
        return self.rows.get("invoices", 0)

    @property
    def invoice_lines(self) -> int:
        """Invoice lines written."""
        return self.rows.get("invoice_lines", 0)

    @property
    def payments(self) -> int:
        """Payments written."""
        return self.rows.get("payments", 0)


def plan_for(
    scale: str = "small",
    *,
    seed: int = 42,
    customers: int | None = None,
    invoices: int | None = None,
    dirty: bool | None = None,
) -> Plan:
    """The generation plan of a scale, with any count or the dirty flag overridden."""
    base = SCALES[scale]
    invoice_count = base.invoices if invoices is None else invoices
    if customers is None:
        # customers grow with the invoices at the scale's own ratio
        customers = (
            base.customers
            if invoices is None
            else max(1, round(invoice_count * base.customers / base.invoices))
        )
    return Plan(
        seed=seed,
        customers=customers,
        invoices=invoice_count,
        demo=base.demo,
        dirty=base.dirty if dirty is None else dirty,
        history_days=base.history_days,
        vendors=max(12, customers // 100),
        technicians_per_crew=base.technicians_per_crew,
    )


def create_schema(engine: Engine) -> None:
    """Create every operations table that does not exist yet."""
    schema.metadata.create_all(engine)


def _require_empty(engine: Engine) -> None:
    """Refuse to seed over existing data."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("customers"):
            return
        if conn.execute(select(func.count()).select_from(schema.customers)).scalar_one():
            raise RuntimeError(
                f"the operations database at {engine.url!r} already has customers; "
                "seed only writes into an empty database"
            )


def seed_plan(ops_url: str, plan: Plan, chunk_rows: int = CHUNK_ROWS) -> SeedCounts:
    """Create the schema and write a plan's rows (empty database only), in one transaction."""
    engine = create_engine(ops_url)
    try:
        _require_empty(engine)
        with BulkLoader(engine, chunk_rows) as loader:
            for table, row in iter_rows(plan):
                loader.add(table, row)
        return SeedCounts(dict(loader.counts))
    finally:
        engine.dispose()


def seed(
    ops_url: str,
    scale: str = "small",
    *,
    seed: int = 42,
    customers: int | None = None,
    invoices: int | None = None,
    dirty: bool | None = None,
) -> SeedCounts:
    """Seed a scale (small, medium, large), counts and dirty flag overridable."""
    plan = plan_for(scale, seed=seed, customers=customers, invoices=invoices, dirty=dirty)
    return seed_plan(ops_url, plan)


def seed_demo(
    ops_url: str, *, seed: int = 42, customers: int = 60, invoices: int = 200
) -> SeedCounts:
    """The demo data set: the small scale (clean, every record syncable)."""
    return seed_plan(ops_url, plan_for("small", seed=seed, customers=customers, invoices=invoices))


def build_invoice(
    rng: random.Random,
    invoice_id: int,
    customer: dict,
    issue_date: date,
    first_line_id: int,
    stamp: datetime,
) -> tuple[dict, list[dict]]:
    """One more demo invoice (1-4 lines in the demo categories), its tax and totals exact."""
    names = {c.id: c.name for c in CATEGORIES if c.id in DEMO_CATEGORY_IDS}
    category_ids = {name: category_id for category_id, name in names.items()}
    taxable_names = {c.name for c in CATEGORIES if c.taxable and c.id in DEMO_CATEGORY_IDS}
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
    lines: list[dict] = []
    for n, (name, qty, price) in enumerate(picks, start=1):
        lines.append(
            {
                "id": first_line_id + n - 1,
                "invoice_id": invoice_id,
                "line_number": n,
                "category_id": category_ids[name],
                "item_id": None,
                "description": f"{name} - {customer['bill_line1']}",
                "quantity": qty,
                "unit_price": price,
                "amount": line_amount(qty, price),
                "taxable": name in taxable_names and not customer["tax_exempt"],
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
        "job_id": None,
        "issue_date": issue_date,
        "due_date": issue_date + timedelta(days=30),
        "terms": "net_30",
        "status": "sent",
        "sent_at": stamp,
        "tax_jurisdiction": "LOCAL",
        "tax_rate": LOCAL_TAX_RATE,
        "subtotal": subtotal,
        "tax": tax,
        "total": total,
        "balance": total,
        "retainage_percent": Decimal("0.00"),
        "progress_sequence": None,
        "reminders_enabled": True,
        "memo": None,
        "qbo_id": None,
        "created_at": stamp,
        "updated_at": stamp,
        "deleted_at": None,
    }
    return invoice, lines
