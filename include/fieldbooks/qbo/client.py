"""Open a python-quickbooks client for one company, keeping its rotated refresh token safe.

The refresh token rotates (QBO_FACTS.md, OAuth 2.0): the new one is written to the
token store *before* the client uses it, under a file lock so two workers on one
machine never refresh the same company at once.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fieldbooks.config import QboSettings
from fieldbooks.errors import ErrorClass, classify_qbo_error
from fieldbooks.qbo.pacing import pace_client, pacer_for

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 0.5


@contextmanager
def _locked(path: Path):
    """Hold an exclusive lock on path's sibling .lock file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read_tokens(store: Path) -> dict[str, str]:
    """The stored refresh tokens by realm."""
    if not store.exists():
        return {}
    return json.loads(store.read_text())


def _write_tokens(store: Path, tokens: dict[str, str]) -> None:
    """Write the token store atomically, readable by its owner only."""
    tmp = store.with_suffix(".tmp")
    tmp.write_text(json.dumps(tokens, indent=2))
    os.chmod(tmp, 0o600)
    tmp.replace(store)


def _is_loopback_http(url: str) -> bool:
    """Whether url is plain http on this machine (the local emulator)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def open_client(qbo: QboSettings, token_store: Path) -> Any:
    """A python-quickbooks client for the company, with a fresh access token."""
    from intuitlib.client import AuthClient
    from quickbooks import QuickBooks

    if _is_loopback_http(qbo.base_url):
        # requests-oauthlib refuses plain http; only ever allowed for the loopback emulator.
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    auth = AuthClient(
        qbo.client_id, qbo.client_secret, qbo.redirect_uri, environment=qbo.discovery_url
    )
    with _locked(token_store):
        tokens = _read_tokens(token_store)
        auth.refresh(refresh_token=tokens.get(qbo.realm_id, qbo.refresh_token))
        if tokens.get(qbo.realm_id) != auth.refresh_token:
            tokens[qbo.realm_id] = auth.refresh_token
            _write_tokens(token_store, tokens)
    client = QuickBooks(
        auth_client=auth,
        refresh_token=auth.refresh_token,
        company_id=qbo.realm_id,
        minorversion=qbo.minorversion,
        use_decimal=True,
    )
    client.api_url_v3 = f"{qbo.base_url}/v3"
    client.sandbox_api_url_v3 = f"{qbo.base_url}/v3"
    return pace_client(client, pacer_for(qbo.realm_id, qbo.limits))


def with_retries(call: Callable[[], T], what: str) -> T:
    """Run a QuickBooks call, retrying transient failures (429, 5xx, timeouts) with backoff."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return call()
        except Exception as exc:
            if classify_qbo_error(exc) is not ErrorClass.TRANSIENT or attempt == MAX_ATTEMPTS:
                raise
            delay = BACKOFF_SECONDS * 2 ** (attempt - 1)
            log.warning("%s: transient failure (%s), retry %d in %.1fs", what, exc, attempt, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def company_url(client: Any, path: str) -> str:
    """The full URL of a company-scoped endpoint (`query`, `cdc`, `invoice/12`)."""
    return f"{client.api_url}/company/{client.company_id}/{path}"
