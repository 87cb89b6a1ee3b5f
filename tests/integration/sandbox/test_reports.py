"""Reports computed from the company's transactions: AgedReceivables and TrialBalance, in
QuickBooks' report JSON shape (Header, Columns, Rows of ColData, a GrandTotal summary)."""

from decimal import Decimal

import pytest
from quickbooks.exceptions import UnsupportedException
from quickbooks.objects.account import Account
from quickbooks.objects.bill import Bill
from quickbooks.objects.billpayment import BillPayment, BillPaymentLine, CheckPayment
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.payment import Payment
from quickbooks.objects.purchase import Purchase
from quickbooks.objects.vendor import Vendor

from qbo_sandbox import demo_company

from .helpers import new_customer, new_invoice, pay, ref, sales_line
from .test_purchases import expense

ACCOUNTS = demo_company.ACCOUNT_IDS


def rows(report):
    """{first cell: [other cells]} of the data rows, and the summary row."""
    body = report["Rows"]["Row"]
    data = {r["ColData"][0]["value"]: [c["value"] for c in r["ColData"][1:]] for r in body[:-1]}
    return data, [c["value"] for c in body[-1]["Summary"]["ColData"]]


def test_aged_receivables_buckets_open_amounts_by_days_past_due(qb):
    alice = new_customer(qb, "Alice Apartments")
    bob = new_customer(qb, "Bob's Bakery")

    def invoice(customer, amount, txn, due):
        return new_invoice(
            qb, customer, [sales_line("1", amount)], tax_code=None, TxnDate=txn, DueDate=due
        )

    invoice(alice, "100.00", "2026-06-10", "2026-07-10")  # not yet due
    late = invoice(alice, "200.00", "2026-05-16", "2026-06-15")  # 15 days late
    older = invoice(alice, "50.00", "2026-03-02", "2026-04-01")  # 90 days late, 20 paid
    invoice(bob, "75.00", "2025-12-02", "2026-01-01")  # 180 days late
    pay(qb, alice, "20.00", {older.Id: "20.00"}, TxnDate="2026-06-01")
    pay(qb, alice, "200.00", {late.Id: "200.00"}, TxnDate="2026-07-05")  # after the report date
    unapplied = Payment()
    unapplied.CustomerRef = alice.to_ref()
    unapplied.TotalAmt = Decimal("10.00")
    unapplied.TxnDate = "2026-06-30"
    unapplied.save(qb=qb)
    memo = CreditMemo()
    memo.CustomerRef = bob.to_ref()
    memo.TxnDate = "2026-06-20"
    memo.Line = [sales_line("1", "25.00")]
    memo.save(qb=qb)

    report = qb.get_report("AgedReceivables", qs={"report_date": "2026-06-30"})
    header = report["Header"]
    assert (header["ReportName"], header["EndPeriod"], header["Currency"]) == (
        "AgedReceivables",
        "2026-06-30",
        "USD",
    )
    titles = [c["ColTitle"] for c in report["Columns"]["Column"]]
    assert titles == ["", "Current", "1 - 30", "31 - 60", "61 - 90", "91 and over", "Total"]
    data, total = rows(report)
    assert data == {
        "Alice Apartments": ["90.00", "200.00", "", "30.00", "", "320.00"],
        "Bob's Bakery": ["", "-25.00", "", "", "75.00", "50.00"],
    }
    assert total == ["TOTAL", "90.00", "175.00", "0.00", "30.00", "75.00", "370.00"]
    assert report["Rows"]["Row"][-1]["group"] == "GrandTotal"
    first_cell = report["Rows"]["Row"][0]["ColData"][0]
    assert first_cell["id"] == alice.Id
    # Today the late payment counts; the customer balances tie out with the report total.
    today_total = rows(qb.get_report("AgedReceivables"))[1][-1]
    customers = qb.query("select * from Customer")["QueryResponse"]["Customer"]
    balances = sum(c["Balance"] for c in customers)
    assert Decimal(today_total) == balances == Decimal("170.00")


def test_aging_periods_follow_the_parameters(qb):
    customer = new_customer(qb, "Period Pam")
    new_invoice(
        qb,
        customer,
        [sales_line("1", "10.00")],
        tax_code=None,
        TxnDate="2026-05-01",
        DueDate="2026-05-20",
    )
    report = qb.get_report(
        "AgedReceivables",
        qs={"report_date": "2026-06-30", "aging_period": "15", "num_periods": "3"},
    )
    titles = [c["ColTitle"] for c in report["Columns"]["Column"]]
    assert titles == ["", "Current", "1 - 15", "16 - 30", "31 and over", "Total"]
    assert rows(report)[0]["Period Pam"] == ["", "", "", "10.00", "10.00"]


def test_trial_balance_is_computed_from_postings_and_balances(qb):
    customer = new_customer(qb, "Ledger Lee")
    old = new_invoice(qb, customer, [sales_line("1", "50.00")], tax_code=None, TxnDate="2025-12-15")
    assert old.TotalAmt == Decimal("50.00")
    invoice = new_invoice(qb, customer, [sales_line("1", "100.00", "TAX")], TxnDate="2026-03-01")
    payment = pay(qb, customer, "108.25", {invoice.Id: "108.25"}, TxnDate="2026-03-05")
    from .test_deposits import deposit_of

    deposit = deposit_of(qb, payment)
    deposit.TxnDate = "2026-03-06"
    deposit.save(qb=qb)
    vendor = Vendor()
    vendor.DisplayName = "Ledger Supplies"
    vendor = vendor.save(qb=qb)
    bill = Bill()
    bill.VendorRef = vendor.to_ref()
    bill.TxnDate = "2026-03-10"
    bill.Line = [expense("Subcontractors", "500.00")]
    bill = bill.save(qb=qb)
    bill_payment = BillPayment()
    bill_payment.VendorRef = vendor.to_ref()
    bill_payment.PayType = "Check"
    bill_payment.CheckPayment = CheckPayment()
    bill_payment.CheckPayment.BankAccountRef = ref(ACCOUNTS["Checking"])
    bill_payment.TotalAmt = Decimal("200.00")
    bill_payment.TxnDate = "2026-03-20"
    line = BillPaymentLine()
    line.Amount = Decimal("200.00")
    line.LinkedTxn = [bill.to_linked_txn()]
    bill_payment.Line = [line]
    bill_payment.save(qb=qb)
    card = Purchase()
    card.PaymentType = "CreditCard"
    card.AccountRef = ref(ACCOUNTS["Business Credit Card"])
    card.TxnDate = "2026-03-25"
    card.Line = [expense("Equipment Rental", "80.00")]
    card.save(qb=qb)

    report = qb.get_report("TrialBalance", qs={"end_date": "2026-06-30"})
    assert [c["ColTitle"] for c in report["Columns"]["Column"]] == ["", "Debit", "Credit"]
    assert report["Header"]["StartPeriod"] == "2026-01-01"
    data, total = rows(report)
    assert list(data.items()) == [
        ("Checking", ["", "91.75"]),
        ("Accounts Receivable (A/R)", ["50.00", ""]),
        ("Accounts Payable (A/P)", ["", "300.00"]),
        ("Business Credit Card", ["", "80.00"]),
        ("Sales Tax Payable", ["", "8.25"]),
        ("Retained Earnings", ["", "50.00"]),  # last year's income
        ("Services", ["", "100.00"]),
        ("Subcontractors", ["500.00", ""]),
        ("Equipment Rental", ["80.00", ""]),
    ]
    assert total == ["TOTAL", "630.00", "630.00"]
    assert report["Rows"]["Row"][0]["ColData"][0]["id"] == ACCOUNTS["Checking"]
    # Balance-sheet accounts carry the same figures as their CurrentBalance.
    assert Account.get(ACCOUNTS["Checking"], qb=qb).CurrentBalance == Decimal("-91.75")
    assert Account.get(ACCOUNTS["Accounts Payable (A/P)"], qb=qb).CurrentBalance == Decimal("300")
    earlier = rows(qb.get_report("TrialBalance", qs={"end_date": "2026-03-02"}))
    assert earlier[1] == ["TOTAL", "158.25", "158.25"]


def test_unknown_report_is_refused(qb):
    with pytest.raises(UnsupportedException):
        qb.get_report("ProfitAndLossByPlanet")
