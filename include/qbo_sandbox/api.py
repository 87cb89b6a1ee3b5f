"""The `/v3/company/<realm>/...` endpoints: throttle, bearer check, requestid replay,
dispatch to an operation, Fault bodies, and one request-log line per call.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from qbo_sandbox import jsonio
from qbo_sandbox.batch import run_batch
from qbo_sandbox.clock import format_response_time
from qbo_sandbox.context import Ctx
from qbo_sandbox.entities import lookup
from qbo_sandbox.faults import THROTTLE_XML, QboError, invalid_property, unsupported
from qbo_sandbox.oauth import authenticate
from qbo_sandbox.operations import change_data_capture, read, run_query, spec_for, write
from qbo_sandbox.query import QueryError, parse
from qbo_sandbox.reports import run_report
from qbo_sandbox.state import SandboxState

JSON_TYPE = "application/json;charset=UTF-8"
INJECTED_KEY = "qbo_sandbox.injected"  # set in the ASGI scope by injection.py
DELAY_KEY = "qbo_sandbox.delay"
log = logging.getLogger(__name__)
router = APIRouter()
_UNPARSED = object()


@dataclass
class ApiCall:
    """One API request as the handler needs it."""

    realm: str
    parts: list[str]
    method: str
    path: str
    params: dict[str, str]
    authorization: str | None
    body: bytes
    injected: str | None = None
    _json: Any = field(default=_UNPARSED, repr=False)

    def json(self) -> Any:
        """The body parsed as JSON (Decimal numbers), parsed once; ValueError if it is not."""
        if self._json is _UNPARSED:
            self._json = jsonio.loads(self.body) if self.body.strip() else None
        return self._json


@router.api_route("/v3/company/{realm}/{rest:path}", methods=["GET", "POST"])
async def company_api(realm: str, rest: str, request: Request) -> Response:
    """Every QBO v3 company endpoint."""
    state: SandboxState = request.app.state.sandbox
    call = ApiCall(
        realm=realm,
        parts=[part for part in rest.split("/") if part],
        method=request.method,
        path=request.url.path,
        params=dict(request.query_params),
        authorization=request.headers.get("authorization"),
        body=await request.body(),
        injected=request.scope.get(INJECTED_KEY),
    )
    entry = log_entry(call)
    operation = entry["operation"]
    admitted = state.limiter.try_enter(
        call.realm, batch=operation == "batch", report=operation == "report"
    )
    if not admitted:
        _log(state, entry, 429, "3001")
        return Response(THROTTLE_XML, status_code=429, media_type="application/xml")
    try:
        delay = request.scope.get(DELAY_KEY)
        if delay:
            # An injected slow answer holds its place among the requests in flight.
            await asyncio.sleep(delay)
        return await run_in_threadpool(handle, state, call, entry)
    finally:
        state.limiter.leave(call.realm)


def log_entry(call: ApiCall) -> dict[str, Any]:
    """The request-log line of a call, before its outcome is known."""
    entity, operation = classify(call)
    return {
        "realm_id": call.realm,
        "method": call.method,
        "path": call.path,
        "entity": entity,
        "operation": operation,
        "request_id": call.params.get("requestid"),
        "injected": call.injected,
    }


def handle(state: SandboxState, call: ApiCall, entry: dict[str, Any]) -> Response:
    """Answer one admitted API call and append it to the request log."""
    status, text, fault_code, entry["replayed"] = _answer(state, call, entry["request_id"])
    _log(state, entry, status, fault_code)
    return Response(text, status_code=status, media_type=JSON_TYPE)


def _writes(call: ApiCall) -> bool:
    """Whether a call may change state (a POST other than a query)."""
    return call.method == "POST" and not (call.parts and call.parts[0].lower() == "query")


def _answer(
    state: SandboxState, call: ApiCall, request_id: str | None
) -> tuple[int, str, str | None, bool]:
    """(status, JSON text, fault code, replayed) for a call; a known requestid replays."""
    offset = state.config.company_utc_offset_minutes
    try:
        _check_minor_version(call.params.get("minorversion"))
        authenticate(state.store, state.clock.now(), call.authorization, call.realm)
    except QboError as error:
        return (*_fault_answer(state, error), False)
    store = state.store
    writes = _writes(call)
    with store.transaction() if writes or request_id else store.reading():
        now = state.clock.now()
        if request_id:
            remembered = store.get_request_id(
                call.realm, request_id, now - state.config.request_id_ttl_seconds
            )
            if remembered is not None:
                status, text = remembered
                return status, text, _fault_code(text), True
        ctx = Ctx(store, call.realm, now, state.config)
        try:
            if writes:
                with store.transaction():
                    payload = dispatch(ctx, call)
            else:
                payload = dispatch(ctx, call)
            status = 200
        except QboError as error:
            payload, status = {"Fault": error.fault()}, error.status
        except Exception:
            log.exception("qbo_sandbox failed on %s %s", call.method, call.path)
            payload = {
                "Fault": QboError(
                    "10000",
                    "An application error has occurred while processing your request",
                    "System Failure Error: the emulator raised an exception (see its log)",
                    fault_type="SystemFault",
                ).fault()
            }
            status = 500
        payload["time"] = format_response_time(state.clock.now_precise(), offset)
        text = jsonio.dumps(payload)
        # A crash of the emulator itself is not remembered: a retry should get a real answer.
        if request_id and status < 500:
            store.put_request_id(
                call.realm, request_id, now, status, text, now - state.config.request_id_ttl_seconds
            )
    return status, text, _fault_code(text) if status != 200 else None, False


def _fault_answer(state: SandboxState, error: QboError) -> tuple[int, str, str]:
    """A Fault body for an error raised before dispatch."""
    payload = {
        "Fault": error.fault(),
        "time": format_response_time(
            state.clock.now_precise(), state.config.company_utc_offset_minutes
        ),
    }
    return error.status, jsonio.dumps(payload), error.code


def _fault_code(text: str) -> str | None:
    """The first error code of a Fault body, if it is one."""
    if '"Fault"' not in text:
        return None
    try:
        return jsonio.loads(text)["Fault"]["Error"][0]["code"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _check_minor_version(value: str | None) -> None:
    """Any integer of 1 or more is accepted; the emulator has one behaviour for all."""
    if value is None:
        return
    try:
        ok = int(value) >= 1
    except ValueError:
        ok = False
    if not ok:
        raise invalid_property(
            f"minorversion must be an integer of 1 or more, got {value!r}", "minorversion"
        )


def _log(state: SandboxState, entry: dict[str, Any], status: int, fault_code: str | None) -> None:
    """Append the request-log line."""
    entry["time"] = format_response_time(
        state.clock.now_precise(), state.config.company_utc_offset_minutes
    )
    entry["status"] = status
    entry["fault_code"] = fault_code
    state.store.log_request(entry)


def _json_body(call: ApiCall) -> Any:
    """The request body as JSON (Decimal numbers)."""
    if not call.body.strip():
        raise invalid_property("The request has no body")
    try:
        return call.json()
    except ValueError as error:
        raise invalid_property(f"The request body is not valid JSON: {error}") from None


def classify(call: ApiCall) -> tuple[str | None, str]:
    """(entity, operation) of a call for the request log and the fault plan."""
    head = call.parts[0].lower() if call.parts else ""
    if head == "query":
        return _queried_entity(call), head
    if head == "cdc":
        return call.params.get("entities"), head
    if head == "batch":
        return None, head
    if head == "reports":
        return (call.parts[1] if len(call.parts) > 1 else None), "report"
    spec = lookup(head) if head else None
    entity = spec.name if spec else (call.parts[0] if call.parts else None)
    if call.method == "GET":
        return entity, "read"
    operation = call.params.get("operation", "").lower()
    if operation == "delete":
        return entity, "delete"
    if operation == "void" or call.params.get("include", "").lower() == "void":
        return entity, "void"
    try:
        body = call.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and spec is not None and isinstance(body.get(spec.name), dict):
        body = body[spec.name]
    has_id = isinstance(body, dict) and body.get("Id") not in (None, "")
    return entity, "update" if has_id else "create"


def _query_text(call: ApiCall) -> str:
    """The query of a query call: the `query` parameter, or the POSTed body."""
    text = call.params.get("query")
    if text is None and call.method == "POST":
        text = call.body.decode("utf-8", errors="replace")
    return text or ""


def _queried_entity(call: ApiCall) -> str | None:
    """The entity a query reads, for the log (None when it does not parse)."""
    try:
        spec = lookup(parse(_query_text(call)).entity)
    except QueryError:
        return None
    return spec.name if spec else None


def dispatch(ctx: Ctx, call: ApiCall) -> dict[str, Any]:
    """Route a call to its operation."""
    if not call.parts:
        raise unsupported("No resource named in the URL.")
    head = call.parts[0].lower()
    if head == "query":
        return run_query(ctx, _query_text(call))
    if head == "cdc":
        return change_data_capture(
            ctx, call.params.get("entities"), call.params.get("changedSince")
        )
    if head == "batch":
        if call.method != "POST":
            raise unsupported("Batch requests are POSTed.")
        return run_batch(ctx, _json_body(call))
    if head == "reports":
        if call.method != "GET" or len(call.parts) != 2:
            raise unsupported("Reports are read with GET /reports/<ReportName>.")
        return run_report(ctx, call.parts[1], call.params)
    spec = spec_for(call.parts[0])
    if call.method == "GET":
        if len(call.parts) != 2:
            raise unsupported(
                f"GET {'/'.join(call.parts)} is not supported; read with /{head}/<id>."
            )
        return read(ctx, spec, call.parts[1])
    if len(call.parts) != 1:
        raise unsupported(f"Operation {'/'.join(call.parts[1:])} is not emulated for {spec.name}.")
    return write(
        ctx, spec, _json_body(call), call.params.get("operation"), call.params.get("include")
    )
