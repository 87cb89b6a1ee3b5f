"""The reference operations database schema (SQLAlchemy Core; SQLite and PostgreSQL).

A field-service company's books of record: customers and their sites, jobs, invoices,
payments applied to invoices, credits and refunds, costs (labor, vendor expenses) and the
catalog. All timestamps are naive UTC. Money is numeric(18,2) on PostgreSQL and text on
SQLite, whose NUMERIC affinity would otherwise turn amounts into floats (see `ExactDecimal`).
docs/ops_schema.md draws it; `SYNCED_TABLES` is the contract with raw_ops.* and dbt.
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


def _qbo_id() -> Column:
    """The QuickBooks id of a synced record (what a QuickBooks link stores)."""
    return Column("qbo_id", String(32), index=True)


def _table(name: str, *columns: Any) -> Table:
    """A table whose ids are never reused, on SQLite as on PostgreSQL."""
    # AUTOINCREMENT keeps SQLite from handing a hard-deleted row's id to the next insert,
    # as a PostgreSQL sequence never does: the same simulation gives the same ids on both.
    return Table(name, metadata, *columns, sqlite_autoincrement=True)


tax_rates = _table(
    "tax_rates",
    Column("id", Integer, primary_key=True),
    # the code invoices and sites carry; map_tax_jurisdictions maps it to a QuickBooks tax code
    Column("jurisdiction", String(40), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    # a fraction with six places: 9.975 % is 0.099750
    Column("rate", ExactDecimal(9, 6), nullable=False),
    *_audit_columns(),
)

branches = _table(
    "branches",
    Column("id", Integer, primary_key=True),
    Column("code", String(20), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("line1", String(200)),
    Column("city", String(100)),
    Column("state", String(40)),
    Column("postal_code", String(20)),
    Column("phone", String(40)),
    Column("tax_jurisdiction", String(40)),
    # a QuickBooks Location (Department)
    _qbo_id(),
    *_audit_columns(),
)

trades = _table(
    "trades",
    Column("id", Integer, primary_key=True),
    Column("code", String(20), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    # a QuickBooks Class: the business unit
    _qbo_id(),
    *_audit_columns(),
)

customers = _table(
    "customers",
    Column("id", Integer, primary_key=True),
    # person or company
    Column("kind", String(20), nullable=False, default="person"),
    # longer than QuickBooks' 500 characters on purpose: offices type what they like
    Column("display_name", String(1000), nullable=False),
    Column("given_name", String(100)),
    Column("family_name", String(100)),
    Column("company_name", String(1000)),
    Column("email", String(254)),
    Column("phone", String(40)),
    Column("bill_line1", String(200)),
    Column("bill_city", String(100)),
    Column("bill_state", String(40)),
    Column("bill_postal_code", String(20)),
    Column("bill_country", String(60)),
    Column("tax_exempt", Boolean, nullable=False, default=False),
    Column("tax_exempt_reason", String(200)),
    # active or inactive
    Column("status", String(20), nullable=False, default="active"),
    _qbo_id(),
    *_audit_columns(),
)

service_sites = _table(
    "service_sites",
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("line1", String(200)),
    Column("city", String(100)),
    Column("state", String(40)),
    Column("postal_code", String(20)),
    Column("country", String(60)),
    Column("tax_jurisdiction", String(40)),
    Column("access_notes", Text),
    *_audit_columns(),
)

service_categories = _table(
    "service_categories",
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    # service, material, equipment, fee, permit, subcontract, discount: with the mapping
    # seed it decides the QuickBooks item a line posts to
    Column("kind", String(20), nullable=False),
    Column("taxable", Boolean, nullable=False, default=False),
    *_audit_columns(),
)

price_book_items = _table(
    "price_book_items",
    Column("id", Integer, primary_key=True),
    Column("sku", String(40), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("description", Text),
    Column("category_id", Integer, ForeignKey("service_categories.id"), nullable=False),
    Column("trade_id", Integer, ForeignKey("trades.id")),
    Column("unit", String(20), nullable=False, default="each"),
    Column("unit_price", Money(), nullable=False),
    Column("unit_cost", Money(), nullable=False),
    Column("taxable", Boolean, nullable=False, default=False),
    Column("active", Boolean, nullable=False, default=True),
    _qbo_id(),
    *_audit_columns(),
)

technicians = _table(
    "technicians",
    Column("id", Integer, primary_key=True),
    Column("branch_id", Integer, ForeignKey("branches.id"), nullable=False),
    Column("trade_id", Integer, ForeignKey("trades.id"), nullable=False),
    Column("given_name", String(100), nullable=False),
    Column("family_name", String(100), nullable=False),
    Column("email", String(254)),
    Column("phone", String(40)),
    # what an hour of this technician costs the company, burden included
    Column("cost_rate", Money(), nullable=False),
    Column("hired_on", Date, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    _qbo_id(),
    *_audit_columns(),
)

maintenance_agreements = _table(
    "maintenance_agreements",
    Column("id", Integer, primary_key=True),
    Column("agreement_number", String(21), nullable=False, unique=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("site_id", Integer, ForeignKey("service_sites.id")),
    Column("trade_id", Integer, ForeignKey("trades.id"), nullable=False),
    Column("plan_name", String(100), nullable=False),
    # billed up front, earned over the term: deferred revenue
    Column("price", Money(), nullable=False),
    Column("term_months", Integer, nullable=False),
    Column("visits_per_term", Integer, nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    # active, expired, cancelled
    Column("status", String(20), nullable=False),
    *_audit_columns(),
)

jobs = _table(
    "jobs",
    Column("id", Integer, primary_key=True),
    Column("job_number", String(21), nullable=False, unique=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("site_id", Integer, ForeignKey("service_sites.id")),
    Column("branch_id", Integer, ForeignKey("branches.id"), nullable=False),
    Column("trade_id", Integer, ForeignKey("trades.id"), nullable=False),
    Column("agreement_id", Integer, ForeignKey("maintenance_agreements.id")),
    # what the work is: repair, water heater replacement, reroof, tenant improvement ...
    Column("job_type", String(60), nullable=False),
    # service_call, installation, maintenance_agreement, project
    Column("contract_type", String(30), nullable=False),
    # scheduled, in_progress, completed, cancelled
    Column("status", String(20), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("scheduled_on", Date),
    Column("completed_on", Date),
    Column("is_warranty", Boolean, nullable=False, default=False),
    Column("is_insurance_claim", Boolean, nullable=False, default=False),
    Column("insurance_claim_number", String(40)),
    Column("description", Text),
    # a QuickBooks sub-customer (job) of the customer
    _qbo_id(),
    *_audit_columns(),
)

labor_entries = _table(
    "labor_entries",
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False, index=True),
    Column("technician_id", Integer, ForeignKey("technicians.id"), nullable=False),
    Column("work_date", Date, nullable=False),
    Column("hours", ExactDecimal(18, 4), nullable=False),
    Column("cost_rate", Money(), nullable=False),
    Column("cost_amount", Money(), nullable=False),
    Column("billable", Boolean, nullable=False, default=True),
    Column("description", String(200)),
    *_audit_columns(),
)

invoices = _table(
    "invoices",
    Column("id", Integer, primary_key=True),
    # QuickBooks DocNumber: at most 21 characters, the idempotency marker
    Column("invoice_number", String(21), nullable=False, unique=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), index=True),
    Column("issue_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    # due_on_receipt, net_15, net_30, net_45
    Column("terms", String(20), nullable=False, default="net_30"),
    # draft, sent, partially_paid, paid, void
    Column("status", String(20), nullable=False),
    Column("sent_at", DateTime),
    Column("tax_jurisdiction", String(40)),
    Column("tax_rate", ExactDecimal(9, 6)),
    Column("subtotal", Money(), nullable=False),
    Column("tax", Money(), nullable=False),
    Column("total", Money(), nullable=False),
    # total less live payment applications and credits (0 once void)
    Column("balance", Money(), nullable=False),
    # share of each progress bill the customer may hold back until the project is accepted
    Column("retainage_percent", ExactDecimal(5, 2), nullable=False, default=Decimal("0.00")),
    # 1, 2, 3 ... for the bills of one progress-billed job; null otherwise
    Column("progress_sequence", Integer),
    Column("reminders_enabled", Boolean, nullable=False, default=True),
    Column("memo", Text),
    _qbo_id(),
    *_audit_columns(),
)

invoice_lines = _table(
    "invoice_lines",
    Column("id", Integer, primary_key=True),
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False, index=True),
    Column("line_number", Integer, nullable=False),
    Column("category_id", Integer, ForeignKey("service_categories.id"), nullable=False),
    Column("item_id", Integer, ForeignKey("price_book_items.id")),
    # longer than QuickBooks' 4,000 characters on purpose (dirty data)
    Column("description", Text),
    Column("quantity", ExactDecimal(18, 4), nullable=False),
    Column("unit_price", Money(), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("taxable", Boolean, nullable=False, default=False),
    *_audit_columns(),
)

payments = _table(
    "payments",
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    # online_card, card, ach, check, cash, other
    Column("method", String(20), nullable=False),
    # what was received; the applications say which invoices it pays, the rest is unapplied
    Column("amount", Money(), nullable=False),
    Column("received_at", DateTime),
    Column("received_on", Date, nullable=False),
    Column("reference", String(60)),
    Column("deposited", Boolean, nullable=False, default=False),
    Column("deposited_on", Date),
    # ops: taken in the field or office; quickbooks: recorded by the bookkeeper in QuickBooks
    Column("source", String(20), nullable=False, default="ops"),
    _qbo_id(),
    *_audit_columns(),
)

payment_applications = _table(
    "payment_applications",
    Column("id", Integer, primary_key=True),
    Column("payment_id", Integer, ForeignKey("payments.id"), nullable=False, index=True),
    # always an invoice of the payment's customer
    Column("invoice_id", Integer, ForeignKey("invoices.id"), nullable=False, index=True),
    Column("amount", Money(), nullable=False),
    *_audit_columns(),
)

credits = _table(
    "credits",
    Column("id", Integer, primary_key=True),
    Column("credit_number", String(21), nullable=False, unique=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    # the invoice the whole credit is applied to; null while it is the customer's to use
    Column("invoice_id", Integer, ForeignKey("invoices.id"), index=True),
    Column("issued_on", Date, nullable=False),
    Column("amount", Money(), nullable=False),
    Column("reason", String(200)),
    # a QuickBooks CreditMemo
    _qbo_id(),
    *_audit_columns(),
)

refunds = _table(
    "refunds",
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    # money given back from a payment's unapplied amount, or from an unapplied credit
    Column("payment_id", Integer, ForeignKey("payments.id")),
    Column("credit_id", Integer, ForeignKey("credits.id")),
    Column("amount", Money(), nullable=False),
    Column("method", String(20), nullable=False),
    Column("refunded_on", Date, nullable=False),
    Column("reference", String(60)),
    Column("reason", String(200)),
    # a QuickBooks RefundReceipt
    _qbo_id(),
    *_audit_columns(),
)

vendors = _table(
    "vendors",
    Column("id", Integer, primary_key=True),
    Column("display_name", String(500), nullable=False),
    Column("company_name", String(500)),
    Column("email", String(254)),
    Column("phone", String(40)),
    Column("line1", String(200)),
    Column("city", String(100)),
    Column("state", String(40)),
    Column("postal_code", String(20)),
    # supplier, subcontractor, permit_authority, rental
    Column("vendor_type", String(30), nullable=False),
    Column("is_1099", Boolean, nullable=False, default=False),
    Column("terms", String(20)),
    Column("active", Boolean, nullable=False, default=True),
    _qbo_id(),
    *_audit_columns(),
)

expenses = _table(
    "expenses",
    Column("id", Integer, primary_key=True),
    Column("vendor_id", Integer, ForeignKey("vendors.id"), nullable=False, index=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), index=True),
    Column("branch_id", Integer, ForeignKey("branches.id")),
    # material, subcontract, permit, equipment_rental
    Column("category", String(30), nullable=False),
    Column("expense_date", Date, nullable=False),
    Column("amount", Money(), nullable=False),
    # card or cash: a QuickBooks Purchase; on_account: a QuickBooks Bill, due on due_date
    Column("paid_by", String(20), nullable=False),
    Column("due_date", Date),
    Column("reference", String(60)),
    Column("description", String(500)),
    # passed through to the customer's invoice
    Column("billable", Boolean, nullable=False, default=False),
    _qbo_id(),
    *_audit_columns(),
)

Index("ix_invoice_lines_invoice_line", invoice_lines.c.invoice_id, invoice_lines.c.line_number)

# Extraction order and keys: the contract with raw_ops.* and the dbt staging models.
# Parents come before children, which is also the order a bulk load writes them in.
SYNCED_TABLES: tuple[Table, ...] = (
    tax_rates,
    branches,
    trades,
    customers,
    service_sites,
    service_categories,
    price_book_items,
    technicians,
    maintenance_agreements,
    jobs,
    labor_entries,
    invoices,
    invoice_lines,
    payments,
    payment_applications,
    credits,
    refunds,
    vendors,
    expenses,
)
