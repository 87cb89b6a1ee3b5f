"""Step 2: copy what changed in QuickBooks into raw_qbo.*, deletes included.

CDC since the watermark (minus an overlap) serves the usual run. The first run, or a
watermark too old for CDC's 30-day window, reads everything by paged query instead,
and marks deleted whatever the warehouse holds that the listing no longer shows.
A CDC answer that hits the object cap is split by entity, then by time window. After
every incremental run the live counts of each entity are compared with QuickBooks';
a difference (a delete a query path could not see) re-lists that entity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fieldbooks.config import Settings
from fieldbooks.qbo.client import company_url, open_client, with_retries
from fieldbooks.qbo.raw import CDC_ENTITIES, QUERY_ENTITIES, raw_qbo_spec, raw_row
from fieldbooks.qbo.times import format_qbo_time, parse_qbo_time
from fieldbooks.warehouse.connection import WarehouseConnection, connect
from fieldbooks.warehouse.merge import ensure_table, merge_rows
from fieldbooks.warehouse.state import ensure_state, get_watermark, set_watermark, utcnow

log = logging.getLogger(__name__)

SOURCE = "qbo"
STREAM = "cdc"
CDC_WINDOW = timedelta(days=30)
CDC_MARGIN = timedelta(days=1)
CDC_OBJECT_CAP = 1000
OVERLAP = timedelta(minutes=5)
SPLIT_RESOLUTION = timedelta(seconds=1)
PAGE_SIZE = 1000
LIST_ENTITIES = {
    "Account",
    "Item",
    "Customer",
    "Vendor",
    "Class",
    "Department",
    "TaxCode",
    "TaxRate",
}


@dataclass(frozen=True)
class EntityExtract:
    """What one entity's extract merged."""

    entity: str
    objects: int
    deleted: int
    mode: str  # cdc, query or full


def _where(entity: str, where: str = "") -> str:
    """A WHERE clause that, for list entities, includes inactive records too."""
    if entity in LIST_ENTITIES and "Active" not in where:
        # List entities hide inactive records unless asked; an inactive target matters.
        where = f"{where} AND Active IN (true, false)" if where else "Active IN (true, false)"
    return f" WHERE {where}" if where else ""


def query_all(client: Any, entity: str, where: str = "") -> list[dict]:
    """Every object of an entity matching `where`, paged 1,000 at a time."""
    clause = _where(entity, where)
    found: list[dict] = []
    start = 1
    while True:
        statement = f"SELECT * FROM {entity}{clause} STARTPOSITION {start} MAXRESULTS {PAGE_SIZE}"
        answer = with_retries(lambda s=statement: client.query(s), f"query {entity}")
        page = answer.get("QueryResponse", {}).get(entity, [])
        found.extend(page)
        if len(page) < PAGE_SIZE:
            return found
        start += PAGE_SIZE


def count_all(client: Any, entity: str) -> int:
    """How many live objects of an entity QuickBooks holds (inactive list records included)."""
    statement = f"SELECT COUNT(*) FROM {entity}{_where(entity)}"
    answer = with_retries(lambda: client.query(statement), f"count {entity}")
    return int(answer.get("QueryResponse", {}).get("totalCount", 0))


def _cdc(client: Any, entities: list[str], since: datetime) -> tuple[dict[str, list[dict]], str]:
    """One CDC call: objects by entity and the server's time of the answer."""
    params = {"entities": ",".join(entities), "changedSince": format_qbo_time(since)}
    answer = with_retries(lambda: client.get(company_url(client, "cdc"), params=params), "cdc")
    found: dict[str, list[dict]] = {e: [] for e in entities}
    for block in answer.get("CDCResponse", []):
        for response in block.get("QueryResponse", []):
            for entity in entities:
                found[entity].extend(response.get(entity, []))
    return found, answer.get("time", "")


def _capped(objects: dict[str, list[dict]]) -> bool:
    """Whether a CDC answer may have been cut off at the object cap."""
    return sum(len(v) for v in objects.values()) >= CDC_OBJECT_CAP


def _split_capped_entity(client: Any, entity: str, since: datetime, until: datetime) -> list[dict]:
    """Every change of one entity since a time, when CDC alone hits the cap.

    CDC has no upper bound, so bisect for the earliest `split` whose CDC answer is whole:
    that covers [split, now] deletes included. The older part [since, split) is read by
    query on the change time; deletes in it are found by the count check afterwards.
    """
    low, high = since, until
    recent: list[dict] | None = None
    while high - low > SPLIT_RESOLUTION:
        middle = low + (high - low) / 2
        answer, _ = _cdc(client, [entity], middle)
        if _capped(answer):
            low = middle
        else:
            high, recent = middle, answer[entity]
    if recent is None:
        # Even the last second is capped (a bulk import): read every live change by query.
        log.warning("cdc for %s is capped down to one second; reading it by query", entity)
        return query_all(client, entity, f"MetaData.LastUpdatedTime >= '{format_qbo_time(since)}'")
    older = query_all(
        client,
        entity,
        f"MetaData.LastUpdatedTime >= '{format_qbo_time(since)}' "
        f"AND MetaData.LastUpdatedTime < '{format_qbo_time(high)}'",
    )
    by_id = {str(o["Id"]): o for o in older}
    by_id.update({str(o["Id"]): o for o in recent})  # the newer version wins
    log.warning(
        "cdc for %s hit the %d-object cap: %d by query before %s, %d by cdc after",
        entity,
        CDC_OBJECT_CAP,
        len(older),
        high.isoformat(),
        len(recent),
    )
    return list(by_id.values())


def changes_since(
    client: Any, since: datetime, until: datetime
) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """Every CDC entity's changes since a time, splitting answers that hit the cap."""
    found, _ = _cdc(client, list(CDC_ENTITIES), since)
    modes = {e: "cdc" for e in CDC_ENTITIES}
    if not _capped(found):
        return found, modes
    for entity in CDC_ENTITIES:
        alone, _ = _cdc(client, [entity], since)
        if not _capped(alone):
            found[entity] = alone[entity]
            continue
        found[entity] = _split_capped_entity(client, entity, since, until)
        modes[entity] = "cdc+query"
    return found, modes


def _server_now(client: Any) -> datetime:
    """The QuickBooks server's clock, from the `time` of a tiny query."""
    answer = with_retries(lambda: client.query("SELECT COUNT(*) FROM CompanyInfo"), "server time")
    return parse_qbo_time(answer["time"]) if answer.get("time") else utcnow()


def _merge(
    wh: WarehouseConnection, realm_id: str, entity: str, objects: list[dict], mode: str
) -> EntityExtract:
    """Merge one entity's objects into its raw table."""
    extracted_at = utcnow()
    rows = [raw_row(realm_id, obj, extracted_at) for obj in objects]
    merge_rows(wh, raw_qbo_spec(entity), rows)
    return EntityExtract(entity, len(rows), sum(1 for r in rows if r[4]), mode)


def confirm_ledger(wh: WarehouseConnection, realm_id: str) -> int:
    """Mark `sent` ledger rows `confirmed` once QuickBooks shows the object back."""
    total = 0
    # the ledger's entity and the raw table its objects come back in (a job is a
    # sub-customer); an expense, a Purchase or a Bill, stays `sent`: the ledger does not
    # say which, and the two may share an Id
    for entity, table in (
        ("customer", "customer"),
        ("vendor", "vendor"),
        ("job", "customer"),
        ("invoice", "invoice"),
        ("payment", "payment"),
    ):
        cur = wh.execute(
            f"""update fieldbooks.sync_ledger set state = 'confirmed', updated_at = %s
                where realm_id = %s and entity = %s and state = 'sent'
                  and qbo_id in (select id from raw_qbo.{table} where realm_id = %s and not deleted)""",
            (utcnow(), realm_id, entity, realm_id),
        )
        total += max(cur.rowcount or 0, 0) if wh.kind == "postgres" else 0
    return total


def mark_missing_deleted(
    wh: WarehouseConnection, realm_id: str, entity: str, live_ids: set[str], when: datetime
) -> int:
    """Rows the warehouse holds live but a full listing no longer shows: deleted meanwhile."""
    table = raw_qbo_spec(entity).qualified
    held = {
        r[0]
        for r in wh.fetchall(
            f"select id from {table} where realm_id = %s and not deleted", (realm_id,)
        )
    }
    gone = sorted(held - live_ids)
    for qbo_id in gone:
        wh.execute(
            f"update {table} set deleted = true, last_updated_time = %s, _extracted_at = %s "
            "where realm_id = %s and id = %s",
            (when, utcnow(), realm_id, qbo_id),
        )
    if gone:
        log.warning(
            "raw_qbo.%s: %d object(s) gone from QuickBooks, marked deleted",
            entity.lower(),
            len(gone),
        )
    return len(gone)


def check_counts(
    wh: WarehouseConnection, client: Any, realm_id: str, entity: str, when: datetime
) -> EntityExtract | None:
    """Compare live counts on both sides; on a difference, re-list the entity and repair."""
    table = raw_qbo_spec(entity).qualified
    held = wh.scalar(
        f"select count(*) from {table} where realm_id = %s and not deleted", (realm_id,)
    )
    if int(held) == count_all(client, entity):
        return None
    log.warning("raw_qbo.%s: counts differ from QuickBooks; re-listing it", entity.lower())
    listing = query_all(client, entity)
    result = _merge(wh, realm_id, entity, listing, "recount")
    gone = mark_missing_deleted(wh, realm_id, entity, {str(o["Id"]) for o in listing}, when)
    return EntityExtract(entity, result.objects, gone, "recount")


def extract_qbo(settings: Settings) -> list[EntityExtract]:
    """Extract one company's changes into raw_qbo.* and move its watermark."""
    realm = settings.qbo.realm_id
    client = open_client(settings.qbo, settings.token_store)
    with connect(settings.warehouse_url) as wh:
        ensure_state(wh)
        for entity in CDC_ENTITIES + QUERY_ENTITIES:
            ensure_table(wh, raw_qbo_spec(entity))
        mark = get_watermark(wh, SOURCE, STREAM, realm)
        server_now = _server_now(client)
        since = datetime.fromisoformat(mark) - OVERLAP if mark else None
        full = since is None or since < server_now - CDC_WINDOW + CDC_MARGIN
        if full:
            log.info("realm %s: full extraction by query (watermark %s)", realm, mark or "none")
            found = {e: query_all(client, e) for e in CDC_ENTITIES}
            modes = {e: "full" for e in CDC_ENTITIES}
        else:
            found, modes = changes_since(client, since, server_now)
        found.update({e: query_all(client, e) for e in QUERY_ENTITIES})
        modes.update({e: "query" for e in QUERY_ENTITIES})
        with wh.transaction():
            results = [
                _merge(wh, realm, e, found[e], modes[e]) for e in CDC_ENTITIES + QUERY_ENTITIES
            ]
            for entity in CDC_ENTITIES:
                if full:
                    # A query never returns deleted objects: whatever it no longer lists is gone.
                    ids = {str(o["Id"]) for o in found[entity]}
                    mark_missing_deleted(wh, realm, entity, ids, server_now)
                else:
                    repaired = check_counts(wh, client, realm, entity, server_now)
                    if repaired is not None:
                        results.append(repaired)
            # Reading started at server_now: anything changed later is caught next run.
            set_watermark(wh, SOURCE, STREAM, server_now.isoformat(), realm)
            confirm_ledger(wh, realm)
    for r in results:
        log.info(
            "raw_qbo.%s: %d objects (%d deleted) by %s",
            r.entity.lower(),
            r.objects,
            r.deleted,
            r.mode,
        )
    return results
