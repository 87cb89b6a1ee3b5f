"""Money going out: purchases (cash, check, card), bills through A/P and bill payments."""

import json
from decimal import Decimal

import pytest
from quickbooks.exceptions import QuickbooksException, UnsupportedException, ValidationException
from quickbooks.objects.bill import Bill
from quickbooks.objects.billpayment import BillPayment, BillPaymentLine, CheckPayment
from quickbooks.objects.detailline import (
    AccountBasedExpenseLine,
    AccountBasedExpenseLineDetail,
    ItemBasedExpenseLine,
    ItemBasedExpenseLineDetail,
)
from quickbooks.objects.purchase import Purchase
from quickbooks.objects.vendor import Vendor

from qbo_sandbox import demo_company

from .helpers import new_customer, ref

ACCOUNTS = demo_company.ACCOUNT_IDS


def new_vendor(qb, name: str) -> Vendor:
    vendor = Vendor()
    vendor.DisplayName = name
    return vendor.save(qb=qb)


def expense(account: str, amount: str, customer=None, billable=None, klass=None):
    line = AccountBasedExpenseLine()
    line.Amount = Decimal(amount)
    line.AccountBasedExpenseLineDetail = AccountBasedExpenseLineDetail()
    line.AccountBasedExpenseLineDetail.AccountRef = ref(ACCOUNTS[account])
    if customer is not None:
        line.AccountBasedExpenseLineDetail.CustomerRef = customer.to_ref()
    if billable:
        line.AccountBasedExpenseLineDetail.BillableStatus = billable
    if klass:
        line.AccountBasedExpenseLineDetail.ClassRef = ref(demo_company.CLASS_IDS[klass])
    return line


def new_bill(qb, vendor, *lines) -> Bill:
    bill = Bill()
    bill.VendorRef = vendor.to_ref()
    bill.Line = list(lines)
    return bill.save(qb=qb)


def pay_bills(qb, vendor, total: str, bills: dict[str, str]) -> BillPayment:
    payment = BillPayment()
    payment.VendorRef = vendor.to_ref()
    payment.PayType = "Check"
    payment.CheckPayment = CheckPayment()
    payment.CheckPayment.BankAccountRef = ref(ACCOUNTS["Checking"])
    payment.TotalAmt = Decimal(total)
    for bill_id, amount in bills.items():
        line = BillPaymentLine()
        line.Amount = Decimal(amount)
        line.LinkedTxn = [Bill.get(bill_id, qb=qb).to_linked_txn()]
        payment.Line.append(line)
    return payment.save(qb=qb)


def test_card_purchase_for_a_job_with_billable_lines(qb):
    vendor = new_vendor(qb, "Ferguson Supply")
    job = new_customer(qb, "Kitchen Job")
    purchase = Purchase()
    purchase.PaymentType = "CreditCard"
    purchase.AccountRef = ref(ACCOUNTS["Business Credit Card"])
    purchase.EntityRef = ref(vendor.Id, "Vendor")
    purchase.DepartmentRef = ref(demo_company.DEPARTMENT_IDS["North"])
    purchase.Line = [
        expense("Materials", "120.50", customer=job, billable="Billable", klass="Plumbing"),
        expense("Equipment Rental", "80.00"),
    ]
    saved = purchase.save(qb=qb)
    assert saved.TotalAmt == Decimal("200.50")
    assert (saved.EntityRef.name, saved.EntityRef.type) == ("Ferguson Supply", "Vendor")
    detail = saved.Line[0].AccountBasedExpenseLineDetail
    assert (detail.BillableStatus, detail.CustomerRef.value, detail.ClassRef.name) == (
        "Billable",
        job.Id,
        "Plumbing",
    )
    assert saved.Line[1].AccountBasedExpenseLineDetail.BillableStatus == "NotBillable"
    assert Purchase.get(saved.Id, qb=qb).delete(qb=qb)["Purchase"]["status"] == "Deleted"


def test_purchase_account_must_fit_the_payment_type(qb):
    check = Purchase()
    check.PaymentType = "Check"
    check.AccountRef = ref(ACCOUNTS["Business Credit Card"])
    check.Line = [expense("Permits", "25.00")]
    with pytest.raises(QuickbooksException) as raised:
        check.save(qb=qb)
    assert raised.value.error_code == 6000
    untyped = Purchase()
    untyped.AccountRef = ref(ACCOUNTS["Checking"])
    untyped.Line = [expense("Permits", "25.00")]
    with pytest.raises(ValidationException) as raised:
        untyped.save(qb=qb)
    assert raised.value.error_code == 2020
    billable = Purchase()
    billable.PaymentType = "Cash"
    billable.AccountRef = ref(ACCOUNTS["Checking"])
    billable.Line = [expense("Permits", "25.00", billable="Billable")]
    with pytest.raises(QuickbooksException) as raised:
        billable.save(qb=qb)
    assert raised.value.error_code == 6000


def test_item_based_expense_line_uses_the_items_expense_account(qb):
    line = ItemBasedExpenseLine()
    line.Amount = Decimal("30.00")
    line.ItemBasedExpenseLineDetail = ItemBasedExpenseLineDetail()
    line.ItemBasedExpenseLineDetail.ItemRef = ref(demo_company.ITEM_IDS["Materials"])
    line.ItemBasedExpenseLineDetail.Qty = Decimal("3")
    line.ItemBasedExpenseLineDetail.UnitPrice = Decimal("10")
    purchase = Purchase()
    purchase.PaymentType = "Cash"
    purchase.AccountRef = ref(ACCOUNTS["Checking"])
    purchase.Line = [line]
    assert purchase.save(qb=qb).TotalAmt == Decimal("30.00")
    service = ItemBasedExpenseLine()
    service.Amount = Decimal("5.00")
    service.ItemBasedExpenseLineDetail = ItemBasedExpenseLineDetail()
    service.ItemBasedExpenseLineDetail.ItemRef = ref(demo_company.ITEM_IDS["Trip Charge"])
    purchase.Id = None
    purchase.Line = [service]
    with pytest.raises(QuickbooksException) as raised:
        purchase.save(qb=qb)  # a service item without an expense account cannot be bought
    assert raised.value.error_code == 6000


def test_bill_goes_through_ap_and_bill_payments_pay_it_down(qb):
    vendor = new_vendor(qb, "Sparky Subcontracting")
    bill = new_bill(qb, vendor, expense("Subcontractors", "500.00"), expense("Permits", "75.00"))
    assert (bill.TotalAmt, bill.Balance) == (Decimal("575.00"), Decimal("575.00"))
    assert bill.APAccountRef.value == ACCOUNTS["Accounts Payable (A/P)"]
    assert bill.DueDate == bill.TxnDate
    assert Vendor.get(vendor.Id, qb=qb).Balance == Decimal("575.00")
    first = pay_bills(qb, vendor, "200.00", {bill.Id: "200.00"})
    paid = Bill.get(bill.Id, qb=qb)
    assert (paid.Balance, paid.SyncToken) == (Decimal("375.00"), "1")
    assert [(link.TxnId, link.TxnType) for link in paid.LinkedTxn] == [(first.Id, "BillPayment")]
    assert Vendor.get(vendor.Id, qb=qb).Balance == Decimal("375.00")
    with pytest.raises(QuickbooksException) as raised:
        pay_bills(qb, vendor, "400.00", {bill.Id: "400.00"})
    assert raised.value.error_code == 6000
    with pytest.raises(QuickbooksException) as raised:
        Bill.get(bill.Id, qb=qb).delete(qb=qb)  # has a payment
    assert raised.value.error_code == 6000
    BillPayment.get(first.Id, qb=qb).void(qb=qb)
    assert Bill.get(bill.Id, qb=qb).Balance == Decimal("575.00")
    assert BillPayment.get(first.Id, qb=qb).TotalAmt == Decimal("0.00")


def test_bill_needs_a_vendor_and_cannot_be_voided(qb):
    bill = Bill()
    bill.Line = [expense("Permits", "10.00")]
    with pytest.raises(ValidationException) as raised:
        bill.save(qb=qb)
    assert raised.value.error_code == 2020
    vendor = new_vendor(qb, "City Permits Office")
    saved = new_bill(qb, vendor, expense("Permits", "10.00"))
    with pytest.raises(UnsupportedException):
        qb.post(
            f"{qb.api_url}/company/{qb.company_id}/bill",
            json.dumps({"Id": saved.Id, "SyncToken": saved.SyncToken}),
            params={"operation": "void"},
        )


def test_empty_company_gets_accounts_payable_when_its_first_bill_needs_it(server):
    from quickbooks.objects.account import Account

    from .helpers import admin, connect

    blank = admin(server, "POST", "/realms", json={"demo": False}).json()
    client = connect(server, blank["realm_id"], blank["refresh_token"])
    expense_account = Account()
    expense_account.Name = "Supplies"
    expense_account.AccountType = "Expense"
    expense_account = expense_account.save(qb=client)
    vendor = new_vendor(client, "First Vendor")
    bill = Bill()
    bill.VendorRef = vendor.to_ref()
    line = AccountBasedExpenseLine()
    line.Amount = Decimal("12.00")
    line.AccountBasedExpenseLineDetail = AccountBasedExpenseLineDetail()
    line.AccountBasedExpenseLineDetail.AccountRef = expense_account.to_ref()
    bill.Line = [line]
    saved = bill.save(qb=client)
    payable = Account.get(saved.APAccountRef.value, qb=client)
    assert (payable.Name, payable.AccountType) == ("Accounts Payable (A/P)", "Accounts Payable")
    assert payable.CurrentBalance == Decimal("12.00")
