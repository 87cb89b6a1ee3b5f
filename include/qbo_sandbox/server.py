"""Build and run the emulator: `create_app` for ASGI, `serve` to run it, `main` for the CLI."""

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from qbo_sandbox import admin, api, demo_company, oauth
from qbo_sandbox.clock import SandboxClock
from qbo_sandbox.config import QBO_LIMITS, WEBHOOK_FORMATS, SandboxConfig
from qbo_sandbox.entities import index_fields
from qbo_sandbox.injection import FaultInjectionMiddleware, FaultPlan
from qbo_sandbox.limits import Limiter
from qbo_sandbox.realms import FIXTURES, ensure_demo_realm, ensure_empty_realm
from qbo_sandbox.state import SandboxState
from qbo_sandbox.store import Store
from qbo_sandbox.tls import TlsFiles, make_tls_files, tls_available
from qbo_sandbox.webhooks import WebhookDispatcher


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """An ASGI app over `config.db_path` (SQLite file or `:memory:`), with the fixtures the
    config asks for (`demo`, `empty_company`)."""
    config = config or SandboxConfig()
    store = Store(config.db_path, indexer=index_fields)
    if store.needs_reindex():
        store.reindex()
    clock = SandboxClock(store)
    webhooks = WebhookDispatcher(config)
    store.on_commit = webhooks.notify
    state = SandboxState(
        config=config,
        store=store,
        clock=clock,
        limiter=Limiter(config),
        faults=FaultPlan(config.fault_plan),
        webhooks=webhooks,
    )
    if config.demo:
        ensure_demo_realm(store, config, clock.now())
    if config.empty_company:
        ensure_empty_realm(store, config, clock.now())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Stop the webhook sender and close the SQLite file when the server stops."""
        yield
        webhooks.stop()
        store.close()

    app = FastAPI(
        title="qbo_sandbox",
        description="Local QuickBooks Online v3 emulator",
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    app.state.sandbox = state
    app.add_middleware(FaultInjectionMiddleware, state=state)
    app.include_router(oauth.router)
    app.include_router(admin.router)
    app.include_router(api.router)
    return app


def tls_files_for(db_path: str) -> TlsFiles:
    """Make a certificate next to the database (or in a temp dir for `:memory:`)."""
    if db_path == ":memory:":
        directory = tempfile.mkdtemp(prefix="qbo_sandbox_tls_")
    else:
        directory = os.path.abspath(db_path) + "-tls"
    return make_tls_files(directory)


def uvicorn_config(
    app: FastAPI, config: SandboxConfig, tls: TlsFiles | None, **extra: Any
) -> uvicorn.Config:
    """Uvicorn settings shared by `serve` and `testing.running_sandbox`."""
    return uvicorn.Config(
        app,
        log_level=extra.pop("log_level", "info"),
        access_log=config.access_log,
        ssl_certfile=tls.server_pem if tls else None,
        **extra,
    )


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    db_path: str = "qbo_sandbox.sqlite3",
    demo: bool = False,
    tls: bool = False,
    **config_fields: Any,
) -> None:
    """Run the emulator in the foreground until interrupted."""
    config = SandboxConfig(db_path=db_path, demo=demo, **config_fields)
    tls_files = None
    if tls:
        if not tls_available():
            raise SystemExit("--tls needs the trustme package, which is not installed")
        tls_files = tls_files_for(db_path)
    app = create_app(config)
    scheme = "https" if tls_files else "http"
    base = f"{scheme}://{host}:{port}"
    print(f"qbo_sandbox on {base}  (state: {db_path})")
    print(f"  base URL: {base}")
    print(f"  API base (QuickBooks.api_url_v3): {base}/v3")
    print(f"  discovery URL (AuthClient environment): {base}{oauth.DISCOVERY_PATH}")
    print(f"  client id: {config.client_id}")
    print(f"  client secret: {config.client_secret}")
    fixtures = {
        demo_company.REALM_ID: ("demo company", demo_company.REFRESH_TOKEN),
        demo_company.EMPTY_REALM_ID: ("empty company", demo_company.EMPTY_REFRESH_TOKEN),
    }
    realms = app.state.sandbox.store.list_realms()
    for realm in realms:
        label, token = fixtures.get(realm["realm_id"], ("company", None))
        armed = (realm["realm_id"] == demo_company.REALM_ID and demo) or (
            realm["realm_id"] == demo_company.EMPTY_REALM_ID and config.empty_company
        )
        line = f"  realm id: {realm['realm_id']} ({label})"
        if armed and token:
            line += f", refresh token: {token}"
        print(line)
    if not realms:
        print("  no company yet: use --company demo|empty, or POST /_sandbox/realms")
    limits = {k: v for k, v in app.state.sandbox.limiter.settings().items() if v is not None}
    print(f"  limits: {limits if len(limits) > 1 else 'off'}")
    if config.fault_plan:
        print(f"  fault plan: {len(config.fault_plan.get('rules') or [])} rule(s)")
    if config.webhook_url:
        print(f"  webhooks: {config.webhook_format} to {config.webhook_url}")
    if tls_files:
        print(f"  CA bundle for clients (REQUESTS_CA_BUNDLE): {tls_files.ca_pem}")
    else:
        print("  plain http: clients need OAUTHLIB_INSECURE_TRANSPORT=1")
    sys.stdout.flush()
    uvicorn.Server(uvicorn_config(app, config, tls_files, host=host, port=port)).run()


def build_parser() -> argparse.ArgumentParser:
    """The command line of `python -m qbo_sandbox`."""
    parser = argparse.ArgumentParser(
        prog="qbo_sandbox", description="Local QuickBooks Online v3 emulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--db",
        default="qbo_sandbox.sqlite3",
        help="SQLite file (kept across restarts), or :memory: for state that dies with it",
    )
    parser.add_argument(
        "--company",
        action="append",
        choices=FIXTURES,
        default=[],
        help="create this company fixture if missing and arm its fixed refresh token (repeatable)",
    )
    parser.add_argument("--demo", action="store_true", help="same as --company demo")
    parser.add_argument("--tls", action="store_true", help="serve https with a trustme certificate")
    parser.add_argument("--client-id", default=SandboxConfig.client_id)
    parser.add_argument("--client-secret", default=SandboxConfig.client_secret)
    limits = parser.add_argument_group("limits (off unless given)")
    limits.add_argument(
        "--qbo-limits",
        action="store_true",
        help="QuickBooks' own limits: 500 requests, 40 batches, 200 reports per minute, 10 "
        "concurrent requests",
    )
    for name in QBO_LIMITS:
        limits.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    limits.add_argument(
        "--limit-window-seconds",
        type=float,
        default=None,
        help="length of the 'minute' the per-minute limits count in (default 60)",
    )
    parser.add_argument(
        "--fault-plan", default=None, help="JSON file with a fault-injection plan (injection.py)"
    )
    hooks = parser.add_argument_group("webhooks (off unless --webhook-url)")
    hooks.add_argument("--webhook-url", default=None)
    hooks.add_argument("--webhook-verifier-token", default=SandboxConfig.webhook_verifier_token)
    hooks.add_argument("--webhook-format", choices=WEBHOOK_FORMATS, default="classic")
    parser.add_argument("--access-log", action="store_true", help="turn uvicorn's access log on")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Command line: `python -m qbo_sandbox --company demo`."""
    args = build_parser().parse_args(argv)
    fields: dict[str, Any] = {}
    if args.qbo_limits:
        fields.update(QBO_LIMITS)
    for name in QBO_LIMITS:
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    if args.limit_window_seconds is not None:
        fields["throttle_window_seconds"] = args.limit_window_seconds
    if args.fault_plan:
        with open(args.fault_plan, encoding="utf-8") as handle:
            fields["fault_plan"] = json.load(handle)
        FaultPlan(fields["fault_plan"])  # fail at start, not at the first request
    if args.webhook_url:
        fields["webhook_url"] = args.webhook_url
        fields["webhook_verifier_token"] = args.webhook_verifier_token
        fields["webhook_format"] = args.webhook_format
    serve(
        host=args.host,
        port=args.port,
        db_path=args.db,
        demo=args.demo or "demo" in args.company,
        tls=args.tls,
        empty_company="empty" in args.company,
        client_id=args.client_id,
        client_secret=args.client_secret,
        access_log=args.access_log,
        **fields,
    )
