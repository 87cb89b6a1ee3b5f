"""Run the emulator inside a test: `running_sandbox` serves it on a free loopback port in a
background thread and stops it cleanly afterwards.

    with running_sandbox(tmp_path / "qbo.sqlite3") as sandbox:
        auth = AuthClient(sandbox.client_id, sandbox.client_secret, sandbox.redirect_uri,
                          environment=sandbox.discovery_url)
        qb = QuickBooks(auth_client=auth, refresh_token=sandbox.refresh_token,
                        company_id=sandbox.realm_id, minorversion=75)
        qb.api_url_v3 = qb.sandbox_api_url_v3 = sandbox.base_url + "/v3"

Plain http needs `OAUTHLIB_INSECURE_TRANSPORT=1`; with `tls=True` set
`REQUESTS_CA_BUNDLE=sandbox.ca_path` instead.
"""

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from qbo_sandbox import demo_company
from qbo_sandbox.config import DEFAULT_REDIRECT_URI, SandboxConfig
from qbo_sandbox.oauth import DISCOVERY_PATH
from qbo_sandbox.server import create_app, tls_files_for, uvicorn_config
from qbo_sandbox.tls import tls_available

STARTUP_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class SandboxHandle:
    """How to reach a running emulator."""

    base_url: str
    realm_id: str | None
    refresh_token: str | None
    client_id: str
    client_secret: str
    discovery_url: str
    redirect_uri: str
    db_path: str
    ca_path: str | None = None

    @property
    def api_url_v3(self) -> str:
        """What to set as `QuickBooks.api_url_v3` (and `sandbox_api_url_v3`)."""
        return self.base_url + "/v3"

    @property
    def admin_url(self) -> str:
        """Base of the `/_sandbox` admin API."""
        return self.base_url + "/_sandbox"


@contextmanager
def running_sandbox(
    db_path: str | os.PathLike[str], demo: bool = True, tls: bool = False, **config: Any
) -> Iterator[SandboxHandle]:
    """Serve the emulator on 127.0.0.1:<free port> for the duration of the block."""
    sandbox_config = SandboxConfig(db_path=str(db_path), demo=demo, **config)
    tls_files = None
    if tls:
        if not tls_available():
            raise RuntimeError("running_sandbox(tls=True) needs trustme, which is not installed")
        tls_files = tls_files_for(str(db_path))
    app = create_app(sandbox_config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # A TLS keep-alive connection waits for the client's close_notify: don't wait long.
    grace = 0.5 if tls_files else None
    server = uvicorn.Server(
        uvicorn_config(
            app, sandbox_config, tls_files, log_level="warning", timeout_graceful_shutdown=grace
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="qbo_sandbox"
    )
    thread.start()
    try:
        _wait_started(server, thread)
        base = f"{'https' if tls_files else 'http'}://127.0.0.1:{port}"
        realm_id, refresh_token = None, None
        if demo:
            realm_id, refresh_token = demo_company.REALM_ID, demo_company.REFRESH_TOKEN
        elif sandbox_config.empty_company:
            realm_id, refresh_token = demo_company.EMPTY_REALM_ID, demo_company.EMPTY_REFRESH_TOKEN
        yield SandboxHandle(
            base_url=base,
            realm_id=realm_id,
            refresh_token=refresh_token,
            client_id=sandbox_config.client_id,
            client_secret=sandbox_config.client_secret,
            discovery_url=base + DISCOVERY_PATH,
            redirect_uri=DEFAULT_REDIRECT_URI,
            db_path=str(db_path),
            ca_path=tls_files.ca_pem if tls_files else None,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT_SECONDS)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=STOP_TIMEOUT_SECONDS)
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    """Block until uvicorn accepts connections, or fail if it died."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("qbo_sandbox server thread exited during startup")
        if time.monotonic() > deadline:
            raise RuntimeError("qbo_sandbox server did not start in time")
        time.sleep(0.01)
