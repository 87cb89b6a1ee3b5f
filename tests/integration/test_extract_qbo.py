"""QuickBooks changes reach raw_qbo.* whole: deletes, capped CDC answers, gaps past the CDC window."""

from __future__ import annotations

import json
import urllib.request

import pytest

from fieldbooks.config import load_settings
from fieldbooks.money import dumps_exact
from fieldbooks.qbo.client import open_client
from fieldbooks.qbo.extract import extract_qbo
from fieldbooks.warehouse.connection import connect
from qbo_sandbox.testing import running_sandbox
from tests.conftest import settings_env

CAP = 5


@pytest.fixture
def capped_sandbox(tmp_path):
    """The sandbox with CDC answers capped at 5 objects, so the cap is cheap to reach."""
    with running_sandbox(tmp_path / "qbo_sandbox.sqlite", demo=True, cdc_max_objects=CAP) as handle:
        yield handle


@pytest.fixture
def setup(capped_sandbox, tmp_path, monkeypatch):
    import fieldbooks.qbo.extract as extract

    monkeypatch.setattr(extract, "CDC_OBJECT_CAP", CAP)
    settings = load_settings(settings_env(tmp_path, capped_sandbox))
    return settings, open_client(settings.qbo, settings.token_store), capped_sandbox


def _live(sandbox, entity: str) -> dict[str, dict]:
    url = f"{sandbox.base_url}/_sandbox/realms/{sandbox.realm_id}/objects/{entity}"
    with urllib.request.urlopen(url) as r:
        return {o["Id"]: o for o in json.load(r) if o.get("status") != "Deleted"}


def _raw(settings, entity: str) -> dict[str, tuple]:
    with connect(settings.warehouse_url) as wh:
        rows = wh.fetchall(f"select id, sync_token, deleted from raw_qbo.{entity.lower()}")
    return {r[0]: (r[1], r[2]) for r in rows}


def _assert_raw_equals_quickbooks(settings, sandbox, entity: str) -> None:
    live = _live(sandbox, entity)
    raw = _raw(settings, entity)
    assert {i: t for i, (t, d) in raw.items() if not d} == {
        i: o["SyncToken"] for i, o in live.items()
    }


def _customer(client, name: str) -> dict:
    return client.create_object("Customer", dumps_exact({"DisplayName": name}))["Customer"]


def _invoice(client, customer_id: str) -> dict:
    body = {
        "CustomerRef": {"value": customer_id},
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": "100.00",
                "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": "100.00"},
            }
        ],
    }
    return client.create_object("Invoice", dumps_exact(body))["Invoice"]


def _delete(client, entity: str, obj: dict) -> None:
    client.delete_object(entity, dumps_exact({"Id": obj["Id"], "SyncToken": obj["SyncToken"]}))


def _advance(sandbox, days: int) -> None:
    req = urllib.request.Request(
        f"{sandbox.base_url}/_sandbox/clock",
        data=json.dumps({"advance_seconds": days * 86400}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(req).close()


def test_rerun_changes_nothing_and_deletes_are_flagged_not_erased(setup):
    settings, client, sandbox = setup
    customer = _customer(client, "Ana Ruiz")
    invoice = _invoice(client, customer["Id"])
    extract_qbo(settings)
    first = _raw(settings, "Invoice")
    extract_qbo(settings)
    assert _raw(settings, "Invoice") == first

    _delete(client, "Invoice", invoice)
    extract_qbo(settings)
    assert _raw(settings, "Invoice")[invoice["Id"]][1] is True
    _assert_raw_equals_quickbooks(settings, sandbox, "Invoice")


def test_a_capped_cdc_answer_is_split_until_nothing_is_cut_off(setup):
    settings, client, sandbox = setup
    extract_qbo(settings)  # first run: full path
    customer = _customer(client, "Busy Customer")
    invoices = [_invoice(client, customer["Id"]) for _ in range(12)]
    extract_qbo(settings)
    _delete(client, "Invoice", invoices[0])  # a delete buried under later changes
    for inv in invoices[1:9]:
        current = client.get(f"{client.api_url}/company/{client.company_id}/invoice/{inv['Id']}")[
            "Invoice"
        ]
        client.update_object(
            "Invoice",
            dumps_exact(
                {
                    "Id": inv["Id"],
                    "SyncToken": current["SyncToken"],
                    "sparse": True,
                    "PrivateNote": "edited",
                }
            ),
        )
    results = extract_qbo(settings)
    modes = {(r.entity, r.mode) for r in results}
    assert ("Invoice", "cdc+query") in modes
    for entity in ("Customer", "Invoice"):
        _assert_raw_equals_quickbooks(settings, sandbox, entity)
    assert _raw(settings, "Invoice")[invoices[0]["Id"]][1] is True


def test_a_window_of_exactly_the_cap_loses_nothing(setup):
    settings, client, sandbox = setup
    extract_qbo(settings)
    made = [_customer(client, f"Exact {n}") for n in range(CAP)]
    extract_qbo(settings)
    assert set(_raw(settings, "Customer")) >= {c["Id"] for c in made}
    _assert_raw_equals_quickbooks(settings, sandbox, "Customer")


def test_a_35_day_gap_recovers_through_the_full_path(setup):
    settings, client, sandbox = setup
    customer = _customer(client, "Gap Customer")
    old = _invoice(client, customer["Id"])
    extract_qbo(settings)
    _advance(sandbox, 35)
    client = open_client(settings.qbo, settings.token_store)  # the rotated refresh token was stored
    _delete(client, "Invoice", old)
    new = _invoice(client, customer["Id"])
    results = {r.entity: r for r in extract_qbo(settings)}
    assert results["Invoice"].mode == "full"
    raw = _raw(settings, "Invoice")
    assert raw[old["Id"]][1] is True and raw[new["Id"]][1] is False
    _assert_raw_equals_quickbooks(settings, sandbox, "Invoice")
    # And the next run is incremental again.
    assert {r.entity: r.mode for r in extract_qbo(settings)}["Invoice"] == "cdc"


def test_each_company_keeps_its_own_watermark(tmp_path):
    with running_sandbox(tmp_path / "two.sqlite", demo=True) as sandbox:
        req = urllib.request.Request(
            f"{sandbox.base_url}/_sandbox/realms",
            data=b'{"demo": true}',
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        other = json.load(urllib.request.urlopen(req))
        env = settings_env(tmp_path, sandbox)
        first = load_settings(env)
        second = load_settings(
            {
                **env,
                "FIELDBOOKS_QBO_REALM_ID": other["realm_id"],
                "FIELDBOOKS_QBO_REFRESH_TOKEN": other["refresh_token"],
            }
        )
        _customer(open_client(second.qbo, second.token_store), "Only In Second")
        extract_qbo(first)
        extract_qbo(second)
        with connect(first.warehouse_url) as wh:
            marks = wh.fetchall(
                "select realm_id from fieldbooks.watermarks where source = 'qbo' order by realm_id"
            )
            names = wh.fetchall("select realm_id, payload->>'DisplayName' from raw_qbo.customer")
    assert [m[0] for m in marks] == sorted([first.qbo.realm_id, second.qbo.realm_id])
    assert names == [(second.qbo.realm_id, "Only In Second")]


def test_amounts_in_payloads_are_exact(setup):
    settings, client, _ = setup
    customer = _customer(client, "Exact Amounts")
    _invoice(client, customer["Id"])
    extract_qbo(settings)
    with connect(settings.warehouse_url) as wh:
        total = wh.scalar("select cast(payload->>'TotalAmt' as decimal(18,2)) from raw_qbo.invoice")
    assert str(total) == "100.00"
