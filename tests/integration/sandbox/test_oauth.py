"""OAuth 2.0 as Intuit serves it, driven by intuit-oauth: discovery, tokens, expiry, rotation."""

from urllib.parse import parse_qs, urlparse

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError
from quickbooks.exceptions import AuthorizationException
from quickbooks.objects.customer import Customer

from qbo_sandbox import demo_company
from qbo_sandbox.testing import running_sandbox

from .helpers import admin, connect, new_customer


def auth_client(handle, secret=None) -> AuthClient:
    return AuthClient(
        handle.client_id,
        secret or handle.client_secret,
        handle.redirect_uri,
        environment=handle.discovery_url,
    )


def test_discovery_document_names_every_endpoint(server):
    document = requests.get(server.discovery_url, timeout=10).json()
    for key in ("authorization_endpoint", "token_endpoint", "revocation_endpoint", "jwks_uri"):
        assert document[key].startswith(server.base_url)
    auth = auth_client(server)
    assert auth.token_endpoint == server.base_url + "/oauth2/v1/tokens/bearer"


def test_token_endpoint_answers_intuit_shaped_tokens(company):
    auth = auth_client(company.handle)
    auth.refresh(refresh_token=company.refresh_token)
    assert auth.expires_in == 3600
    assert auth.refresh_token == company.refresh_token  # less than a day old: same value
    assert auth.x_refresh_token_expires_in == 100 * 86400
    assert auth.access_token


def test_invalid_refresh_token_answers_invalid_grant_and_bad_secret_invalid_client(company):
    with pytest.raises(AuthClientError) as raised:
        auth_client(company.handle).refresh(refresh_token="no-such-token")
    assert raised.value.status_code == 400
    assert raised.value.response.json() == {"error": "invalid_grant"}
    with pytest.raises(AuthClientError) as raised:
        auth_client(company.handle, secret="wrong").refresh(refresh_token=company.refresh_token)
    assert raised.value.status_code == 401


def test_authorization_code_flow_connects_a_company(company):
    auth = auth_client(company.handle)
    response = requests.get(
        auth.auth_endpoint,
        params={
            "client_id": company.handle.client_id,
            "redirect_uri": company.handle.redirect_uri,
            "state": "xyz",
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
            "realm_id": company.realm_id,
        },
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302
    query = parse_qs(urlparse(response.headers["location"]).query)
    assert query["state"] == ["xyz"] and query["realmId"] == [company.realm_id]
    auth.get_bearer_token(query["code"][0], realm_id=query["realmId"][0])
    assert auth.access_token and auth.refresh_token
    client = connect(company.handle, company.realm_id, auth.refresh_token)
    assert new_customer(client, "Connected by code").Id == "1"
    with pytest.raises(AuthClientError):
        auth.get_bearer_token(query["code"][0])  # a code works once


def test_api_call_without_a_valid_token_answers_401_fault_3200(qb, company):
    url = f"{company.handle.base_url}/v3/company/{company.realm_id}/customer/1?minorversion=75"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = requests.get(url, headers={"Accept": "application/json", **headers}, timeout=10)
        assert response.status_code == 401
        fault = response.json()["Fault"]
        assert (fault["type"], fault["Error"][0]["code"]) == ("AUTHENTICATION", "3200")
    qb.session.access_token = "bogus"
    with pytest.raises(AuthorizationException) as raised:
        Customer.get("1", qb=qb)
    assert raised.value.error_code == 401


def test_token_of_one_company_does_not_open_another(company, server):
    other = admin(server, "POST", "/realms", json={"demo": True}).json()
    cross = company.client()
    cross.company_id = other["realm_id"]
    with pytest.raises(AuthorizationException):
        Customer.all(qb=cross)


def test_access_token_expires_and_refresh_token_rotates_with_a_grace_period(tmp_path):
    with running_sandbox(
        tmp_path / "rotate.sqlite3", rotated_refresh_token_grace_seconds=3600
    ) as handle:
        client = connect(handle)
        customer = new_customer(client, "Time Traveller")
        admin(handle, "POST", "/clock", json={"advance_seconds": 2 * 86400})
        with pytest.raises(AuthorizationException):
            Customer.get(customer.Id, qb=client)  # access token older than an hour
        fresh = connect(handle)  # refreshes with the demo token, now two days old
        rotated = fresh.auth_client.refresh_token
        assert rotated != demo_company.REFRESH_TOKEN
        # Within the grace period the old value still works ...
        connect(handle)
        admin(handle, "POST", "/clock", json={"advance_seconds": 3601})
        # ... after it, only the new one does.
        with pytest.raises(AuthClientError) as raised:
            connect(handle)
        assert raised.value.status_code == 400
        assert connect(handle, refresh_token=rotated).auth_client.access_token


def test_revoked_refresh_token_stops_working(company):
    auth = auth_client(company.handle)
    auth.refresh(refresh_token=company.refresh_token)
    auth.revoke(token=company.refresh_token)
    with pytest.raises(AuthClientError) as raised:
        auth_client(company.handle).refresh(refresh_token=company.refresh_token)
    assert raised.value.status_code == 400


def test_reconnecting_issues_a_fresh_refresh_token(company):
    token = company.admin("POST", "/refresh_tokens").json()["refresh_token"]
    assert connect(company.handle, company.realm_id, token).auth_client.access_token
