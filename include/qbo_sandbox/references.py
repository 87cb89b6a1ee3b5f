"""References between objects (`CustomerRef`, `ItemRef`...): checking them and naming them."""

from typing import Any

from qbo_sandbox.context import Ctx
from qbo_sandbox.faults import invalid_property, invalid_reference, required
from qbo_sandbox.store import Record

NAME_FIELDS = {"Customer": "DisplayName", "Vendor": "DisplayName", "Employee": "DisplayName"}
INACTIVE_DETAIL = (
    "Something you're trying to use has been made inactive. "
    "Check the fields with accounts, customers, items, vendors or employees."
)


def ref_value(ref: Any) -> str | None:
    """The Id a reference points at, or None when the reference is empty."""
    if ref is None or ref == "":
        return None
    if isinstance(ref, dict):
        value = ref.get("value")
    else:
        value = ref
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None


def check_ref(
    ctx: Ctx, body: dict[str, Any], key: str, entity: str, element: str, must: bool = True
) -> Record | None:
    """Check that `body[key]` names an existing, active object and fill in its name."""
    raw = body.get(key)
    if raw is not None and not isinstance(raw, dict):
        raise invalid_property(f"{element} must be an object with a value", element)
    value = ref_value(raw)
    if value is None:
        if must:
            raise required(element)
        body.pop(key, None)
        return None
    record = ctx.store.get_object(ctx.realm, entity, value)
    code = ctx.config.invalid_reference_code
    if record is None or record.deleted:
        raise invalid_reference(
            code, f"{element} points at {entity} Id={value}, which does not exist.", element
        )
    if record.body.get("Active") is False:
        raise invalid_reference(code, f"{INACTIVE_DETAIL} ({entity} Id={value})", element)
    body[key] = {"value": value, "name": full_name(ctx, record)}
    return record


def own_name(record: Record) -> str:
    """An object's own name (DisplayName for people, Name for the rest)."""
    return str(record.body.get(NAME_FIELDS.get(record.entity, "Name")) or "")


def full_name(ctx: Ctx, record: Record) -> str:
    """`Parent:Child` name built by walking ParentRef (QBO's FullyQualifiedName)."""
    return ":".join(lineage(ctx, record))


def depth(ctx: Ctx, record: Record) -> int:
    """How many parents an object has (QBO's Level)."""
    return len(lineage(ctx, record)) - 1


def lineage(ctx: Ctx, record: Record) -> list[str]:
    """Names from the top ancestor down to this object."""
    names = [own_name(record)]
    seen = {record.id}
    current = record
    while (parent_id := ref_value(current.body.get("ParentRef"))) is not None:
        if parent_id in seen:
            break
        parent = ctx.store.get_object(ctx.realm, record.entity, parent_id)
        if parent is None:
            break
        names.append(own_name(parent))
        seen.add(parent_id)
        current = parent
    return list(reversed(names))
