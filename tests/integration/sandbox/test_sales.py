"""Invoices and payments: server-computed figures, validation codes, updates, delete, void."""

import json
from datetime import datetime
from decimal import Decimal

import pytest
from quickbooks.exceptions import ObjectNotFoundException, QuickbooksException, ValidationException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.payment import Payment
from quickbooks.objects.tax import TxnTaxDetail

from qbo_sandbox import demo_company
from qbo_sandbox.testing import running_sandbox

from .helpers import connect, new_customer, new_invoice, pay, ref, sales_line


def test_invoice_totals_tax_and_doc_number_are_computed_by_the_server(qb):
    customer = new_customer(qb, "Acme Property Management")
    invoice = new_invoice(
        qb,
        customer,
        [sales_line("1", "150.00", "TAX", qty="2", price="75"), sales_line("5", "50.00", "NON")],
    )
    # 150.00 taxable at 8.25% = 12.375, rounded half-up to 12.38
    assert invoice.TxnTaxDetail.TotalTax == Decimal("12.38")
    assert (invoice.TotalAmt, invoice.Balance) == (Decimal("212.38"), Decimal("212.38"))
    assert (invoice.DocNumber, invoice.SyncToken) == ("1001", "0")
    assert [line.DetailType for line in invoice.Line] == [
        "SalesItemLineDetail",
        "SalesItemLineDetail",
        "SubTotalLineDetail",
    ]
    assert invoice.Line[2].Amount == Decimal("200.00")
    assert invoice.Line[0].SalesItemLineDetail.ItemAccountRef.value == "1"  # the item's income
    assert invoice.MetaData.CreateTime == invoice.MetaData.LastUpdatedTime
    datetime.fromisoformat(invoice.MetaData.CreateTime)  # ISO with an offset
    second = new_invoice(qb, customer, [sales_line("2", "10.00")], tax_code=None)
    assert (second.DocNumber, second.TotalAmt) == ("1002", Decimal("10.00"))
    assert Customer.get(customer.Id, qb=qb).Balance == Decimal("222.38")


def test_second_tax_code_rounds_half_up_per_document(qb):
    customer = new_customer(qb, "Regional Rita")
    invoice = new_invoice(
        qb,
        customer,
        [sales_line("1", "33.33", "TAX"), sales_line("2", "66.67", "TAX")],
        tax_code=demo_company.SECOND_TAX_CODE_ID,
    )
    # 100.00 x 9.975% = 9.975 -> 9.98 (tax on the taxable total, not line by line)
    assert invoice.TxnTaxDetail.TotalTax == Decimal("9.98")
    assert invoice.TxnTaxDetail.TaxLine[0].TaxLineDetail.TaxPercent == Decimal("9.975")
    assert invoice.TotalAmt == Decimal("109.98")


def test_caller_supplied_total_tax_overrides_the_computed_tax(qb):
    customer = new_customer(qb, "Override Co")
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = [sales_line("1", "100.00", "TAX")]
    invoice.TxnTaxDetail = TxnTaxDetail()
    invoice.TxnTaxDetail.TxnTaxCodeRef = ref("1")
    invoice.TxnTaxDetail.TotalTax = Decimal("9.00")
    saved = invoice.save(qb=qb)
    assert (saved.TxnTaxDetail.TotalTax, saved.TotalAmt) == (Decimal("9.00"), Decimal("109.00"))


def test_line_amount_must_equal_qty_times_unit_price(qb):
    customer = new_customer(qb, "Math Check")
    with pytest.raises(QuickbooksException) as raised:
        new_invoice(qb, customer, [sales_line("1", "99.00", qty="2", price="75")])
    assert raised.value.error_code == 6070


def test_missing_required_fields_answer_2020(qb):
    customer = new_customer(qb, "Required Fields")
    no_customer = Invoice()
    no_customer.Line = [sales_line("1", "10.00")]
    with pytest.raises(ValidationException) as raised:
        no_customer.save(qb=qb)
    assert raised.value.error_code == 2020
    with pytest.raises(ValidationException):
        new_invoice(qb, customer, [])
    no_total = Payment()
    no_total.CustomerRef = customer.to_ref()
    with pytest.raises(ValidationException) as raised:
        no_total.save(qb=qb)
    assert raised.value.error_code == 2020


def test_reference_to_missing_or_inactive_objects_is_a_business_error(qb):
    customer = new_customer(qb, "Ref Check")
    with pytest.raises(QuickbooksException) as raised:
        new_invoice(qb, customer, [sales_line("99", "10.00")])
    assert raised.value.error_code == 6000
    item = Item.get("6", qb=qb)
    item.sparse = True
    item.Active = False
    item.save(qb=qb)
    with pytest.raises(QuickbooksException) as raised:
        new_invoice(qb, customer, [sales_line("6", "10.00")])
    assert raised.value.error_code == 6000
    assert "inactive" in raised.value.detail
    with pytest.raises(QuickbooksException) as raised:
        new_invoice(qb, customer, [sales_line("1", "10.00")], DepartmentRef=ref("99"))
    assert raised.value.error_code == 6000


def test_invoice_carries_class_and_department(qb):
    customer = new_customer(qb, "Tracked Tom")
    line = sales_line("2", "120.00")
    line.SalesItemLineDetail.ClassRef = ref(demo_company.CLASS_IDS["HVAC"])
    invoice = new_invoice(
        qb, customer, [line], DepartmentRef=ref(demo_company.DEPARTMENT_IDS["South"])
    )
    assert invoice.DepartmentRef.name == "South"
    assert invoice.Line[0].SalesItemLineDetail.ClassRef.name == "HVAC"


def test_duplicate_doc_number_answers_6140_unless_switched_off(qb, tmp_path):
    customer = new_customer(qb, "Doc Numbers")
    new_invoice(qb, customer, [sales_line("1", "10.00")], DocNumber="A-1")
    with pytest.raises(QuickbooksException) as raised:
        new_invoice(qb, customer, [sales_line("1", "10.00")], DocNumber="A-1")
    assert raised.value.error_code == 6140
    assert "DocNumber=A-1" in raised.value.detail
    with running_sandbox(tmp_path / "lenient.sqlite3", duplicate_doc_number_check=False) as lenient:
        client = connect(lenient)
        other = new_customer(client, "Doc Numbers")
        new_invoice(client, other, [sales_line("1", "10.00")], DocNumber="A-1")
        assert new_invoice(client, other, [sales_line("1", "10.00")], DocNumber="A-1").Id == "2"
    with running_sandbox(tmp_path / "6210.sqlite3", duplicate_doc_number_code="6210") as other:
        client = connect(other)
        someone = new_customer(client, "Doc Numbers")
        new_invoice(client, someone, [sales_line("1", "10.00")], DocNumber="B-1")
        with pytest.raises(QuickbooksException) as raised:
            new_invoice(client, someone, [sales_line("1", "10.00")], DocNumber="B-1")
        assert raised.value.error_code == 6210


def test_deleted_invoice_frees_its_doc_number(qb):
    customer = new_customer(qb, "Reuse Ruth")
    first = new_invoice(qb, customer, [sales_line("1", "10.00")], DocNumber="R-1")
    first.delete(qb=qb)
    assert new_invoice(qb, customer, [sales_line("1", "10.00")], DocNumber="R-1").DocNumber == "R-1"


def test_sparse_update_changes_only_the_fields_sent(qb):
    customer = new_customer(qb, "Sparse Sam", GivenName="Sam", CompanyName="Sam Co")
    response = qb.update_object(
        "Customer",
        json.dumps(
            {"Id": customer.Id, "SyncToken": "0", "sparse": True, "Notes": "gate code 1234"}
        ),
    )
    updated = response["Customer"]
    assert updated["Notes"] == "gate code 1234"
    assert (updated["GivenName"], updated["CompanyName"]) == ("Sam", "Sam Co")
    assert updated["SyncToken"] == "1"


def test_full_update_drops_fields_left_out(qb):
    customer = new_customer(qb, "Full Fred", GivenName="Fred", Notes="keep?")
    response = qb.update_object(
        "Customer", json.dumps({"Id": customer.Id, "SyncToken": "0", "DisplayName": "Full Fred"})
    )
    updated = response["Customer"]
    assert "GivenName" not in updated and "Notes" not in updated
    assert updated["SyncToken"] == "1"


def test_fetch_modify_save_keeps_server_computed_fields_right(qb):
    customer = new_customer(qb, "Roundtrip Ruth")
    invoice = new_invoice(qb, customer, [sales_line("1", "100.00", "TAX")])
    fetched = Invoice.get(invoice.Id, qb=qb)
    fetched.Line[0].Amount = Decimal("200.00")
    saved = fetched.save(qb=qb)
    # The stale TotalTax echoed back by save() is not an override: tax follows the new lines.
    assert saved.TxnTaxDetail.TotalTax == Decimal("16.50")
    assert saved.TotalAmt == Decimal("216.50")
    assert (saved.DocNumber, saved.SyncToken) == (invoice.DocNumber, "1")
    assert saved.MetaData.LastUpdatedTime >= saved.MetaData.CreateTime


def test_stale_sync_token_raises_5010(qb):
    customer = new_customer(qb, "Racing Rita")
    first = Customer.get(customer.Id, qb=qb)
    second = Customer.get(customer.Id, qb=qb)
    first.sparse = True
    first.Notes = "first writer"
    first.save(qb=qb)
    second.sparse = True
    second.Notes = "second writer"
    with pytest.raises(QuickbooksException) as raised:
        second.save(qb=qb)
    assert raised.value.error_code == 5010
    assert raised.value.message == "Stale Object Error"
    assert "finished before you did" in raised.value.detail


def test_reading_a_missing_object_answers_610(qb):
    with pytest.raises(ObjectNotFoundException) as raised:
        Customer.get("999", qb=qb)
    assert raised.value.error_code == 610


def test_payment_reduces_invoice_balance_and_deleting_it_restores_the_balance(qb, company):
    customer = new_customer(qb, "Paying Pat")
    invoice = new_invoice(
        qb, customer, [sales_line("1", "150.00", "TAX"), sales_line("5", "50.00")]
    )
    payment = pay(qb, customer, "120.00", {invoice.Id: "100.00"})
    assert payment.UnappliedAmt == Decimal("20.00")
    assert payment.DepositToAccountRef.value == demo_company.ACCOUNT_IDS["Undeposited Funds"]
    paid = Invoice.get(invoice.Id, qb=qb)
    assert (paid.Balance, paid.SyncToken) == (Decimal("112.38"), "1")
    assert [(link.TxnId, link.TxnType) for link in paid.LinkedTxn] == [(payment.Id, "Payment")]
    # The customer's balance is what it owes on A/R: the open invoice less the unapplied 20.
    assert Customer.get(customer.Id, qb=qb).Balance == Decimal("92.38")

    payment.delete(qb=qb)
    restored = Invoice.get(invoice.Id, qb=qb)
    assert (restored.Balance, restored.SyncToken, restored.LinkedTxn) == (
        Decimal("212.38"),
        "2",
        [],
    )
    with pytest.raises(ObjectNotFoundException):
        Payment.get(payment.Id, qb=qb)
    state = company.admin("GET", "/objects/Payment").json()
    assert [(p["Id"], p.get("status")) for p in state] == [(payment.Id, "Deleted")]


def test_job_balance_rolls_up_to_the_parent(qb):
    parent = new_customer(qb, "Rollup Parent")
    job = Customer()
    job.DisplayName = "Rollup Job"
    job.ParentRef = parent.to_ref()
    job = job.save(qb=qb)
    new_invoice(qb, job, [sales_line("1", "40.00")], tax_code=None)
    new_invoice(qb, parent, [sales_line("1", "10.00")], tax_code=None)
    top = Customer.get(parent.Id, qb=qb)
    assert (top.Balance, top.BalanceWithJobs) == (Decimal("10.00"), Decimal("50.00"))


def test_paying_more_than_the_invoice_balance_is_refused(qb):
    customer = new_customer(qb, "Over Paying")
    invoice = new_invoice(qb, customer, [sales_line("1", "50.00")])
    pay(qb, customer, "30.00", {invoice.Id: "30.00"})
    with pytest.raises(QuickbooksException) as raised:
        pay(qb, customer, "30.00", {invoice.Id: "30.00"})
    assert raised.value.error_code == 6000
    assert Invoice.get(invoice.Id, qb=qb).Balance == Decimal("20.00")


def test_voiding_a_payment_restores_the_invoice_and_voiding_an_invoice_zeroes_it(qb):
    customer = new_customer(qb, "Void Vera")
    invoice = new_invoice(qb, customer, [sales_line("2", "80.00", "TAX")])
    payment = pay(qb, customer, "80.00", {invoice.Id: "80.00"})
    with pytest.raises(QuickbooksException):
        Invoice.get(invoice.Id, qb=qb).void(qb=qb)  # has a payment applied
    Payment.get(payment.Id, qb=qb).void(qb=qb)
    assert Payment.get(payment.Id, qb=qb).TotalAmt == Decimal("0.00")
    assert Invoice.get(invoice.Id, qb=qb).Balance == Decimal("86.60")
    Invoice.get(invoice.Id, qb=qb).void(qb=qb)
    voided = Invoice.get(invoice.Id, qb=qb)
    assert (voided.TotalAmt, voided.Balance, voided.PrivateNote) == (
        Decimal("0.00"),
        Decimal("0.00"),
        "Voided",
    )
    assert len(Invoice.all(qb=qb)) == 1  # a voided invoice stays


def test_deleting_an_invoice_with_a_stale_sync_token_fails(qb):
    customer = new_customer(qb, "Delete Dora")
    invoice = new_invoice(qb, customer, [sales_line("1", "10.00")])
    invoice.SyncToken = "7"
    with pytest.raises(QuickbooksException) as raised:
        invoice.delete(qb=qb)
    assert raised.value.error_code == 5010
    fresh = Invoice.get(invoice.Id, qb=qb)
    assert fresh.delete(qb=qb)["Invoice"]["status"] == "Deleted"
    with pytest.raises(ObjectNotFoundException):
        Invoice.get(invoice.Id, qb=qb)
