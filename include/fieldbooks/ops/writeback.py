"""Step 5b: write what QuickBooks knows back to the operations DB.

A payment recorded in QuickBooks becomes one operations payment (source `quickbooks`)
with one application per invoice it pays; a customer edited in QuickBooks takes its
QuickBooks fields (sync_ops_customers) unless operations changed it meanwhile (then it
waits for the next run, and an issue when it waits twice in a row); invoices' balance and
status follow from their applications and credits, and one paid in full through
QuickBooks stops its payment reminders; QuickBooks ids land in the `qbo_id` columns. Every
write is keyed (a payment by its QuickBooks id) so a rerun finds it done and writes nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime, time
from decimal import Decimal
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from fieldbooks.config import Settings
from fieldbooks.issues import Issue, held_qbo_ids, raise_issue
from fieldbooks.ledger import record_event, upsert_entry
from fieldbooks.money import to_money
from fieldbooks.ops import schema
from fieldbooks.quality.raw_ops import KIND as RAW_CONTRACT
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


def _applied_sums(conn: Connection, invoice_ids: list[int] | None) -> dict[int, Decimal]:
    """Live payment applications plus applied live credits, by invoice."""
    apps, pays, credits = schema.payment_applications, schema.payments, schema.credits
    applied: dict[int, Decimal] = {}
    queries = [
        select(apps.c.invoice_id, apps.c.amount)
        .join(pays, pays.c.id == apps.c.payment_id)
        .where(apps.c.deleted_at.is_(None), pays.c.deleted_at.is_(None)),
        select(credits.c.invoice_id, credits.c.amount).where(
            credits.c.invoice_id.is_not(None), credits.c.deleted_at.is_(None)
        ),
    ]
    for query in queries:
        if invoice_ids is not None:
            query = query.where(query.selected_columns[0].in_(invoice_ids))
        for invoice_id, amount in conn.execute(query):
            applied[invoice_id] = applied.get(invoice_id, ZERO) + to_money(amount)
    return applied


def refresh_invoice_balances(
    conn: Connection, invoice_ids: list[int] | None = None, now: datetime | None = None
) -> int:
    """Recompute balance (total less applications and credits; 0 once void) and status.

    Only invoices whose balance or status changes are written (stamped `now`, default the
    current time); returns how many were.
    """
    invoices = schema.invoices
    query = select(invoices.c.id, invoices.c.total, invoices.c.balance, invoices.c.status).where(
        invoices.c.deleted_at.is_(None)
    )
    if invoice_ids is not None:
        query = query.where(invoices.c.id.in_(invoice_ids))
    applied = _applied_sums(conn, invoice_ids)
    changed = 0
    now = now or utcnow()
    for invoice_id, total, balance, status in conn.execute(query).all():
        total = to_money(total)
        new_balance = ZERO if status == "void" else total - applied.get(invoice_id, ZERO)
        new_status = invoice_status(total, new_balance, status)
        if new_balance == to_money(balance) and new_status == status:
            continue
        conn.execute(
            update(invoices)
            .where(invoices.c.id == invoice_id)
            .values(balance=new_balance, status=new_status, updated_at=now)
        )
        changed += 1
    return changed


def _received_at(txn_date: Any) -> datetime:
    """When a QuickBooks payment was received, as far as its date tells."""
    day = txn_date if isinstance(txn_date, date) else date.fromisoformat(str(txn_date))
    return datetime.combine(day, time())


def _insert_quickbooks_payment(conn: Connection, lines: list[dict[str, Any]]) -> tuple[int, bool]:
    """Insert one QuickBooks payment and its applications unless operations has it.

    Returns (operations id, inserted). The payment is keyed by its QuickBooks id.
    """
    first = lines[0]
    qbo_id = str(first["qbo_payment_id"])
    existing = conn.execute(
        select(schema.payments.c.id).where(schema.payments.c.qbo_id == qbo_id)
    ).scalar()
    if existing is not None:
        return existing, False
    invoice_ids = [int(line["ops_invoice_id"]) for line in lines]
    customer_id = conn.execute(
        select(schema.invoices.c.customer_id).where(schema.invoices.c.id == invoice_ids[0])
    ).scalar_one()
    applied = sum((to_money(line["amount"]) for line in lines), ZERO)
    total = first.get("total_amount")
    amount = max(applied, to_money(total)) if total is not None else applied
    now = utcnow()
    payment_id = conn.execute(
        insert(schema.payments)
        .values(
            customer_id=customer_id,
            method="check" if first.get("payment_ref_num") else "other",
            amount=amount,
            received_at=_received_at(first["txn_date"]),
            received_on=first["txn_date"],
            reference=first.get("payment_ref_num"),
            deposited=False,
            source="quickbooks",
            qbo_id=qbo_id,
            created_at=now,
            updated_at=now,
        )
        .returning(schema.payments.c.id)
    ).scalar_one()
    conn.execute(
        insert(schema.payment_applications),
        [
            {
                "payment_id": payment_id,
                "invoice_id": int(line["ops_invoice_id"]),
                "amount": to_money(line["amount"]),
                "created_at": now,
                "updated_at": now,
            }
            for line in lines
        ],
    )
    paid = sorted(set(invoice_ids))
    refresh_invoice_balances(conn, paid)
    # paid through QuickBooks, which operations never saw: stop reminding the customer
    invoices = schema.invoices
    conn.execute(
        update(invoices)
        .where(
            invoices.c.id.in_(paid),
            invoices.c.balance == ZERO,
            invoices.c.reminders_enabled.is_(True),
        )
        .values(reminders_enabled=False, updated_at=utcnow())
    )
    return payment_id, True


def _hold_reason(conn: Connection, lines: list[dict[str, Any]]) -> tuple[str, str, str] | None:
    """Why a QuickBooks payment cannot be written to operations as it is, if it cannot."""
    qbo_id = lines[0]["qbo_payment_id"]
    unknown = [str(line["qbo_invoice_id"]) for line in lines if line["ops_invoice_id"] is None]
    if unknown:
        return (
            f"QuickBooks payment {qbo_id} applies to invoice(s) {', '.join(unknown)}, "
            "which operations does not know",
            "payment_unmatched",
            "Link the invoice (create it in operations, or dismiss if it is QuickBooks-only).",
        )
    invoice_ids = sorted({int(line["ops_invoice_id"]) for line in lines})
    owners = conn.execute(
        select(func.count(func.distinct(schema.invoices.c.customer_id))).where(
            schema.invoices.c.id.in_(invoice_ids)
        )
    ).scalar_one()
    if owners != 1:
        return (
            f"QuickBooks payment {qbo_id} pays invoices {invoice_ids} that belong to "
            "different operations customers",
            "validation_failed",
            "Move the invoices to one customer in operations, or split the payment in QuickBooks.",
        )
    return None


def apply_quickbooks_payments(
    engine: Engine, wh: WarehouseConnection, realm_id: str, run_id: str, counts: Counter
) -> None:
    """Insert payments recorded in QuickBooks and bring their invoices' balances along.

    Each payment commits on its own in operations before the ledger learns of it, so a
    crash between the two leaves a payment that the next run finds and only links. A
    payment that pays any invoice operations does not know is held whole, and so is one
    whose raw row broke its contract this run (its amounts cannot be trusted).
    """
    rows = wh.fetchdicts("select * from sync.sync_ops_payments order by qbo_payment_id, line_index")
    broken = held_qbo_ids(wh, realm_id, "payment", RAW_CONTRACT, run_id)
    for qbo_id, group in groupby(rows, key=lambda row: str(row["qbo_payment_id"])):
        if qbo_id in broken:
            counts["payment_held"] += 1
            continue
        lines = list(group)
        with engine.begin() as conn:
            held = _hold_reason(conn, lines)
            if held is None:
                ops_id, inserted = _insert_quickbooks_payment(conn, lines)
        if held is not None:
            reason, kind, hint = held
            raise_issue(
                wh,
                Issue(
                    realm_id=realm_id,
                    entity="payment",
                    ops_id=None,
                    qbo_id=qbo_id,
                    kind=kind,
                    reason=reason,
                    hint=hint,
                ),
                run_id,
            )
            counts[kind] += 1
            continue
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
            paid = ", ".join(
                f"{line['amount']} to invoice {line['ops_invoice_id']}" for line in lines
            )
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
                detail=f"applied {paid}",
            )
            counts["payment"] += 1


# the customer fields QuickBooks' version replaces (sync_ops_customers' names; tax
# exemption arrives as is_tax_exempt)
CUSTOMER_FIELDS = (
    "display_name",
    "given_name",
    "family_name",
    "company_name",
    "email",
    "phone",
    "bill_line1",
    "bill_city",
    "bill_state",
    "bill_postal_code",
    "bill_country",
)


def apply_customer_edits(
    engine: Engine, wh: WarehouseConnection, realm_id: str, run_id: str, counts: Counter
) -> None:
    """Write customer edits made in QuickBooks (sync_ops_customers) to operations.

    An `update` writes QuickBooks' version of every field, so the two agree exactly,
    and only if the operations row is as it was extracted (its `updated_at`): one edited
    in operations since waits for the next run, where the conflict policy decides. The
    ledger then takes QuickBooks' SyncToken and the payload hash operations now has, so
    neither side sees a change on the next run. A `record` only adopts the SyncToken
    (QuickBooks changed what operations does not keep). A customer whose raw row broke
    its contract this run waits until QuickBooks sends it whole.
    """
    table = schema.customers
    rows = wh.fetchdicts("select * from sync.sync_ops_customers order by ops_customer_id")
    broken = held_qbo_ids(wh, realm_id, "customer", RAW_CONTRACT, run_id)
    for row in rows:
        if row["qbo_id"] in broken:
            counts["customer_edit_held"] += 1
            continue
        ops_id = str(row["ops_customer_id"])
        payload_hash = None
        if row["action"] == "update":
            values = {name: row[name] for name in CUSTOMER_FIELDS}
            values["tax_exempt"] = bool(row["is_tax_exempt"])
            try:
                with engine.begin() as conn:
                    written = conn.execute(
                        update(table)
                        .where(
                            table.c.id == int(ops_id), table.c.updated_at == row["ops_updated_at"]
                        )
                        .values(**values, updated_at=utcnow())
                    ).rowcount
            except SQLAlchemyError as exc:
                raise_issue(
                    wh,
                    Issue(
                        realm_id=realm_id,
                        entity="customer",
                        ops_id=ops_id,
                        qbo_id=row["qbo_id"],
                        kind="validation_failed",
                        reason=(
                            f"customer {ops_id}: operations refused QuickBooks' edit "
                            f"({row['changed_fields']}): {str(exc.orig or exc)[:300]}"
                        ),
                        hint="Correct the customer in QuickBooks (or in operations); the next run retries it.",
                    ),
                    run_id,
                )
                counts["customer_edit_refused"] += 1
                continue
            if not written:
                log.info("customer %s: changed in operations since extract; next run", ops_id)
                _wait_for_next_run(wh, realm_id, run_id, row)
                counts["customer_edit_waiting"] += 1
                continue
            payload_hash = row["ops_payload_hash_after"]
            record_event(
                wh,
                run_id=run_id,
                direction=DIRECTION,
                realm_id=realm_id,
                entity="customer",
                operation="update",
                outcome="ok",
                ops_id=ops_id,
                qbo_id=row["qbo_id"],
                payload_hash=payload_hash,
                detail=f"edited in QuickBooks ({row['reason']}): {row['changed_fields']}",
            )
            wh.execute(
                """update fieldbooks.sync_issues set status = 'resolved', last_seen = %s,
                     run_id = %s
                   where realm_id = %s and entity = 'customer' and ops_id = %s
                     and kind = 'changed_during_sync' and status in ('open', 'retrying')""",
                (utcnow(), run_id, realm_id, ops_id),
            )
            counts["customer"] += 1
        upsert_entry(
            wh,
            realm_id=realm_id,
            entity="customer",
            ops_id=ops_id,
            state="confirmed",
            sync_token=row["qbo_sync_token"],
            payload_hash=payload_hash,
        )


def _wait_for_next_run(
    wh: WarehouseConnection, realm_id: str, run_id: str, row: dict[str, Any]
) -> None:
    """Record that a customer edit from QuickBooks waits (operations changed the customer
    since extract); the second run in a row it waits, it becomes an issue for a person."""
    ops_id = str(row["ops_customer_id"])
    waited = wh.scalar(
        """select count(*) from fieldbooks.sync_events
           where realm_id = %s and entity = 'customer' and ops_id = %s and direction = %s
             and outcome = 'waiting' and run_id <> %s
             and occurred_at > coalesce(
               (select max(occurred_at) from fieldbooks.sync_events
                where realm_id = %s and entity = 'customer' and ops_id = %s
                  and direction = %s and outcome = 'ok'),
               cast('1900-01-01' as timestamp))""",
        (realm_id, ops_id, DIRECTION, run_id, realm_id, ops_id, DIRECTION),
    )
    record_event(
        wh,
        run_id=run_id,
        direction=DIRECTION,
        realm_id=realm_id,
        entity="customer",
        operation="update",
        outcome="waiting",
        ops_id=ops_id,
        qbo_id=row["qbo_id"],
        detail=f"changed in operations while QuickBooks' edit ({row['changed_fields']}) was applied",
    )
    if waited:
        raise_issue(
            wh,
            Issue(
                realm_id=realm_id,
                entity="customer",
                ops_id=ops_id,
                qbo_id=row["qbo_id"],
                kind="changed_during_sync",
                reason=(
                    f"customer {ops_id}: operations changed it again while fieldbooks applied "
                    f"QuickBooks' edit ({row['changed_fields']}); {waited + 1} runs in a row"
                ),
                hint=(
                    "Something in operations keeps editing this customer during syncs (an "
                    "import, an automation?). Stop it, or make the two agree by hand; the "
                    "edit is applied on the first run operations leaves the customer alone."
                ),
            ),
            run_id,
        )


def refresh_balances(conn: Connection, counts: Counter) -> None:
    """Bring every live invoice's balance and status in line with its applications and credits."""
    changed = refresh_invoice_balances(conn)
    if changed:
        counts["invoice_balance"] += changed


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
            apply_customer_edits(engine, wh, settings.qbo.realm_id, run_id, counts)
            with engine.begin() as conn:
                refresh_balances(conn, counts)
            with engine.begin() as conn:
                write_qbo_ids(conn, wh, settings.qbo.realm_id, run_id, counts)
    finally:
        engine.dispose()
    log.info("load_ops: %s", dict(counts))
    return dict(counts)
