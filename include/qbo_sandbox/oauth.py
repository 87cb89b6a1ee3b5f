"""OAuth 2.0 the way Intuit serves it: discovery document, authorize, token, revoke, and the
bearer check every API call goes through. Token lifetimes follow the sandbox clock.

Refresh tokens roll: each use pushes the expiry 100 days out, and once a token is older than
`refresh_token_rotate_seconds` (a day by default) a refresh hands back a new value and the
old one stops working after `rotated_refresh_token_grace_seconds` (0 by default).
"""

import base64
import binascii
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from qbo_sandbox import jsonio
from qbo_sandbox.clock import format_response_time
from qbo_sandbox.config import SandboxConfig
from qbo_sandbox.faults import authentication_failed
from qbo_sandbox.state import SandboxState
from qbo_sandbox.store import Store

DISCOVERY_PATH = "/.well-known/openid_configuration"
AUTHORIZE_PATH = "/oauth2/v1/authorize"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/oauth2/v1/tokens/revoke"
USERINFO_PATH = "/v1/openid_connect/userinfo"
JWKS_PATH = "/oauth2/v1/keys"

router = APIRouter()


class OAuthError(Exception):
    """An OAuth error answer: `{"error": ...}` with an HTTP status."""

    def __init__(self, status: int, error: str, description: str = "") -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description


def new_secret(prefix: str) -> str:
    """An unguessable token value."""
    return prefix + secrets.token_urlsafe(32)


def issue_refresh_token(
    store: Store, config: SandboxConfig, realm: str, now: int, value: str | None = None
) -> str:
    """Store a refresh token for the configured client (a fixed value re-arms it)."""
    token = value or new_secret("rt-")
    store.put_token(
        token, "refresh", realm, config.client_id, now, now + config.refresh_token_ttl_seconds
    )
    return token


def _token_answer(
    store: Store, config: SandboxConfig, realm: str, refresh: str, refresh_expires: int, now: int
) -> dict:
    """Mint an access token and build the token endpoint's JSON answer."""
    access = new_secret("at-")
    store.put_token(
        access, "access", realm, config.client_id, now, now + config.access_token_ttl_seconds
    )
    return {
        "token_type": "bearer",
        "access_token": access,
        "expires_in": config.access_token_ttl_seconds,
        "refresh_token": refresh,
        "x_refresh_token_expires_in": refresh_expires - now,
    }


def refresh_grant(store: Store, config: SandboxConfig, now: int, token: str) -> tuple[str, dict]:
    """grant_type=refresh_token; returns (realm, answer)."""
    row = store.get_token(token) if token else None
    if (
        row is None
        or row["kind"] != "refresh"
        or row["revoked"]
        or row["expires_at"] <= now
        or row["client_id"] != config.client_id
    ):
        raise OAuthError(400, "invalid_grant")
    realm = row["realm_id"]
    rotate = config.refresh_token_rotate_seconds
    if rotate is not None and now - row["issued_at"] >= rotate:
        grace = config.rotated_refresh_token_grace_seconds
        store.update_token(
            token, expires_at=min(row["expires_at"], now + grace), revoked=grace <= 0
        )
        token = issue_refresh_token(store, config, realm, now)
    else:
        store.update_token(token, expires_at=now + config.refresh_token_ttl_seconds, revoked=False)
    return realm, _token_answer(
        store, config, realm, token, now + config.refresh_token_ttl_seconds, now
    )


def issue_code(store: Store, config: SandboxConfig, realm: str, redirect_uri: str, now: int) -> str:
    """An authorization code for a company, as if a person had connected it."""
    code = new_secret("ac-")
    store.put_token(
        code,
        "code",
        realm,
        config.client_id,
        now,
        now + config.authorization_code_ttl_seconds,
        redirect_uri,
    )
    return code


def code_grant(
    store: Store, config: SandboxConfig, now: int, code: str, redirect_uri: str | None
) -> tuple[str, dict]:
    """grant_type=authorization_code; the code works once."""
    row = store.get_token(code) if code else None
    if row is None or row["kind"] != "code" or row["revoked"] or row["expires_at"] <= now:
        raise OAuthError(400, "invalid_grant")
    if row["client_id"] != config.client_id:
        raise OAuthError(400, "invalid_grant")
    if redirect_uri and row["redirect_uri"] and redirect_uri != row["redirect_uri"]:
        raise OAuthError(400, "invalid_grant", "redirect_uri does not match")
    store.update_token(code, expires_at=row["expires_at"], revoked=True)
    realm = row["realm_id"]
    refresh = issue_refresh_token(store, config, realm, now)
    return realm, _token_answer(
        store, config, realm, refresh, now + config.refresh_token_ttl_seconds, now
    )


def authenticate(store: Store, now: int, authorization: str | None, realm: str) -> None:
    """Raise 3200 (HTTP 401) unless the header carries a live access token for this realm."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise authentication_failed("Authorization header is missing or is not a Bearer token")
    token = authorization[7:].strip()
    row = store.get_token(token)
    if row is None or row["kind"] != "access" or row["revoked"]:
        raise authentication_failed("Token invalid")
    if row["expires_at"] <= now:
        raise authentication_failed("Token expired")
    if row["realm_id"] != realm:
        raise authentication_failed("Token was not issued for this company (realm)")


def client_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str]:
    """Client id and secret from HTTP Basic (or, as RFC 6749 allows, the form)."""
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")


def _state(request: Request) -> SandboxState:
    """The emulator state of this app."""
    return request.app.state.sandbox


def _base(request: Request) -> str:
    """This server's base URL as the client reached it."""
    return str(request.base_url).rstrip("/")


@router.get(DISCOVERY_PATH)
@router.get(DISCOVERY_PATH + "/")
def discovery(request: Request) -> dict[str, Any]:
    """The OpenID discovery document intuit-oauth reads its endpoints from."""
    base = _base(request)
    return {
        "issuer": base,
        "authorization_endpoint": base + AUTHORIZE_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "userinfo_endpoint": base + USERINFO_PATH,
        "revocation_endpoint": base + REVOKE_PATH,
        "jwks_uri": base + JWKS_PATH,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": [
            "openid",
            "email",
            "profile",
            "address",
            "phone",
            "com.intuit.quickbooks.accounting",
        ],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    }


@router.get(AUTHORIZE_PATH)
def authorize(request: Request) -> Response:
    """Stand-in for the consent page: redirects straight back with a code.

    `realm_id` (not an Intuit parameter) picks the company; without it the oldest one.
    """
    state = _state(request)
    params = request.query_params
    if params.get("client_id") != state.config.client_id:
        return JSONResponse({"error": "invalid_client"}, status_code=400)
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        return JSONResponse(
            {"error": "invalid_request", "error_description": "redirect_uri"}, status_code=400
        )
    realm = params.get("realm_id")
    if realm is None:
        realms = state.store.list_realms()
        if not realms:
            return JSONResponse(
                {"error": "invalid_request", "error_description": "no company"}, status_code=400
            )
        realm = realms[0]["realm_id"]
    if not state.store.realm_exists(realm):
        return JSONResponse(
            {"error": "invalid_request", "error_description": "unknown realm"}, status_code=400
        )
    code = issue_code(state.store, state.config, realm, redirect_uri, state.clock.now())
    query = {"code": code, "realmId": realm}
    if params.get("state") is not None:
        query["state"] = params["state"]
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(redirect_uri + separator + urlencode(query), status_code=302)


@router.post(TOKEN_PATH)
async def token(request: Request) -> Response:
    """The token endpoint: form-encoded, HTTP Basic client authentication."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    form = {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}
    return await run_in_threadpool(
        _token_sync, _state(request), request.headers.get("authorization"), form, request.url.path
    )


def _token_sync(
    state: SandboxState, authorization: str | None, form: dict[str, str], path: str
) -> Response:
    """Answer a token request and log it."""
    now = state.clock.now()
    realm = None
    try:
        client_id, secret = client_credentials(authorization, form)
        if client_id != state.config.client_id or not secrets.compare_digest(
            secret.encode(), state.config.client_secret.encode()
        ):
            raise OAuthError(401, "invalid_client")
        grant = form.get("grant_type")
        with state.store.transaction():
            if grant == "refresh_token":
                realm, answer = refresh_grant(
                    state.store, state.config, now, form.get("refresh_token", "")
                )
            elif grant == "authorization_code":
                realm, answer = code_grant(
                    state.store, state.config, now, form.get("code", ""), form.get("redirect_uri")
                )
            else:
                raise OAuthError(400, "unsupported_grant_type")
        status, body = 200, answer
    except OAuthError as error:
        status, body = error.status, {"error": error.error}
        if error.description:
            body["error_description"] = error.description
    state.store.log_request(
        {
            "time": format_response_time(
                state.clock.now_precise(), state.config.company_utc_offset_minutes
            ),
            "realm_id": realm,
            "method": "POST",
            "path": path,
            "operation": "token",
            "status": status,
            "fault_code": None if status == 200 else body["error"],
        }
    )
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    return Response(
        jsonio.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


@router.post(REVOKE_PATH)
async def revoke(request: Request) -> Response:
    """Revoke a refresh or access token (JSON body `{"token": ...}`)."""
    state = _state(request)
    raw = await request.body()
    client_id, secret = client_credentials(request.headers.get("authorization"), {})
    if client_id != state.config.client_id or not secrets.compare_digest(
        secret.encode(), state.config.client_secret.encode()
    ):
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    try:
        value = jsonio.loads(raw).get("token", "")
    except (ValueError, AttributeError):
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    row = state.store.get_token(value) if value else None
    if row is not None:
        state.store.update_token(value, expires_at=row["expires_at"], revoked=True)
    return Response(status_code=200)


@router.get(USERINFO_PATH)
def userinfo(request: Request) -> Response:
    """A fixed OpenID user for any live access token."""
    state = _state(request)
    header = request.headers.get("authorization") or ""
    row = (
        state.store.get_token(header[7:].strip()) if header.lower().startswith("bearer ") else None
    )
    if (
        row is None
        or row["kind"] != "access"
        or row["revoked"]
        or row["expires_at"] <= state.clock.now()
    ):
        return JSONResponse({"error": "invalid_token"}, status_code=401)
    return JSONResponse(
        {
            "sub": "sandbox-user",
            "givenName": "Sandbox",
            "familyName": "User",
            "email": "sandbox.user@example.com",
            "emailVerified": True,
        }
    )


@router.get(JWKS_PATH)
def jwks() -> dict[str, Any]:
    """No signing keys: the emulator issues no id_token."""
    return {"keys": []}
