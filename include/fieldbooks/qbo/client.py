"""Open a python-quickbooks client for one company, keeping its rotated refresh token safe.

The refresh token rotates (QBO_FACTS.md, OAuth 2.0): the new one is written to the
token store *before* the client uses it, under the store's per-company lock, so two
workers never refresh the same company at once (fieldbooks.qbo.tokens: a flock on one
machine, a PostgreSQL advisory lock across machines).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fieldbooks.config import QboSettings
from fieldbooks.errors import ErrorClass, classify_qbo_error
from fieldbooks.qbo.pacing import pace_client, pacer_for
from fieldbooks.qbo.tokens import StoredToken, TokenStore, open_token_store, token_from_answer

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 0.5


def _is_loopback_http(url: str) -> bool:
    """Whether url is plain http on this machine (the local emulator)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def token_store_for(token_store: Path | TokenStore) -> TokenStore:
    """A store from a store, or from the default file path (FIELDBOOKS_TOKEN_STORE_URL wins)."""
    return token_store if isinstance(token_store, TokenStore) else open_token_store(token_store)


def auth_client(qbo: QboSettings) -> Any:
    """An intuit-oauth client for the company's app (reads the discovery document)."""
    from intuitlib.client import AuthClient

    if _is_loopback_http(qbo.base_url) or _is_loopback_http(qbo.discovery_url):
        # requests-oauthlib refuses plain http; only ever allowed for the loopback emulator.
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    return AuthClient(
        qbo.client_id, qbo.client_secret, qbo.redirect_uri, environment=qbo.discovery_url
    )


def refresh_tokens(qbo: QboSettings, store: TokenStore, auth: Any) -> StoredToken:
    """Refresh the company's tokens under its lock; the new refresh token is stored (committed)
    before this returns, so nothing can use it before it is safe.

    The stored token wins over the connection's (it is the newest one); if QuickBooks refuses
    it and the connection holds a different one (a person reconnected the company), that one
    is tried next.
    """
    from intuitlib.exceptions import AuthClientError

    with store.locked(qbo.realm_id) as slot:
        candidates = [slot.current.refresh_token] if slot.current else []
        if qbo.refresh_token and qbo.refresh_token not in candidates:
            candidates.append(qbo.refresh_token)
        for n, token in enumerate(candidates, start=1):
            try:
                auth.refresh(refresh_token=token)
                break
            except AuthClientError as exc:
                if exc.status_code != 400 or n == len(candidates):
                    raise
                log.warning(
                    "realm %s: QuickBooks refused the stored refresh token; trying the "
                    "connection's (was the company reconnected?)",
                    qbo.realm_id,
                )
        token = token_from_answer(
            qbo.realm_id, auth.refresh_token, getattr(auth, "x_refresh_token_expires_in", None)
        )
        slot.save(token)
    return token


def open_client(qbo: QboSettings, token_store: Path | TokenStore) -> Any:
    """A python-quickbooks client for the company, with a fresh access token.

    token_store: a TokenStore, or the default token file's path (then
    FIELDBOOKS_TOKEN_STORE_URL, when set, picks the store instead).
    """
    from quickbooks import QuickBooks

    auth = auth_client(qbo)
    refresh_tokens(qbo, token_store_for(token_store), auth)
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
