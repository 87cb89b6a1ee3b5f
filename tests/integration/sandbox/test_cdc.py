"""Change data capture: changes since a time, stripped deletes, 30-day window, 1,000 cap."""

from datetime import timedelta
from decimal import Decimal

import pytest
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import QuickbooksException, UnsupportedException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.vendor import Vendor

from qbo_sandbox.testing import running_sandbox

from .helpers import admin, connect, new_customer, new_invoice, sales_line, server_now


def test_cdc_returns_changed_objects_and_stripped_deletes(qb, company):
    since = server_now(company.handle) - timedelta(seconds=5)
    customer = new_customer(qb, "Changing Chris")
    kept = new_invoice(qb, customer, [sales_line("1", "10.00")])
    gone = new_invoice(qb, customer, [sales_line("1", "20.00")])
    Invoice.get(gone.Id, qb=qb).delete(qb=qb)
    # python-quickbooks sends the time without a zone; the emulator reads it as UTC.
    result = change_data_capture([Customer, Invoice], since.replace(tzinfo=None), qb=qb)
    assert [c.DisplayName for c in result.Customer] == ["Changing Chris"]
    by_id = {invoice.Id: invoice for invoice in result.Invoice}
    assert by_id[kept.Id].TotalAmt == Decimal("10.00")
    assert by_id[gone.Id].status == "Deleted"
    raw = qb.change_data_capture("Invoice,Customer", since.strftime("%Y-%m-%dT%H:%M:%S"))
    responses = raw["CDCResponse"][0]["QueryResponse"]
    stripped = next(obj for obj in responses[0]["Invoice"] if obj["Id"] == gone.Id)
    assert set(stripped) == {"Id", "status", "domain", "MetaData"}
    assert set(stripped["MetaData"]) == {"LastUpdatedTime"}
    assert responses[1]["maxResults"] == 1
    later = qb.change_data_capture(
        "Customer", (server_now(company.handle) + timedelta(seconds=5)).isoformat()
    )
    assert later["CDCResponse"][0]["QueryResponse"] == [{}]


def test_cdc_covers_the_new_entities(qb, company):
    since = server_now(company.handle) - timedelta(seconds=5)
    vendor = Vendor()
    vendor.DisplayName = "CDC Vendor"
    vendor.save(qb=qb)
    raw = qb.change_data_capture(
        "Vendor,Bill,Class,Department,PaymentMethod,Deposit", since.isoformat()
    )
    responses = raw["CDCResponse"][0]["QueryResponse"]
    assert [o["DisplayName"] for o in responses[0]["Vendor"]] == ["CDC Vendor"]
    assert responses[1] == {} and responses[5] == {}
    # The company (and its demo classes, branches, methods) was made seconds ago.
    assert len(responses[2]["Class"]) == 5 and len(responses[3]["Department"]) == 2


def test_cdc_caps_objects_per_response(tmp_path):
    with running_sandbox(tmp_path / "cap.sqlite3", cdc_max_objects=3) as handle:
        client = connect(handle)
        # Move past the demo objects' creation time so only the new customers count.
        admin(handle, "POST", "/clock", json={"advance_seconds": 10})
        since = server_now(handle)
        for index in range(5):
            new_customer(client, f"Cap {index}")
        item = Item.get("1", qb=client)
        item.sparse = True
        item.Description = "changed"
        item.save(qb=client)
        raw = client.change_data_capture("Customer,Item", since.isoformat())
        responses = raw["CDCResponse"][0]["QueryResponse"]
        assert sum(response.get("maxResults", 0) for response in responses) == 3
        # Oldest changes first: the item changed last, so it is cut.
        assert len(responses[0]["Customer"]) == 3 and responses[1] == {}


def test_cdc_refuses_windows_older_than_30_days_and_tax_entities(qb, company):
    too_old = server_now(company.handle) - timedelta(days=31)
    with pytest.raises(QuickbooksException) as raised:
        qb.change_data_capture("Customer", too_old.isoformat())
    assert raised.value.error_code == 6000
    assert "30 days" in raised.value.detail
    with pytest.raises(UnsupportedException):
        qb.change_data_capture("TaxCode", server_now(company.handle).isoformat())


def test_clock_jump_ages_changes_out_of_the_cdc_window(tmp_path):
    with running_sandbox(tmp_path / "age.sqlite3") as handle:
        client = connect(handle)
        customer = new_customer(client, "Time Traveller")
        admin(handle, "POST", "/clock", json={"advance_seconds": 35 * 86400})
        client = connect(handle)
        with pytest.raises(QuickbooksException) as raised:
            client.change_data_capture("Customer", customer.MetaData["LastUpdatedTime"])
        assert raised.value.error_code == 6000
