"""The `/_sandbox` admin API for tests and people: companies, tokens, request log, raw
object state and the clock. Unauthenticated: the emulator listens on loopback.
"""

import dataclasses
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from qbo_sandbox import jsonio
from qbo_sandbox.clock import format_time
from qbo_sandbox.context import Ctx
from qbo_sandbox.entities import lookup
from qbo_sandbox.oauth import issue_refresh_token
from qbo_sandbox.operations import render
from qbo_sandbox.realms import RealmExists, create_realm
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
    value = jsonio.loads(raw)
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
    return _json(result)


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
