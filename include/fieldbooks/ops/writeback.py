"""Step 5b: write what QuickBooks knows back to the operations DB.

Payments recorded in QuickBooks become operations payments (source `quickbooks`)
applied to their invoice; the invoice's balance and status follow from its payments;
QuickBooks ids land in the `qbo_id` columns. Every write is keyed so a rerun finds
it done and writes nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, and_, create_engine, insert, select, update

from fieldbooks.config import Settings
from fieldbooks.issues import Issue, raise_issue
from fieldbooks.ledger import record_event, upsert_entry
from fieldbooks.money import to_money
from fieldbooks.ops import schema
from fieldbooks.warehouse.connection import WarehouseConnection, connect
from fieldbooks.warehouse.state import ensure_state, utcnow

log = logging.getLogger(__name__)

DIRECTION = "to_ops"
ZERO = Decimal("0.00")


def invoice_status(total: Decimal, balance: Decimal, current: str) -> str:
    """An invoice's status from its balance (drafts and voids keep theirs)."""
    if current in ("draft", "void"):
        return current
    if balance <= ZERO:
        return "paid"
    return "partially_paid" if balance < total else "sent"


def refresh_invoice_balance(conn: Connection, invoice_id: int) -> tuple[Decimal, str] | None:
    """Recompute one invoice's balance and status from its live payments; None if unchanged."""
    inv = conn.execute(select(schema.invoices).where(schema.invoices.c.id == invoice_id)).one()
    paid_strs = conn.execute(
        select(schema.payments.c.amount).where(
            and_(schema.payments.c.invoice_id == invoice_id, schema.payments.c.deleted_at.is_(None))
        )
    ).scalars()
    paid = sum((to_money(p) for p in paid_strs), ZERO)
    balance = to_money(inv.total) - paid
    status = invoice_status(to_money(inv.total), balance, inv.status)
    if balance == inv.balance and status == inv.status:
        return None
    conn.execute(
        update(schema.invoices)
        .where(schema.invoices.c.id == invoice_id)
        .values(balance=balance, status=status, updated_at=utcnow())
    )
    return balance, status


def _insert_quickbooks_payment(conn: Connection, row: dict[str, Any]) -> tuple[int, bool]:
    """Insert one QuickBooks payment line unless operations has it; returns (id, inserted)."""
    qbo_id = str(row["qbo_payment_id"])
    invoice_id = int(row["ops_invoice_id"])
    existing = conn.execute(
        select(schema.payments.c.id).where(
            and_(schema.payments.c.qbo_id == qbo_id, schema.payments.c.invoice_id == invoice_id)
        )
    ).scalar()
    if existing is not None:
        return existing, False
    customer_id = conn.execute(
        select(schema.invoices.c.customer_id).where(schema.invoices.c.id == invoice_id)
    ).scalar_one()
    now = utcnow()
    new_id = conn.execute(
        insert(schema.payments)
        .values(
            invoice_id=invoice_id,
            customer_id=customer_id,
            method="check" if row.get("payment_ref_num") else "other",
            amount=to_money(row["amount"]),
            received_on=row["txn_date"],
            reference=row.get("payment_ref_num"),
            source="quickbooks",
            qbo_id=qbo_id,
            created_at=now,
            updated_at=now,
        )
        .returning(schema.payments.c.id)
    ).scalar_one()
    refresh_invoice_balance(conn, invoice_id)
    return new_id, True


def apply_quickbooks_payments(
    engine: Engine, wh: WarehouseConnection, realm_id: str, run_id: str, counts: Counter
) -> None:
    """Insert payments recorded in QuickBooks and bring their invoices' balances along.

    Each payment commits on its own in operations before the ledger learns of it, so a
    crash between the two leaves a payment that the next run finds and only links.
    """
    rows = wh.fetchdicts("select * from sync.sync_ops_payments order by qbo_payment_id, line_index")
    for row in rows:
        qbo_id = str(row["qbo_payment_id"])
        if row["ops_invoice_id"] is None:
            raise_issue(
                wh,
                Issue(
                    realm_id=realm_id,
                    entity="payment",
                    ops_id=None,
                    qbo_id=qbo_id,
                    kind="payment_unmatched",
                    reason=f"QuickBooks payment {qbo_id} applies to invoice {row['qbo_invoice_id']}, "
                    "which operations does not know",
                    hint="Link the invoice (create it in operations, or dismiss if it is QuickBooks-only).",
                ),
                run_id,
            )
            counts["payment_unmatched"] += 1
            continue
        with engine.begin() as conn:
            ops_id, inserted = _insert_quickbooks_payment(conn, row)
        upsert_entry(
            wh,
            realm_id=realm_id,
            entity="payment",
            ops_id=str(ops_id),
            state="confirmed",
            qbo_id=qbo_id,
            origin="quickbooks",
        )
        if inserted:
            record_event(
                wh,
                run_id=run_id,
                direction=DIRECTION,
                realm_id=realm_id,
                entity="payment",
                operation="create",
                outcome="ok",
                ops_id=str(ops_id),
                qbo_id=qbo_id,
                detail=f"applied {row['amount']} to invoice {row['ops_invoice_id']}",
            )
            counts["payment"] += 1


def refresh_balances(conn: Connection, counts: Counter) -> None:
    """Bring every live invoice's balance and status in line with its payments."""
    ids = (
        conn.execute(select(schema.invoices.c.id).where(schema.invoices.c.deleted_at.is_(None)))
        .scalars()
        .all()
    )
    for invoice_id in ids:
        if refresh_invoice_balance(conn, invoice_id) is not None:
            counts["invoice_balance"] += 1


def write_qbo_ids(
    conn: Connection, wh: WarehouseConnection, realm_id: str, run_id: str, counts: Counter
) -> None:
    """Copy QuickBooks ids from the ledger into the operations rows that lack them."""
    tables = {"customer": schema.customers, "invoice": schema.invoices, "payment": schema.payments}
    for entity, table in tables.items():
        linked: list[dict[str, Any]] = wh.fetchdicts(
            "select ops_id, qbo_id from fieldbooks.sync_ledger "
            "where realm_id = %s and entity = %s and qbo_id is not null",
            (realm_id, entity),
        )
        current = dict(conn.execute(select(table.c.id, table.c.qbo_id)).all())
        for row in linked:
            ops_id = int(row["ops_id"])
            if ops_id not in current or current[ops_id] == row["qbo_id"]:
                continue
            conn.execute(
                update(table)
                .where(table.c.id == ops_id)
                .values(qbo_id=row["qbo_id"], updated_at=utcnow())
            )
            record_event(
                wh,
                run_id=run_id,
                direction=DIRECTION,
                realm_id=realm_id,
                entity=entity,
                operation="set_qbo_id",
                outcome="ok",
                ops_id=str(ops_id),
                qbo_id=row["qbo_id"],
            )
            counts[f"{entity}_qbo_id"] += 1


def load_ops(settings: Settings, run_id: str) -> dict[str, int]:
    """Write QuickBooks-side changes back to the operations DB; returns counts by kind."""
    counts: Counter = Counter()
    engine = create_engine(settings.ops_url)
    try:
        with connect(settings.warehouse_url) as wh:
            ensure_state(wh)
            apply_quickbooks_payments(engine, wh, settings.qbo.realm_id, run_id, counts)
            with engine.begin() as conn:
                refresh_balances(conn, counts)
            with engine.begin() as conn:
                write_qbo_ids(conn, wh, settings.qbo.realm_id, run_id, counts)
    finally:
        engine.dispose()
    log.info("load_ops: %s", dict(counts))
    return dict(counts)
