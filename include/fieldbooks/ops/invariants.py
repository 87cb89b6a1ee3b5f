"""The rules operations data always keeps, checked record by record.

Seeds and the simulator promise them; tests hold them to it. Money is summed in Python
(SQLite keeps amounts as text, which SQL would sum as floats), a slice of invoices or
payments at a time, so a check of a large database runs in flat memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, Engine, Table, func, select

from fieldbooks.money import line_amount, tax_on
from fieldbooks.ops import schema

ZERO = Decimal("0.00")
SLICE = 5_000


@dataclass(frozen=True)
class Violation:
    """One record that breaks one rule."""

    rule: str
    table: str
    record_id: int
    detail: str


def _slices(conn: Connection, table: Table) -> Iterator[tuple[int, int]]:
    """Id ranges [low, high) covering the table."""
    top = conn.execute(select(func.max(table.c.id))).scalar() or 0
    for low in range(1, top + 1, SLICE):
        yield low, low + SLICE


def _invoice_rules(conn: Connection, low: int, high: int) -> Iterator[Violation]:
    """Totals, tax, balance and status of the invoices with ids in [low, high), and their lines."""
    inv, lines, apps, pays, credits = (
        schema.invoices,
        schema.invoice_lines,
        schema.payment_applications,
        schema.payments,
        schema.credits,
    )
    subtotal: dict[int, Decimal] = defaultdict(lambda: ZERO)
    taxable: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for line in conn.execute(
        select(lines).where(
            lines.c.invoice_id >= low, lines.c.invoice_id < high, lines.c.deleted_at.is_(None)
        )
    ):
        if line.amount != line_amount(line.quantity, line.unit_price):
            yield Violation(
                "line_amount_is_quantity_times_price",
                "invoice_lines",
                line.id,
                f"{line.quantity} x {line.unit_price} is not {line.amount}",
            )
        subtotal[line.invoice_id] += line.amount
        if line.taxable:
            taxable[line.invoice_id] += line.amount
    applied: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for invoice_id, amount in conn.execute(
        select(apps.c.invoice_id, apps.c.amount)
        .join(pays, pays.c.id == apps.c.payment_id)
        .where(
            apps.c.invoice_id >= low,
            apps.c.invoice_id < high,
            apps.c.deleted_at.is_(None),
            pays.c.deleted_at.is_(None),
        )
    ):
        applied[invoice_id] += amount
    for invoice_id, amount in conn.execute(
        select(credits.c.invoice_id, credits.c.amount).where(
            credits.c.invoice_id >= low, credits.c.invoice_id < high, credits.c.deleted_at.is_(None)
        )
    ):
        applied[invoice_id] += amount
    for row in conn.execute(
        select(inv).where(inv.c.id >= low, inv.c.id < high, inv.c.deleted_at.is_(None))
    ):
        if row.subtotal != subtotal[row.id]:
            yield Violation(
                "subtotal_is_lines",
                "invoices",
                row.id,
                f"{row.subtotal} <> lines {subtotal[row.id]}",
            )
        if row.total != row.subtotal + row.tax:
            yield Violation(
                "total_is_subtotal_plus_tax",
                "invoices",
                row.id,
                f"{row.total} <> {row.subtotal} + {row.tax}",
            )
        rate = row.tax_rate if row.tax_rate is not None else ZERO
        expected_tax = tax_on(taxable[row.id], rate)
        if row.tax != expected_tax:
            yield Violation(
                "tax_is_rate_times_taxable", "invoices", row.id, f"{row.tax} <> {expected_tax}"
            )
        expected = ZERO if row.status == "void" else row.total - applied[row.id]
        if row.balance != expected:
            yield Violation(
                "balance_is_total_less_applied",
                "invoices",
                row.id,
                f"balance {row.balance} <> {expected} ({row.status}, applied {applied[row.id]})",
            )
        if row.balance < 0:
            yield Violation("balance_not_negative", "invoices", row.id, f"balance {row.balance}")
        if row.status == "void" and applied[row.id] != 0:
            yield Violation(
                "void_has_nothing_applied", "invoices", row.id, f"applied {applied[row.id]}"
            )
        if row.status in ("sent", "partially_paid", "paid"):
            status = (
                "paid"
                if row.balance == 0
                else ("partially_paid" if row.balance < row.total else "sent")
            )
            if status != row.status:
                yield Violation(
                    "status_follows_balance",
                    "invoices",
                    row.id,
                    f"{row.status}, balance {row.balance}",
                )


def _payment_rules(conn: Connection, low: int, high: int) -> Iterator[Violation]:
    """What the payments with ids in [low, high) apply and refund, and to whose invoices."""
    pays, apps, refunds, invoices = (
        schema.payments,
        schema.payment_applications,
        schema.refunds,
        schema.invoices,
    )
    used: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for payment_id, amount in conn.execute(
        select(apps.c.payment_id, apps.c.amount).where(
            apps.c.payment_id >= low, apps.c.payment_id < high, apps.c.deleted_at.is_(None)
        )
    ):
        if amount <= 0:
            yield Violation("application_positive", "payment_applications", payment_id, f"{amount}")
        used[payment_id] += amount
    for payment_id, amount in conn.execute(
        select(refunds.c.payment_id, refunds.c.amount).where(
            refunds.c.payment_id >= low, refunds.c.payment_id < high, refunds.c.deleted_at.is_(None)
        )
    ):
        used[payment_id] += amount
    for row in conn.execute(
        select(pays.c.id, pays.c.amount).where(
            pays.c.id >= low, pays.c.id < high, pays.c.deleted_at.is_(None)
        )
    ):
        if used[row.id] > row.amount:
            yield Violation(
                "payment_not_overspent",
                "payments",
                row.id,
                f"applied and refunded {used[row.id]} > {row.amount}",
            )
    for app_id, payment_customer, invoice_customer in conn.execute(
        select(apps.c.id, pays.c.customer_id, invoices.c.customer_id)
        .join(pays, pays.c.id == apps.c.payment_id)
        .join(invoices, invoices.c.id == apps.c.invoice_id)
        .where(
            apps.c.payment_id >= low,
            apps.c.payment_id < high,
            pays.c.customer_id != invoices.c.customer_id,
        )
    ):
        yield Violation(
            "application_pays_own_customer",
            "payment_applications",
            app_id,
            f"payment of customer {payment_customer} applied to an invoice of {invoice_customer}",
        )


def _credit_rules(conn: Connection) -> Iterator[Violation]:
    """Refunds come from one source; credits are not refunded beyond their amount or once applied."""
    credits, refunds = schema.credits, schema.refunds
    refunded: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for refund in conn.execute(select(refunds).where(refunds.c.deleted_at.is_(None))):
        if (refund.payment_id is None) == (refund.credit_id is None):
            yield Violation(
                "refund_has_one_source", "refunds", refund.id, "needs a payment or a credit"
            )
        if refund.credit_id is not None:
            refunded[refund.credit_id] += refund.amount
    for credit in conn.execute(select(credits).where(credits.c.deleted_at.is_(None))):
        if credit.invoice_id is not None and refunded[credit.id]:
            yield Violation(
                "applied_credit_not_refunded",
                "credits",
                credit.id,
                f"refunded {refunded[credit.id]}",
            )
        if refunded[credit.id] > credit.amount:
            yield Violation(
                "credit_not_overspent",
                "credits",
                credit.id,
                f"refunded {refunded[credit.id]} > {credit.amount}",
            )


def _timestamp_rules(conn: Connection) -> Iterator[Violation]:
    """No row was updated before it was created."""
    for table in schema.SYNCED_TABLES:
        for record_id in conn.execute(
            select(table.c.id).where(table.c.updated_at < table.c.created_at).limit(20)
        ).scalars():
            yield Violation(
                "updated_after_created", table.name, record_id, "updated_at < created_at"
            )


def check_invariants(engine: Engine) -> list[Violation]:
    """Every violation of the operations rules (an empty list when the data is sound)."""
    found: list[Violation] = []
    with engine.connect() as conn:
        for low, high in _slices(conn, schema.invoices):
            found.extend(_invoice_rules(conn, low, high))
        for low, high in _slices(conn, schema.payments):
            found.extend(_payment_rules(conn, low, high))
        found.extend(_credit_rules(conn))
        found.extend(_timestamp_rules(conn))
    return found
