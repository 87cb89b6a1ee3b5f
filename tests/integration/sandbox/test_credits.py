"""Credit memos and refund receipts: credits lower invoices and customer balances when a
payment applies them; refunds pay money back without touching A/R."""

from decimal import Decimal

import pytest
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.refundreceipt import RefundReceipt
from quickbooks.objects.tax import TxnTaxDetail

from qbo_sandbox import demo_company

from .helpers import new_customer, new_invoice, pay, ref, sales_line


def new_credit_memo(qb, customer, amount: str, tax: str = "NON") -> CreditMemo:
    memo = CreditMemo()
    memo.CustomerRef = customer.to_ref()
    memo.Line = [sales_line("1", amount, tax)]
    memo.TxnTaxDetail = TxnTaxDetail()
    memo.TxnTaxDetail.TxnTaxCodeRef = ref("1")
    return memo.save(qb=qb)


def test_credit_memo_lowers_customer_balance_and_pays_an_invoice_when_applied(qb):
    customer = new_customer(qb, "Credit Carla")
    invoice = new_invoice(qb, customer, [sales_line("1", "100.00")], tax_code=None)
    memo = new_credit_memo(qb, customer, "40.00", "TAX")
    assert (memo.TotalAmt, memo.RemainingCredit, memo.Balance) == (
        Decimal("43.30"),
        Decimal("43.30"),
        Decimal("43.30"),
    )
    assert memo.DocNumber == "1001"  # credit memos number on their own
    assert Customer.get(customer.Id, qb=qb).Balance == Decimal("56.70")
    # QuickBooks applies a credit through a payment: an Invoice line and a CreditMemo line.
    applying = pay(qb, customer, "0.00", {invoice.Id: "43.30"}, credits={memo.Id: "43.30"})
    assert applying.UnappliedAmt == Decimal("0.00")
    assert Invoice.get(invoice.Id, qb=qb).Balance == Decimal("56.70")
    used = CreditMemo.get(memo.Id, qb=qb)
    assert (used.RemainingCredit, used.SyncToken) == (Decimal("0.00"), "1")
    assert [link["TxnType"] for link in used.LinkedTxn] == ["Payment"]  # plain dicts here
    assert Customer.get(customer.Id, qb=qb).Balance == Decimal("56.70")
    with pytest.raises(QuickbooksException) as raised:
        CreditMemo.get(memo.Id, qb=qb).delete(qb=qb)  # applied
    assert raised.value.error_code == 6000
    applying.delete(qb=qb)
    assert CreditMemo.get(memo.Id, qb=qb).RemainingCredit == Decimal("43.30")
    assert Invoice.get(invoice.Id, qb=qb).Balance == Decimal("100.00")


def test_credit_applied_beyond_what_is_left_is_refused(qb):
    customer = new_customer(qb, "Greedy Greg")
    invoice = new_invoice(qb, customer, [sales_line("1", "100.00")], tax_code=None)
    memo = new_credit_memo(qb, customer, "10.00")
    with pytest.raises(QuickbooksException) as raised:
        pay(qb, customer, "0.00", {invoice.Id: "20.00"}, credits={memo.Id: "20.00"})
    assert raised.value.error_code == 6000
    with pytest.raises(QuickbooksException) as raised:
        pay(qb, customer, "0.00", {}, credits={memo.Id: "5.00"})  # a credit pays an invoice
    assert raised.value.error_code == 6000


def test_refund_receipt_pays_back_from_the_bank_without_touching_ar(qb):
    customer = new_customer(qb, "Refund Rob")
    new_invoice(qb, customer, [sales_line("1", "50.00")], tax_code=None)
    refund = RefundReceipt()
    refund.CustomerRef = customer.to_ref()
    refund.Line = [sales_line("1", "20.00", "TAX")]
    refund.TxnTaxDetail = TxnTaxDetail()
    refund.TxnTaxDetail.TxnTaxCodeRef = ref("1")
    refund.DepositToAccountRef = ref(demo_company.ACCOUNT_IDS["Checking"])
    refund.PaymentMethodRef = ref(demo_company.PAYMENT_METHOD_IDS["Check"])
    saved = refund.save(qb=qb)
    assert (saved.TotalAmt, saved.Balance, saved.DocNumber) == (
        Decimal("21.65"),
        Decimal("0.00"),
        "1001",
    )
    assert Customer.get(customer.Id, qb=qb).Balance == Decimal("50.00")
    no_account = RefundReceipt()
    no_account.CustomerRef = customer.to_ref()
    no_account.Line = [sales_line("1", "5.00")]
    with pytest.raises(QuickbooksException) as raised:
        no_account.save(qb=qb)
    assert raised.value.error_code == 2020
    assert RefundReceipt.get(saved.Id, qb=qb).delete(qb=qb)["RefundReceipt"]["status"] == (
        "Deleted"
    )
