"""The reference operations database schema (SQLAlchemy Core; SQLite and PostgreSQL).

All timestamps are naive UTC. Money is numeric(18,2) on PostgreSQL and text on SQLite, whose NUMERIC
affinity would otherwise turn amounts into floats (see `ExactDecimal`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
)


class ExactDecimal(TypeDecorator):
    """A fixed-point number that never passes through a float (text on SQLite)."""

    impl = Numeric(18, 2)
    cache_ok = True

    def __init__(self, precision: int = 18, scale: int = 2) -> None:
        super().__init__()
        self.precision = precision
        self.scale = scale
        self.quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        """Keep SQLite from applying NUMERIC affinity (which stores REAL)."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.precision + 6))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Quantize to the column's scale; refuse floats outright."""
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError(f"exact decimals must not be floats: {value!r}")
        amount = Decimal(value).quantize(self.quantum)
        return str(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Return a Decimal at the column's scale."""
        if value is None:
            return None
        return Decimal(str(value)).quantize(self.quantum)


def Money() -> ExactDecimal:  # noqa: N802 - reads as a column type
    """An amount exact to the cent: numeric(18,2)."""
    return ExactDecimal(18, 2)


metadata = MetaData()


def _audit_columns(soft_delete: bool = True) -> list[Column]:
    """The change-tracking columns every table carries."""
    columns = [
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False, index=True),
    ]
    if soft_delete:
        columns.append(Column("deleted_at", DateTime, nullable=True))
    return columns


customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("display_name", String(500), nullable=False),
    Column("given_name", String(100)),
    Column("family_name", String(100)),
    Column("company_name", String(200)),
    Column("email", String(254)),
    Column("phone", String(40)),
    Column("bill_line1", String(200)),
    Column("bill_city", String(100)),
    Column("bill_state", String(40)),
    Column("bill_postal_code", String(20)),
    Column("bill_country", String(60)),
    Column("tax_exempt", Boolean, nullable=False, default=False),
    Column("tax_exempt_reason", String(200)),
    Column("qbo_id", String(32), index=True),
    *_audit_columns(),
)

service_categories = Table(
    "service_categories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    # service, material, fee, permit: decides which QuickBooks item a line maps to
    Column("kind", String(20), nullable=False),
    Column("taxable", Boolean, nullable=False, default=False),
    *_audit_columns(),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", Integer, primary_key=True),
    # QuickBooks DocNumber: at most 21 characters, the idempotency marker
    Column("invoice_number", String(21), nullable=False, unique=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("issue_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    # draft, sent, partially_paid, paid, void
    Column("status", String(20), nullable=False),
    Column("tax_jurisdiction", String(40)),
    Column("tax_rate", ExactDecimal(7, 4)),
    Column("subtotal", Money(), nullable=False),
    Column("tax", Money(), nullable=False),
    Column("total", Money(), nullable=False),
    Column("balance", Money(), nullable=False),
    Column("memo", Text),
    Column("qbo_id", String(32), index=True),
    *_audit_columns(),
)

invoice_lines = Table(
    "invoice_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False, index=True),
    Column("line_number", Integer, nullable=False),
    Column("category_id", Integer, ForeignKey("service_categories.id"), nullable=False),
    Column("description", String(4000)),
    Column("quantity", ExactDecimal(18, 4), nullable=False),
    Column("unit_price", Money(), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("taxable", Boolean, nullable=False, default=False),
    *_audit_columns(),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("invoice_id", Integer, ForeignKey("invoices.id"), index=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    # check, card, ach, cash
    Column("method", String(20), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("received_on", Date, nullable=False),
    Column("reference", String(60)),
    # ops: taken in the field or office; quickbooks: recorded by the bookkeeper in QuickBooks
    Column("source", String(20), nullable=False, default="ops"),
    Column("qbo_id", String(32), index=True),
    *_audit_columns(),
)

Index("ix_invoice_lines_invoice_line", invoice_lines.c.invoice_id, invoice_lines.c.line_number)

# Extraction order and keys: the contract with raw_ops.* and the dbt staging models.
SYNCED_TABLES: tuple[Table, ...] = (
    customers,
    service_categories,
    invoices,
    invoice_lines,
    payments,
)
