"""Fault injection: make chosen endpoints fail the way networks and QuickBooks fail.

A plan is JSON (a `--fault-plan` file, `SandboxConfig.fault_plan`, or `PUT /_sandbox/faults`):

    {"seed": 7, "rules": [
      {"match": {"method": "POST", "entity": "Invoice", "operation": "create"},
       "probability": 0.2, "fault": "503"},
      {"match": {"operation": "query"}, "sequence": ["ok", "slow", "reset"],
       "delay_seconds": 3},
      {"match": {"path": "^/payment"}, "fault": "commit_then_drop", "times": 1}
    ]}

`match` keys (all optional, all must hold): `method`, `entity` (Customer, Invoice...),
`operation` (read, create, update, delete, void, query, cdc, batch, report, token), `realm`
and `path` (a regular expression searched in the path after `/v3/company/<realm>`, or the
token endpoint's path). A rule fires with its `probability` (drawn from one random generator
seeded with `seed`, so a run repeats) or follows its `sequence` one matching request at a
time (`ok` or null lets one through; the rule is spent at the end unless `repeat` is true).
`times` caps how often a rule fires. The first rule that fires wins.

Faults:
- `500`, `502`, `503`: that HTTP status at once, nothing written (500 with a QuickBooks
  Fault body, 502/503 with a gateway's HTML page).
- `slow`: wait `delay_seconds` (default 5) before handling the request normally, so a
  client with a shorter timeout gives up while the write still happens.
- `reset`: the connection is reset (TCP RST) before anything is done.
- `commit_then_drop`: the request is handled and committed, then the connection is reset
  instead of answering: the write happened, the client sees a failure.
"""

import asyncio
import random
import re
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from qbo_sandbox import jsonio
from qbo_sandbox.clock import format_response_time
from qbo_sandbox.faults import QboError

FAULTS = ("500", "502", "503", "slow", "reset", "commit_then_drop")
ALIASES = {
    "http_500": "500",
    "http_502": "502",
    "http_503": "503",
    "timeout": "slow",
    "connection_reset": "reset",
    "drop_after_commit": "commit_then_drop",
}
MATCH_KEYS = ("method", "entity", "operation", "realm", "path")
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
API_PREFIX = "/v3/company/"
GATEWAY_PAGE = (
    "<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}"
    "</h1></center><hr><center>qbo_sandbox (injected fault)</center></body></html>"
)
REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class PlanError(ValueError):
    """A fault plan that cannot be read."""


def _fault_name(value: Any) -> str | None:
    """A fault's canonical name; None or "ok" for no fault."""
    if value is None:
        return None
    name = str(value).strip().lower()
    if name in ("ok", "none", "pass", ""):
        return None
    name = ALIASES.get(name, name)
    if name not in FAULTS:
        raise PlanError(f"unknown fault {value!r}; use one of {', '.join(FAULTS)} or ok")
    return name


@dataclass
class FaultRule:
    """One rule of a plan, with how far it has got."""

    match: dict[str, str]
    fault: str | None = None
    probability: float = 1.0
    sequence: list[str | None] | None = None
    repeat: bool = False
    delay_seconds: float = 5.0
    times: int | None = None
    position: int = 0
    fired: int = 0
    _path: re.Pattern[str] | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, raw: Any) -> "FaultRule":
        """Read one rule."""
        if not isinstance(raw, dict):
            raise PlanError("a rule must be an object")
        match = raw.get("match") or {}
        if not isinstance(match, dict) or set(match) - set(MATCH_KEYS):
            raise PlanError(f"match takes {', '.join(MATCH_KEYS)}")
        sequence = raw.get("sequence")
        if sequence is not None:
            if not isinstance(sequence, list) or not sequence:
                raise PlanError("sequence must be a non-empty list")
            sequence = [_fault_name(step) for step in sequence]
        fault = _fault_name(raw.get("fault"))
        if sequence is None and fault is None:
            raise PlanError("a rule needs a fault or a sequence")
        probability = float(raw.get("probability", 1.0))
        if not 0.0 <= probability <= 1.0:
            raise PlanError("probability must be between 0 and 1")
        times = raw.get("times")
        rule = cls(
            match={k: str(v) for k, v in match.items()},
            fault=fault,
            probability=probability,
            sequence=sequence,
            repeat=bool(raw.get("repeat", False)),
            delay_seconds=float(raw.get("delay_seconds", 5.0)),
            times=None if times is None else int(times),
        )
        if "path" in rule.match:
            try:
                rule._path = re.compile(rule.match["path"])
            except re.error as error:
                raise PlanError(f"bad path pattern: {error}") from None
        return rule

    def to_json(self) -> dict[str, Any]:
        """The rule and its progress."""
        data: dict[str, Any] = {"match": self.match}
        if self.sequence is not None:
            data["sequence"] = [step or "ok" for step in self.sequence]
            data["repeat"] = self.repeat
            data["position"] = self.position
        else:
            data["fault"] = self.fault
            data["probability"] = self.probability
        data["delay_seconds"] = self.delay_seconds
        data["times"] = self.times
        data["fired"] = self.fired
        return data

    def matches(self, request: dict[str, str | None]) -> bool:
        """Whether a request is one this rule is about."""
        for key, wanted in self.match.items():
            if key == "path":
                assert self._path is not None
                if not self._path.search(request.get("path") or ""):
                    return False
                continue
            value = request.get(key)
            if value is None or value.lower() != wanted.lower():
                return False
        return True


class FaultPlan:
    """Rules and a seeded random generator, shared by every request (thread-safe)."""

    def __init__(self, raw: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self.load(raw or {})

    def load(self, raw: dict[str, Any]) -> None:
        """Replace the plan."""
        if not isinstance(raw, dict):
            raise PlanError("a fault plan is an object with seed and rules")
        rules = [FaultRule.from_json(rule) for rule in raw.get("rules") or []]
        seed = raw.get("seed")
        with self._lock:
            self.seed = seed
            self.rules = rules
            self.random = random.Random(seed)

    def add(self, raw: Any) -> FaultRule:
        """Append one rule."""
        rule = FaultRule.from_json(raw)
        with self._lock:
            self.rules.append(rule)
        return rule

    @property
    def active(self) -> bool:
        """Whether any rule could still fire (the fast path skips the plan otherwise)."""
        return bool(self.rules)

    def to_json(self) -> dict[str, Any]:
        """The plan with each rule's progress."""
        with self._lock:
            return {"seed": self.seed, "rules": [rule.to_json() for rule in self.rules]}

    def pick(self, request: dict[str, str | None]) -> tuple[str, float] | None:
        """The fault (and delay) this request gets, if any; advances sequences."""
        with self._lock:
            for rule in self.rules:
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                if not rule.matches(request):
                    continue
                if rule.sequence is not None:
                    if rule.position >= len(rule.sequence):
                        if not rule.repeat:
                            continue
                        rule.position = 0
                    step = rule.sequence[rule.position]
                    rule.position += 1
                    if step is None:
                        return None
                    rule.fired += 1
                    return step, rule.delay_seconds
                if self.random.random() < rule.probability:
                    assert rule.fault is not None
                    rule.fired += 1
                    return rule.fault, rule.delay_seconds
            return None


def describe(path: str, method: str, query: bytes, body: bytes) -> dict[str, str | None] | None:
    """What a fault rule can match on for one request; None for paths never injected."""
    from qbo_sandbox.api import ApiCall, classify

    if path == TOKEN_PATH:
        return {"method": method, "path": path, "operation": "token", "entity": None, "realm": None}
    if not path.startswith(API_PREFIX):
        return None
    rest = path[len(API_PREFIX) :]
    realm, _, tail = rest.partition("/")
    params = {k: v[0] for k, v in parse_qs(query.decode("latin-1")).items()}
    call = ApiCall(realm, [p for p in tail.split("/") if p], method, path, params, None, body)
    entity, operation = classify(call)
    return {
        "method": method,
        "path": "/" + tail,
        "operation": operation,
        "entity": entity,
        "realm": realm,
    }


def reset_connection(receive: Any) -> bool:
    """Reset the client's TCP connection (RST) from inside the app, if the server allows."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except (OSError, AttributeError):
            pass
    transport.abort()
    return True


class FaultInjectionMiddleware:
    """ASGI middleware that applies the running fault plan to API and token requests."""

    def __init__(self, app: Any, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        plan: FaultPlan = self.state.faults
        if scope["type"] != "http" or not plan.active:
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path != TOKEN_PATH and not path.startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        replay = _replaying(receive, body)
        request = describe(path, scope.get("method", "GET"), scope.get("query_string", b""), body)
        picked = plan.pick(request) if request is not None else None
        if picked is None:
            await self.app(scope, replay, send)
            return
        fault, delay = picked
        scope = {**scope, "qbo_sandbox.injected": fault}
        if fault == "slow":
            if path == TOKEN_PATH:
                await asyncio.sleep(delay)
            else:
                scope["qbo_sandbox.delay"] = delay  # api.py waits once the call is admitted
            await self.app(scope, replay, send)
            return
        if fault == "commit_then_drop":
            await self.app(scope, replay, _swallow)
            await self._drop(receive, send)
            return
        self._log(request, fault)
        if fault == "reset":
            await self._drop(receive, send)
            return
        await self._answer(int(fault), send)

    async def _drop(self, receive: Any, send: Any) -> None:
        """Reset the connection; where the server hides it, cut the answer off instead."""
        if reset_connection(receive):
            await asyncio.sleep(0)  # let the server see the connection is gone
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
            }
        )
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise ConnectionAbortedError("qbo_sandbox injected a dropped connection")

    async def _answer(self, status: int, send: Any) -> None:
        """An injected 5xx answer."""
        if status == 500:
            fault = QboError(
                "10000",
                "An application error has occurred while processing your request",
                "System Failure Error: injected by the qbo_sandbox fault plan",
                fault_type="SystemFault",
            )
            offset = self.state.config.company_utc_offset_minutes
            payload = {
                "Fault": fault.fault(),
                "time": format_response_time(self.state.clock.now_precise(), offset),
            }
            body = jsonio.dumps(payload).encode()
            kind = b"application/json;charset=UTF-8"
        else:
            body = GATEWAY_PAGE.format(status=status, reason=REASONS[status]).encode()
            kind = b"text/html"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _log(self, request: dict[str, str | None] | None, fault: str) -> None:
        """A request-log line for a request the fault plan answered itself."""
        if request is None or not request.get("realm"):
            return
        offset = self.state.config.company_utc_offset_minutes
        self.state.store.log_request(
            {
                "time": format_response_time(self.state.clock.now_precise(), offset),
                "realm_id": request["realm"],
                "method": request["method"],
                "path": API_PREFIX + request["realm"] + (request["path"] or ""),
                "entity": request["entity"],
                "operation": request["operation"],
                "status": 0 if fault == "reset" else int(fault),
                "injected": fault,
            }
        )


async def _read_body(receive: Any) -> bytes:
    """The whole request body."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replaying(receive: Any, body: bytes) -> Any:
    """A `receive` that hands the app the body already read, then defers to the server."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _swallow(message: dict[str, Any]) -> None:
    """Throw the app's answer away (commit, then drop)."""
