"""What a job of each trade bills: its line mix, ticket size and how it is invoiced.

Plumbing, HVAC and electrical service calls (labor, parts, trip charges, permits,
warranty write-offs); equipment installations billed whole or as a deposit and then the
work; roofing repairs and reroofs (insurance claims among them); general-contracting
projects billed monthly with retainage; maintenance plans sold with a visit. The demo
profile keeps to the categories the sandbox's demo company has items for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from fieldbooks.money import line_amount
from fieldbooks.ops.catalog import (
    ELECTRICAL,
    GENERAL_CONTRACTING,
    HVAC,
    ITEM_BY_SKU,
    LABOR_SKU,
    PERMIT_SKU,
    PLUMBING,
    ROOFING,
)

ZERO = Decimal("0.00")


def _money(cents: int) -> Decimal:
    """An amount from a number of cents."""
    return Decimal(cents).scaleb(-2)


LineSpec = tuple[int, int | None, str, Decimal, Decimal]  # category, item, description, qty, price


def item_line(
    sku: str, qty: Decimal | int, price: Decimal | None = None, note: str = ""
) -> LineSpec:
    """A line billing a price-book item (its own price unless one is given)."""
    item = ITEM_BY_SKU[sku]
    description = f"{item.name}{note}"
    return (
        item.category_id,
        item.id,
        description,
        Decimal(qty),
        item.unit_price if price is None else price,
    )


def quarter_hours(rng: random.Random, low: int, high: int) -> Decimal:
    """Hours in quarters between low/4 and high/4."""
    return Decimal(rng.randint(low, high)) / 4


def _parts(rng: random.Random, skus: tuple[str, ...], count: int) -> list[LineSpec]:
    """A few parts of a trade: by the foot in tens, otherwise one to three."""
    lines = []
    for sku in rng.sample(skus, min(count, len(skus))):
        item = ITEM_BY_SKU[sku]
        qty = rng.randint(10, 60) if item.unit == "ft" else rng.randint(1, 3)
        lines.append(item_line(sku, qty))
    return lines


PLUMBING_PARTS = (
    "PLB-FAUCET",
    "PLB-PTRAP",
    "PLB-SUPPLY",
    "PLB-WAXRING",
    "PLB-FILLV",
    "PLB-PRV",
    "PLB-COPPER",
)
HVAC_PARTS = ("HVAC-CAP", "HVAC-CONT", "HVAC-FILTER", "HVAC-R410", "HVAC-TSTAT")
ELECTRICAL_PARTS = ("ELEC-GFCI", "ELEC-BREAKER", "ELEC-WIRE", "ELEC-LED")
PARTS = {PLUMBING: PLUMBING_PARTS, HVAC: HVAC_PARTS, ELECTRICAL: ELECTRICAL_PARTS}


@dataclass
class JobPlan:
    """What one job is and the lines of each of its invoices."""

    job_type: str
    contract_type: str
    bills: list[list[LineSpec]]
    warranty: bool = False
    insurance: bool = False
    retainage: Decimal = ZERO
    deposit_first: bool = False
    agreement: tuple[str, Decimal] | None = None  # (sku, price) of a plan sold with the job


def _service_call(demo: bool, rng: random.Random, trade: int) -> JobPlan:
    """A service call: labor, parts, sometimes a trip charge or a permit; now and then warranty work."""
    labor = item_line(LABOR_SKU[trade], quarter_hours(rng, 4, 16))
    lines = [labor, *_parts(rng, PARTS[trade], rng.choice((0, 1, 1, 2, 3)))]
    if rng.random() < 0.3:
        lines.append(item_line("TRIP", 1))
    if not demo and rng.random() < 0.05:
        # warranty work: the labor is written off, the visit costs the customer nothing
        credit = -line_amount(labor[3], labor[4])
        return JobPlan(
            "warranty repair",
            "service_call",
            [[labor, item_line("DISC-WARRANTY", 1, credit)]],
            warranty=True,
        )
    job_type = {
        PLUMBING: "plumbing repair",
        HVAC: "no-cool diagnosis",
        ELECTRICAL: "electrical repair",
    }[trade]
    if trade == PLUMBING and rng.random() < 0.2:
        job_type, lines = "drain cleaning", [item_line("PLB-DRAIN", 1), *lines[1:2]]
    elif trade == HVAC and rng.random() < 0.2:
        job_type, lines = (
            "AC tune-up",
            [item_line("HVAC-TUNE", 1), item_line("HVAC-FILTER", rng.randint(1, 2))],
        )
    if rng.random() < (0.15 if demo else 0.1):
        lines.append(item_line(PERMIT_SKU[trade], 1))
    return JobPlan(job_type, "service_call", [lines])


def _installation(demo: bool, rng: random.Random, trade: int) -> JobPlan:
    """Equipment and its installation, with the permit; often billed as a deposit, then the work."""
    if demo:
        # the demo company has no equipment item: a bigger repair with parts instead
        lines = [
            item_line(LABOR_SKU[trade], quarter_hours(rng, 12, 32)),
            *_parts(rng, PARTS[trade], 3),
            item_line(PERMIT_SKU[trade], 1),
        ]
        return JobPlan("replacement", "installation", [lines])
    if trade == PLUMBING:
        unit = "PLB-TANKLESS" if rng.random() < 0.25 else "PLB-WH50"
        equipment = [item_line(unit, 1)]
        work = [
            item_line("PLB-LABOR", quarter_hours(rng, 12, 24)),
            *_parts(rng, ("PLB-SUPPLY", "PLB-COPPER", "PLB-PRV"), 2),
        ]
        job_type = "water heater replacement"
    elif trade == HVAC:
        equipment = [item_line("HVAC-COND3", 1)]
        if rng.random() < 0.7:
            equipment.append(item_line("HVAC-COIL", 1))
        if rng.random() < 0.5:
            equipment.append(item_line("HVAC-FURN80", 1))
        work = [
            item_line("HVAC-LABOR", quarter_hours(rng, 32, 64)),
            item_line("HVAC-R410", rng.randint(2, 6)),
        ]
        if rng.random() < 0.5:
            work.append(item_line("HVAC-TSTAT", 1))
        job_type = "system replacement"
    else:
        unit = "ELEC-EVSE" if rng.random() < 0.4 else "ELEC-PANEL"
        equipment = [item_line(unit, 1)]
        work = [
            item_line("ELEC-LABOR", quarter_hours(rng, 12, 40)),
            item_line("ELEC-WIRE", rng.randint(20, 90)),
            *_parts(rng, ("ELEC-BREAKER", "ELEC-GFCI"), 1),
        ]
        job_type = "EV charger install" if unit == "ELEC-EVSE" else "panel upgrade"
    work.append(item_line(PERMIT_SKU[trade], 1))
    if rng.random() < 0.25:
        work.append(item_line("DISC-PROMO", 1))
    if rng.random() < 0.4:
        # equipment billed at signing as a deposit, the work on completion: progress billing
        return JobPlan(job_type, "installation", [equipment, work], deposit_first=True)
    return JobPlan(job_type, "installation", [equipment + work])


def _project(rng: random.Random) -> JobPlan:
    """A general-contracting project billed monthly, with retainage."""
    count = rng.randint(3, 6)
    bills = []
    for _ in range(count):
        lines = [
            item_line("GC-PM", quarter_hours(rng, 16, 120)),
            item_line("GC-CARPENTRY", quarter_hours(rng, 40, 480)),
        ]
        for sku in rng.sample(("GC-SUB-ELEC", "GC-SUB-DRYWALL", "GC-SUB-PAINT"), rng.randint(1, 3)):
            lines.append(item_line(sku, 1, _money(rng.randrange(250_000, 2_500_000))))
        if rng.random() < 0.6:
            lines.append(item_line("GC-LUMBER", 1, _money(rng.randrange(80_000, 900_000))))
        if rng.random() < 0.3:
            lines.append(item_line("GC-DUMPSTER", 1))
        bills.append(lines)
    bills[0].append(item_line("PERMIT-BLDG", 1))
    kind = rng.choice(("tenant improvement", "kitchen remodel", "addition", "office buildout"))
    retainage = Decimal("10.00") if rng.random() < 0.6 else Decimal("5.00")
    return JobPlan(kind, "project", bills, retainage=retainage)


def _roofing(rng: random.Random) -> JobPlan:
    """A leak repair, or a reroof by the square (a third of them insurance claims)."""
    if rng.random() < 0.55:
        lines = [item_line("ROOF-REPAIR", 1)]
        if rng.random() < 0.5:
            lines.append(item_line("ROOF-FLASHING", rng.randint(1, 2)))
        if rng.random() < 0.3:
            lines.append(item_line("ROOF-SHINGLE", rng.randint(1, 3)))
        return JobPlan("roof leak repair", "service_call", [lines])
    squares = rng.randint(16, 45)
    lines = [
        item_line("ROOF-TEAROFF", squares),
        item_line("ROOF-SHINGLE", squares),
        item_line("ROOF-UNDERLAY", (squares + 9) // 10),
        item_line("ROOF-FLASHING", rng.randint(1, 3)),
        item_line("ROOF-LABOR", squares),
        item_line("PERMIT-ROOF", 1),
    ]
    insurance = rng.random() < 0.35
    if not insurance and rng.random() < 0.2:
        lines.append(item_line("DISC-PROMO", 1))
    return JobPlan("reroof", "installation", [lines], insurance=insurance)


def job_plan(demo: bool, rng: random.Random, segment: str, trade: int) -> JobPlan:
    """A job of this trade for a customer of this segment (person, property, business ...)."""
    if trade == GENERAL_CONTRACTING:
        return _project(rng)
    if trade == ROOFING:
        return _roofing(rng)
    if not demo and segment == "person" and trade in (PLUMBING, HVAC) and rng.random() < 0.08:
        sku = "PLAN-HVAC" if trade == HVAC else "PLAN-PLB"
        job = JobPlan(
            "maintenance visit",
            "maintenance_agreement",
            [
                [
                    item_line(sku, 1),
                    item_line("HVAC-FILTER" if trade == HVAC else "PLB-WAXRING", 1),
                ]
            ],
        )
        job.agreement = (sku, ITEM_BY_SKU[sku].unit_price)
        return job
    if rng.random() < (0.15 if demo else 0.2):
        return _installation(demo, rng, trade)
    return _service_call(demo, rng, trade)
