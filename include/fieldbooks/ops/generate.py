"""Deterministic rows of a field-service company's operations DB, one customer at a time.

`iter_rows(plan)` yields (table name, row) with every parent before its children and
holds one customer's records at a time, so memory stays flat at any scale. Reference
data (tax rates, branches, trades, catalog, price book, technicians, vendors) comes
first; then each customer's history: sites, maintenance agreements, jobs with their
invoices, labor and expenses, then payments, credits and refunds. Each customer draws
from its own random stream (seed, customer), so its records never depend on how many
customers came before it; ids are handed out in the order rows are yielded.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from fieldbooks.money import line_amount, tax_on
from fieldbooks.ops import dirty
from fieldbooks.ops.catalog import (
    BRANCHES,
    CATEGORIES,
    CATEGORY_BY_ID,
    ELECTRICAL,
    HVAC,
    ITEM_BY_SKU,
    PLUMBING,
    PRICE_BOOK,
    TAX_RATE_BY_JURISDICTION,
    TAX_RATES,
    TRADES,
    Branch,
)
from fieldbooks.ops.recipes import JobPlan, LineSpec, item_line, job_plan, quarter_hours

ANCHOR = datetime(2026, 10, 1, 8, 0, 0)
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
ONE = Decimal(1)

Row = dict[str, Any]

# Names that break naive query building or encodings, kept on purpose in every seed.
NOTABLE_CUSTOMERS = (
    ("Seán", "O'Brien", None),
    ("Renée", "Dubois", None),
    ("José", "Núñez", None),
    (None, None, "D'Angelo & Sons Contracting"),
    ("Zoë", "Ångström", None),
    (None, None, "St. Mary's Parish"),  # the tax-exempt one
)
GIVEN = (
    "Alice", "Brian", "Carmen", "David", "Elena", "Frank", "Grace", "Hector", "Ivy", "Jamal",
    "Keiko", "Liam", "Maria", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Samir", "Tara",
    "Umar", "Vera", "Wes", "Xavier", "Yara", "Zack", "Aaron", "Bianca", "Caleb", "Dana",
    "Ethan", "Fiona", "Gavin", "Hana", "Isaac", "Julia", "Kevin", "Lena", "Marcus", "Nadia",
)  # fmt: skip
FAMILY = (
    "Anderson", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito",
    "Johnson", "Kowalski", "Lopez", "Moreau", "Nguyen", "Okafor", "Patel", "Reyes", "Smith",
    "Tanaka", "Usman", "Valdez", "Walker", "Xu", "Young", "Zimmer", "Alvarez", "Brooks",
    "Castro", "Dixon", "Ellis", "Foster", "Gomez", "Harris", "Ingram", "Jensen", "Khan",
    "Larsen", "Morales", "Novak", "Owens", "Price", "Quintero", "Russo", "Sato", "Torres",
    "Ueda", "Vargas", "Weber", "Yilmaz", "Zhang",
)  # fmt: skip
INITIALS = "ABCDEFGHJKLMNPRSTVW"
COMPANY_WORDS = (
    "Oakridge", "Lakeside", "Summit", "Riverside", "Pinecrest", "Harbor", "Maple", "Cedar",
    "Granite", "Willow", "Sierra", "Golden", "Meadow", "Redwood", "Valley", "Capitol",
    "Orchard", "Bayview", "Stonegate", "Brookfield", "Fairway", "Highland", "Juniper",
    "Kingsley", "Larkspur", "Monarch", "Northgate", "Parkside", "Quarry", "Sunrise",
)  # fmt: skip
# (kind name, segment): the kind name is part of the display name.
COMPANY_KINDS = (
    ("Property Management", "property"),
    ("Apartments", "property"),
    ("Realty", "property"),
    ("Homeowners Association", "property"),
    ("Office Park", "property"),
    ("Dental Group", "business"),
    ("Bakery", "business"),
    ("Auto Repair", "business"),
    ("Cafe", "business"),
    ("Veterinary Clinic", "business"),
    ("Fitness", "business"),
    ("Builders", "builder"),
    ("Development", "builder"),
    ("Unified School District", "exempt"),
    ("Community Church", "exempt"),
)
DEMO_COMPANY_KINDS = tuple(k for k in COMPANY_KINDS if k[1] in ("property", "business"))
EXEMPT_REASONS = {
    "Unified School District": "Public school district (resale certificate on file)",
    "Community Church": "Religious organization (certificate on file)",
}
STREETS = (
    "Main St", "Oak Ave", "Elm St", "2nd St", "Park Blvd", "Lake Rd", "Hill Dr", "Cedar Ln",
    "Sunset Blvd", "River Rd", "Walnut Ave", "Broadway", "Mission St", "Poplar Way",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

SUPPLIERS = (
    "Ferguson Plumbing Supply", "Johnstone Supply", "Graybar Electric", "ABC Supply Co",
    "Winsupply", "Platt Electric Supply", "SRS Roofing Supply", "Builders FirstSource",
)  # fmt: skip
SUBCONTRACTORS = (
    "Valley Concrete", "Delta Drywall", "Capital Painting", "Sierra Electric Contractors",
    "River City Framing", "Foothill Insulation",
)  # fmt: skip
PERMIT_AUTHORITIES = (
    "City of Sacramento Building Division", "County of Sacramento Permits",
    "City of Elk Grove Permit Center", "City of Lodi Community Development",
)  # fmt: skip
RENTAL_COMPANIES = ("Sunbelt Rentals", "United Rentals", "Herc Rentals")
VENDOR_GROUPS = (
    ("supplier", SUPPLIERS),
    ("subcontractor", SUBCONTRACTORS),
    ("permit_authority", PERMIT_AUTHORITIES),
    ("rental", RENTAL_COMPANIES),
)

# How customers spread their work over the trades (plumbing, HVAC, electrical, GC, roofing).
TRADE_WEIGHTS = {
    "person": (35, 33, 20, 2, 10),
    "property": (30, 30, 18, 10, 12),
    "business": (30, 35, 25, 5, 5),
    "builder": (5, 5, 10, 65, 15),
    "exempt": (25, 30, 25, 10, 10),
}
DEMO_TRADE_WEIGHTS = (40, 35, 25, 0, 0)


@dataclass(frozen=True)
class Plan:
    """What a seed writes: counts, profile and the seed itself."""

    seed: int
    customers: int
    invoices: int
    # only what the sandbox's demo company takes: categories 1-6, LOCAL tax, three trades,
    # every invoice sent, no voids, drafts, credits, refunds or over-payments
    demo: bool
    dirty: bool
    history_days: int
    vendors: int
    technicians_per_crew: int
    anchor: datetime = ANCHOR


class Ids:
    """The next id of every table, handed out in generation order."""

    def __init__(self) -> None:
        """No ids handed out yet."""
        self._last: dict[str, int] = {}

    def next(self, table: str) -> int:
        """A fresh id for a row of this table."""
        value = self._last.get(table, 0) + 1
        self._last[table] = value
        return value

    def count(self, table: str) -> int:
        """How many ids this table has been given."""
        return self._last.get(table, 0)


@dataclass
class Identity:
    """Who a customer is, before any of its activity."""

    n: int
    kind: str  # person or company
    segment: str  # person, property, business, builder, exempt
    names: dirty.Names
    email: str
    phone: str
    branch: Branch
    town: tuple[str, str]
    line1: str
    postal_code: str
    weight: int
    since: date
    status: str
    tax_exempt: bool
    tax_exempt_reason: str | None


def _rng(plan: Plan, stream: int, n: int) -> random.Random:
    """The random stream of one record (stream: what it is for; n: whose)."""
    return random.Random(((plan.seed * 16 + stream) << 32) + n)


def _stamp(day: date, rng: random.Random) -> datetime:
    """A moment in office hours (07:00-17:00 UTC) of a day."""
    return datetime.combine(day, time(7)) + timedelta(seconds=rng.randrange(36_000))


def _audit(created: datetime, updated: datetime | None = None) -> Row:
    """The change-tracking columns of a row created (and last changed) at these moments."""
    return {"created_at": created, "updated_at": updated or created, "deleted_at": None}


def _money(cents: int) -> Decimal:
    """An amount from a number of cents."""
    return Decimal(cents).scaleb(-2)


def _pick_weighted(rng: random.Random, weights: tuple[int, ...]) -> int:
    """A 0-based index drawn with these integer weights."""
    roll = rng.randrange(sum(weights))
    for index, weight in enumerate(weights):
        if roll < weight:
            return index
        roll -= weight
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- reference data


def _reference_start(plan: Plan) -> datetime:
    """When the company set up its reference data: well before its history starts."""
    return plan.anchor - timedelta(days=plan.history_days + 400)


def reference_rows(plan: Plan, ids: Ids) -> Iterator[tuple[str, Row]]:
    """Tax rates, branches, trades, categories, the price book, technicians and vendors."""
    start = _reference_start(plan)
    for rate in TAX_RATES:
        ids.next("tax_rates")
        yield (
            "tax_rates",
            {"id": rate.id, "jurisdiction": rate.jurisdiction, "name": rate.name, "rate": rate.rate}
            | _audit(start),
        )
    for branch in BRANCHES:
        ids.next("branches")
        yield (
            "branches",
            {
                "id": branch.id,
                "code": branch.code,
                "name": branch.name,
                "line1": branch.line1,
                "city": branch.city,
                "state": "CA",
                "postal_code": branch.postal_code,
                "phone": branch.phone,
                "tax_jurisdiction": branch.tax_jurisdiction,
                "qbo_id": None,
            }
            | _audit(start),
        )
    for trade_id, code, name in TRADES:
        ids.next("trades")
        yield (
            "trades",
            {"id": trade_id, "code": code, "name": name, "qbo_id": None} | _audit(start),
        )
    for category in CATEGORIES:
        ids.next("service_categories")
        yield (
            "service_categories",
            {
                "id": category.id,
                "name": category.name,
                "kind": category.kind,
                "taxable": category.taxable,
            }
            | _audit(start),
        )
    for item in PRICE_BOOK:
        ids.next("price_book_items")
        yield (
            "price_book_items",
            {
                "id": item.id,
                "sku": item.sku,
                "name": item.name,
                "description": None,
                "category_id": item.category_id,
                "trade_id": item.trade_id,
                "unit": item.unit,
                "unit_price": item.unit_price.quantize(CENT),
                "unit_cost": item.unit_cost.quantize(CENT),
                "taxable": CATEGORY_BY_ID[item.category_id].taxable,
                "active": True,
                "qbo_id": None,
            }
            | _audit(start),
        )
    for row in technician_rows(plan):
        ids.next("technicians")
        yield "technicians", row
    for vendor_id in range(1, plan.vendors + 1):
        ids.next("vendors")
        vendor_type, name = vendor_name(vendor_id)
        yield (
            "vendors",
            {
                "id": vendor_id,
                "display_name": name,
                "company_name": name,
                "email": f"ar{vendor_id}@vendor.example.com",
                "phone": f"(800) 555-{vendor_id % 10000:04d}",
                "line1": f"{100 + vendor_id} Commerce Dr",
                "city": "Sacramento",
                "state": "CA",
                "postal_code": "95811",
                "vendor_type": vendor_type,
                "is_1099": vendor_type == "subcontractor",
                "terms": "net_30" if vendor_type in ("supplier", "subcontractor") else None,
                "active": True,
                "qbo_id": None,
            }
            | _audit(start),
        )


def vendor_name(vendor_id: int) -> tuple[str, str]:
    """A vendor's type and unique name: the well-known ones first, then their other stores."""
    groups = [(kind, name) for kind, names in VENDOR_GROUPS for name in names]
    kind, name = groups[(vendor_id - 1) % len(groups)]
    round_ = (vendor_id - 1) // len(groups)
    return kind, name if round_ == 0 else f"{name} - Store {round_ + 1}"


def _branches(plan: Plan) -> tuple[Branch, ...]:
    """The branches a plan uses (the demo has one)."""
    return BRANCHES[:1] if plan.demo else BRANCHES


def _trades(plan: Plan) -> tuple[int, ...]:
    """The trades a plan uses (the demo has three)."""
    return (PLUMBING, HVAC, ELECTRICAL) if plan.demo else tuple(t[0] for t in TRADES)


def technician_rows(plan: Plan) -> list[Row]:
    """The technicians: a crew per branch and trade."""
    rng = _rng(plan, 1, 0)
    start = _reference_start(plan)
    rows = []
    for branch in _branches(plan):
        for trade_id in _trades(plan):
            for _ in range(plan.technicians_per_crew):
                tech_id = len(rows) + 1
                given, family = rng.choice(GIVEN), rng.choice(FAMILY)
                rows.append(
                    {
                        "id": tech_id,
                        "branch_id": branch.id,
                        "trade_id": trade_id,
                        "given_name": given,
                        "family_name": family,
                        "email": f"{given.lower()}.{family.lower()}.{tech_id}@crew.example.com",
                        "phone": f"(916) 555-{2000 + tech_id % 8000:04d}",
                        "cost_rate": _money(rng.randrange(3200, 5800)),
                        "hired_on": (start + timedelta(days=rng.randrange(300))).date(),
                        "active": True,
                        "qbo_id": None,
                    }
                    | _audit(start)
                )
    return rows


def crews(plan: Plan) -> dict[tuple[int, int], list[tuple[int, Decimal]]]:
    """The technicians by (branch, trade): (id, cost rate)."""
    result: dict[tuple[int, int], list[tuple[int, Decimal]]] = {}
    for row in technician_rows(plan):
        result.setdefault((row["branch_id"], row["trade_id"]), []).append(
            (row["id"], row["cost_rate"])
        )
    return result


@functools.cache
def vendors_by_type(vendor_count: int) -> dict[str, tuple[int, ...]]:
    """Vendor ids by type, among the first few dozen (the ones an office really uses)."""
    result: dict[str, list[int]] = {}
    for vendor_id in range(1, min(vendor_count, 64) + 1):
        result.setdefault(vendor_name(vendor_id)[0], []).append(vendor_id)
    return {kind: tuple(ids) for kind, ids in result.items()}


# --------------------------------------------------------------------------- customers


@functools.cache
def _stride(size: int) -> int:
    """A step prime to size near its golden section: n * step mod size shuffles without repeats."""
    step = int(size * 0.6180339887)
    while math.gcd(step, size) != 1:
        step += 1
    return step


def _person_names(n: int) -> dirty.Names:
    """A unique person name for customer n (a bijection over n)."""
    plain = len(GIVEN) * len(FAMILY)
    layer, within = divmod(n, plain)
    within = (within * _stride(plain)) % plain
    given, family = GIVEN[within % len(GIVEN)], FAMILY[within // len(GIVEN)]
    if layer == 0:
        return dirty.Names(f"{given} {family}", given, family, None)
    initial = INITIALS[(layer - 1) % len(INITIALS)]
    suffix = "" if layer <= len(INITIALS) else f" {(layer - 1) // len(INITIALS) + 1}"
    return dirty.Names(f"{given} {initial}. {family}{suffix}", f"{given} {initial}.", family, None)


def _company_names(n: int, kinds: tuple[tuple[str, str], ...]) -> tuple[dirty.Names, str]:
    """A unique company name for customer n and its segment."""
    plain = len(COMPANY_WORDS) * len(kinds)
    layer, within = divmod(n, plain)
    within = (within * _stride(plain)) % plain
    word, (kind, segment) = (
        COMPANY_WORDS[within % len(COMPANY_WORDS)],
        kinds[within // len(COMPANY_WORDS)],
    )
    name = f"{word} {kind}" if layer == 0 else f"{word} {kind} {layer + 1}"
    return dirty.Names(name, None, None, name), segment


def _clean_identity(plan: Plan, n: int) -> Identity:
    """Customer n as the office would have typed it with care."""
    rng = _rng(plan, 2, n)
    branches = _branches(plan)
    branch = branches[rng.randrange(len(branches))]
    town = branch.towns[rng.randrange(len(branch.towns))]
    is_company = rng.random() < 0.3
    exempt_reason = None
    if n <= len(NOTABLE_CUSTOMERS):
        given, family, company = NOTABLE_CUSTOMERS[n - 1]
        names = dirty.Names(company or f"{given} {family}", given, family, company)
        is_company = company is not None
        segment = (
            "exempt" if company == "St. Mary's Parish" else ("business" if company else "person")
        )
        if segment == "exempt":
            exempt_reason = "Religious organization (certificate on file)"
    elif is_company:
        kinds = DEMO_COMPANY_KINDS if plan.demo else COMPANY_KINDS
        names, segment = _company_names(n, kinds)
        if segment == "exempt":
            kind_name = next(k for k, _ in COMPANY_KINDS if k in names.display_name)
            exempt_reason = EXEMPT_REASONS[kind_name]
    else:
        names, segment = _person_names(n), "person"
    slug = "".join(ch for ch in names.display_name.lower() if ch.isascii() and ch.isalnum())[:20]
    weight = {"person": 2, "property": 12, "business": 5, "builder": 6, "exempt": 6}[segment]
    weight += rng.randrange(weight + 1)
    if plan.demo:
        since = (plan.anchor - timedelta(days=60 - n % 30, minutes=n)).date()
    else:
        since = (plan.anchor - timedelta(days=30 + rng.randrange(plan.history_days + 200))).date()
    return Identity(
        n=n,
        kind="company" if is_company else "person",
        segment=segment,
        names=names,
        email=f"{slug}{n}@{EMAIL_DOMAINS[n % len(EMAIL_DOMAINS)]}",
        phone=f"({916 if branch.id == 1 else 209}) 555-{(1000 + n) % 10000:04d}",
        branch=branch,
        town=town,
        line1=f"{rng.randint(10, 9999)} {rng.choice(STREETS)}",
        postal_code=f"{town[1]}{rng.randint(10, 99)}",
        weight=weight,
        since=since,
        status="inactive" if not plan.demo and rng.random() < 0.04 else "active",
        tax_exempt=exempt_reason is not None,
        tax_exempt_reason=exempt_reason,
    )


def identity(plan: Plan, n: int) -> Identity:
    """Customer n as stored, dirty cases included when the plan asks for them."""
    who = _clean_identity(plan, n)
    index = n - len(NOTABLE_CUSTOMERS) - 1
    if not plan.dirty or index < 0:
        return who
    case = dirty.case_for("customers", index)
    if case == "duplicate_name":
        who.names = _clean_identity(plan, n - 1).names
    elif case == "vendor_name":
        spot = dirty.CASE_BY_NAME[case]
        ordinal = (index // spot.period) * len(spot.residues) + sorted(spot.residues).index(
            index % spot.period
        )
        name = vendor_name(ordinal % plan.vendors + 1)[1]
        who.names, who.kind = dirty.Names(name, None, None, name), "company"
    elif case is not None:
        who.names = dirty.dirty_names(case, who.names, index)
    email_case = dirty.case_for("customer_emails", index)
    if email_case is not None:
        previous = _clean_identity(plan, n - 1).email
        who.email = dirty.dirty_email(email_case, who.email, previous, index)
    return who


def _customer_row(who: Identity, created: datetime, updated: datetime) -> Row:
    """The customers row of an identity."""
    return {
        "id": who.n,
        "kind": who.kind,
        "display_name": who.names.display_name,
        "given_name": who.names.given_name,
        "family_name": who.names.family_name,
        "company_name": who.names.company_name,
        "email": who.email,
        "phone": who.phone,
        "bill_line1": who.line1,
        "bill_city": who.town[0],
        "bill_state": "CA",
        "bill_postal_code": who.postal_code,
        "bill_country": "USA",
        "tax_exempt": who.tax_exempt,
        "tax_exempt_reason": who.tax_exempt_reason,
        "status": who.status,
        "qbo_id": None,
    } | _audit(created, updated)


def allocation(plan: Plan) -> Iterator[tuple[int, int]]:
    """(customer, invoice count) for every customer: exactly plan.invoices in all.

    Everyone gets one invoice when there are enough; the rest follow the customers'
    weights (a property manager gets many, a homeowner few), by cumulative rounding.
    """
    total = sum(_clean_identity(plan, n).weight for n in range(1, plan.customers + 1))
    base = 1 if plan.invoices >= plan.customers else 0
    spread = plan.invoices - base * plan.customers
    running = 0
    for n in range(1, plan.customers + 1):
        before = spread * running // total
        running += _clean_identity(plan, n).weight
        yield n, base + spread * running // total - before


# --------------------------------------------------------------------------- the work


@dataclass
class Bill:
    """One invoice being put together, with what later decides its payments."""

    row: Row
    lines: list[Row]
    deposit: bool = False  # billed at signing, paid on the spot
    insurance: bool = False
    void: bool = False
    draft: bool = False


@dataclass
class Unit:
    """Everything one customer's history writes, in order."""

    rows: list[tuple[str, Row]] = field(default_factory=list)
    bills: list[Bill] = field(default_factory=list)

    def add(self, table: str, row: Row) -> None:
        """Keep one row for the table."""
        self.rows.append((table, row))


def _dirty_lines(
    plan: Plan, rng: random.Random, invoice_index: int, lines: list[LineSpec]
) -> list[LineSpec]:
    """The dirty case of this invoice, if any, applied to its lines."""
    if not plan.dirty:
        return lines
    case = dirty.case_for("invoices", invoice_index)
    if case == "zero_quantity":
        return [*lines, item_line("PLB-PTRAP", 0, note=" (not used, left on the truck)")]
    if case == "negative_quantity":
        subtotal = sum((line_amount(q, p) for _, _, _, q, p in lines), ZERO)
        price = (subtotal / 4).quantize(CENT)
        if price < 1:
            # nothing billed yet (warranty work): the part goes in, half of it comes back
            return [
                *lines,
                item_line("PLB-FILLV", 1),
                (4, None, "Returned part (credit)", Decimal(-1), Decimal("17.00")),
            ]
        return [*lines, (4, None, "Returned part (credit)", Decimal(-1), price)]
    if case == "half_cent":
        odd_cents = rng.randrange(1001, 9999, 2)  # half of an odd number of cents
        return [*lines, (4, None, "Fittings, half box", Decimal("0.5"), _money(odd_cents))]
    if case == "long_description":
        category, item, description, qty, price = lines[0]
        return [(category, item, dirty.long_description(description), qty, price), *lines[1:]]
    return lines


TERMS_DAYS = {"due_on_receipt": 0, "net_15": 15, "net_30": 30, "net_45": 45}


def _bill(
    plan: Plan,
    ids: Ids,
    who: Identity,
    job_id: int,
    site: Row,
    issue: date,
    specs: list[LineSpec],
    stamp: datetime,
    rng: random.Random,
) -> Bill:
    """One invoice and its lines, with tax and totals computed exactly."""
    invoice_id = ids.next("invoices")
    specs = _dirty_lines(plan, rng, invoice_id - 1, specs)
    jurisdiction = site["tax_jurisdiction"]
    rate = TAX_RATE_BY_JURISDICTION[jurisdiction].rate
    lines: list[Row] = []
    subtotal = taxable_total = ZERO
    for number, (category_id, item_id, description, qty, price) in enumerate(specs, start=1):
        amount = line_amount(qty, price)
        taxable = CATEGORY_BY_ID[category_id].taxable and not who.tax_exempt
        subtotal += amount
        if taxable:
            taxable_total += amount
        lines.append(
            {
                "id": ids.next("invoice_lines"),
                "invoice_id": invoice_id,
                "line_number": number,
                "category_id": category_id,
                "item_id": item_id,
                "description": description,
                "quantity": qty,
                "unit_price": price,
                "amount": amount,
                "taxable": taxable,
            }
            | _audit(stamp)
        )
    tax = tax_on(taxable_total, rate)
    total = subtotal + tax
    if who.kind == "person":
        terms = "due_on_receipt"
    else:
        terms = "net_30" if rng.random() < 0.7 else rng.choice(("net_15", "net_45"))
    row = {
        "id": invoice_id,
        "invoice_number": f"FB-{10000 + invoice_id}",
        "customer_id": who.n,
        "job_id": job_id,
        "issue_date": issue,
        "due_date": issue + timedelta(days=TERMS_DAYS[terms]),
        "terms": terms,
        "status": "sent",
        "sent_at": stamp,
        "tax_jurisdiction": jurisdiction,
        "tax_rate": rate,
        "subtotal": subtotal,
        "tax": tax,
        "total": total,
        "balance": total,
        "retainage_percent": ZERO,
        "progress_sequence": None,
        "reminders_enabled": plan.demo or rng.random() >= 0.05,
        "memo": None,
        "qbo_id": None,
    } | _audit(stamp)
    return Bill(row, lines)


def _sites(plan: Plan, ids: Ids, who: Identity, rng: random.Random, created: datetime) -> list[Row]:
    """A customer's service sites: one for most, several for a property manager."""
    count = 1
    if who.segment == "property":
        count = rng.randint(2, 6)
    elif who.kind == "company" or rng.random() < 0.1:
        count = rng.randint(1, 2)
    sites = []
    for k in range(count):
        branch = (
            who.branch
            if k == 0 or plan.demo
            else _branches(plan)[rng.randrange(len(_branches(plan)))]
        )
        town = who.town if k == 0 else branch.towns[rng.randrange(len(branch.towns))]
        line1 = who.line1 if k == 0 else f"{rng.randint(10, 9999)} {rng.choice(STREETS)}"
        name = (
            ("Home" if who.kind == "person" else "Main location")
            if k == 0
            else f"{line1} ({town[0]})"
        )
        sites.append(
            {
                "id": ids.next("service_sites"),
                "customer_id": who.n,
                "name": name,
                "line1": line1,
                "city": town[0],
                "state": "CA",
                "postal_code": f"{town[1]}{rng.randint(10, 99)}",
                "country": "USA",
                "tax_jurisdiction": "LOCAL" if plan.demo else branch.tax_jurisdiction,
                "access_notes": "Gate code at the office" if rng.random() < 0.1 else None,
                "branch_id": branch.id,
            }
            | _audit(created)
        )
    return sites


def customer_unit(
    plan: Plan,
    ids: Ids,
    crews_by: dict[tuple[int, int], list[tuple[int, Decimal]]],
    n: int,
    invoice_count: int,
) -> Unit:
    """Customer n's whole history: exactly invoice_count invoices."""
    who = identity(plan, n)
    rng = _rng(plan, 3, n)
    unit = Unit()
    created = _stamp(who.since, rng)
    last_day = plan.anchor.date() - timedelta(days=1)
    updated = created
    if not plan.demo and rng.random() < 0.15:
        updated = _stamp(
            who.since + timedelta(days=rng.randrange(max(1, (last_day - who.since).days))), rng
        )
    unit.add("customers", _customer_row(who, created, max(created, updated)))
    sites = _sites(plan, ids, who, rng, created)
    for site in sites:
        unit.add("service_sites", {k: v for k, v in site.items() if k != "branch_id"})
    weights = (
        DEMO_TRADE_WEIGHTS
        if plan.demo
        else TRADE_WEIGHTS[who.segment if who.kind == "company" else "person"]
    )
    first_day = who.since if not plan.demo else plan.anchor.date() - timedelta(days=25)
    remaining = invoice_count
    while remaining > 0:
        trade = _pick_weighted(rng, weights) + 1
        job = job_plan(plan.demo, rng, who.segment, trade)
        bills = job.bills[:remaining]
        remaining -= len(bills)
        span = max(1, (last_day - first_day).days)
        spacing = 30 if job.contract_type == "project" else 7
        latest = last_day - timedelta(days=spacing * (len(bills) - 1))
        opened = first_day + timedelta(days=rng.randrange(max(1, (latest - first_day).days + 1)))
        if opened > latest:
            opened, spacing = first_day, max(1, span // max(1, len(bills)))
        _write_job(plan, ids, unit, who, rng, crews_by, sites, trade, job, bills, opened, spacing)
    if not plan.demo and rng.random() < 0.15:
        _write_scheduled_job(plan, ids, unit, who, rng, sites, last_day)
    _write_money(plan, ids, unit, who, rng)
    return unit


def _write_job(
    plan: Plan,
    ids: Ids,
    unit: Unit,
    who: Identity,
    rng: random.Random,
    crews_by: dict[tuple[int, int], list[tuple[int, Decimal]]],
    sites: list[Row],
    trade: int,
    job: JobPlan,
    bills: list[list[LineSpec]],
    opened: date,
    spacing: int,
) -> None:
    """A job, its agreement, invoices, labor and expenses."""
    site = sites[rng.randrange(len(sites))]
    branch_id = site["branch_id"]
    last_day = plan.anchor.date() - timedelta(days=1)
    done = opened + timedelta(days=spacing * (len(bills) - 1) + rng.randint(0, 2))
    done = min(done, last_day)
    complete = len(bills) == len(job.bills)
    agreement_id = None
    opened_at = _stamp(opened, rng)
    if job.agreement is not None:
        agreement_id = ids.next("maintenance_agreements")
        sku, price = job.agreement
        ends = opened + timedelta(days=365)
        unit.add(
            "maintenance_agreements",
            {
                "id": agreement_id,
                "agreement_number": f"MA-{agreement_id:06d}",
                "customer_id": who.n,
                "site_id": site["id"],
                "trade_id": trade,
                "plan_name": ITEM_BY_SKU[sku].name,
                "price": price,
                "term_months": 12,
                "visits_per_term": 2,
                "starts_on": opened,
                "ends_on": ends,
                "status": "active" if ends > last_day else "expired",
            }
            | _audit(opened_at),
        )
    job_id = ids.next("jobs")
    claim = f"CLM-{rng.randrange(10**7):07d}" if job.insurance else None
    status = "completed" if complete else "in_progress"
    unit.add(
        "jobs",
        {
            "id": job_id,
            "job_number": f"J-{job_id:07d}",
            "customer_id": who.n,
            "site_id": site["id"],
            "branch_id": branch_id,
            "trade_id": trade,
            "agreement_id": agreement_id,
            "job_type": job.job_type,
            "contract_type": job.contract_type,
            "status": status,
            "opened_on": opened,
            "scheduled_on": opened,
            "completed_on": done if complete else None,
            "is_warranty": job.warranty,
            "is_insurance_claim": job.insurance,
            "insurance_claim_number": claim,
            "description": f"{job.job_type.capitalize()} at {site['line1']}",
            "qbo_id": None,
        }
        | _audit(opened_at, max(opened_at, _stamp(done, rng)) if complete else opened_at),
    )
    progress = len(job.bills) > 1
    for sequence, specs in enumerate(bills, start=1):
        issue = min(opened + timedelta(days=spacing * (sequence - 1)), last_day)
        if not progress:
            issue = done
        stamp = _stamp(issue, rng)
        bill = _bill(plan, ids, who, job_id, site, issue, specs, stamp, rng)
        row = bill.row
        if progress:
            row["progress_sequence"] = sequence
        if job.retainage:
            row["retainage_percent"] = job.retainage
            row["memo"] = (
                f"Progress bill {sequence} of {len(job.bills)}; retainage {job.retainage}%"
            )
        if claim:
            row["memo"] = f"Insurance claim {claim}"
        bill.deposit = job.deposit_first and sequence == 1
        bill.insurance = job.insurance
        unit.bills.append(bill)
        unit.add("invoices", row)
        for line in bill.lines:
            unit.add("invoice_lines", line)
    _write_labor(
        plan, ids, unit, rng, crews_by, branch_id, trade, job_id, bills, opened, done, job.warranty
    )
    _write_expenses(plan, ids, unit, rng, branch_id, job_id, bills, opened, done, job)


def _write_labor(
    plan: Plan,
    ids: Ids,
    unit: Unit,
    rng: random.Random,
    crews_by: dict[tuple[int, int], list[tuple[int, Decimal]]],
    branch_id: int,
    trade: int,
    job_id: int,
    bills: list[list[LineSpec]],
    opened: date,
    done: date,
    warranty: bool,
) -> None:
    """Time the technicians logged on the job: the billed hours, and some that are not billed."""
    crew = crews_by[(branch_id, trade)]
    hours = Decimal(0)
    for specs in bills:
        for category_id, item_id, _, qty, _ in specs:
            if item_id is None or CATEGORY_BY_ID[category_id].kind != "service" or qty <= 0:
                continue
            unit_name = PRICE_BOOK[item_id - 1].unit
            # an hour billed is an hour worked; flat-rate work and roofing squares take longer
            hours += qty if unit_name == "hour" else qty * Decimal("1.5")
    if hours == 0:
        hours = quarter_hours(rng, 2, 6)
    entries = 1 if hours <= 8 else min(6, int(hours // 8) + 1)
    share = (hours / entries).quantize(Decimal("0.25"))
    span = max(0, (done - opened).days)
    for k in range(entries):
        tech_id, cost_rate = crew[rng.randrange(len(crew))]
        worked = share if k < entries - 1 else hours - share * (entries - 1)
        if worked <= 0:
            continue
        day = opened + timedelta(days=(span * k) // entries)
        unit.add(
            "labor_entries",
            {
                "id": ids.next("labor_entries"),
                "job_id": job_id,
                "technician_id": tech_id,
                "work_date": day,
                "hours": worked,
                "cost_rate": cost_rate,
                "cost_amount": line_amount(worked, cost_rate),
                "billable": not warranty,
                "description": None,
            }
            | _audit(_stamp(day, rng)),
        )
    if rng.random() < 0.3:
        tech_id, cost_rate = crew[rng.randrange(len(crew))]
        travel = Decimal("0.5")
        unit.add(
            "labor_entries",
            {
                "id": ids.next("labor_entries"),
                "job_id": job_id,
                "technician_id": tech_id,
                "work_date": opened,
                "hours": travel,
                "cost_rate": cost_rate,
                "cost_amount": line_amount(travel, cost_rate),
                "billable": False,
                "description": "Drive time / supply house",
            }
            | _audit(_stamp(opened, rng)),
        )


def _vendor(plan: Plan, rng: random.Random, vendor_type: str) -> int:
    """A vendor of this type among the plan's vendors."""
    candidates = vendors_by_type(plan.vendors).get(vendor_type)
    return rng.choice(candidates) if candidates else 1


def _write_expenses(
    plan: Plan,
    ids: Ids,
    unit: Unit,
    rng: random.Random,
    branch_id: int,
    job_id: int,
    bills: list[list[LineSpec]],
    opened: date,
    done: date,
    job: JobPlan,
) -> None:
    """What the job cost from vendors: materials, permits, subcontractors, rentals."""
    materials = ZERO
    permits = ZERO
    subcontracts: list[Decimal] = []
    for specs in bills:
        for category_id, item_id, _, qty, price in specs:
            kind = CATEGORY_BY_ID[category_id].kind
            item = PRICE_BOOK[item_id - 1] if item_id else None
            if kind in ("material", "equipment") and qty > 0:
                cost = (
                    item.unit_cost
                    if item is not None and item.unit_cost > 0
                    else price * Decimal("0.7")
                )
                materials += line_amount(qty, cost)
            elif kind == "permit":
                permits += line_amount(qty, price)
            elif kind == "subcontract":
                subcontracts.append(line_amount(qty, price * Decimal("0.8")))
    last_day = plan.anchor.date() - timedelta(days=1)

    def add(
        vendor_type: str,
        category: str,
        amount: Decimal,
        day: date,
        paid_by: str,
        billable: bool,
        text: str,
    ) -> None:
        """One expense of the job (none when there is nothing to pay)."""
        if amount <= 0:
            return
        day = min(day, last_day)
        unit.add(
            "expenses",
            {
                "id": ids.next("expenses"),
                "vendor_id": _vendor(plan, rng, vendor_type),
                "job_id": job_id,
                "branch_id": branch_id,
                "category": category,
                "expense_date": day,
                "amount": amount.quantize(CENT),
                "paid_by": paid_by,
                "due_date": day + timedelta(days=30) if paid_by == "on_account" else None,
                "reference": f"{'BILL' if paid_by == 'on_account' else 'RCPT'}-{rng.randrange(10**6):06d}",
                "description": text,
                "billable": billable,
                "qbo_id": None,
            }
            | _audit(_stamp(day, rng)),
        )

    paid_by = "on_account" if rng.random() < 0.3 else rng.choice(("card", "card", "cash"))
    add("supplier", "material", materials, opened, paid_by, True, "Materials for the job")
    add("permit_authority", "permit", permits, opened, "card", True, "Permit fee")
    for amount in subcontracts:
        add("subcontractor", "subcontract", amount, done, "on_account", True, "Subcontracted work")
    if job.contract_type in ("project", "installation") and not plan.demo and rng.random() < 0.3:
        rental = _money(rng.randrange(15_000, 120_000))
        add(
            "rental",
            "equipment_rental",
            rental,
            opened,
            rng.choice(("card", "on_account")),
            False,
            "Lift / dumpster rental",
        )


def _write_scheduled_job(
    plan: Plan,
    ids: Ids,
    unit: Unit,
    who: Identity,
    rng: random.Random,
    sites: list[Row],
    last_day: date,
) -> None:
    """A job booked for the coming days, or one the customer cancelled: no invoice."""
    site = sites[rng.randrange(len(sites))]
    job_id = ids.next("jobs")
    cancelled = rng.random() < 0.2
    day = (
        last_day - timedelta(days=rng.randrange(20))
        if cancelled
        else plan.anchor.date() + timedelta(days=rng.randint(1, 14))
    )
    booked = _stamp(min(day, last_day) - timedelta(days=rng.randint(1, 5)), rng)
    unit.add(
        "jobs",
        {
            "id": job_id,
            "job_number": f"J-{job_id:07d}",
            "customer_id": who.n,
            "site_id": site["id"],
            "branch_id": site["branch_id"],
            "trade_id": rng.choice(_trades(plan)),
            "agreement_id": None,
            "job_type": "estimate" if cancelled else "service visit",
            "contract_type": "service_call",
            "status": "cancelled" if cancelled else "scheduled",
            "opened_on": booked.date(),
            "scheduled_on": day,
            "completed_on": None,
            "is_warranty": False,
            "is_insurance_claim": False,
            "insurance_claim_number": None,
            "description": "Customer called the office",
            "qbo_id": None,
        }
        | _audit(booked),
    )


# --------------------------------------------------------------------------- money in


METHODS_PERSON = (
    ("card", 40, 0, 0),
    ("online_card", 25, 1, 10),
    ("check", 20, 3, 25),
    ("cash", 5, 0, 0),
)
METHODS_COMPANY = (("ach", 45, 20, 60), ("check", 45, 20, 70), ("online_card", 10, 5, 30))


@dataclass
class Intent:
    """A payment the customer makes: when, how, how much, for which invoices."""

    day: date
    method: str
    amount: Decimal
    applied: list[tuple[Bill, Decimal]]
    reference: str | None = None
    merge: bool = False


def _write_money(plan: Plan, ids: Ids, unit: Unit, who: Identity, rng: random.Random) -> None:
    """Payments (and their applications), credits and refunds for the customer's invoices."""
    last_day = plan.anchor.date() - timedelta(days=1)
    intents: list[Intent] = []
    for bill in unit.bills:
        row = bill.row
        total = row["total"]
        issue = row["issue_date"]
        if not plan.demo and issue >= last_day - timedelta(days=4) and rng.random() < 0.5:
            bill.draft = True
            row.update(status="draft", sent_at=None)
            continue
        if not plan.demo and rng.random() < 0.015:
            bill.void = True
            voided = _stamp(min(last_day, issue + timedelta(days=rng.randint(0, 10))), rng)
            row.update(status="void", balance=ZERO, updated_at=max(row["created_at"], voided))
            continue
        if total <= 0:
            continue
        intents.extend(_payment_intents(plan, rng, who, bill, last_day))
    # property managers and businesses pay several invoices with one check or transfer
    merged: list[Intent] = []
    buckets: dict[tuple[str, int], Intent] = {}
    for intent in sorted(intents, key=lambda i: (i.day, i.applied[0][0].row["id"])):
        if not intent.merge:
            merged.append(intent)
            continue
        key = (intent.method, intent.day.toordinal() // 14)
        if key in buckets:
            group = buckets[key]
            group.applied.extend(intent.applied)
            group.amount += intent.amount
            group.day = max(group.day, intent.day)
        else:
            buckets[key] = intent
            merged.append(intent)
    for intent in merged:
        _write_payment(plan, ids, unit, who, rng, intent, last_day)
    if not plan.demo:
        _write_credits(plan, ids, unit, who, rng, last_day)
    for bill in unit.bills:
        row = bill.row
        if row["status"] in ("sent", "partially_paid", "paid"):
            balance = row["balance"]
            row["status"] = (
                "paid" if balance <= 0 else ("partially_paid" if balance < row["total"] else "sent")
            )


def _payment_intents(
    plan: Plan, rng: random.Random, who: Identity, bill: Bill, last_day: date
) -> list[Intent]:
    """How the customer pays one invoice (nothing when it is still open at the anchor)."""
    row = bill.row
    total, issue = row["total"], row["issue_date"]
    if bill.insurance:
        deductible = min(total, Decimal("1000.00"))
        intents = [Intent(issue, "card", deductible, [(bill, deductible)])]
        rest = total - deductible
        paid_day = issue + timedelta(days=rng.randint(20, 75))
        if rest > 0 and paid_day <= last_day:
            ref = f"INS {rng.randrange(10**6):06d}"
            intents.append(Intent(paid_day, "check", rest, [(bill, rest)], reference=ref))
        return intents
    methods = METHODS_PERSON if who.kind == "person" else METHODS_COMPANY
    method, _, low, high = methods[_pick_weighted(rng, tuple(m[1] for m in methods))]
    if plan.demo:
        low, high = 0, 6  # the demo's invoices are all from the last few weeks
    if bill.deposit:
        method, low, high = ("card" if who.kind == "person" else "check"), 0, 0
    day = issue + timedelta(days=rng.randint(low, high))
    roll = rng.random()
    unpaid = 0.4 if plan.demo else (0.08 if who.kind == "person" else 0.1)
    if roll < unpaid or day > last_day:
        return []
    reference = f"CHK {rng.randint(1000, 99999)}" if method == "check" else None
    if roll < unpaid + (0.2 if plan.demo else 0.06):
        # a part now; outside the demo, often the rest later
        part = (
            (total / 2).quantize(CENT)
            if plan.demo or rng.random() < 0.5
            else _money(rng.randrange(1, max(2, int(total * 100))))
        )
        part = min(part, total)
        intents = [Intent(day, method, part, [(bill, part)], reference)]
        later = day + timedelta(days=rng.randint(10, 40))
        if not plan.demo and rng.random() < 0.5 and later <= last_day and part < total:
            rest = total - part
            intents.append(Intent(later, method, rest, [(bill, rest)], reference))
        return intents
    if not plan.demo and roll > 0.99:
        # paid more than was owed: the rest waits unapplied, often to be refunded
        extra = _money(rng.randrange(100, 5000))
        return [Intent(day, method, total + extra, [(bill, total)], reference)]
    merge = who.kind == "company" and method in ("ach", "check")
    return [Intent(day, method, total, [(bill, total)], reference, merge=merge)]


def _write_payment(
    plan: Plan,
    ids: Ids,
    unit: Unit,
    who: Identity,
    rng: random.Random,
    intent: Intent,
    last_day: date,
) -> None:
    """A payment, its applications, and a refund of what it overpaid (often)."""
    payment_id = ids.next("payments")
    received = _stamp(intent.day, rng)
    deposit_day = intent.day + timedelta(
        days=rng.randint(1, 4) if intent.method in ("check", "cash") else 1
    )
    deposited = deposit_day <= last_day
    reference = intent.reference
    if reference is None and intent.method in ("ach", "online_card", "card"):
        reference = f"TXN-{rng.randrange(16**8):08x}"
    unit.add(
        "payments",
        {
            "id": payment_id,
            "customer_id": who.n,
            "method": intent.method,
            "amount": intent.amount,
            "received_at": received,
            "received_on": intent.day,
            "reference": reference,
            "deposited": deposited,
            "deposited_on": deposit_day if deposited else None,
            "source": "ops",
            "qbo_id": None,
        }
        | _audit(received),
    )
    applied = ZERO
    for bill, amount in intent.applied:
        row = bill.row
        amount = min(amount, row["balance"])
        if amount <= 0:
            continue
        applied += amount
        row["balance"] -= amount
        row["updated_at"] = max(row["updated_at"], received)
        unit.add(
            "payment_applications",
            {
                "id": ids.next("payment_applications"),
                "payment_id": payment_id,
                "invoice_id": row["id"],
                "amount": amount,
            }
            | _audit(received),
        )
    unapplied = intent.amount - applied
    if unapplied > 0 and not plan.demo and rng.random() < 0.6:
        day = intent.day + timedelta(days=rng.randint(3, 20))
        if day <= last_day:
            _write_refund(
                ids,
                unit,
                who,
                rng,
                day,
                unapplied,
                payment_id=payment_id,
                reason="Overpayment returned",
            )


def _write_credits(
    plan: Plan, ids: Ids, unit: Unit, who: Identity, rng: random.Random, last_day: date
) -> None:
    """Goodwill credits: applied to the invoice while it is open, else kept and often refunded."""
    for bill in unit.bills:
        row = bill.row
        if bill.void or bill.draft or row["total"] < 100 or rng.random() >= 0.015:
            continue
        amount = (row["total"] / 10).quantize(CENT)
        day = min(last_day, row["issue_date"] + timedelta(days=rng.randint(1, 20)))
        stamp = _stamp(day, rng)
        credit_id = ids.next("credits")
        applies = row["balance"] >= amount
        unit.add(
            "credits",
            {
                "id": credit_id,
                "credit_number": f"CM-{credit_id:06d}",
                "customer_id": who.n,
                "invoice_id": row["id"] if applies else None,
                "issued_on": day,
                "amount": amount,
                "reason": rng.choice(
                    ("Late arrival", "Callback on prior repair", "Loyalty discount")
                ),
                "qbo_id": None,
            }
            | _audit(stamp),
        )
        if applies:
            row["balance"] -= amount
            row["updated_at"] = max(row["updated_at"], stamp)
        elif rng.random() < 0.7 and day + timedelta(days=3) <= last_day:
            _write_refund(
                ids,
                unit,
                who,
                rng,
                day + timedelta(days=3),
                amount,
                credit_id=credit_id,
                reason="Credit refunded",
            )


def _write_refund(
    ids: Ids,
    unit: Unit,
    who: Identity,
    rng: random.Random,
    day: date,
    amount: Decimal,
    *,
    payment_id: int | None = None,
    credit_id: int | None = None,
    reason: str,
) -> None:
    """Money given back, from a payment or from a credit."""
    refund_id = ids.next("refunds")
    method = "check" if who.kind == "company" else rng.choice(("card", "check"))
    unit.add(
        "refunds",
        {
            "id": refund_id,
            "customer_id": who.n,
            "payment_id": payment_id,
            "credit_id": credit_id,
            "amount": amount,
            "method": method,
            "refunded_on": day,
            "reference": f"RF-{refund_id:06d}",
            "reason": reason,
            "qbo_id": None,
        }
        | _audit(_stamp(day, rng)),
    )


# --------------------------------------------------------------------------- all of it


def iter_rows(plan: Plan) -> Iterator[tuple[str, Row]]:
    """Every row of the seed, parents first, one customer's history at a time."""
    ids = Ids()
    yield from reference_rows(plan, ids)
    crews_by = crews(plan)
    for n, count in allocation(plan):
        unit = customer_unit(plan, ids, crews_by, n, count)
        # the invoices' balance and status are final only once the payments are placed
        yield from unit.rows
