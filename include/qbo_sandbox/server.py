"""Build and run the emulator: `create_app` for ASGI, `serve` to run it, `main` for the CLI."""

import argparse
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from qbo_sandbox import admin, api, oauth
from qbo_sandbox.clock import SandboxClock
from qbo_sandbox.config import SandboxConfig
from qbo_sandbox.limits import Limiter
from qbo_sandbox.realms import ensure_demo_realm
from qbo_sandbox.state import SandboxState
from qbo_sandbox.store import Store
from qbo_sandbox.tls import TlsFiles, make_tls_files, tls_available


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """An ASGI app over the SQLite file `config.db_path` (demo company added when `config.demo`)."""
    config = config or SandboxConfig()
    store = Store(config.db_path)
    clock = SandboxClock(store)
    state = SandboxState(config=config, store=store, clock=clock, limiter=Limiter(config))
    if config.demo:
        ensure_demo_realm(store, config, clock.now())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Close the SQLite file when the server stops."""
        yield
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
    print(f"qbo_sandbox on {base}  (db {db_path})")
    print(f"  API base (QuickBooks.api_url_v3): {base}/v3")
    print(f"  discovery URL (AuthClient environment): {base}{oauth.DISCOVERY_PATH}")
    print(f"  client id / secret: {config.client_id} / {config.client_secret}")
    if demo:
        from qbo_sandbox import demo_company

        print(f"  demo realm {demo_company.REALM_ID}, refresh token {demo_company.REFRESH_TOKEN}")
    if tls_files:
        print(f"  CA bundle for clients (REQUESTS_CA_BUNDLE): {tls_files.ca_pem}")
    else:
        print("  plain http: clients need OAUTHLIB_INSECURE_TRANSPORT=1")
    uvicorn.Server(uvicorn_config(app, config, tls_files, host=host, port=port)).run()


def main(argv: list[str] | None = None) -> None:
    """Command line: `python -m qbo_sandbox --demo`."""
    parser = argparse.ArgumentParser(
        prog="qbo_sandbox", description="Local QuickBooks Online v3 emulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--db", default="qbo_sandbox.sqlite3", help="SQLite file (kept across restarts)"
    )
    parser.add_argument(
        "--demo", action="store_true", help="create the demo company and arm its token"
    )
    parser.add_argument("--tls", action="store_true", help="serve https with a trustme certificate")
    parser.add_argument("--client-id", default=SandboxConfig.client_id)
    parser.add_argument("--client-secret", default=SandboxConfig.client_secret)
    parser.add_argument("--access-log", action="store_true", help="turn uvicorn's access log on")
    args = parser.parse_args(argv)
    serve(
        host=args.host,
        port=args.port,
        db_path=args.db,
        demo=args.demo,
        tls=args.tls,
        client_id=args.client_id,
        client_secret=args.client_secret,
        access_log=args.access_log,
    )
