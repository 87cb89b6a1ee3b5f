"""Step 5a: write the outbound change sets to QuickBooks, exactly once.

Order follows the references: customers, vendors, jobs (sub-customers), invoices,
payments, expenses (Purchases and Bills), then voids and expense deletes. References are
resolved from the ledger as each set is loaded, so a vendor or job created earlier in the
run is usable by an expense in the same run. Each set goes in batch requests (items
fail one by one), paced to the company's limits. Each write is bracketed by the ledger
(intent + deterministic requestid before, QuickBooks id after); a `pending` row left by a
crash is resolved by looking the object up by its marker before anything is created again. A record QuickBooks refuses becomes an
issue with the cause; the rest of the run goes on. Auth failures stop the load.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from fieldbooks.config import Settings
from fieldbooks.errors import (
    ISSUE_HINTS,
    ErrorClass,
    classify_qbo_error,
    is_in_doubt,
    issue_kind_for,
)
from fieldbooks.issues import (
    Issue,
    held_qbo_ids,
    raise_issue,
    resolve_issues,
    resolve_issues_of,
)
from fieldbooks.ledger import (
    Entry,
    Event,
    LedgerEntry,
    batch_request_id,
    entries,
    qbo_ids,
    record_events,
    request_id_for,
    upsert_entries,
)
from fieldbooks.mapping import shown_path
from fieldbooks.money import dumps_exact
from fieldbooks.qbo.client import company_url, open_client
from fieldbooks.qbo.pacing import Limits
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
from fieldbooks.warehouse.state import ensure_state, utcnow

log = logging.getLogger(__name__)

DIRECTION = "to_quickbooks"
WRITE_ATTEMPTS = 3
WRITE_BACKOFF_SECONDS = 1.0


class QuickBooksAuthError(RuntimeError):
    """The company refused our credentials, our permissions, or writes at all (its
    subscription ended): nothing more is written to it until a person acts."""


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
    # the SyncToken of a version a person made in QuickBooks that this write overwrites
    # (an invoice under ops_wins): sent although the ledger already holds its payload hash
    rewrite_of: str | None = None
    # the QuickBooks object of another type this create takes the place of (an expense
    # moved between card/cash and on account, whose old Purchase or Bill a person deleted):
    # created although the ledger holds the old object's id
    replaces: str | None = None

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
    """Records validation held back in this run (an open issue the raw contract or the
    outbound suites raised in this run). A write that failed in an earlier attempt of this
    task is not held: clearing the task and running it again is how a person retries it."""
    from fieldbooks.quality.outbound import VALIDATION_KINDS
    from fieldbooks.quality.raw_ops import KIND as RAW_CONTRACT

    held_kinds = (*VALIDATION_KINDS, RAW_CONTRACT)
    kinds = ", ".join(["%s"] * len(held_kinds))
    rows = wh.fetchall(
        f"""select distinct ops_id from fieldbooks.sync_issues
           where realm_id = %s and entity = %s and run_id = %s and status = 'open'
             and ops_id is not null and kind in ({kinds})""",
        (realm_id, entity, run_id, *held_kinds),
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
    requestid is a help, not a guarantee: before sending a create again, look it up. A
    create that got no answer at all is not sent again in this run (see `Loader._plan`).
    """
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            return _send_once(client, write, request_id), write.operation
        except Exception as exc:
            if classify_qbo_error(exc) is not ErrorClass.TRANSIENT or attempt == WRITE_ATTEMPTS:
                raise
            if is_in_doubt(exc) and write.operation == "create":
                raise  # it may still be running in QuickBooks: a lookup now proves nothing
            log.warning("%s %s: %s; checking before sending again", write.entity, write.ops_id, exc)
            if write.operation == "create":
                found = _find_by_marker(client, write)
                if found is not None:
                    return found, "recovered"
            time.sleep(WRITE_BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Planned:
    """A write the ledger says is still to be sent, with its deterministic requestid."""

    write: Write
    request_id: str


# What became of one planned write: the object QuickBooks holds and what happened
# (the operation, or `recovered`), or the error it refused it with.
Outcome = tuple[dict[str, Any], str] | Exception

_TOKEN_OPERATIONS = ("update", "void", "delete")
# ledger states after which a create may have happened: a crash before the answer was
# recorded (pending), or a last attempt whose answer was lost (failed)
_UNSURE = ("pending", "failed")


def _batchable(write: Write) -> bool:
    """A create, or a change that carries the SyncToken it was planned against (one without
    needs a read first, so it goes alone)."""
    return write.operation == "create" or write.sync_token is not None


def _batch_item(write: Write, bid: str) -> dict[str, Any]:
    """One BatchItemRequest (QBO_FACTS.md, "Batch"): a void is an update with optionsData."""
    if write.operation == "create":
        return {"bId": bid, "operation": "create", write.qbo_name: write.body}
    keys = {"Id": write.qbo_id, "SyncToken": write.sync_token}
    if write.operation == "update":
        return {
            "bId": bid,
            "operation": "update",
            write.qbo_name: {**write.body, **keys, "sparse": True},
        }
    if write.operation == "void":
        body = keys if write.entity == "invoice" else {**keys, "sparse": True}
        return {"bId": bid, "operation": "update", "optionsData": "void", write.qbo_name: body}
    return {"bId": bid, "operation": write.operation, write.qbo_name: keys}


def _fault_error(client: Any, fault: dict[str, Any]) -> Exception:
    """The python-quickbooks exception for one batch item's Fault, as a single request
    answering it would have raised."""
    try:
        client.handle_exceptions(fault)
    except Exception as exc:  # handle_exceptions always raises for a Fault
        return exc
    return RuntimeError(f"QuickBooks answered a fault without errors: {fault}")


def _chunks(items: list[Planned], size: int) -> list[list[Planned]]:
    """items cut in runs of at most size."""
    size = max(size, 1)
    return [items[i : i + size] for i in range(0, len(items), size)]


class Loader:
    """One load into one company: the warehouse, the paced client, the run and its report.

    A set's writes go in batch requests of up to `batch_items` items (QBO_FACTS.md,
    "Batch"), each item's fault handled on its own. When the company's batch budget for the
    window is spent but its request budget is not, a chunk goes as single requests rather
    than waiting: the limits allow both, and the load uses both.
    """

    def __init__(
        self,
        wh: WarehouseConnection,
        client: Any,
        realm_id: str,
        run_id: str,
        report: LoadReport,
        limits: Limits,
    ) -> None:
        self.wh = wh
        self.client = client
        self.realm_id = realm_id
        self.run_id = run_id
        self.report = report
        self.batch_items = limits.batch_items
        self.in_doubt = timedelta(seconds=limits.in_doubt_seconds)
        self.pacer = getattr(client, "pacer", None)
        self.sent = Counter()  # requests by kind: batch, single
        # QuickBooks ids by entity whose raw copy broke its contract in this run
        self._broken: dict[str, set[str]] = {}

    def load(
        self,
        entity: str,
        rows: list[dict[str, Any]],
        id_column: str,
        build: Callable[[dict[str, Any]], Write | Issue | None],
    ) -> None:
        """Write every row of one outbound set that validation did not hold back."""
        held = held_ids(self.wh, self.realm_id, entity, self.run_id)
        writes: list[Write] = []
        for row in rows:
            ops_id = str(row[id_column])
            if ops_id in held:
                self.report.held[entity] += 1
                continue
            planned = build(row)
            if planned is None:
                continue
            if isinstance(planned, Issue):
                raise_issue(self.wh, planned, self.run_id)
                self.report.held[entity] += 1
                continue
            writes.append(planned)
        self.write_all(writes)

    def write_all(self, writes: list[Write]) -> None:
        """Write each record exactly once: what the ledger shows done is skipped, what a
        crash left unfinished is looked up, the rest is sent in batches."""
        ledgers: dict[str, dict[str, LedgerEntry]] = {}
        planned: list[Planned] = []
        for write in writes:
            if write.entity not in ledgers:
                ledgers[write.entity] = entries(self.wh, self.realm_id, write.entity)
            plan = self._plan(write, ledgers[write.entity].get(write.ops_id))
            if plan is not None and self._broken_in_quickbooks(plan.write):
                continue
            if plan is not None:
                planned.append(plan)
        for chunk in _chunks(planned, self.batch_items):
            self._write_chunk(chunk)

    def _broken_in_quickbooks(self, write: Write) -> bool:
        """Whether the QuickBooks object this write changes broke its raw contract in this
        run (its raw_contract issue names it): an update built on a garbled copy could
        overwrite what a person entered, so it waits until the object reads whole."""
        from fieldbooks.quality.raw_ops import KIND as RAW_CONTRACT

        if write.qbo_id is None or write.operation == "create":
            return False
        entity = write.qbo_name.lower()
        if entity not in self._broken:
            self._broken[entity] = held_qbo_ids(
                self.wh, self.realm_id, entity, RAW_CONTRACT, self.run_id
            )
        if write.qbo_id not in self._broken[entity]:
            return False
        log.info(
            "%s %s: QuickBooks %s %s broke its raw contract; not written this run",
            write.entity,
            write.ops_id,
            write.qbo_name,
            write.qbo_id,
        )
        self.report.held[write.entity] += 1
        return True

    def _plan(self, write: Write, entry: LedgerEntry | None) -> Planned | None:
        """What is left to send of one write, given its ledger row (None: nothing)."""
        request_id = request_id_for(
            self.realm_id,
            write.entity,
            write.ops_id,
            write.payload_hash + (f"@{write.rewrite_of}" if write.rewrite_of else ""),
            write.operation,
        )
        if entry is not None and entry.state in ("sent", "confirmed"):
            if entry.payload_hash == write.payload_hash and write.rewrite_of is None:
                # An earlier attempt of this task already wrote it (the change set predates it).
                self.report.skipped[write.entity] += 1
                return None
            if write.operation == "create" and entry.qbo_id and write.replaces is None:
                write = replace(write, operation="update", qbo_id=entry.qbo_id, sync_token=None)
        if write.operation == "create" and entry is not None and entry.state in _UNSURE:
            if entry.state == "pending" and entry.updated_at is not None:
                if entry.updated_at > utcnow() - self.in_doubt:
                    # sent without an answer moments ago: it may still be running in
                    # QuickBooks, where a lookup would not see it yet
                    log.info(
                        "%s %s: sent %s without an answer; looked up after QuickBooks' timeout",
                        write.entity,
                        write.ops_id,
                        entry.updated_at,
                    )
                    self.report.held[write.entity] += 1
                    return None
            found = _find_by_marker(self.client, write)
            if found is not None:
                log.info(
                    "%s %s: found by marker after an unfinished run", write.entity, write.ops_id
                )
                self._finish(
                    [(Planned(write, entry.request_id or request_id), (found, "recovered"))]
                )
                return None
        return Planned(write, request_id)

    def _write_chunk(self, chunk: list[Planned]) -> None:
        """Record the intents, send them, record what became of each."""
        upsert_entries(
            self.wh,
            [
                Entry(
                    realm_id=self.realm_id,
                    entity=plan.write.entity,
                    ops_id=plan.write.ops_id,
                    state="pending",
                    request_id=plan.request_id,
                    marker=plan.write.marker,
                    qbo_id=plan.write.qbo_id,
                )
                for plan in chunk
            ],
        )
        batch = [plan for plan in chunk if _batchable(plan.write)]
        if len(batch) < 2 or not self._batch_fits():
            batch = []
        batched = {id(plan) for plan in batch}
        outcomes: list[tuple[Planned, Outcome]] = []
        refused: Exception | None = None
        try:
            if batch:
                outcomes.extend(zip(batch, self._send_batch(batch), strict=True))
            for plan in chunk:
                if id(plan) in batched:
                    continue
                outcome = self._send_alone(plan)
                if isinstance(outcome, Exception) and _is_auth(outcome):
                    refused = outcome
                    break
                outcomes.append((plan, outcome))
        except Exception as exc:
            if not _is_auth(exc):
                raise
            refused = exc
        if refused is not None:
            # QuickBooks refuses a request it cannot authorise before doing anything: every
            # write of the chunk still without an outcome failed, none is in doubt
            answered = {id(plan) for plan, _ in outcomes}
            outcomes.extend((plan, refused) for plan in chunk if id(plan) not in answered)
        self._finish(outcomes)

    def _batch_fits(self) -> bool:
        """Whether to send a batch request now: one fits the window, or a single request
        would not fit either (then the batch waits its turn)."""
        if self.pacer is None:
            return True
        return self.pacer.wait_for(batch=True) <= 0 or self.pacer.wait_for(batch=False) > 0

    def _send_batch(self, batch: list[Planned]) -> list[Outcome]:
        """One batch request; an item QuickBooks refused is classified on its own, and a
        batch lost as a whole is checked item by item before anything is sent again."""
        items = [_batch_item(plan.write, str(i)) for i, plan in enumerate(batch, 1)]
        request_id = batch_request_id([plan.request_id for plan in batch])
        self.sent["batch"] += 1
        try:
            answer = self.client.post(
                company_url(self.client, "batch"),
                dumps_exact({"BatchItemRequest": items}),
                request_id=request_id,
            )
        except Exception as exc:
            if _is_auth(exc):
                raise
            if is_in_doubt(exc):
                log.warning(
                    "a batch of %d %s writes got no answer (%s); looked up on a later run",
                    len(batch),
                    batch[0].write.entity,
                    exc,
                )
                return [exc] * len(batch)
            log.warning(
                "a batch of %d %s writes failed as a whole (%s); checking each before sending it again",
                len(batch),
                batch[0].write.entity,
                exc,
            )
            return [self._send_alone(plan, suspect=True) for plan in batch]
        by_bid = {str(item.get("bId")): item for item in answer.get("BatchItemResponse", [])}
        outcomes: list[Outcome] = []
        for i, plan in enumerate(batch, 1):
            item = by_bid.get(str(i))
            if item is None:
                outcomes.append(self._send_alone(plan, suspect=True))
            elif "Fault" in item:
                outcomes.append(self._after_fault(plan, _fault_error(self.client, item["Fault"])))
            else:
                outcomes.append((item[plan.write.qbo_name], plan.write.operation))
        return outcomes

    def _after_fault(self, plan: Planned, exc: Exception) -> Outcome:
        """What to do with one batch item QuickBooks refused, by the error's class."""
        from quickbooks.exceptions import ObjectNotFoundException

        cls = classify_qbo_error(exc)
        if plan.write.operation == "delete" and isinstance(exc, ObjectNotFoundException):
            return {"Id": plan.write.qbo_id, "status": "Deleted"}, "delete"
        if cls is ErrorClass.TRANSIENT:
            return self._send_alone(plan, suspect=True)
        if cls is ErrorClass.CONFLICT and plan.write.operation in _TOKEN_OPERATIONS:
            return self._send_alone(plan, fresh_token=True)
        return exc

    def _send_alone(
        self, plan: Planned, suspect: bool = False, fresh_token: bool = False
    ) -> Outcome:
        """One write as a single request.

        `suspect`: an earlier attempt may have committed, so a create is looked up by its
        marker first. A stale SyncToken is re-read and the write re-applied: operations is
        the system of record for what it sends (conflicts were decided before the load).
        """
        write, request_id = plan.write, plan.request_id
        if fresh_token:
            write, request_id = replace(write, sync_token=None), request_id + "-r"
        self.sent["single"] += 1
        try:
            if suspect and write.operation == "create":
                found = _find_by_marker(self.client, write)
                if found is not None:
                    return found, "recovered"
            try:
                return _send(self.client, write, request_id)
            except Exception as exc:
                if fresh_token or write.operation not in _TOKEN_OPERATIONS:
                    raise
                if classify_qbo_error(exc) is not ErrorClass.CONFLICT:
                    raise
                return _send(self.client, replace(write, sync_token=None), request_id + "-r")
        except Exception as exc:  # classified when recorded; nothing is dropped
            return exc

    def _finish(self, outcomes: list[tuple[Planned, Outcome]]) -> None:
        """Ledger, audit log and issue queue for what became of each write, in one
        transaction and a few statements; an auth failure then stops the load."""
        auth: Exception | None = None
        self._entries, self._events = [], []
        self._resolved: dict[str, list[str]] = defaultdict(list)
        with self.wh.transaction():
            for plan, outcome in outcomes:
                if isinstance(outcome, Exception):
                    self._record_failure(plan, outcome)
                    auth = auth or (outcome if _is_auth(outcome) else None)
                else:
                    self._record_success(plan, *outcome)
            upsert_entries(self.wh, self._entries)
            record_events(self.wh, self._events)
            for entity, ops_ids in self._resolved.items():
                resolve_issues_of(self.wh, self.realm_id, entity, ops_ids, self.run_id)
        if auth is not None:
            kind = issue_kind_for(auth)
            raise QuickBooksAuthError(
                f"QuickBooks company {self.realm_id} takes no writes from fieldbooks ({kind}): "
                f"{_message(auth)}. {ISSUE_HINTS.get(kind, _hint(ErrorClass.AUTH))}"
            ) from auth

    def _booked(
        self,
        write: Write,
        *,
        state: str,
        operation: str,
        outcome: str,
        qbo_id: str | None,
        request_id: str | None = None,
        sync_token: str | None = None,
        last_error: str | None = None,
        detail: str | None = None,
    ) -> tuple[Entry, Event]:
        """The ledger row and the audit event of one write's outcome."""
        entry = Entry(
            realm_id=self.realm_id,
            entity=write.entity,
            ops_id=write.ops_id,
            state=state,
            # a failed write keeps the ledger's id and hash: it changed nothing
            qbo_id=qbo_id if state in ("sent", "confirmed") else None,
            sync_token=sync_token,
            payload_hash=write.payload_hash if state in ("sent", "confirmed") else None,
            request_id=request_id,
            marker=write.marker,
            last_error=last_error,
        )
        event = Event(
            run_id=self.run_id,
            direction=DIRECTION,
            realm_id=self.realm_id,
            entity=write.entity,
            operation=operation,
            outcome=outcome,
            ops_id=write.ops_id,
            qbo_id=qbo_id,
            request_id=request_id,
            payload_hash=write.payload_hash,
            detail=detail,
        )
        return entry, event

    def _record_success(self, plan: Planned, obj: dict[str, Any], operation: str) -> None:
        """Ledger, audit log and issue queue after a write QuickBooks accepted (written by
        `_finish`, with the rest of the batch)."""
        write = plan.write
        entry, event = self._booked(
            write,
            state="sent",
            operation=operation,
            outcome="ok",
            qbo_id=str(obj["Id"]),
            request_id=plan.request_id,
            sync_token=_str(obj.get("SyncToken")),
            detail=write.note,
        )
        self._entries.append(entry)
        self._events.append(event)
        self._resolved[write.entity].append(write.ops_id)
        self.report.written[write.entity] += 1

    def record_found(self, write: Write, detail: str) -> None:
        """Ledger and audit log for a record QuickBooks already has as it should be (a
        customer matched by email or name, an invoice already void): nothing is sent."""
        entry, event = self._booked(
            write,
            state="confirmed",
            operation=write.operation,
            outcome="ok",
            qbo_id=write.qbo_id,
            sync_token=write.sync_token,
            detail=detail,
        )
        upsert_entries(self.wh, [entry])
        record_events(self.wh, [event])
        resolve_issues(self.wh, self.realm_id, write.entity, write.ops_id, self.run_id)
        self.report.written[f"{write.entity}_{write.operation}"] += 1

    def _record_failure(self, plan: Planned, exc: Exception) -> None:
        """Ledger, audit log and an issue after a write QuickBooks refused, or never
        answered (then the ledger keeps it `pending`: it may have happened)."""
        write = plan.write
        cls = classify_qbo_error(exc)
        message = _message(exc)
        entry, event = self._booked(
            write,
            state="pending" if is_in_doubt(exc) else "failed",
            operation=write.operation,
            outcome=f"failed:{cls.value}",
            qbo_id=write.qbo_id,
            request_id=plan.request_id,
            last_error=message[:1000],
            detail=message[:1000],
        )
        self._entries.append(entry)
        self._events.append(event)
        kind = issue_kind_for(exc)
        raise_issue(
            self.wh,
            Issue(
                realm_id=self.realm_id,
                entity=write.entity,
                ops_id=write.ops_id,
                qbo_id=write.qbo_id,
                kind=kind,
                reason=f"QuickBooks refused the {write.operation} of {write.entity} {write.marker}: {message}",
                hint=ISSUE_HINTS.get(kind, _hint(cls)),
            ),
            self.run_id,
        )
        self.report.failed[write.entity] += 1


def _is_auth(exc: BaseException) -> bool:
    """Whether QuickBooks refused our credentials (nothing more can be written)."""
    return classify_qbo_error(exc) is ErrorClass.AUTH


def _message(exc: BaseException) -> str:
    """A QuickBooks error's message and detail, for the ledger, the log and the issue."""
    return f"{getattr(exc, 'message', exc)} {getattr(exc, 'detail', '')}".strip()


def _hint(cls: ErrorClass) -> str:
    """What a person can do about a failure of this class."""
    return {
        ErrorClass.TRANSIENT: "QuickBooks was busy or unreachable; the next run retries it.",
        ErrorClass.CONFLICT: "Someone edited the record in QuickBooks meanwhile; the next run re-reads it.",
        ErrorClass.DATA: "Fix the record in operations (the reason names the field); the next run retries it.",
        ErrorClass.CONFIG: "Fix the mapping named in the reason; the next run retries it.",
        ErrorClass.AUTH: "Reconnect the QuickBooks company (fieldbooks connect); the next run retries it.",
    }[cls]


@dataclass(frozen=True)
class Target:
    """A QuickBooks item or account a mapping seed points at, as QuickBooks shows it now."""

    entity: str  # item, account
    qbo_id: str
    name: str
    deleted: bool

    def why(self) -> str:
        """What is wrong with it, in a person's words."""
        state = "deleted" if self.deleted else "inactive"
        return (
            f'QuickBooks {self.entity} {self.qbo_id} "{self.name}", which is {state} in QuickBooks'
        )


def unusable_targets(wh: WarehouseConnection) -> dict[tuple[str, str], Target]:
    """Items and accounts that are inactive or deleted in QuickBooks, by (entity, id): a
    write naming one would be refused, so the records that need one are stopped first."""
    found = {}
    for entity, table, id_column, name_column in (
        ("item", "stg_qbo__items", "qbo_item_id", "item_name"),
        ("account", "stg_qbo__accounts", "qbo_account_id", "account_name"),
    ):
        for qbo_id, name, deleted in wh.fetchall(
            f"select {id_column}, {name_column}, is_deleted from staging.{table} "
            "where not is_active or is_deleted"
        ):
            found[(entity, str(qbo_id))] = Target(entity, str(qbo_id), name or "", bool(deleted))
    return found


def _rows(wh: WarehouseConnection, table: str, order: str) -> list[dict[str, Any]]:
    """Every row of a sync mart."""
    return wh.fetchdicts(f"select * from sync.{table} order by {order}")


def load_quickbooks(settings: Settings, run_id: str) -> LoadReport:
    """Write customers, vendors, jobs, invoices, payments and expenses from the sync marts
    to QuickBooks, then voids and expense deletes."""
    realm = settings.qbo.realm_id
    report = LoadReport()
    client = open_client(settings.qbo, settings.token_store)
    with connect(settings.warehouse_url) as wh:
        ensure_state(wh)
        loader = Loader(wh, client, realm, run_id, report, settings.qbo.limits)

        def customer_write(row: dict[str, Any]) -> Write | None:
            ops_id = str(row["ops_customer_id"])
            body = customer_payload(row)
            if row["action"] == "link":
                loader.record_found(
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

        loader.load(
            "customer",
            _rows(wh, "sync_qbo_customers", "ops_customer_id"),
            "ops_customer_id",
            customer_write,
        )

        _load_vendors(loader)
        _load_jobs(loader)

        customers = qbo_ids(wh, realm, "customer")
        unusable = unusable_targets(wh)
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
            stopped = [
                (line["category_name"], unusable[("item", str(line["qbo_item_id"]))])
                for line in lines_by_invoice[ops_id]
                if ("item", str(line["qbo_item_id"])) in unusable
            ]
            if stopped:
                category, target = stopped[0]
                return Issue(
                    realm_id=realm,
                    entity="invoice",
                    ops_id=ops_id,
                    qbo_id=_str(row.get("qbo_id")),
                    kind="inactive_account",
                    reason=(
                        f"invoice {row['doc_number']}: category '{category}' is mapped to "
                        f"{target.why()}"
                    ),
                    hint=(
                        f"Make item {target.qbo_id} active again in QuickBooks, or map "
                        f"'{category}' to another item in "
                        f"{shown_path(settings, 'map_service_categories.csv')} (`fieldbooks "
                        "mapping check` lists every row to fix); the invoice follows on the "
                        "next run."
                    ),
                )
            edited = row["reason"] == "edited_in_quickbooks"
            return Write.of_row(
                "invoice",
                row,
                ops_id=ops_id,
                body=invoice_payload(row, lines_by_invoice[ops_id], customer),
                marker=row["doc_number"],
                rewrite_of=_str(row["rewrite_of"]) if edited else None,
                note=(
                    f"edited in QuickBooks ({row['changed_fields']}); policy "
                    f"{row['conflict_policy']} rewrites operations' version"
                    if edited
                    else None
                ),
            )

        loader.load(
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

        loader.load(
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
                loader.record_found(write, detail="already void in QuickBooks")
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
        _load_expenses(loader, [r for r in expenses if r["action"] != "delete"], settings)

        # voids last, payments before invoices: QuickBooks will not void an invoice that a
        # live payment still pays
        voids = _rows(wh, "sync_qbo_voids", "entity desc, ops_id")
        for entity in ("payment", "invoice"):
            loader.load(
                entity,
                [row for row in voids if row["entity"] == entity],
                "ops_id",
                void_write,
            )
        _load_expenses(loader, [r for r in expenses if r["action"] == "delete"], settings)
    log.info("load_quickbooks: %s", report.as_dict())
    return report


def _load_vendors(loader: Loader) -> None:
    """Create, link or update the vendors of sync_qbo_vendors (as customers are)."""

    def vendor_write(row: dict[str, Any]) -> Write | Issue | None:
        ops_id = str(row["ops_vendor_id"])
        body = vendor_payload(row)
        if row["resolution"] == "ambiguous":
            return Issue(
                realm_id=loader.realm_id,
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
            loader.record_found(write, detail=f"matched by {row['match_method']}")
            return None
        return write

    loader.load(
        "vendor",
        _rows(loader.wh, "sync_qbo_vendors", "ops_vendor_id"),
        "ops_vendor_id",
        vendor_write,
    )


def _load_jobs(loader: Loader) -> None:
    """Create or update the jobs of sync_qbo_jobs as sub-customers of their customer.

    The parent is resolved now, from the ledger: a customer created earlier in this run
    counts, whatever dbt's waiting_on said before the load.
    """
    customers = qbo_ids(loader.wh, loader.realm_id, "customer")

    def job_write(row: dict[str, Any]) -> Write | Issue:
        ops_id = str(row["ops_job_id"])
        parent = customers.get(str(row["ops_customer_id"])) or _str(
            row.get("parent_qbo_customer_id")
        )
        if parent is None:
            return Issue(
                realm_id=loader.realm_id,
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

    loader.load(
        "job",
        _rows(loader.wh, "sync_qbo_jobs", "ops_job_id"),
        "ops_job_id",
        job_write,
    )


def _load_expenses(loader: Loader, rows: list[dict[str, Any]], settings: Settings) -> None:
    """Write expenses as Purchases (card, cash) or Bills (on account), or delete them.

    The vendor and the job (or customer) are resolved now, from the ledger, so ones
    written earlier in this run count; an unmapped category or payment method, or a
    reference still missing, holds the expense with an issue that says what to fix.
    """
    vendors = qbo_ids(loader.wh, loader.realm_id, "vendor")
    unusable = unusable_targets(loader.wh)
    written_as = expense_types(loader.wh, loader.realm_id)
    refs = {entity: qbo_ids(loader.wh, loader.realm_id, entity) for entity in ("job", "customer")}

    def expense_write(row: dict[str, Any]) -> Write | Issue:
        ops_id = str(row["ops_expense_id"])

        def held(kind: str, reason: str, hint: str) -> Issue:
            return Issue(
                realm_id=loader.realm_id,
                entity="expense",
                ops_id=ops_id,
                qbo_id=_str(row.get("qbo_id")),
                kind=kind,
                reason=f"expense {ops_id} ({row['doc_number'] or 'no reference'}): {reason}",
                hint=hint,
            )

        qbo_id = _str(row.get("qbo_id"))
        other = "Bill" if row["txn_type"] == "Purchase" else "Purchase"
        # what QuickBooks holds under the expense's marker (ids are unique per type only)
        live_as = written_as.live.get(row["private_note"])
        moved = row["action"] != "create" and qbo_id is not None
        still_there = moved and live_as is not None and live_as[0] == other
        deleted_there = moved and live_as is None and (other, qbo_id) in written_as.deleted
        if row["action"] == "delete":
            return Write.of_row(
                "expense",
                row,
                ops_id=ops_id,
                operation="delete",
                body={},
                marker=row["private_note"],
                # what it was written as, when it has moved since
                qbo_entity=other if still_there else row["txn_type"],
                note="deleted in operations",
            )
        if still_there:
            paid = "on account" if row["txn_type"] == "Bill" else f"by {row['paid_by']}"
            return held(
                "expense_type_changed",
                f"it is in QuickBooks as {other} {qbo_id}, and operations now says it was paid "
                f"{paid}, which is a {row['txn_type']}: QuickBooks cannot turn a {other} into a "
                f"{row['txn_type']}",
                f"Either change the expense back in operations, or delete {other} {qbo_id} in "
                f"QuickBooks (not if it is reconciled against a statement: fix the statement "
                f"first); the next run then writes the expense as a {row['txn_type']}. "
                "fieldbooks does not delete a posted transaction to change its type.",
            )
        if row["expense_account_id"] is None:
            return held(
                "expense_category_unmapped",
                f"category '{row['expense_category']}' has no reviewed QuickBooks expense account",
                "Map the category to an expense account in "
                f"{shown_path(settings, 'map_expense_categories.csv')} (a row with reviewed = "
                "true); the expense follows on the next run.",
            )
        if row["payment_account_id"] is None or (
            row["txn_type"] == "Purchase" and row["payment_type"] is None
        ):
            return held(
                "payment_method_unmapped",
                f"paid by '{row['paid_by']}', which has no reviewed QuickBooks payment account",
                "Map the payment method in "
                f"{shown_path(settings, 'map_expense_payment_accounts.csv')} (a row with "
                "reviewed = true); the expense follows on the next run.",
            )
        for account, seed, what in (
            (
                "expense_account_id",
                "map_expense_categories.csv",
                f"category '{row['expense_category']}'",
            ),
            (
                "payment_account_id",
                "map_expense_payment_accounts.csv",
                f"payment method '{row['paid_by']}'",
            ),
        ):
            target = unusable.get(("account", str(row[account])))
            if target is not None:
                return held(
                    "inactive_account",
                    f"{what} is mapped to {target.why()}",
                    f"Make account {target.qbo_id} active again in QuickBooks, or map {what} to "
                    f"another account in {shown_path(settings, seed)} (`fieldbooks mapping check` "
                    "lists every row to fix); the expense follows on the next run.",
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
        write = Write.of_row(
            "expense",
            row,
            ops_id=ops_id,
            body=expense_payload(row, vendor, customer_ref),
            marker=row["private_note"],
            qbo_entity=row["txn_type"],
        )
        if deleted_there:
            # a person deleted the old one, as the issue asked: the new type is a create
            return replace(
                write,
                operation="create",
                qbo_id=None,
                sync_token=None,
                replaces=f"{other} {qbo_id}",
                note=f"takes the place of {other} {qbo_id}, deleted in QuickBooks",
            )
        return write

    loader.load("expense", rows, "ops_expense_id", expense_write)


@dataclass(frozen=True)
class ExpenseTypes:
    """What QuickBooks holds of fieldbooks' expenses: the live Purchase or Bill under each
    marker, and the (type, id) of those deleted (a deleted object keeps no marker)."""

    live: dict[str, tuple[str, str]]
    deleted: set[tuple[str, str]]


def expense_types(wh: WarehouseConnection, realm_id: str) -> ExpenseTypes:
    """What each expense was written as, should operations move it between types."""
    live: dict[str, tuple[str, str]] = {}
    deleted: set[tuple[str, str]] = set()
    for entity, model, id_column in (
        ("Purchase", "stg_qbo__purchases", "qbo_purchase_id"),
        ("Bill", "stg_qbo__bills", "qbo_bill_id"),
    ):
        if not wh.table_exists("staging", model):
            continue
        for qbo_id, note, is_deleted in wh.fetchall(
            f"select {id_column}, private_note, is_deleted from staging.{model} "
            "where realm_id = %s and (is_deleted or private_note like 'fieldbooks:expense:%%')",
            (realm_id,),
        ):
            if is_deleted:
                deleted.add((entity, str(qbo_id)))
            else:
                live[note] = (entity, str(qbo_id))
    return ExpenseTypes(live, deleted)


def _str(value: Any) -> str | None:
    """str(value), keeping None."""
    return None if value is None else str(value)
