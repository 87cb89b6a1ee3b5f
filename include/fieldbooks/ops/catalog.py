"""The reference data every seed shares: tax rates, branches, trades, catalog categories, price book.

Names follow the sandbox's demo company (classes are the trades, departments the branches,
two sales tax codes), and categories 1..6 are the ones dbt_project/seeds/map_service_categories.csv
maps to its items 1..6.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class TaxRate:
    """A sales tax jurisdiction and its rate (a fraction)."""

    id: int
    jurisdiction: str
    name: str
    rate: Decimal


@dataclass(frozen=True)
class Branch:
    """A location the company works out of, and the towns it serves."""

    id: int
    code: str
    name: str
    line1: str
    city: str
    postal_code: str
    phone: str
    tax_jurisdiction: str
    towns: tuple[tuple[str, str], ...]  # (city, postal code prefix)


@dataclass(frozen=True)
class Category:
    """What an invoice line is for."""

    id: int
    name: str
    kind: str
    taxable: bool


@dataclass(frozen=True)
class Item:
    """A price-book entry."""

    id: int
    sku: str
    name: str
    category_id: int
    trade_id: int | None
    unit: str
    unit_price: Decimal
    unit_cost: Decimal


TAX_RATES = (
    TaxRate(1, "LOCAL", "Local Sales Tax", Decimal("0.082500")),
    # a rate whose products land on fractions of a cent more often than not
    TaxRate(2, "REGIONAL", "Regional Sales Tax", Decimal("0.099750")),
)
TAX_RATE_BY_JURISDICTION = {t.jurisdiction: t for t in TAX_RATES}

BRANCHES = (
    Branch(
        1,
        "NORTH",
        "North",
        "1200 Industrial Blvd",
        "Sacramento",
        "95815",
        "(916) 555-0100",
        "LOCAL",
        (("Sacramento", "958"), ("Davis", "956"), ("Folsom", "956"), ("Roseville", "956")),
    ),
    Branch(
        2,
        "SOUTH",
        "South",
        "88 Commerce Way",
        "Elk Grove",
        "95757",
        "(916) 555-0200",
        "REGIONAL",
        (("Elk Grove", "957"), ("Lodi", "952"), ("Galt", "956"), ("Stockton", "952")),
    ),
)

PLUMBING, HVAC, ELECTRICAL, GENERAL_CONTRACTING, ROOFING = 1, 2, 3, 4, 5
TRADES = (
    (PLUMBING, "PLB", "Plumbing"),
    (HVAC, "HVAC", "HVAC"),
    (ELECTRICAL, "ELEC", "Electrical"),
    (GENERAL_CONTRACTING, "GC", "General Contracting"),
    (ROOFING, "ROOF", "Roofing"),
)
TRADE_NAMES = {trade_id: name for trade_id, _, name in TRADES}

CATEGORIES = (
    Category(1, "Plumbing Service", "service", False),
    Category(2, "HVAC Service", "service", False),
    Category(3, "Electrical Service", "service", False),
    Category(4, "Materials", "material", True),
    Category(5, "Permit Fee", "permit", False),
    Category(6, "Trip Charge", "fee", False),
    Category(7, "Equipment", "equipment", True),
    Category(8, "Subcontract", "subcontract", False),
    Category(9, "Discount", "discount", False),
    Category(10, "Roofing Service", "service", False),
    Category(11, "General Contracting", "service", False),
    Category(12, "Maintenance Plan", "service", False),
    Category(13, "Disposal Fee", "fee", False),
)
CATEGORY_BY_ID = {c.id: c for c in CATEGORIES}
# The categories the sandbox's demo company has items for: the demo uses no others.
DEMO_CATEGORY_IDS = frozenset({1, 2, 3, 4, 5, 6})

# Prices that are ever billed in fractions (labor hours, squares, pounds) are whole dollars,
# so no clean line lands on a half cent: those are dirty on purpose (fieldbooks.ops.dirty).
_D = Decimal
_ITEMS = (
    # sku, name, category, trade, unit, price, cost
    ("PLB-LABOR", "Plumbing labor", 1, PLUMBING, "hour", _D("125"), _D("0")),
    ("PLB-DRAIN", "Main line drain cleaning", 1, PLUMBING, "each", _D("289"), _D("0")),
    ("PLB-FAUCET", "Kitchen faucet, pull-down", 4, PLUMBING, "each", _D("189.00"), _D("94.50")),
    ("PLB-PTRAP", "P-trap kit 1-1/2in", 4, PLUMBING, "each", _D("24.50"), _D("9.80")),
    ("PLB-SUPPLY", "Braided supply line", 4, PLUMBING, "each", _D("18.75"), _D("6.10")),
    ("PLB-WAXRING", "Toilet wax ring", 4, PLUMBING, "each", _D("12.00"), _D("3.50")),
    ("PLB-FILLV", "Toilet fill valve", 4, PLUMBING, "each", _D("34.00"), _D("11.20")),
    ("PLB-PRV", "Pressure reducing valve", 4, PLUMBING, "each", _D("265.00"), _D("118.00")),
    ("PLB-COPPER", "Copper pipe 3/4in", 4, PLUMBING, "ft", _D("8.40"), _D("3.10")),
    ("PLB-WH50", "Water heater 50 gal gas", 7, PLUMBING, "each", _D("1895.00"), _D("980.00")),
    ("PLB-TANKLESS", "Tankless water heater", 7, PLUMBING, "each", _D("3450.00"), _D("1850.00")),
    ("HVAC-LABOR", "HVAC labor", 2, HVAC, "hour", _D("140"), _D("0")),
    ("HVAC-TUNE", "AC tune-up", 2, HVAC, "each", _D("149"), _D("0")),
    ("HVAC-CAP", "Run capacitor 45/5", 4, HVAC, "each", _D("145.00"), _D("18.40")),
    ("HVAC-CONT", "Contactor 2-pole", 4, HVAC, "each", _D("165.00"), _D("22.10")),
    ("HVAC-FILTER", "Pleated filter 16x25", 4, HVAC, "each", _D("28.00"), _D("7.25")),
    ("HVAC-R410", "Refrigerant R-410A", 4, HVAC, "lb", _D("95"), _D("28.00")),
    ("HVAC-TSTAT", "Smart thermostat", 4, HVAC, "each", _D("325.00"), _D("139.00")),
    ("HVAC-COND3", "Condenser 3-ton 16 SEER", 7, HVAC, "each", _D("4850.00"), _D("2600.00")),
    ("HVAC-FURN80", "Furnace 80k BTU", 7, HVAC, "each", _D("3650.00"), _D("1900.00")),
    ("HVAC-COIL", "Evaporator coil", 7, HVAC, "each", _D("1750.00"), _D("820.00")),
    ("ELEC-LABOR", "Electrical labor", 3, ELECTRICAL, "hour", _D("135"), _D("0")),
    ("ELEC-GFCI", "GFCI receptacle", 4, ELECTRICAL, "each", _D("68.00"), _D("19.00")),
    ("ELEC-BREAKER", "Breaker 20A", 4, ELECTRICAL, "each", _D("55.00"), _D("12.40")),
    ("ELEC-WIRE", "Romex 12/2", 4, ELECTRICAL, "ft", _D("1.85"), _D("0.62")),
    ("ELEC-LED", "LED fixture", 4, ELECTRICAL, "each", _D("145.00"), _D("58.00")),
    ("ELEC-PANEL", "Panel upgrade 200A", 7, ELECTRICAL, "each", _D("1650.00"), _D("720.00")),
    ("ELEC-EVSE", "EV charger level 2", 7, ELECTRICAL, "each", _D("895.00"), _D("520.00")),
    ("GC-PM", "Project management", 11, GENERAL_CONTRACTING, "hour", _D("95"), _D("0")),
    ("GC-CARPENTRY", "Carpentry labor", 11, GENERAL_CONTRACTING, "hour", _D("85"), _D("0")),
    ("GC-SUB-ELEC", "Electrical subcontract", 8, GENERAL_CONTRACTING, "lot", _D("0"), _D("0")),
    ("GC-SUB-DRYWALL", "Drywall subcontract", 8, GENERAL_CONTRACTING, "lot", _D("0"), _D("0")),
    ("GC-SUB-PAINT", "Painting subcontract", 8, GENERAL_CONTRACTING, "lot", _D("0"), _D("0")),
    ("GC-LUMBER", "Framing lumber package", 4, GENERAL_CONTRACTING, "lot", _D("0"), _D("0")),
    (
        "GC-DUMPSTER",
        "Dumpster and haul-off",
        13,
        GENERAL_CONTRACTING,
        "each",
        _D("650.00"),
        _D("410.00"),
    ),
    ("ROOF-LABOR", "Roofing labor", 10, ROOFING, "square", _D("185"), _D("0")),
    ("ROOF-SHINGLE", "Architectural shingles", 4, ROOFING, "square", _D("145"), _D("98.00")),
    ("ROOF-UNDERLAY", "Synthetic underlayment", 4, ROOFING, "roll", _D("165.00"), _D("92.00")),
    ("ROOF-FLASHING", "Flashing kit", 4, ROOFING, "each", _D("120.00"), _D("40.00")),
    ("ROOF-REPAIR", "Leak repair", 10, ROOFING, "each", _D("450"), _D("0")),
    ("ROOF-TEAROFF", "Tear-off and disposal", 13, ROOFING, "square", _D("75"), _D("31.00")),
    ("TRIP", "Trip charge", 6, None, "each", _D("89.00"), _D("0")),
    ("PERMIT-PLB", "Plumbing permit", 5, PLUMBING, "each", _D("150.00"), _D("150.00")),
    ("PERMIT-MECH", "Mechanical permit", 5, HVAC, "each", _D("250.00"), _D("250.00")),
    ("PERMIT-ELEC", "Electrical permit", 5, ELECTRICAL, "each", _D("175.00"), _D("175.00")),
    ("PERMIT-BLDG", "Building permit", 5, GENERAL_CONTRACTING, "each", _D("850.00"), _D("850.00")),
    ("PERMIT-ROOF", "Reroof permit", 5, ROOFING, "each", _D("325.00"), _D("325.00")),
    ("DISC-PROMO", "Seasonal promotion", 9, None, "each", _D("-250.00"), _D("0")),
    ("DISC-WARRANTY", "Warranty - no charge", 9, None, "each", _D("0"), _D("0")),
    ("PLAN-HVAC", "Comfort Club annual plan", 12, HVAC, "each", _D("189.00"), _D("0")),
    ("PLAN-PLB", "Plumbing protection plan", 12, PLUMBING, "each", _D("159.00"), _D("0")),
)
PRICE_BOOK = tuple(Item(n, *row) for n, row in enumerate(_ITEMS, start=1))
ITEM_BY_SKU = {item.sku: item for item in PRICE_BOOK}

# Hourly labor by trade: the item billed per hour and what a technician of it costs.
LABOR_SKU = {
    PLUMBING: "PLB-LABOR",
    HVAC: "HVAC-LABOR",
    ELECTRICAL: "ELEC-LABOR",
    GENERAL_CONTRACTING: "GC-CARPENTRY",
    ROOFING: "ROOF-LABOR",
}
PERMIT_SKU = {
    PLUMBING: "PERMIT-PLB",
    HVAC: "PERMIT-MECH",
    ELECTRICAL: "PERMIT-ELEC",
    GENERAL_CONTRACTING: "PERMIT-BLDG",
    ROOFING: "PERMIT-ROOF",
}
