"""Step 2: copy what changed in QuickBooks into raw_qbo.*, deletes included.

CDC since the watermark (minus an overlap) serves the usual run. The first run, or a
watermark too old for CDC's 30-day window, reads everything by paged query instead.
A CDC answer that hits the object cap is split by entity; an entity that alone hits it
is read by paged query on its change time (see docs/architecture.md for what that misses).
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


def query_all(client: Any, entity: str, where: str = "") -> list[dict]:
    """Every object of an entity matching `where`, paged 1,000 at a time."""
    if entity in LIST_ENTITIES and "Active" not in where:
        # List entities hide inactive records unless asked; an inactive target matters.
        where = f"{where} AND Active IN (true, false)" if where else "Active IN (true, false)"
    clause = f" WHERE {where}" if where else ""
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


def changes_since(client: Any, since: datetime) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """Every CDC entity's changes since a time, splitting answers that hit the cap."""
    found, _ = _cdc(client, list(CDC_ENTITIES), since)
    modes = {e: "cdc" for e in CDC_ENTITIES}
    if sum(len(v) for v in found.values()) < CDC_OBJECT_CAP:
        return found, modes
    for entity in CDC_ENTITIES:
        alone, _ = _cdc(client, [entity], since)
        if len(alone) < CDC_OBJECT_CAP and len(alone[entity]) < CDC_OBJECT_CAP:
            found[entity] = alone[entity]
            continue
        log.warning("cdc for %s hit the %d-object cap; reading it by query", entity, CDC_OBJECT_CAP)
        stamp = format_qbo_time(since)
        found[entity] = query_all(client, entity, f"MetaData.LastUpdatedTime >= '{stamp}'")
        modes[entity] = "query"
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
    for entity in ("customer", "invoice", "payment"):
        cur = wh.execute(
            f"""update fieldbooks.sync_ledger set state = 'confirmed', updated_at = %s
                where realm_id = %s and entity = %s and state = 'sent'
                  and qbo_id in (select id from raw_qbo.{entity} where realm_id = %s and not deleted)""",
            (utcnow(), realm_id, entity, realm_id),
        )
        total += max(cur.rowcount or 0, 0) if wh.kind == "postgres" else 0
    return total


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
        if since is None or since < server_now - CDC_WINDOW + CDC_MARGIN:
            log.info("realm %s: full extraction by query (watermark %s)", realm, mark or "none")
            found = {e: query_all(client, e) for e in CDC_ENTITIES}
            modes = {e: "full" for e in CDC_ENTITIES}
        else:
            found, modes = changes_since(client, since)
        found.update({e: query_all(client, e) for e in QUERY_ENTITIES})
        modes.update({e: "query" for e in QUERY_ENTITIES})
        with wh.transaction():
            results = [
                _merge(wh, realm, e, found[e], modes[e]) for e in CDC_ENTITIES + QUERY_ENTITIES
            ]
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
