"""`fieldbooks connect --redirect-uri`: what is refused before anyone signs in, and how a
pasted address is read (the flows against the sandbox are in tests/integration/test_connect.py)."""

from __future__ import annotations

import pytest

from fieldbooks.cli import parse_args
from fieldbooks.connect import ConnectError, check_redirect_uri, connect, read_redirect

HTTPS = "https://airflow.example.com/qbo/callback"
STATE = "s" * 43


@pytest.mark.parametrize(
    "uri, port, why",
    [
        ("http://airflow.example.com/qbo/callback", 0, "plain http only for 127.0.0.1"),
        ("http://10.0.0.5:8910/callback", 0, "plain http only for 127.0.0.1"),
        ("airflow.example.com/qbo/callback", 0, "not an absolute http"),
        ("ftp://airflow.example.com/cb", 0, "not an absolute http"),
        (HTTPS + "#top", 0, "fragment"),
        (HTTPS, 8910, "nothing listens for an https redirect"),
        ("http://127.0.0.1:8910/callback", 8911, "names port 8910"),
    ],
)
def test_a_redirect_uri_intuit_or_the_listener_cannot_use_is_refused(uri, port, why):
    with pytest.raises(ConnectError, match=why):
        check_redirect_uri(uri, port)


@pytest.mark.parametrize(
    "uri, port",
    [
        (HTTPS, 0),
        ("https://airflow.example.com:8443/qbo/callback?tenant=a", 0),
        ("http://127.0.0.1:8910/callback", 0),
        ("http://127.0.0.1:8910/callback", 8910),
        ("http://localhost:8910/qbo", 0),
        ("http://[::1]:8910/callback", 0),
    ],
)
def test_https_and_loopback_redirect_uris_are_taken(uri, port):
    check_redirect_uri(uri, port)


def test_a_refused_redirect_uri_fails_before_any_company_or_network_is_read(monkeypatch):
    # a companies file that does not exist: resolving the company would fail differently
    monkeypatch.setenv("FIELDBOOKS_COMPANIES_FILE", "/nonexistent/companies.toml")
    asked = []
    with pytest.raises(ConnectError, match="Intuit takes plain http only"):
        connect(
            redirect_uri="http://airflow.example.com/qbo/callback",
            open_browser=False,
            say=asked.append,
            ask=lambda prompt: asked.append(prompt) or "",
        )
    assert asked == []


def test_a_pasted_address_gives_its_code_and_company():
    pasted = f"  {HTTPS}?code=ab-1&state={STATE}&realmId=9130350000000001\n"
    assert read_redirect(pasted, HTTPS, STATE) == ("ab-1", "9130350000000001")
    # host case does not matter, the scheme's default port may be spelled out or not
    upper = f"https://AIRFLOW.example.com:443/qbo/callback?code=c&realmId=1&state={STATE}"
    assert read_redirect(upper, HTTPS, STATE) == ("c", "1")


@pytest.mark.parametrize(
    "pasted, why",
    [
        (f"{HTTPS}?code=c&realmId=1&state=other", "state .* does not match"),
        (f"{HTTPS}?code=c&realmId=1", "state .* does not match"),
        (f"{HTTPS}?error=access_denied&state={STATE}", "refused the connection: access_denied"),
        (f"{HTTPS}?realmId=1&state={STATE}", "lacks the code"),
        (f"{HTTPS}?code=c&state={STATE}", "lacks the code"),
        (f"https://airflow.example.com/login?code=c&realmId=1&state={STATE}", "is not https://"),
        (f"https://evil.example.com/qbo/callback?code=c&realmId=1&state={STATE}", "is not"),
        (f"https://airflow.example.com:8443/qbo/callback?code=c&realmId=1&state={STATE}", "is not"),
        (f"http://airflow.example.com/qbo/callback?code=c&realmId=1&state={STATE}", "is not"),
        ("code=c&realmId=1", "is not https://"),
        ("", "is not https://"),
    ],
)
def test_a_pasted_address_that_is_not_this_sign_in_is_refused(pasted, why):
    with pytest.raises(ConnectError, match=why) as raised:
        read_redirect(pasted, HTTPS, STATE)
    assert "nothing was stored" in str(raised.value)


def test_the_cli_passes_the_redirect_uri():
    args = parse_args(["connect", "--redirect-uri", HTTPS, "--no-browser"])
    assert args.redirect_uri == HTTPS and args.port == 0
    assert parse_args(["connect"]).redirect_uri is None
