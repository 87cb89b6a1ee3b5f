"""Step 5a: write the outbound change sets to QuickBooks, exactly once.

Order follows the references: customers, vendors, jobs (sub-customers), invoices,
payments, expenses (Purchases and Bills), then voids and expense deletes. References are
resolved from the ledger as each set is loaded, so a vendor or job created earlier in the
run is usable by an expense in the same run. Each write is bracketed by the ledger (intent + deterministic requestid before, QuickBooks id
after); a `pending` row left by a crash is resolved by looking the object up by its
marker before anything is created again. A record QuickBooks refuses becomes an
issue with the cause; the rest of the run goes on. Auth failures stop the load.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from fieldbooks.config import Settings
from fieldbooks.errors import ISSUE_HINTS, ErrorClass, classify_qbo_error, issue_kind_for
from fieldbooks.issues import Issue, raise_issue, resolve_issues
from fieldbooks.ledger import get_entry, qbo_ids, record_event, request_id_for, upsert_entry
from fieldbooks.money import dumps_exact
from fieldbooks.qbo.client import company_url, open_client
from fieldbooks.qbo.payloads import (
    customer_payload,
    expense_payload,
    invoice_payload,
    job_payload,
    payment_payload,
    quote_query_value,
    vendor_marker,
    vendor_payload,
)
from fieldbooks.warehouse.connection import WarehouseConnection, connect
from fieldbooks.warehouse.state import ensure_state

log = logging.getLogger(__name__)

DIRECTION = "to_quickbooks"
WRITE_ATTEMPTS = 3
WRITE_BACKOFF_SECONDS = 1.0


class QuickBooksAuthError(RuntimeError):
    """The company refused our credentials: nothing more is written until it is reconnected."""


@dataclass
class LoadReport:
    """What a load wrote, skipped and held back, by entity."""

    written: Counter = field(default_factory=Counter)
    held: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, dict[str, int]]:
        """Plain dicts for XCom and the run summary."""
        return {
            "written": dict(self.written),
            "held": dict(self.held),
            "failed": dict(self.failed),
            "already_written": dict(self.skipped),
        }


@dataclass(frozen=True)
class Write:
    """One intended write of one record."""

    entity: str  # the ledger's: customer, vendor, job, invoice, payment, expense
    ops_id: str
    operation: str  # create, update, void, delete (link: found, nothing sent)
    body: dict[str, Any]
    payload_hash: str
    marker: str
    qbo_id: str | None = None
    sync_token: str | None = None
    # why, for the audit log (e.g. the conflict policy that chose this write)
    note: str | None = None
    # the QuickBooks entity when it is not the ledger's (a job is a Customer, an expense a
    # Purchase or a Bill)
    qbo_entity: str | None = None

    @classmethod
    def of_row(
        cls,
        entity: str,
        row: dict[str, Any],
        *,
        body: dict[str, Any],
        marker: str,
        ops_id: str,
        operation: str | None = None,
        **extra: Any,
    ) -> Write:
        """The write of one change-set row: its action (unless given), payload hash, and
        the QuickBooks id and SyncToken it carries, if any."""
        return cls(
            entity=entity,
            ops_id=ops_id,
            operation=operation or row["action"],
            body=body,
            payload_hash=row["payload_hash"],
            marker=marker,
            qbo_id=_str(row.get("qbo_id")),
            sync_token=_str(row.get("qbo_sync_token")),
            **extra,
        )

    @property
    def qbo_name(self) -> str:
        """The QuickBooks entity this write goes to (`Customer`, `Purchase`...)."""
        return self.qbo_entity or self.entity.capitalize()


def held_ids(wh: WarehouseConnection, realm_id: str, entity: str, run_id: str) -> set[str]:
    """Records validation held back in this run (an open issue raised by this run)."""
    rows = wh.fetchall(
        """select distinct ops_id from fieldbooks.sync_issues
           where realm_id = %s and entity = %s and run_id = %s and status = 'open'
             and ops_id is not null""",
        (realm_id, entity, run_id),
    )
    return {r[0] for r in rows}


def _find_by_marker(client: Any, write: Write) -> dict[str, Any] | None:
    """Look a possibly-created object up by its marker (after a crash or a lost answer)."""
    if write.entity == "invoice":
        found = client.query(
            f"SELECT * FROM Invoice WHERE DocNumber = {quote_query_value(write.marker)}"
        )
        objects = found.get("QueryResponse", {}).get("Invoice", [])
    elif write.entity in ("customer", "job"):
        # a job is a sub-customer: same DisplayName rule, its own note
        name = write.body["DisplayName"]
        found = client.query(
            f"SELECT * FROM Customer WHERE DisplayName = {quote_query_value(name)} AND Active IN (true, false)"
        )
        objects = [
            c
            for c in found.get("QueryResponse", {}).get("Customer", [])
            if c.get("Notes") == write.marker
        ]
    elif write.entity == "vendor":
        # a vendor has no note to carry the marker; its DisplayName is unique in the company
        name = write.body["DisplayName"]
        found = client.query(
            f"SELECT * FROM Vendor WHERE DisplayName = {quote_query_value(name)} AND Active IN (true, false)"
        )
        objects = found.get("QueryResponse", {}).get("Vendor", [])
    elif write.entity == "expense":
        objects = [
            t
            for t in _query_all(
                client,
                f"SELECT * FROM {write.qbo_name} "
                f"WHERE TxnDate = {quote_query_value(write.body['TxnDate'])}",
                write.qbo_name,
            )
            if t.get("PrivateNote") == write.marker
        ]
    else:
        customer = write.body["CustomerRef"]["value"]
        found = client.query(
            f"SELECT * FROM Payment WHERE CustomerRef = {quote_query_value(customer)} "
            f"AND TxnDate = {quote_query_value(write.body['TxnDate'])}"
        )
        objects = [
            p
            for p in found.get("QueryResponse", {}).get("Payment", [])
            if p.get("PrivateNote") == write.marker
        ]
    return objects[0] if objects else None


def _query_all(client: Any, query: str, entity: str, page: int = 1000) -> list[dict[str, Any]]:
    """Every object a query finds, page by page (MAXRESULTS is at most 1000)."""
    objects: list[dict[str, Any]] = []
    position = 1
    while True:
        found = client.query(f"{query} STARTPOSITION {position} MAXRESULTS {page}")
        batch = found.get("QueryResponse", {}).get(entity, [])
        objects.extend(batch)
        if len(batch) < page:
            return objects
        position += page


def _current_token(client: Any, write: Write) -> str:
    """The object's SyncToken now (read from QuickBooks)."""
    current = client.get(company_url(client, f"{write.qbo_name.lower()}/{write.qbo_id}"))
    return str(current[write.qbo_name]["SyncToken"])


def _send_once(client: Any, write: Write, request_id: str) -> dict[str, Any]:
    """Create or sparse-update one object; returns the object QuickBooks answers with."""
    qbo_entity = write.qbo_name
    if write.operation == "void":
        return _void_once(client, write, request_id)
    if write.operation == "delete":
        return _delete_once(client, write, request_id)
    if write.operation == "create":
        answer = client.create_object(qbo_entity, dumps_exact(write.body), request_id=request_id)
    else:
        token = write.sync_token
        if token is None:
            token = _current_token(client, write)
        body = {**write.body, "Id": write.qbo_id, "SyncToken": token, "sparse": True}
        answer = client.update_object(qbo_entity, dumps_exact(body), request_id=request_id)
    return answer[qbo_entity]


def _void_once(client: Any, write: Write, request_id: str) -> dict[str, Any]:
    """Void one invoice or payment: QuickBooks keeps it with its amounts at zero.

    An invoice is voided with `?operation=void`, a payment with a sparse update
    `?operation=update&include=void`; both need the current SyncToken.
    """
    qbo_entity = write.qbo_name
    token = write.sync_token
    if token is None:
        token = _current_token(client, write)
    body: dict[str, Any] = {"Id": write.qbo_id, "SyncToken": token}
    if write.entity == "invoice":
        params = {"operation": "void"}
    else:
        params = {"operation": "update", "include": "void"}
        body["sparse"] = True
    answer = client.post(
        company_url(client, qbo_entity.lower()),
        dumps_exact(body),
        params=params,
        request_id=request_id,
    )
    return answer[qbo_entity]


def _delete_once(client: Any, write: Write, request_id: str) -> dict[str, Any]:
    """Delete one transaction (`?operation=delete` with Id and the current SyncToken).

    One QuickBooks no longer has (a person deleted it there, or our answer was lost) is
    what was wanted: it is recorded as deleted.
    """
    from quickbooks.exceptions import ObjectNotFoundException

    qbo_entity = write.qbo_name
    try:
        token = write.sync_token if write.sync_token is not None else _current_token(client, write)
        answer = client.post(
            company_url(client, qbo_entity.lower()),
            dumps_exact({"Id": write.qbo_id, "SyncToken": token}),
            params={"operation": "delete"},
            request_id=request_id,
        )
    except ObjectNotFoundException:
        log.info("%s %s: already gone from QuickBooks", write.entity, write.ops_id)
        return {"Id": write.qbo_id, "status": "Deleted"}
    return answer[qbo_entity]


def _send(client: Any, write: Write, request_id: str) -> tuple[dict[str, Any], str]:
    """Send one write; returns the object and what happened (the operation, or `recovered`).

    A transient failure may come after QuickBooks committed the write (a lost answer), and
    requestid is a help, not a guarantee: before sending a create again, look it up.
    """
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            return _send_once(client, write, request_id), write.operation
        except Exception as exc:
            if classify_qbo_error(exc) is not ErrorClass.TRANSIENT or attempt == WRITE_ATTEMPTS:
                raise
            log.warning("%s %s: %s; checking before sending again", write.entity, write.ops_id, exc)
            if write.operation == "create":
                found = _find_by_marker(client, write)
                if found is not None:
                    return found, "recovered"
            time.sleep(WRITE_BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def apply_write(
    wh: WarehouseConnection,
    client: Any,
    realm_id: str,
    write: Write,
    run_id: str,
    report: LoadReport,
) -> str | None:
    """Write one record exactly once; returns its QuickBooks id, or None when it failed."""
    request_id = request_id_for(
        realm_id, write.entity, write.ops_id, write.payload_hash, write.operation
    )
    entry = get_entry(wh, realm_id, write.entity, write.ops_id)
    if entry is not None and entry.state in ("sent", "confirmed"):
        if entry.payload_hash == write.payload_hash:
            # An earlier attempt of this task already wrote it (the change set predates it).
            report.skipped[write.entity] += 1
            return entry.qbo_id
        if write.operation == "create" and entry.qbo_id:
            write = replace(write, operation="update", qbo_id=entry.qbo_id, sync_token=None)
    if write.operation == "create" and entry is not None and entry.state == "pending":
        found = _find_by_marker(client, write)
        if found is not None:
            log.info("%s %s: found by marker after an unfinished run", write.entity, write.ops_id)
            _record_success(
                wh, realm_id, write, found, entry.request_id or request_id, run_id, "recovered"
            )
            report.written[write.entity] += 1
            return str(found["Id"])
    upsert_entry(
        wh,
        realm_id=realm_id,
        entity=write.entity,
        ops_id=write.ops_id,
        state="pending",
        request_id=request_id,
        marker=write.marker,
        qbo_id=write.qbo_id,
    )
    try:
        obj, outcome = _send(client, write, request_id)
    except Exception as exc:  # classified below; nothing is dropped
        cls = classify_qbo_error(exc)
        if cls is ErrorClass.CONFLICT and write.operation in ("update", "void", "delete"):
            # Stale SyncToken: operations is the system of record here, so re-read and re-apply.
            try:
                obj, outcome = _send(client, replace(write, sync_token=None), request_id + "-r")
            except Exception as retry_exc:
                return _record_failure(wh, realm_id, write, retry_exc, request_id, run_id, report)
        else:
            return _record_failure(wh, realm_id, write, exc, request_id, run_id, report)
    _record_success(wh, realm_id, write, obj, request_id, run_id, outcome)
    report.written[write.entity] += 1
    return str(obj["Id"])


def _record_success(
    wh: WarehouseConnection,
    realm_id: str,
    write: Write,
    obj: dict[str, Any],
    request_id: str,
    run_id: str,
    operation: str,
) -> None:
    """Ledger, audit log and issue queue after a write QuickBooks accepted."""
    upsert_entry(
        wh,
        realm_id=realm_id,
        entity=write.entity,
        ops_id=write.ops_id,
        state="sent",
        qbo_id=str(obj["Id"]),
        sync_token=_str(obj.get("SyncToken")),
        payload_hash=write.payload_hash,
        request_id=request_id,
        marker=write.marker,
    )
    record_event(
        wh,
        run_id=run_id,
        direction=DIRECTION,
        realm_id=realm_id,
        entity=write.entity,
        operation=operation,
        outcome="ok",
        ops_id=write.ops_id,
        qbo_id=str(obj["Id"]),
        request_id=request_id,
        payload_hash=write.payload_hash,
        detail=write.note,
    )
    resolve_issues(wh, realm_id, write.entity, write.ops_id, run_id)


def _record_found(
    wh: WarehouseConnection,
    realm_id: str,
    run_id: str,
    report: LoadReport,
    write: Write,
    detail: str,
) -> None:
    """Ledger and audit log for a record QuickBooks already has as it should be (a customer
    matched by email or name, an invoice already void): nothing is sent."""
    upsert_entry(
        wh,
        realm_id=realm_id,
        entity=write.entity,
        ops_id=write.ops_id,
        state="confirmed",
        qbo_id=write.qbo_id,
        sync_token=write.sync_token,
        payload_hash=write.payload_hash,
        marker=write.marker,
    )
    record_event(
        wh,
        run_id=run_id,
        direction=DIRECTION,
        realm_id=realm_id,
        entity=write.entity,
        operation=write.operation,
        outcome="ok",
        ops_id=write.ops_id,
        qbo_id=write.qbo_id,
        payload_hash=write.payload_hash,
        detail=detail,
    )
    resolve_issues(wh, realm_id, write.entity, write.ops_id, run_id)
    report.written[f"{write.entity}_{write.operation}"] += 1


def _record_failure(
    wh: WarehouseConnection,
    realm_id: str,
    write: Write,
    exc: Exception,
    request_id: str,
    run_id: str,
    report: LoadReport,
) -> None:
    """Ledger, audit log and an issue after a write QuickBooks refused."""
    cls = classify_qbo_error(exc)
    message = f"{getattr(exc, 'message', exc)} {getattr(exc, 'detail', '')}".strip()
    upsert_entry(
        wh,
        realm_id=realm_id,
        entity=write.entity,
        ops_id=write.ops_id,
        state="failed",
        request_id=request_id,
        marker=write.marker,
        last_error=message[:1000],
    )
    record_event(
        wh,
        run_id=run_id,
        direction=DIRECTION,
        realm_id=realm_id,
        entity=write.entity,
        operation=write.operation,
        outcome=f"failed:{cls.value}",
        ops_id=write.ops_id,
        qbo_id=write.qbo_id,
        request_id=request_id,
        payload_hash=write.payload_hash,
        detail=message[:1000],
    )
    raise_issue(
        wh,
        Issue(
            realm_id=realm_id,
            entity=write.entity,
            ops_id=write.ops_id,
            qbo_id=write.qbo_id,
            kind=issue_kind_for(exc),
            reason=f"QuickBooks refused the {write.operation} of {write.entity} {write.marker}: {message}",
            hint=ISSUE_HINTS.get(issue_kind_for(exc), _hint(cls)),
        ),
        run_id,
    )
    report.failed[write.entity] += 1
    if cls is ErrorClass.AUTH:
        raise QuickBooksAuthError(
            f"QuickBooks company {realm_id} refused our credentials: {message}"
        ) from exc


def _hint(cls: ErrorClass) -> str:
    """What a person can do about a failure of this class."""
    return {
        ErrorClass.TRANSIENT: "QuickBooks was busy or unreachable; the next run retries it.",
        ErrorClass.CONFLICT: "Someone edited the record in QuickBooks meanwhile; the next run re-reads it.",
        ErrorClass.DATA: "Fix the record in operations (the reason names the field); the next run retries it.",
        ErrorClass.CONFIG: "Fix the mapping named in the reason; the next run retries it.",
        ErrorClass.AUTH: "Reconnect the QuickBooks company (fieldbooks connect); the next run retries it.",
    }[cls]


def _rows(wh: WarehouseConnection, table: str, order: str) -> list[dict[str, Any]]:
    """Every row of a sync mart."""
    return wh.fetchdicts(f"select * from sync.{table} order by {order}")


def _load_entity(
    wh: WarehouseConnection,
    client: Any,
    realm_id: str,
    run_id: str,
    report: LoadReport,
    entity: str,
    rows: list[dict[str, Any]],
    id_column: str,
    build: Callable[[dict[str, Any]], Write | Issue | None],
) -> None:
    """Write every row of one outbound set that validation did not hold back."""
    held = held_ids(wh, realm_id, entity, run_id)
    for row in rows:
        ops_id = str(row[id_column])
        if ops_id in held:
            report.held[entity] += 1
            continue
        planned = build(row)
        if planned is None:
            continue
        if isinstance(planned, Issue):
            raise_issue(wh, planned, run_id)
            report.held[entity] += 1
            continue
        apply_write(wh, client, realm_id, planned, run_id, report)


def load_quickbooks(settings: Settings, run_id: str) -> LoadReport:
    """Write customers, vendors, jobs, invoices, payments and expenses from the sync marts
    to QuickBooks, then voids and expense deletes."""
    realm = settings.qbo.realm_id
    report = LoadReport()
    client = open_client(settings.qbo, settings.token_store)
    with connect(settings.warehouse_url) as wh:
        ensure_state(wh)

        def customer_write(row: dict[str, Any]) -> Write | None:
            ops_id = str(row["ops_customer_id"])
            body = customer_payload(row)
            if row["action"] == "link":
                _record_found(
                    wh,
                    realm,
                    run_id,
                    report,
                    # with the SyncToken linked: a later edit in QuickBooks moves past it
                    Write.of_row(
                        "customer",
                        row,
                        ops_id=ops_id,
                        operation="link",
                        body=body,
                        marker=body["Notes"],
                    ),
                    detail=f"matched by {row['match_method']}",
                )
                return None
            return Write.of_row(
                "customer",
                row,
                ops_id=ops_id,
                body=body,
                marker=body["Notes"],
                note=(
                    f"changed in both systems; policy {row['conflict_policy']} sends operations' "
                    f"version ({row['changed_fields'] or 'no field differs'})"
                    if row["reason"] == "conflict"
                    else None
                ),
            )

        _load_entity(
            wh,
            client,
            realm,
            run_id,
            report,
            "customer",
            _rows(wh, "sync_qbo_customers", "ops_customer_id"),
            "ops_customer_id",
            customer_write,
        )

        _load_vendors(wh, client, realm, run_id, report)
        _load_jobs(wh, client, realm, run_id, report)

        customers = qbo_ids(wh, realm, "customer")
        lines_by_invoice: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for line in _rows(wh, "sync_qbo_invoice_lines", "ops_invoice_id, line_number"):
            lines_by_invoice[str(line["ops_invoice_id"])].append(line)

        def invoice_write(row: dict[str, Any]) -> Write | Issue:
            ops_id = str(row["ops_invoice_id"])
            customer = customers.get(str(row["ops_customer_id"]))
            if customer is None:
                return Issue(
                    realm_id=realm,
                    entity="invoice",
                    ops_id=ops_id,
                    kind="customer_unresolved",
                    reason=f"invoice {row['doc_number']}: customer {row['ops_customer_id']} has no QuickBooks customer yet",
                    hint="Resolve the customer's own issue (fieldbooks issues list); the invoice follows on the next run.",
                )
            return Write.of_row(
                "invoice",
                row,
                ops_id=ops_id,
                body=invoice_payload(row, lines_by_invoice[ops_id], customer),
                marker=row["doc_number"],
            )

        _load_entity(
            wh,
            client,
            realm,
            run_id,
            report,
            "invoice",
            _rows(wh, "sync_qbo_invoices", "ops_invoice_id"),
            "ops_invoice_id",
            invoice_write,
        )

        invoices = qbo_ids(wh, realm, "invoice")
        customers = qbo_ids(wh, realm, "customer")
        lines_by_payment: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for line in _rows(wh, "sync_qbo_payment_lines", "ops_payment_id, line_number"):
            lines_by_payment[str(line["ops_payment_id"])].append(line)

        def payment_write(row: dict[str, Any]) -> Write | Issue:
            ops_id = str(row["ops_payment_id"])
            customer = customers.get(str(row["ops_customer_id"]))
            lines = [
                {**line, "qbo_invoice_id": invoices.get(str(line["ops_invoice_id"]))}
                for line in lines_by_payment[ops_id]
            ]
            waiting = sorted(
                str(line["ops_invoice_id"]) for line in lines if not line["qbo_invoice_id"]
            )
            if waiting or customer is None:
                what = (
                    f"invoice(s) {', '.join(waiting)}"
                    if waiting
                    else f"customer {row['ops_customer_id']}"
                )
                return Issue(
                    realm_id=realm,
                    entity="payment",
                    ops_id=ops_id,
                    kind="invoice_unresolved",
                    reason=f"payment {ops_id}: {what} not in QuickBooks yet",
                    hint="Resolve the invoice's own issue (fieldbooks issues list); the payment follows on the next run.",
                )
            return Write.of_row(
                "payment",
                row,
                ops_id=ops_id,
                operation="create",
                body=payment_payload(row, lines, customer),
                marker=row["private_note"],
            )

        _load_entity(
            wh,
            client,
            realm,
            run_id,
            report,
            "payment",
            _rows(wh, "sync_qbo_payments", "ops_payment_id"),
            "ops_payment_id",
            payment_write,
        )

        def void_write(row: dict[str, Any]) -> Write | Issue | None:
            write = Write.of_row(
                row["entity"],
                row,
                ops_id=str(row["ops_id"]),
                operation="void",
                body={},
                marker=row["marker"],
            )
            if row["action"] == "record":
                _record_found(wh, realm, run_id, report, write, detail="already void in QuickBooks")
                return None
            if row["is_deposited"]:
                return Issue(
                    realm_id=realm,
                    entity=write.entity,
                    ops_id=write.ops_id,
                    qbo_id=write.qbo_id,
                    kind="deposited_payment_edit",
                    reason=(
                        f"payment {write.ops_id} was deleted in operations, but it is deposited "
                        f"in QuickBooks (payment {write.qbo_id}); fieldbooks will not void it"
                    ),
                    hint=ISSUE_HINTS["deposited_payment_edit"],
                )
            return write

        expenses = _rows(wh, "sync_qbo_expenses", "ops_expense_id")
        _load_expenses(
            wh, client, realm, run_id, report, [r for r in expenses if r["action"] != "delete"]
        )

        # voids last, payments before invoices: QuickBooks will not void an invoice that a
        # live payment still pays
        voids = _rows(wh, "sync_qbo_voids", "entity desc, ops_id")
        for entity in ("payment", "invoice"):
            _load_entity(
                wh,
                client,
                realm,
                run_id,
                report,
                entity,
                [row for row in voids if row["entity"] == entity],
                "ops_id",
                void_write,
            )
        _load_expenses(
            wh, client, realm, run_id, report, [r for r in expenses if r["action"] == "delete"]
        )
    log.info("load_quickbooks: %s", report.as_dict())
    return report


def _load_vendors(
    wh: WarehouseConnection, client: Any, realm: str, run_id: str, report: LoadReport
) -> None:
    """Create, link or update the vendors of sync_qbo_vendors (as customers are)."""

    def vendor_write(row: dict[str, Any]) -> Write | Issue | None:
        ops_id = str(row["ops_vendor_id"])
        body = vendor_payload(row)
        if row["resolution"] == "ambiguous":
            return Issue(
                realm_id=realm,
                entity="vendor",
                ops_id=ops_id,
                kind="vendor_ambiguous",
                reason=(
                    f"vendor '{row['display_name']}' matches several QuickBooks vendors: "
                    f"{row['candidate_qbo_ids']}"
                ),
                hint=(
                    "Give the operations vendor the email of the right QuickBooks vendor, or "
                    "merge the duplicates in QuickBooks; its expenses follow on the next run."
                ),
            )
        write = Write.of_row(
            "vendor",
            row,
            ops_id=ops_id,
            body=body,
            marker=vendor_marker(ops_id),
        )
        if row["action"] == "link":
            _record_found(
                wh, realm, run_id, report, write, detail=f"matched by {row['match_method']}"
            )
            return None
        return write

    _load_entity(
        wh,
        client,
        realm,
        run_id,
        report,
        "vendor",
        _rows(wh, "sync_qbo_vendors", "ops_vendor_id"),
        "ops_vendor_id",
        vendor_write,
    )


def _load_jobs(
    wh: WarehouseConnection, client: Any, realm: str, run_id: str, report: LoadReport
) -> None:
    """Create or update the jobs of sync_qbo_jobs as sub-customers of their customer.

    The parent is resolved now, from the ledger: a customer created earlier in this run
    counts, whatever dbt's waiting_on said before the load.
    """
    customers = qbo_ids(wh, realm, "customer")

    def job_write(row: dict[str, Any]) -> Write | Issue:
        ops_id = str(row["ops_job_id"])
        parent = customers.get(str(row["ops_customer_id"])) or _str(
            row.get("parent_qbo_customer_id")
        )
        if parent is None:
            return Issue(
                realm_id=realm,
                entity="job",
                ops_id=ops_id,
                kind="customer_unresolved",
                reason=(
                    f"job {row['display_name']}: customer {row['ops_customer_id']} has no "
                    "QuickBooks customer yet"
                ),
                hint="Resolve the customer's own issue (fieldbooks issues list); the job follows on the next run.",
            )
        body = job_payload(row, parent)
        return Write.of_row(
            "job",
            row,
            ops_id=ops_id,
            body=body,
            marker=body["Notes"],
            qbo_entity="Customer",
        )

    _load_entity(
        wh,
        client,
        realm,
        run_id,
        report,
        "job",
        _rows(wh, "sync_qbo_jobs", "ops_job_id"),
        "ops_job_id",
        job_write,
    )


def _load_expenses(
    wh: WarehouseConnection,
    client: Any,
    realm: str,
    run_id: str,
    report: LoadReport,
    rows: list[dict[str, Any]],
) -> None:
    """Write expenses as Purchases (card, cash) or Bills (on account), or delete them.

    The vendor and the job (or customer) are resolved now, from the ledger, so ones
    written earlier in this run count; an unmapped category or payment method, or a
    reference still missing, holds the expense with an issue that says what to fix.
    """
    vendors = qbo_ids(wh, realm, "vendor")
    refs = {entity: qbo_ids(wh, realm, entity) for entity in ("job", "customer")}

    def expense_write(row: dict[str, Any]) -> Write | Issue:
        ops_id = str(row["ops_expense_id"])

        def held(kind: str, reason: str, hint: str) -> Issue:
            return Issue(
                realm_id=realm,
                entity="expense",
                ops_id=ops_id,
                qbo_id=_str(row.get("qbo_id")),
                kind=kind,
                reason=f"expense {ops_id} ({row['doc_number'] or 'no reference'}): {reason}",
                hint=hint,
            )

        if row["action"] == "delete":
            return Write.of_row(
                "expense",
                row,
                ops_id=ops_id,
                operation="delete",
                body={},
                marker=row["private_note"],
                qbo_entity=row["txn_type"],
                note="deleted in operations",
            )
        if row["expense_account_id"] is None:
            return held(
                "expense_category_unmapped",
                f"category '{row['expense_category']}' has no reviewed QuickBooks expense account",
                "Map the category to an expense account in dbt_project/seeds/map_expense_categories.csv "
                "(a row with reviewed = true); the expense follows on the next run.",
            )
        if row["payment_account_id"] is None or (
            row["txn_type"] == "Purchase" and row["payment_type"] is None
        ):
            return held(
                "payment_method_unmapped",
                f"paid by '{row['paid_by']}', which has no reviewed QuickBooks payment account",
                "Map the payment method in dbt_project/seeds/map_expense_payment_accounts.csv "
                "(a row with reviewed = true); the expense follows on the next run.",
            )
        vendor = vendors.get(str(row["ops_vendor_id"])) or _str(row.get("qbo_vendor_id"))
        if vendor is None:
            return held(
                "vendor_unresolved",
                f"vendor {row['ops_vendor_id']} has no QuickBooks vendor yet",
                "Resolve the vendor's own issue (fieldbooks issues list); the expense follows on the next run.",
            )
        customer_ref = None
        if row["ops_customer_ref_id"] is not None:
            entity = row["customer_ref_entity"]
            customer_ref = refs[entity].get(str(row["ops_customer_ref_id"])) or _str(
                row.get("customer_ref_id")
            )
            if customer_ref is None:
                return held(
                    "job_unresolved",
                    f"{entity} {row['ops_customer_ref_id']} of job {row['ops_job_id']} is not in QuickBooks yet",
                    f"Resolve the {entity}'s own issue (fieldbooks issues list); the expense follows on the next run.",
                )
        return Write.of_row(
            "expense",
            row,
            ops_id=ops_id,
            body=expense_payload(row, vendor, customer_ref),
            marker=row["private_note"],
            qbo_entity=row["txn_type"],
        )

    _load_entity(
        wh, client, realm, run_id, report, "expense", rows, "ops_expense_id", expense_write
    )


def _str(value: Any) -> str | None:
    """str(value), keeping None."""
    return None if value is None else str(value)
