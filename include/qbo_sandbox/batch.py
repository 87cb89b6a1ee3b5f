"""The batch endpoint: up to N items run in order, each failing on its own inside HTTP 200.

Each item runs in its own savepoint, so a failed item leaves nothing behind. `bId` lengths
are not enforced: python-quickbooks sends 36-character UUIDs and QuickBooks accepts them.
"""

from typing import Any

from qbo_sandbox.context import Ctx
from qbo_sandbox.faults import QboError, invalid_property, required
from qbo_sandbox.operations import create, delete, render, run_query, spec_for, update, void

ITEM_KEYS = ("bId", "operation", "optionsData")


def run_batch(ctx: Ctx, payload: Any) -> dict[str, Any]:
    """Run every BatchItemRequest and collect one BatchItemResponse each."""
    items = payload.get("BatchItemRequest") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items:
        raise required("BatchItemRequest")
    limit = ctx.config.batch_max_items
    if len(items) > limit:
        raise QboError(
            "1040",
            "Batch size exceeds allowed limit",
            f"The batch has {len(items)} items; at most {limit} are allowed per batch request.",
            element="BatchItemRequest",
        )
    responses = []
    for item in items:
        bid = str(item.get("bId", "")) if isinstance(item, dict) else ""
        try:
            with ctx.store.transaction():
                result = _run_item(ctx, item)
            responses.append({"bId": bid, **result})
        except QboError as error:
            ctx.cache.clear()
            responses.append({"bId": bid, "Fault": error.fault()})
    return {"BatchItemResponse": responses}


def _run_item(ctx: Ctx, item: Any) -> dict[str, Any]:
    """One batch item: a Query, or create/update/delete/void of one object."""
    if not isinstance(item, dict):
        raise invalid_property("A BatchItemRequest must be an object")
    if "Query" in item:
        return run_query(ctx, str(item["Query"] or ""))
    entity_keys = [key for key in item if key not in ITEM_KEYS]
    if len(entity_keys) != 1:
        raise invalid_property("A batch item must carry exactly one object or a Query")
    spec = spec_for(entity_keys[0])
    body = item[entity_keys[0]]
    if not isinstance(body, dict):
        raise invalid_property(f"{entity_keys[0]} must be an object", entity_keys[0])
    operation = str(item.get("operation") or "").lower()
    options = str(item.get("optionsData") or "").lower()
    if operation == "create":
        return {spec.name: render(ctx, spec, create(ctx, spec, body))}
    if operation == "update" and options == "void":
        return void(ctx, spec, body)
    if operation == "update":
        return {spec.name: render(ctx, spec, update(ctx, spec, body))}
    if operation == "delete":
        return delete(ctx, spec, body)
    raise invalid_property(f"Unknown batch operation {operation!r}", "operation")
