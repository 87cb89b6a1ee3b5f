"""Batch: items run in order and fail on their own inside HTTP 200; void via optionsData."""

import json
from decimal import Decimal

import pytest
from quickbooks.batch import batch_create
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.customer import Customer
from quickbooks.objects.vendor import Vendor

from qbo_sandbox.testing import running_sandbox

from .helpers import api_post, connect, new_customer, new_invoice, sales_line


def test_batch_runs_items_independently(qb, company):
    existing = new_customer(qb, "Batch Existing")
    first, duplicate, vendor = Customer(), Customer(), Vendor()
    first.DisplayName = "Batch New"
    duplicate.DisplayName = "Batch Existing"
    vendor.DisplayName = "Batch New"  # same name as the customer created just before it
    result = batch_create([first, duplicate, vendor], qb=qb)
    assert [c.DisplayName for c in result.successes] == ["Batch New"]
    assert [f.Error[0].code for f in result.faults] == ["6240", "6240"]
    invoice = new_invoice(qb, existing, [sales_line("1", "40.00")])
    body = {
        "BatchItemRequest": [
            {"bId": "1", "Query": "select * from Customer where DisplayName LIKE 'Batch%'"},
            {
                "bId": "2",
                "operation": "update",
                "optionsData": "void",
                "Invoice": {"Id": invoice.Id, "SyncToken": invoice.SyncToken},
            },
            {"bId": "3", "operation": "delete", "Invoice": {"Id": "999", "SyncToken": "0"}},
        ]
    }
    response = api_post(qb, company.handle, "batch", body)
    assert response.status_code == 200
    answer = response.json()["BatchItemResponse"]
    assert [item["bId"] for item in answer] == ["1", "2", "3"]
    assert len(answer[0]["QueryResponse"]["Customer"]) == 2
    assert Decimal(str(answer[1]["Invoice"]["TotalAmt"])) == Decimal("0.00")
    fault = answer[2]["Fault"]
    assert (fault["type"], fault["Error"][0]["code"]) == ("ValidationFault", "610")


def test_failed_batch_item_leaves_nothing_behind(qb, company):
    body = {
        "BatchItemRequest": [
            {"bId": "a", "operation": "create", "Invoice": {"CustomerRef": {"value": "1"}}},
            {"bId": "b", "operation": "create", "Customer": {"DisplayName": "After Failure"}},
        ]
    }
    answer = api_post(qb, company.handle, "batch", body).json()["BatchItemResponse"]
    assert "Fault" in answer[0] and answer[1]["Customer"]["Id"] == "1"
    assert qb.query("select count(*) from Invoice")["QueryResponse"]["totalCount"] == 0


def test_batch_item_limit_is_configurable(qb, tmp_path):
    too_many = {
        "BatchItemRequest": [{"bId": str(i), "Query": "select * from Item"} for i in range(31)]
    }
    with pytest.raises(QuickbooksException) as raised:
        qb.batch_operation(json.dumps(too_many))
    assert raised.value.error_code == 1040
    with running_sandbox(tmp_path / "ten.sqlite3", batch_max_items=10) as handle:
        client = connect(handle)
        eleven = {"BatchItemRequest": too_many["BatchItemRequest"][:11]}
        with pytest.raises(QuickbooksException) as raised:
            client.batch_operation(json.dumps(eleven))
        assert raised.value.error_code == 1040
