"""`fieldbooks ops simulate`: a working office's days, played into the operations DB.

Every day brings new customers, jobs and draft invoices; drafts are edited (lines added,
quantities changed) and sent; a few sent invoices are edited again or voided; customers
pay online (sometimes several invoices at once, sometimes too much); credits, refunds,
contact and address edits, expenses, soft and hard deletes. Every change stamps
`updated_at` with the simulated clock, in whole seconds as many business applications
store them, so several updates land in the same second on purpose. Once a day a long
transaction (the bookkeeper's batch of mailed checks) stamps its rows when it begins and
commits only after other transactions stamped later have committed, as rows stamped with
PostgreSQL's now() (the transaction's start) do: an extractor that trusts `updated_at`
to grow with commit order misses them. The batch's writes are issued at its commit, which
leaves the database exactly as a real long transaction would, on SQLite as on PostgreSQL.
The same database, seed and start give the same result.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, delete, func, insert, select, update

from fieldbooks.money import line_amount, tax_on
from fieldbooks.ops import schema
from fieldbooks.ops.catalog import (
    BRANCHES,
    CATEGORY_BY_ID,
    DEMO_CATEGORY_IDS,
    ELECTRICAL,
    HVAC,
    PLUMBING,
    PRICE_BOOK,
)
from fieldbooks.ops.generate import (
    COMPANY_KINDS,
    DEMO_COMPANY_KINDS,
    STREETS,
    Plan,
    _company_names,
    _person_names,
)
from fieldbooks.ops.recipes import PARTS, job_plan
from fieldbooks.ops.writeback import refresh_invoice_balances

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
DAY_STARTS = time(8)
LONG_TRANSACTION_SECONDS = 180
CANDIDATES = 400  # events choose among the most recent records of a kind

inv, lines_t, pays, apps = (
    schema.invoices,
    schema.invoice_lines,
    schema.payments,
    schema.payment_applications,
)


@dataclass
class SimulationReport:
    """What a simulation did."""

    start: datetime
    end: datetime
    days: int
    counts: Counter = field(default_factory=Counter)
    # (the stamp its rows carry, the moment it committed)
    long_transactions: list[tuple[datetime, datetime]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the terminal."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": self.days,
            "changes": dict(sorted(self.counts.items())),
            "long_transactions": [
                {"stamped": s.isoformat(), "committed": c.isoformat()}
                for s, c in self.long_transactions
            ],
        }


@dataclass
class Office:
    """The simulated office: its database, clock, dice and what it is in the middle of."""

    engine: Engine
    rng: random.Random
    now: datetime
    plan: Plan
    jobs_per_day: int
    report: SimulationReport
    spacing: int = 60  # mean seconds between two changes today
    reserved: set[int] = field(default_factory=set)  # invoices the long transaction holds
    overpaid: list[tuple[int, int, Decimal]] = field(
        default_factory=list
    )  # payment, customer, extra
    new_customers: list[int] = field(default_factory=list)

    def tick(self) -> None:
        """Move the clock on; nearly a third of the changes share a second with the one before."""
        if self.rng.random() >= 0.3:
            self.now += timedelta(seconds=self.rng.randint(1, 2 * self.spacing))


def _placeholder(office: Office) -> str:
    """A number to insert with until the row's id gives it its real one (same transaction)."""
    return f"~{office.rng.randrange(16**12):012x}"


def _pick(office: Office, ids: list[Any]) -> Any | None:
    """One of the candidates (None when there are none)."""
    return ids[office.rng.randrange(len(ids))] if ids else None


def _recent(conn: Connection, query: Any, column: Any) -> list[Any]:
    """The most recent candidates of a query, oldest first (a stable order on every backend)."""
    rows = conn.execute(query.order_by(column.desc()).limit(CANDIDATES)).all()
    return list(reversed(rows))


def _retotal(conn: Connection, invoice_id: int, now: datetime) -> None:
    """Recompute an invoice's subtotal, tax and total from its live lines, then its balance."""
    subtotal = taxable = ZERO
    for amount, is_taxable in conn.execute(
        select(lines_t.c.amount, lines_t.c.taxable).where(
            lines_t.c.invoice_id == invoice_id, lines_t.c.deleted_at.is_(None)
        )
    ):
        subtotal += amount
        if is_taxable:
            taxable += amount
    rate = conn.execute(select(inv.c.tax_rate).where(inv.c.id == invoice_id)).scalar() or ZERO
    tax = tax_on(taxable, rate)
    conn.execute(
        update(inv)
        .where(inv.c.id == invoice_id)
        .values(
            subtotal=subtotal, tax=tax, total=subtotal + tax, balance=subtotal + tax, updated_at=now
        )
    )
    refresh_invoice_balances(conn, [invoice_id], now)


def _renumber_lines(conn: Connection, invoice_id: int) -> int:
    """The next line number of an invoice."""
    top = conn.execute(
        select(func.max(lines_t.c.line_number)).where(lines_t.c.invoice_id == invoice_id)
    ).scalar()
    return (top or 0) + 1


def _line_row(
    invoice_id: int, number: int, spec: tuple, exempt: bool, now: datetime
) -> dict[str, Any]:
    """An invoice_lines row from a line spec, taxable unless the customer is exempt."""
    category_id, item_id, description, qty, price = spec
    return {
        "invoice_id": invoice_id,
        "line_number": number,
        "category_id": category_id,
        "item_id": item_id,
        "description": description,
        "quantity": qty,
        "unit_price": price,
        "amount": line_amount(qty, price),
        "taxable": CATEGORY_BY_ID[category_id].taxable and not exempt,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }


# --------------------------------------------------------------------------- the events


def new_customer(office: Office) -> None:
    """A caller becomes a customer, with the site the work is at."""
    rng, now = office.rng, office.now
    company = rng.random() < 0.3
    branch = BRANCHES[0] if office.plan.demo else BRANCHES[rng.randrange(len(BRANCHES))]
    town = branch.towns[rng.randrange(len(branch.towns))]
    line1 = f"{rng.randint(10, 9999)} {rng.choice(STREETS)}"
    with office.engine.begin() as conn:
        customer_id = conn.execute(
            insert(schema.customers)
            .values(
                kind="company" if company else "person",
                display_name=f"new customer {now.isoformat()}",
                phone=f"(916) 555-{rng.randrange(10000):04d}",
                bill_line1=line1,
                bill_city=town[0],
                bill_state="CA",
                bill_postal_code=f"{town[1]}{rng.randint(10, 99)}",
                bill_country="USA",
                tax_exempt=False,
                status="active",
                created_at=now,
                updated_at=now,
            )
            .returning(schema.customers.c.id)
        ).scalar_one()
        # the seed's naming rule, applied to a fresh id: a name no other customer has
        names = (
            _company_names(customer_id, _company_kinds(office))[0]
            if company
            else _person_names(customer_id)
        )
        slug = "".join(ch for ch in names.display_name.lower() if ch.isascii() and ch.isalnum())[
            :20
        ]
        conn.execute(
            update(schema.customers)
            .where(schema.customers.c.id == customer_id)
            .values(
                display_name=names.display_name,
                given_name=names.given_name,
                family_name=names.family_name,
                company_name=names.company_name,
                email=f"{slug}{customer_id}@example.com",
            )
        )
        conn.execute(
            insert(schema.service_sites).values(
                customer_id=customer_id,
                name="Main location" if company else "Home",
                line1=line1,
                city=town[0],
                state="CA",
                postal_code=f"{town[1]}{rng.randint(10, 99)}",
                country="USA",
                tax_jurisdiction="LOCAL" if office.plan.demo else branch.tax_jurisdiction,
                created_at=now,
                updated_at=now,
            )
        )
    office.new_customers.append(customer_id)
    office.report.counts["customer_created"] += 1


def _company_kinds(office: Office) -> tuple[tuple[str, str], ...]:
    """The company kinds new customers are named after (the demo's, or all)."""
    return DEMO_COMPANY_KINDS if office.plan.demo else COMPANY_KINDS


def new_job(office: Office) -> None:
    """A job done today: the job, a draft invoice, the technician's time, maybe a supply run."""
    rng, now = office.rng, office.now
    customers = schema.customers
    with office.engine.begin() as conn:
        picked = _pick(
            office,
            _recent(
                conn,
                select(customers.c.id, customers.c.kind, customers.c.tax_exempt).where(
                    customers.c.deleted_at.is_(None), customers.c.status == "active"
                ),
                customers.c.id,
            ),
        )
        if picked is None:
            return
        customer_id, kind, exempt = picked
        sites = schema.service_sites
        site = conn.execute(
            select(sites.c.id, sites.c.tax_jurisdiction, sites.c.city)
            .where(sites.c.customer_id == customer_id, sites.c.deleted_at.is_(None))
            .order_by(sites.c.id)
            .limit(1)
        ).first()
        if site is None:
            return
        trade = rng.choice((PLUMBING, HVAC, ELECTRICAL))
        job = job_plan(office.plan.demo, rng, "person" if kind == "person" else "business", trade)
        specs = [s for s in job.bills[0] if not office.plan.demo or s[0] in DEMO_CATEGORY_IDS]
        if not specs:
            return
        branch_id = next((b.id for b in BRANCHES if site.city in dict(b.towns)), BRANCHES[0].id)
        job_id = conn.execute(
            insert(schema.jobs)
            .values(
                job_number=_placeholder(office),
                customer_id=customer_id,
                site_id=site.id,
                branch_id=branch_id,
                trade_id=trade,
                job_type=job.job_type,
                # an agreement sold on the spot is billed like a service call here
                contract_type="service_call"
                if job.contract_type == "maintenance_agreement"
                else job.contract_type,
                status="completed",
                opened_on=now.date(),
                scheduled_on=now.date(),
                completed_on=now.date(),
                is_warranty=job.warranty,
                is_insurance_claim=False,
                description=f"{job.job_type.capitalize()} (called in today)",
                created_at=now,
                updated_at=now,
            )
            .returning(schema.jobs.c.id)
        ).scalar_one()
        conn.execute(
            update(schema.jobs)
            .where(schema.jobs.c.id == job_id)
            .values(job_number=f"J-{job_id:07d}")
        )
        rate = (
            conn.execute(
                select(schema.tax_rates.c.rate).where(
                    schema.tax_rates.c.jurisdiction == site.tax_jurisdiction
                )
            ).scalar()
            or ZERO
        )
        terms, days = ("due_on_receipt", 0) if kind == "person" else ("net_30", 30)
        invoice_id = conn.execute(
            insert(inv)
            .values(
                invoice_number=_placeholder(office),
                customer_id=customer_id,
                job_id=job_id,
                issue_date=now.date(),
                due_date=now.date() + timedelta(days=days),
                terms=terms,
                status="draft",
                tax_jurisdiction=site.tax_jurisdiction,
                tax_rate=rate,
                subtotal=ZERO,
                tax=ZERO,
                total=ZERO,
                balance=ZERO,
                created_at=now,
                updated_at=now,
            )
            .returning(inv.c.id)
        ).scalar_one()
        conn.execute(
            update(inv)
            .where(inv.c.id == invoice_id)
            .values(invoice_number=f"FB-{10000 + invoice_id}")
        )
        conn.execute(
            insert(lines_t),
            [_line_row(invoice_id, n, spec, exempt, now) for n, spec in enumerate(specs, start=1)],
        )
        _retotal(conn, invoice_id, now)
        tech = conn.execute(
            select(schema.technicians.c.id, schema.technicians.c.cost_rate)
            .where(schema.technicians.c.trade_id == trade)
            .order_by(schema.technicians.c.id)
        ).all()
        if tech:
            tech_id, cost_rate = tech[rng.randrange(len(tech))]
            hours = Decimal(rng.randint(4, 16)) / 4
            conn.execute(
                insert(schema.labor_entries).values(
                    job_id=job_id,
                    technician_id=tech_id,
                    work_date=now.date(),
                    hours=hours,
                    cost_rate=cost_rate,
                    cost_amount=line_amount(hours, cost_rate),
                    billable=not job.warranty,
                    created_at=now,
                    updated_at=now,
                )
            )
    office.report.counts["job_created"] += 1
    office.report.counts["invoice_drafted"] += 1


def edit_draft(office: Office) -> None:
    """The office adds a line to a draft, then corrects a quantity: two commits, one second."""
    rng, now = office.rng, office.now
    with office.engine.begin() as conn:
        picked = _pick(office, _invoices(conn, office, ("draft",)))
    if picked is None:
        return
    invoice_id = picked
    with office.engine.begin() as conn:
        exempt = _exempt(conn, invoice_id)
        parts = _part_item_ids(office)
        item = PRICE_BOOK[parts[rng.randrange(len(parts))] - 1]
        spec = (item.category_id, item.id, item.name, Decimal(rng.randint(1, 3)), item.unit_price)
        conn.execute(
            insert(lines_t).values(
                **_line_row(invoice_id, _renumber_lines(conn, invoice_id), spec, exempt, now)
            )
        )
        _retotal(conn, invoice_id, now)
    office.report.counts["draft_line_added"] += 1
    with office.engine.begin() as conn:
        line = conn.execute(
            select(lines_t.c.id, lines_t.c.quantity, lines_t.c.unit_price)
            .where(lines_t.c.invoice_id == invoice_id, lines_t.c.deleted_at.is_(None))
            .order_by(lines_t.c.id)
            .limit(1)
        ).first()
        if line is None:
            return
        quantity = line.quantity + 1
        conn.execute(
            update(lines_t)
            .where(lines_t.c.id == line.id)
            .values(
                quantity=quantity, amount=line_amount(quantity, line.unit_price), updated_at=now
            )
        )
        _retotal(conn, invoice_id, now)
    office.report.counts["draft_quantity_changed"] += 1


def _part_item_ids(office: Office) -> list[int]:
    """Price-book ids of the parts a draft can gain (all in demo categories)."""
    return [
        item.id
        for item in PRICE_BOOK
        if item.sku in {sku for skus in PARTS.values() for sku in skus}
    ]


def _exempt(conn: Connection, invoice_id: int) -> bool:
    """Whether the invoice's customer is tax exempt."""
    customers = schema.customers
    return bool(
        conn.execute(
            select(customers.c.tax_exempt)
            .join(inv, inv.c.customer_id == customers.c.id)
            .where(inv.c.id == invoice_id)
        ).scalar()
    )


def _invoices(
    conn: Connection, office: Office, statuses: tuple[str, ...], untouched: bool = False
) -> list[int]:
    """Recent live invoices in these statuses (untouched: nothing paid or credited on them)."""
    query = select(inv.c.id).where(inv.c.status.in_(statuses), inv.c.deleted_at.is_(None))
    if untouched:
        query = query.where(
            inv.c.id.not_in(select(apps.c.invoice_id).where(apps.c.deleted_at.is_(None))),
            inv.c.id.not_in(
                select(schema.credits.c.invoice_id).where(schema.credits.c.invoice_id.is_not(None))
            ),
        )
    return [row.id for row in _recent(conn, query, inv.c.id) if row.id not in office.reserved]


def send_drafts(office: Office) -> None:
    """'Send all': every draft from before today goes out in one commit, one stamp."""
    now = office.now
    with office.engine.begin() as conn:
        ids = (
            conn.execute(
                select(inv.c.id)
                .where(
                    inv.c.status == "draft",
                    inv.c.deleted_at.is_(None),
                    inv.c.created_at < now - timedelta(hours=2),
                )
                .order_by(inv.c.id)
            )
            .scalars()
            .all()
        )
        if ids:
            conn.execute(
                update(inv)
                .where(inv.c.id.in_(ids))
                .values(status="sent", sent_at=now, updated_at=now)
            )
            # a $0 invoice (warranty work) is paid the moment it is sent
            refresh_invoice_balances(conn, list(ids), now)
    office.report.counts["invoice_sent"] += len(ids)


def edit_sent(office: Office) -> None:
    """A sent invoice corrected after the fact: one more unit on its first line."""
    now = office.now
    with office.engine.begin() as conn:
        invoice_id = _pick(office, _invoices(conn, office, ("sent",), untouched=True))
        if invoice_id is None:
            return
        # quantities are compared in Python: SQLite keeps them as text
        line = next(
            (
                row
                for row in conn.execute(
                    select(lines_t.c.id, lines_t.c.quantity, lines_t.c.unit_price)
                    .where(lines_t.c.invoice_id == invoice_id, lines_t.c.deleted_at.is_(None))
                    .order_by(lines_t.c.id)
                )
                if row.quantity > 0
            ),
            None,
        )
        if line is None:
            return
        quantity = line.quantity + 1
        conn.execute(
            update(lines_t)
            .where(lines_t.c.id == line.id)
            .values(
                quantity=quantity, amount=line_amount(quantity, line.unit_price), updated_at=now
            )
        )
        _retotal(conn, invoice_id, now)
    office.report.counts["sent_invoice_edited"] += 1


def void_invoice(office: Office) -> None:
    """A sent invoice nobody paid is voided."""
    now = office.now
    with office.engine.begin() as conn:
        invoice_id = _pick(office, _invoices(conn, office, ("sent",), untouched=True))
        if invoice_id is None:
            return
        conn.execute(
            update(inv)
            .where(inv.c.id == invoice_id)
            .values(status="void", balance=ZERO, updated_at=now)
        )
    office.report.counts["invoice_voided"] += 1


def _pay(
    conn: Connection,
    office: Office,
    customer_id: int,
    method: str,
    amount: Decimal,
    applied: list[tuple[int, Decimal]],
    now: datetime,
    reference: str | None = None,
) -> int:
    """Insert a payment and its applications, and bring the invoices' balances along."""
    payment_id = conn.execute(
        insert(pays)
        .values(
            customer_id=customer_id,
            method=method,
            amount=amount,
            received_at=now,
            received_on=now.date(),
            reference=reference or f"TXN-{office.rng.randrange(16**8):08x}",
            deposited=False,
            source="ops",
            created_at=now,
            updated_at=now,
        )
        .returning(pays.c.id)
    ).scalar_one()
    conn.execute(
        insert(apps),
        [
            {
                "payment_id": payment_id,
                "invoice_id": invoice_id,
                "amount": part,
                "created_at": now,
                "updated_at": now,
            }
            for invoice_id, part in applied
        ],
    )
    refresh_invoice_balances(conn, [invoice_id for invoice_id, _ in applied], now)
    return payment_id


def online_payment(office: Office) -> None:
    """A customer pays online: one invoice, part of one, all they owe, or a little too much."""
    rng, now = office.rng, office.now
    with office.engine.begin() as conn:
        invoice_id = _pick(office, _invoices(conn, office, ("sent", "partially_paid")))
        if invoice_id is None:
            return
        customer_id = conn.execute(
            select(inv.c.customer_id).where(inv.c.id == invoice_id)
        ).scalar_one()
        roll = rng.random()
        if roll < 0.1:
            owed = conn.execute(
                select(inv.c.id, inv.c.balance)
                .where(
                    inv.c.customer_id == customer_id,
                    inv.c.status.in_(("sent", "partially_paid")),
                    inv.c.deleted_at.is_(None),
                )
                .order_by(inv.c.id)
            ).all()
            applied = [
                (row.id, row.balance)
                for row in owed
                if row.id not in office.reserved and row.balance > 0
            ]
            kind = "payment_several_invoices"
        else:
            balance = conn.execute(select(inv.c.balance).where(inv.c.id == invoice_id)).scalar_one()
            part = (balance / 2).quantize(CENT) if roll < 0.25 else balance
            applied = [(invoice_id, part)] if part > 0 else []
            kind = "payment_partial" if roll < 0.25 else "payment_full"
        if not applied:
            return
        amount = sum((part for _, part in applied), ZERO)
        extra = ZERO
        if rng.random() < 0.04:
            extra = Decimal(rng.randint(5, 50))
            kind = "payment_over"
        payment_id = _pay(conn, office, customer_id, "online_card", amount + extra, applied, now)
    if extra:
        office.overpaid.append((payment_id, customer_id, extra))
    office.report.counts[kind] += 1


def refund(office: Office) -> None:
    """An over-payment goes back to the card it came from."""
    if not office.overpaid:
        return
    payment_id, customer_id, extra = office.overpaid.pop(0)
    now = office.now
    with office.engine.begin() as conn:
        refund_id = conn.execute(
            insert(schema.refunds)
            .values(
                customer_id=customer_id,
                payment_id=payment_id,
                amount=extra,
                method="card",
                refunded_on=now.date(),
                reason="Overpayment returned",
                created_at=now,
                updated_at=now,
            )
            .returning(schema.refunds.c.id)
        ).scalar_one()
        conn.execute(
            update(schema.refunds)
            .where(schema.refunds.c.id == refund_id)
            .values(reference=f"RF-{refund_id:06d}")
        )
    office.report.counts["refund"] += 1


def credit(office: Office) -> None:
    """A goodwill credit on an open invoice."""
    now = office.now
    with office.engine.begin() as conn:
        invoice_id = _pick(office, _invoices(conn, office, ("sent", "partially_paid")))
        if invoice_id is None:
            return
        row = conn.execute(
            select(inv.c.customer_id, inv.c.total, inv.c.balance).where(inv.c.id == invoice_id)
        ).one()
        amount = min((row.total / 10).quantize(CENT), row.balance)
        if amount <= 0:
            return
        credit_id = conn.execute(
            insert(schema.credits)
            .values(
                credit_number=_placeholder(office),
                customer_id=row.customer_id,
                invoice_id=invoice_id,
                issued_on=now.date(),
                amount=amount,
                reason="Late arrival",
                created_at=now,
                updated_at=now,
            )
            .returning(schema.credits.c.id)
        ).scalar_one()
        conn.execute(
            update(schema.credits)
            .where(schema.credits.c.id == credit_id)
            .values(credit_number=f"CM-{credit_id:06d}")
        )
        refresh_invoice_balances(conn, [invoice_id], now)
    office.report.counts["credit"] += 1


def edit_customer(office: Office) -> None:
    """A customer's new phone, email or address."""
    rng, now = office.rng, office.now
    customers = schema.customers
    with office.engine.begin() as conn:
        row = _pick(
            office,
            _recent(
                conn,
                select(customers.c.id, customers.c.email).where(customers.c.deleted_at.is_(None)),
                customers.c.id,
            ),
        )
        if row is None:
            return
        choice = rng.random()
        if choice < 0.4:
            values: dict[str, Any] = {"phone": f"(916) 555-{rng.randrange(10000):04d}"}
            kind = "customer_phone_changed"
        elif choice < 0.7 and row.email and "@" in row.email:
            local, _, domain = row.email.partition("@")
            values = {"email": f"{local}.new@{domain}"}
            kind = "customer_email_changed"
        else:
            values = {"bill_line1": f"{rng.randint(10, 9999)} {rng.choice(STREETS)}"}
            kind = "customer_address_changed"
        conn.execute(
            update(customers).where(customers.c.id == row.id).values(**values, updated_at=now)
        )
    office.report.counts[kind] += 1


def expense(office: Office) -> None:
    """A supply-house receipt or a vendor bill for a recent job."""
    rng, now = office.rng, office.now
    jobs, vendors = schema.jobs, schema.vendors
    with office.engine.begin() as conn:
        job = _pick(
            office,
            _recent(
                conn,
                select(jobs.c.id, jobs.c.branch_id).where(jobs.c.deleted_at.is_(None)),
                jobs.c.id,
            ),
        )
        vendor_ids = (
            conn.execute(
                select(vendors.c.id)
                .where(vendors.c.vendor_type == "supplier")
                .order_by(vendors.c.id)
                .limit(20)
            )
            .scalars()
            .all()
        )
        if job is None or not vendor_ids:
            return
        paid_by = "on_account" if rng.random() < 0.3 else "card"
        conn.execute(
            insert(schema.expenses).values(
                vendor_id=vendor_ids[rng.randrange(len(vendor_ids))],
                job_id=job.id,
                branch_id=job.branch_id,
                category="material",
                expense_date=now.date(),
                amount=Decimal(rng.randrange(1500, 60000)).scaleb(-2),
                paid_by=paid_by,
                due_date=now.date() + timedelta(days=30) if paid_by == "on_account" else None,
                reference=f"RCPT-{rng.randrange(10**6):06d}",
                description="Parts for the job",
                billable=True,
                created_at=now,
                updated_at=now,
            )
        )
    office.report.counts["expense"] += 1


def soft_delete(office: Office) -> None:
    """A mistaken draft is deleted (flagged), or a customer entered twice today."""
    now = office.now
    with office.engine.begin() as conn:
        if office.new_customers and office.rng.random() < 0.3:
            customer_id = office.new_customers.pop()
            customers = schema.customers
            has_jobs = conn.execute(
                select(func.count())
                .select_from(schema.jobs)
                .where(schema.jobs.c.customer_id == customer_id)
            ).scalar_one()
            if not has_jobs:
                conn.execute(
                    update(customers)
                    .where(customers.c.id == customer_id)
                    .values(deleted_at=now, updated_at=now)
                )
                office.report.counts["customer_soft_deleted"] += 1
                return
        invoice_id = _pick(office, _invoices(conn, office, ("draft",)))
        if invoice_id is None:
            return
        conn.execute(
            update(lines_t)
            .where(lines_t.c.invoice_id == invoice_id, lines_t.c.deleted_at.is_(None))
            .values(deleted_at=now, updated_at=now)
        )
        conn.execute(
            update(inv).where(inv.c.id == invoice_id).values(deleted_at=now, updated_at=now)
        )
    office.report.counts["draft_soft_deleted"] += 1


def hard_delete(office: Office) -> None:
    """Rows removed for good: a draft's extra line, or a labor entry typed twice."""
    now = office.now
    with office.engine.begin() as conn:
        if office.rng.random() < 0.5:
            entries = schema.labor_entries
            entry_id = _pick(
                office, [row.id for row in _recent(conn, select(entries.c.id), entries.c.id)]
            )
            if entry_id is not None:
                conn.execute(delete(entries).where(entries.c.id == entry_id))
                office.report.counts["labor_entry_hard_deleted"] += 1
            return
        invoice_id = _pick(office, _invoices(conn, office, ("draft",)))
        if invoice_id is None:
            return
        line_ids = (
            conn.execute(
                select(lines_t.c.id)
                .where(lines_t.c.invoice_id == invoice_id, lines_t.c.deleted_at.is_(None))
                .order_by(lines_t.c.id)
            )
            .scalars()
            .all()
        )
        if len(line_ids) < 2:
            return
        conn.execute(delete(lines_t).where(lines_t.c.id == line_ids[-1]))
        _retotal(conn, invoice_id, now)
    office.report.counts["draft_line_hard_deleted"] += 1


def long_transaction(
    office: Office,
    others: list[Callable[[Office], None]],
    seconds: int,
    hook: Callable[[], None] | None,
) -> None:
    """The bookkeeper's batch of mailed checks: stamped when it begins, committed last."""
    rng = office.rng
    began = office.now
    with office.engine.begin() as conn:
        candidates = _invoices(conn, office, ("sent", "partially_paid"))
        picked = []
        while candidates and len(picked) < 3:
            picked.append(candidates.pop(rng.randrange(len(candidates))))
        batch = conn.execute(
            select(inv.c.id, inv.c.customer_id, inv.c.balance)
            .where(inv.c.id.in_(picked))
            .order_by(inv.c.id)
        ).all()
    office.reserved.update(row.id for row in batch)
    # others commit meanwhile, stamped later than the batch
    step = max(1, seconds // max(1, len(others)))
    for event in others:
        office.now += timedelta(seconds=step)
        event(office)
    office.now = max(office.now, began + timedelta(seconds=seconds))
    if hook is not None:
        hook()
    with office.engine.begin() as conn:
        for row in batch:
            if row.balance > 0:
                _pay(
                    conn,
                    office,
                    row.customer_id,
                    "check",
                    row.balance,
                    [(row.id, row.balance)],
                    began,
                    f"CHK {rng.randint(1000, 99999)}",
                )
    office.reserved.clear()
    office.report.long_transactions.append((began, office.now))
    office.report.counts["long_transaction_payment"] += sum(1 for row in batch if row.balance > 0)


# --------------------------------------------------------------------------- days


def _day_events(office: Office) -> list[Callable[[Office], None]]:
    """Today's changes, in a shuffled order."""
    jobs = office.jobs_per_day
    few = max(1, jobs // 10)
    events: list[Callable[[Office], None]] = (
        [new_customer] * max(1, jobs // 3)
        + [new_job] * jobs
        + [edit_draft] * max(1, jobs // 2)
        + [edit_sent] * few
        + [void_invoice] * max(1, jobs // 20)
        + [online_payment] * max(1, jobs // 2)
        + [refund] * few
        + [credit] * max(1, jobs // 20)
        + [edit_customer] * max(1, jobs // 4)
        + [expense] * jobs
        + [soft_delete] * max(1, jobs // 20)
        + [hard_delete] * max(1, jobs // 20)
    )
    office.rng.shuffle(events)
    # the office sends yesterday's drafts first thing, and once more after lunch
    half = len(events) // 2
    return [send_drafts, *events[:half], send_drafts, *events[half:]]


def _latest_change(conn: Connection) -> datetime | None:
    """The newest updated_at of the database."""
    stamps = [conn.execute(select(func.max(t.c.updated_at))).scalar() for t in schema.SYNCED_TABLES]
    known = [s for s in stamps if s is not None]
    return max(known) if known else None


def _is_demo(conn: Connection) -> bool:
    """Whether the database holds only what the demo company takes (categories 1-6, LOCAL)."""
    other_category = conn.execute(
        select(func.count())
        .select_from(lines_t)
        .where(lines_t.c.category_id.not_in(sorted(DEMO_CATEGORY_IDS)))
    ).scalar_one()
    other_tax = conn.execute(
        select(func.count()).select_from(inv).where(inv.c.tax_jurisdiction != "LOCAL")
    ).scalar_one()
    return other_category == 0 and other_tax == 0


def simulate(
    ops: str | Engine,
    days: int,
    seed: int = 7,
    start: datetime | None = None,
    *,
    long_transaction_seconds: int = LONG_TRANSACTION_SECONDS,
    before_long_commit: Callable[[], None] | None = None,
) -> SimulationReport:
    """Play `days` office days into the operations DB from `start` (default: the day after its newest change).

    `before_long_commit` runs when the day's long transaction has been overtaken by later
    commits and is about to commit: a test extracts there to show what a naive extractor misses.
    """
    engine = create_engine(ops) if isinstance(ops, str) else ops
    try:
        with engine.connect() as conn:
            latest = _latest_change(conn)
            demo = _is_demo(conn)
            customers = conn.execute(
                select(func.count())
                .select_from(schema.customers)
                .where(schema.customers.c.deleted_at.is_(None))
            ).scalar_one()
        if start is None:
            base = (latest or datetime(2026, 10, 1)).date() + timedelta(days=1)
            start = datetime.combine(base, DAY_STARTS)
        start = start.replace(microsecond=0)
        report = SimulationReport(start=start, end=start, days=days)
        office = Office(
            engine=engine,
            rng=random.Random(seed),
            now=start,
            plan=Plan(
                seed=seed,
                customers=0,
                invoices=0,
                demo=demo,
                dirty=False,
                history_days=0,
                vendors=12,
                technicians_per_crew=0,
            ),
            jobs_per_day=max(2, customers // 30),
            report=report,
        )
        for day in range(days):
            today: date = start.date() + timedelta(days=day)
            office.now = max(office.now, datetime.combine(today, DAY_STARTS)) if day else start
            events = _day_events(office)
            # the changes spread over a nine-hour office day
            office.spacing = max(1, 9 * 3600 * 10 // (7 * len(events)))
            long_at = len(events) // 2
            position = 0
            while position < len(events):
                if position == long_at:
                    others = events[position : position + 3]
                    long_transaction(office, others, long_transaction_seconds, before_long_commit)
                    position += len(others)
                    continue
                events[position](office)
                office.tick()
                position += 1
        report.end = office.now
        return report
    finally:
        if isinstance(ops, str):
            engine.dispose()
