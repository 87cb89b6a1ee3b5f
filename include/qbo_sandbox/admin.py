"""The `/_sandbox` admin API for tests and people: companies (create, reset, export),
tokens, request log, raw object state, accountant actions, the clock, limits, the fault
plan and webhooks. Unauthenticated: the emulator listens on loopback.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from qbo_sandbox import jsonio
from qbo_sandbox.actions import ACTIONS
from qbo_sandbox.clock import format_response_time, format_time
from qbo_sandbox.context import Ctx
from qbo_sandbox.entities import ENTITIES, lookup
from qbo_sandbox.faults import QboError
from qbo_sandbox.injection import PlanError
from qbo_sandbox.oauth import issue_refresh_token
from qbo_sandbox.operations import render
from qbo_sandbox.realms import FIXTURES, RealmExists, create_realm, reset_realm
from qbo_sandbox.state import SandboxState

router = APIRouter(prefix="/_sandbox")


def _state(request: Request) -> SandboxState:
    """The emulator state of this app."""
    return request.app.state.sandbox


def _json(value: Any, status: int = 200) -> Response:
    """A JSON answer that keeps Decimal amounts exact."""
    return Response(jsonio.dumps(value), status_code=status, media_type="application/json")


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object sent, or an empty one."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = jsonio.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _unknown_realm(realm: str) -> Response:
    """404 for a company that does not exist."""
    return JSONResponse({"error": f"unknown realm {realm}"}, status_code=404)


@router.get("/health")
def health() -> dict[str, bool]:
    """Liveness probe."""
    return {"ok": True}


@router.get("/config")
def config(request: Request) -> dict[str, Any]:
    """The running configuration."""
    return dataclasses.asdict(_state(request).config)


@router.get("/realms")
def list_realms(request: Request) -> list[dict[str, Any]]:
    """Every company."""
    return _state(request).store.list_realms()


@router.post("/realms")
async def add_realm(request: Request) -> Response:
    """Create a company: `{"demo": true, "company_name": ..., "realm_id": ...}` (all optional)."""
    state = _state(request)
    body = await _body(request)
    try:
        realm_id, token = create_realm(
            state.store,
            state.config,
            state.clock.now(),
            demo=body.get("demo", True) is not False,
            realm_id=str(body["realm_id"]) if body.get("realm_id") else None,
            company_name=body.get("company_name"),
        )
    except RealmExists as error:
        return JSONResponse({"error": f"realm {error} exists"}, status_code=409)
    return _json({"realm_id": realm_id, "refresh_token": token})


@router.post("/realms/{realm}/refresh_tokens")
def reconnect(realm: str, request: Request) -> Response:
    """Issue a fresh refresh token for a company, as a person reconnecting it would."""
    state = _state(request)
    if not state.store.realm_exists(realm):
        return _unknown_realm(realm)
    token = issue_refresh_token(state.store, state.config, realm, state.clock.now())
    return _json({"realm_id": realm, "refresh_token": token})


@router.get("/realms/{realm}/requests")
def read_requests(realm: str, request: Request) -> Response:
    """The company's request log, oldest first."""
    return _json(_state(request).store.read_log(realm))


@router.delete("/realms/{realm}/requests")
def clear_requests(realm: str, request: Request) -> Response:
    """Forget the company's request log."""
    return _json({"deleted": _state(request).store.clear_log(realm)})


@router.get("/realms/{realm}/objects/{entity}")
def objects(realm: str, entity: str, request: Request) -> Response:
    """Every object of an entity as QBO would render it, deleted ones marked `status: Deleted`."""
    state = _state(request)
    if not state.store.realm_exists(realm):
        return _unknown_realm(realm)
    spec = lookup(entity)
    if spec is None:
        return JSONResponse({"error": f"unknown entity {entity}"}, status_code=404)
    return _json(_objects_of(state, realm, spec.name))


def _objects_of(state: SandboxState, realm: str, entity: str) -> list[dict[str, Any]]:
    """Every object of an entity as rendered, with its status."""
    spec = ENTITIES[entity]
    with state.store.transaction():
        ctx = Ctx(state.store, realm, state.clock.now(), state.config)
        result = []
        for record in state.store.list_objects(realm, spec.name, include_deleted=True):
            obj = render(ctx, spec, record)
            if record.deleted:
                obj["status"] = "Deleted"
            elif record.body.get("_voided"):
                obj["status"] = "Voided"
            result.append(obj)
    return result


@router.get("/realms/{realm}/export")
def export(realm: str, request: Request) -> Response:
    """The whole company as JSON: every entity's objects, deleted and voided ones marked."""
    state = _state(request)
    if not state.store.realm_exists(realm):
        return _unknown_realm(realm)
    offset = state.config.company_utc_offset_minutes
    return _json(
        {
            "realm_id": realm,
            "demo": state.store.realm_is_demo(realm),
            "exported_at": format_response_time(state.clock.now_precise(), offset),
            "entities": {name: _objects_of(state, realm, name) for name in ENTITIES},
        }
    )


@router.post("/realms/{realm}/reset")
async def reset(realm: str, request: Request) -> Response:
    """Wipe a company back to a fixture: `{"fixture": "demo" | "empty"}` (default: the one
    it was made from). Objects, numbering, request ids and the log go; tokens stay."""
    state = _state(request)
    if not state.store.realm_exists(realm):
        return _unknown_realm(realm)
    body = await _body(request)
    fixture = body.get("fixture")
    if fixture is not None and fixture not in FIXTURES:
        return JSONResponse({"error": f"fixture is one of {', '.join(FIXTURES)}"}, 400)
    demo = None if fixture is None else fixture == "demo"
    await run_in_threadpool(reset_realm, state.store, state.config, state.clock.now(), realm, demo)
    state.limiter.reset(realm)
    return _json({"realm_id": realm, "reset": True})


@router.get("/actions")
def list_actions() -> dict[str, str]:
    """The accountant actions and what each takes."""
    return {name: (action.__doc__ or "").strip() for name, action in ACTIONS.items()}


@router.post("/realms/{realm}/actions/{name}")
async def act(realm: str, name: str, request: Request) -> Response:
    """Do what an accountant does in the QuickBooks screens (actions.py); answers the
    changed object, or a QuickBooks Fault with HTTP 400."""
    state = _state(request)
    if not state.store.realm_exists(realm):
        return _unknown_realm(realm)
    action = ACTIONS.get(name)
    if action is None:
        return JSONResponse(
            {"error": f"unknown action {name}; one of {', '.join(ACTIONS)}"}, status_code=404
        )
    body = await _body(request)
    return await run_in_threadpool(_run_action, state, realm, action, body)


def _run_action(
    state: SandboxState,
    realm: str,
    action: Callable[[Ctx, dict[str, Any]], dict[str, Any]],
    body: dict[str, Any],
) -> Response:
    """Run one action in a transaction."""
    try:
        with state.store.transaction():
            ctx = Ctx(state.store, realm, state.clock.now(), state.config)
            return _json(action(ctx, body))
    except QboError as error:
        return _json({"Fault": error.fault()}, status=error.status)


@router.get("/limits")
def read_limits(request: Request) -> dict[str, Any]:
    """The throttles in force (None: off)."""
    return _state(request).limiter.settings()


@router.put("/limits")
async def set_limits(request: Request) -> Response:
    """Change throttles at run time: any of requests_per_minute, batch_requests_per_minute,
    max_concurrent_requests, report_requests_per_minute (null turns one off) and
    throttle_window_seconds. Counting starts afresh."""
    state = _state(request)
    body = await _body(request)
    try:
        settings = state.limiter.configure(body)
    except (KeyError, ValueError, TypeError) as error:
        return JSONResponse({"error": f"bad limit: {error}"}, status_code=400)
    state.limiter.reset()
    return _json(settings)


@router.get("/faults")
def read_faults(request: Request) -> Response:
    """The fault plan and how far each rule has got."""
    return _json(_state(request).faults.to_json())


@router.put("/faults")
async def set_faults(request: Request) -> Response:
    """Replace the fault plan (`{"seed": .., "rules": [..]}`, see injection.py)."""
    state = _state(request)
    try:
        state.faults.load(await _body(request))
    except (PlanError, ValueError, TypeError) as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    return _json(state.faults.to_json())


@router.post("/faults/rules")
async def add_fault(request: Request) -> Response:
    """Add one rule to the fault plan."""
    state = _state(request)
    try:
        state.faults.add(await _body(request))
    except (PlanError, ValueError, TypeError) as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    return _json(state.faults.to_json())


@router.delete("/faults")
def clear_faults(request: Request) -> Response:
    """Turn fault injection off."""
    state = _state(request)
    state.faults.load({})
    return _json(state.faults.to_json())


@router.get("/webhooks")
def read_webhooks(request: Request) -> Response:
    """Webhook settings."""
    return _json(_state(request).webhooks.settings())


@router.put("/webhooks")
async def set_webhooks(request: Request) -> Response:
    """Change webhook settings: url, verifier_token, format (classic | cloudevents | both),
    batch_seconds, timeout_seconds, retry_delays_seconds."""
    state = _state(request)
    try:
        settings = state.webhooks.configure(await _body(request))
    except (KeyError, ValueError, TypeError) as error:
        return JSONResponse({"error": f"bad webhook setting: {error}"}, status_code=400)
    return _json(settings)


@router.get("/webhooks/deliveries")
def webhook_deliveries(request: Request) -> Response:
    """Every notification sent (or being retried): payload, signature, attempts."""
    return _json(_state(request).webhooks.deliveries())


@router.delete("/webhooks/deliveries")
def clear_deliveries(request: Request) -> Response:
    """Forget the delivery history."""
    _state(request).webhooks.clear()
    return _json({"deleted": True})


@router.get("/clock")
def read_clock(request: Request) -> dict[str, Any]:
    """The sandbox time and its offset from the wall clock."""
    state = _state(request)
    return _clock_state(state)


@router.post("/clock")
async def set_clock(request: Request) -> Response:
    """`{"advance_seconds": N}` moves the clock on; `{"offset_seconds": N}` sets the offset."""
    state = _state(request)
    body = await _body(request)
    if "offset_seconds" in body:
        state.clock.set_offset(float(body["offset_seconds"]))
    if "advance_seconds" in body:
        state.clock.advance(float(body["advance_seconds"]))
    return _json(_clock_state(state))


def _clock_state(state: SandboxState) -> dict[str, Any]:
    """What the clock endpoints answer."""
    now = state.clock.now()
    return {
        "now": format_time(now, state.config.company_utc_offset_minutes),
        "epoch": now,
        "offset_seconds": state.clock.offset_seconds,
    }
