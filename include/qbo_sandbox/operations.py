"""QBO operations on one company, entity-agnostic: read, create, update, delete, void,
query and change data capture. Callers hold a store transaction around each call.
"""

import copy
import math
from typing import Any

from qbo_sandbox import jsonio
from qbo_sandbox.clock import format_time, parse_time
from qbo_sandbox.context import Ctx
from qbo_sandbox.entities import ENTITIES, EntitySpec, lookup
from qbo_sandbox.faults import (
    QboError,
    business,
    invalid_property,
    not_found,
    query_parse,
    required,
    stale_object,
    unsupported,
)
from qbo_sandbox.query import QueryError, parse
from qbo_sandbox.query_eval import matches, mentions_field, sort_objects
from qbo_sandbox.references import ref_value
from qbo_sandbox.store import Record

RENDER_CACHE_SIZE = 20_000
# Fields the server owns; whatever a client sends for them is ignored.
SERVER_FIELDS = ("Id", "SyncToken", "MetaData", "domain", "sparse", "status")
ALWAYS_SHOWN = ("Id", "SyncToken", "MetaData", "domain", "sparse")


def spec_for(name: str) -> EntitySpec:
    """The spec of an entity named in a URL or query; 500 when it is not emulated."""
    spec = lookup(name)
    if spec is None:
        raise unsupported(
            f"Entity {name} is not emulated by qbo_sandbox yet (available: {', '.join(ENTITIES)})."
        )
    return spec


def render(ctx: Ctx, spec: EntitySpec, record: Record) -> dict[str, Any]:
    """The object as QBO returns it: body, read-time figures, Id, SyncToken, MetaData."""
    obj = {key: value for key, value in record.body.items() if not key.startswith("_")}
    if spec.decorate is not None:
        spec.decorate(ctx, record, obj)
    offset = ctx.config.company_utc_offset_minutes
    obj["domain"] = "QBO"
    obj["sparse"] = False
    obj["Id"] = record.id
    obj["SyncToken"] = str(record.sync_token)
    obj["MetaData"] = {
        "CreateTime": format_time(record.create_time, offset),
        "LastUpdatedTime": format_time(record.update_time, offset),
    }
    return obj


def _live(ctx: Ctx, spec: EntitySpec, object_id: str | None) -> Record:
    """A record that exists and is not deleted, else 610."""
    if object_id is None:
        raise required("Id")
    record = ctx.store.get_object(ctx.realm, spec.name, object_id)
    if record is None or record.deleted:
        raise not_found(spec.name, object_id)
    return record


def _check_sync_token(payload: dict[str, Any], record: Record) -> None:
    """5010 unless the caller sent the current SyncToken."""
    sent = payload.get("SyncToken")
    if sent is None or sent == "":
        raise required("SyncToken")
    try:
        number = int(str(sent).strip())
    except ValueError:
        raise invalid_property(f"SyncToken must be a number, got {sent!r}", "SyncToken") from None
    if number != record.sync_token:
        raise stale_object()


def _object_body(spec: EntitySpec, payload: Any) -> dict[str, Any]:
    """The request's object (bare, as QBO expects, or wrapped in its entity name)."""
    if isinstance(payload, dict) and len(payload) == 1 and isinstance(payload.get(spec.name), dict):
        payload = payload[spec.name]
    if not isinstance(payload, dict):
        raise invalid_property(f"The request body must be a {spec.name} object")
    return payload


def _incoming(payload: dict[str, Any]) -> dict[str, Any]:
    """The client-writable part of a request body."""
    return {
        k: copy.deepcopy(v)
        for k, v in payload.items()
        if k not in SERVER_FIELDS and not k.startswith("_")
    }


def read(ctx: Ctx, spec: EntitySpec, object_id: str) -> dict[str, Any]:
    """GET /<entity>/<id>."""
    if spec.name == "CompanyInfo":
        # QBO reads CompanyInfo at /companyinfo/<realmId>; its own Id is 1.
        object_id = "1" if object_id in (ctx.realm, "1") else object_id
    if spec.decorate is not None:
        return {spec.name: render(ctx, spec, _live(ctx, spec, object_id))}
    # Without read-time figures an object renders the same until it changes: reuse the text.
    stamp = ctx.store.get_stamp(ctx.realm, spec.name, object_id)
    if stamp is None or stamp[3]:
        raise not_found(spec.name, object_id)
    key = (ctx.realm, spec.name, object_id, *stamp)
    text = ctx.store.rendered.get(key)
    if text is None:
        text = jsonio.dumps(render(ctx, spec, _live(ctx, spec, object_id)))
        if len(ctx.store.rendered) >= RENDER_CACHE_SIZE:
            ctx.store.rendered.clear()
        ctx.store.rendered[key] = text
    return {spec.name: jsonio.Raw(text)}


def write(
    ctx: Ctx, spec: EntitySpec, payload: Any, operation: str | None, include: str | None
) -> dict[str, Any]:
    """POST /<entity>: create, update, delete or void, as the query string says."""
    body = _object_body(spec, payload)
    operation = (operation or "").lower()
    if operation == "delete":
        return delete(ctx, spec, body)
    if operation == "void" or (operation == "update" and (include or "").lower() == "void"):
        return void(ctx, spec, body)
    if operation not in ("", "create", "update"):
        raise unsupported(f"Operation {operation} is not supported.")
    if ref_value(body.get("Id")) is not None:
        record = update(ctx, spec, body)
    else:
        record = create(ctx, spec, body)
    return {spec.name: render(ctx, spec, record)}


def create(
    ctx: Ctx,
    spec: EntitySpec,
    payload: dict[str, Any],
    internal: bool = False,
    object_id: str | None = None,
) -> Record:
    """Store a new object after its entity's rules ran; `internal` seeds read-only lists."""
    if spec.kind in ("readonly", "company") and not internal:
        raise unsupported(f"Operation Create is not supported for {spec.name}.")
    body = spec.prepare(ctx, _incoming(payload), None, payload)
    record = ctx.store.insert_object(ctx.realm, spec.name, body, ctx.now, object_id)
    ctx.cache.clear()
    if spec.changed is not None:
        spec.changed(ctx, None, record)
    return record


def create_internal(ctx: Ctx, entity: str, body: dict[str, Any]) -> Record:
    """Create an object the way QuickBooks itself does (fixtures, system accounts)."""
    return create(ctx, ENTITIES[entity], body, internal=True)


def update(ctx: Ctx, spec: EntitySpec, payload: dict[str, Any]) -> Record:
    """Full update (omitted writable fields are dropped) or sparse update (only those sent)."""
    if spec.kind == "readonly":
        raise unsupported(f"Operation Update is not supported for {spec.name}.")
    object_id = ref_value(payload.get("Id"))
    if spec.name == "CompanyInfo" and object_id == ctx.realm:
        object_id = "1"
    record = _live(ctx, spec, object_id)
    _check_sync_token(payload, record)
    incoming = _incoming(payload)
    private = {k: v for k, v in record.body.items() if k.startswith("_")}
    if payload.get("sparse") is True:
        body = {**copy.deepcopy(record.body), **incoming}
    else:
        body = {**copy.deepcopy(private), **incoming}
    body = spec.prepare(ctx, body, record, payload)
    before = copy.deepcopy(record)
    record.body = body
    record.sync_token += 1
    record.update_time = ctx.now
    ctx.store.save_object(record)
    ctx.cache.clear()
    if spec.changed is not None:
        spec.changed(ctx, before, record)
    return record


def delete(ctx: Ctx, spec: EntitySpec, payload: dict[str, Any]) -> dict[str, Any]:
    """?operation=delete: transactions only; the record stays, marked deleted, for CDC."""
    if not spec.deletable:
        raise unsupported(
            f"Operation Delete is not supported for {spec.name}; "
            "make it inactive with an update that sets Active to false."
        )
    record = _live(ctx, spec, ref_value(payload.get("Id")))
    _check_sync_token(payload, record)
    if spec.guard_removal is not None:
        spec.guard_removal(ctx, record, "delete")
    before = copy.deepcopy(record)
    record.deleted = True
    record.sync_token += 1
    record.update_time = ctx.now
    ctx.store.save_object(record, event="Delete")
    ctx.cache.clear()
    if spec.changed is not None:
        spec.changed(ctx, before, record)
    return {spec.name: {"status": "Deleted", "domain": "QBO", "Id": record.id}}


def void(ctx: Ctx, spec: EntitySpec, payload: dict[str, Any]) -> dict[str, Any]:
    """?operation=void (invoice) or ?operation=update&include=void (payment)."""
    if not spec.voidable or spec.void is None:
        raise unsupported(f"Operation Void is not supported for {spec.name}.")
    record = _live(ctx, spec, ref_value(payload.get("Id")))
    _check_sync_token(payload, record)
    before = copy.deepcopy(record)
    spec.void(ctx, record)
    record.sync_token += 1
    record.update_time = ctx.now
    ctx.store.save_object(record, event="Void")
    ctx.cache.clear()
    if spec.changed is not None:
        spec.changed(ctx, before, record)
    return {spec.name: render(ctx, spec, record)}


def run_query(ctx: Ctx, text: str) -> dict[str, Any]:
    """The query endpoint: parse, filter, order, page."""
    if not text or not text.strip():
        raise required("query")
    try:
        query = parse(text)
    except QueryError as error:
        raise query_parse(error.detail) from None
    spec = lookup(query.entity)
    if spec is None:
        raise QboError(
            "4001",
            "Invalid query",
            f"QueryValidationError: Entity {query.entity} is not supported.",
        )
    objects = [render(ctx, spec, record) for record in ctx.store.list_objects(ctx.realm, spec.name)]
    if spec.has_active and not mentions_field(query.where, "Active"):
        # QBO answers list queries with active objects only unless Active is filtered.
        objects = [obj for obj in objects if obj.get("Active") is not False]
    objects = [obj for obj in objects if matches(obj, query.where)]
    if query.count:
        return {"QueryResponse": {"totalCount": len(objects)}}
    objects = sort_objects(objects, query.order_by)
    limit = min(
        query.max_results or ctx.config.query_default_max_results, ctx.config.query_max_results
    )
    start = query.start_position
    page = objects[start - 1 : start - 1 + limit]
    if "*" not in query.fields:
        wanted = {name.split(".")[0] for name in query.fields} | set(ALWAYS_SHOWN)
        page = [{k: v for k, v in obj.items() if k in wanted} for obj in page]
    if not page:
        return {"QueryResponse": {}}
    return {"QueryResponse": {spec.name: page, "startPosition": start, "maxResults": len(page)}}


def change_data_capture(
    ctx: Ctx, entities: str | None, changed_since: str | None
) -> dict[str, Any]:
    """The cdc endpoint: objects changed at or after `changedSince` (inclusive), deletes stripped."""
    if not entities or not entities.strip():
        raise required("entities")
    if not changed_since or not changed_since.strip():
        raise required("changedSince")
    specs: list[EntitySpec] = []
    for name in (part.strip() for part in entities.split(",")):
        if not name:
            continue
        spec = lookup(name)
        if spec is None:
            raise invalid_property(f"entities: {name} is not an entity CDC knows", "entities")
        if not spec.cdc:
            raise unsupported(
                f"Operation CDC is not supported for {spec.name}; read it with a query."
            )
        if spec not in specs:
            specs.append(spec)
    try:
        since = parse_time(changed_since).timestamp()
    except ValueError:
        raise invalid_property(
            f"changedSince must be an ISO date or date-time, got {changed_since!r}", "changedSince"
        ) from None
    window = ctx.config.cdc_window_days
    if since < ctx.now - window * 86400:
        raise business(
            f"Operation cdc with changedSince date {changed_since} which is older than fixed "
            f"days is not supported. changedSince must be within the last {window} days.",
            "changedSince",
        )
    changed: list[tuple[int, int, int, str, Record, EntitySpec]] = []
    for order, spec in enumerate(specs):
        for record in ctx.store.list_objects(
            ctx.realm, spec.name, include_deleted=True, updated_since=math.floor(since)
        ):
            if record.update_time >= since:
                numeric = int(record.id) if record.id.isascii() and record.id.isdigit() else 0
                changed.append((record.update_time, order, numeric, record.id, record, spec))
    changed.sort(key=lambda entry: entry[:4])
    kept = changed[: ctx.config.cdc_max_objects]
    responses = []
    for spec in specs:
        objects = [_cdc_object(ctx, spec, entry[4]) for entry in kept if entry[5] is spec]
        if objects:
            responses.append({spec.name: objects, "startPosition": 1, "maxResults": len(objects)})
        else:
            responses.append({})
    return {"CDCResponse": [{"QueryResponse": responses}]}


def _cdc_object(ctx: Ctx, spec: EntitySpec, record: Record) -> dict[str, Any]:
    """A changed object in full, or a deleted one stripped to its Id and time."""
    if record.deleted:
        return {
            "Id": record.id,
            "status": "Deleted",
            "domain": "QBO",
            "MetaData": {
                "LastUpdatedTime": format_time(
                    record.update_time, ctx.config.company_utc_offset_minutes
                )
            },
        }
    return render(ctx, spec, record)
