"""Deposits move payments out of Undeposited Funds; a deposited payment cannot change (6540)."""

from decimal import Decimal

import pytest
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.deposit import Deposit, DepositLine, DepositLineDetail
from quickbooks.objects.payment import Payment

from qbo_sandbox import demo_company

from .helpers import new_customer, new_invoice, pay, ref, sales_line

ACCOUNTS = demo_company.ACCOUNT_IDS


def deposit_of(qb, *payments, direct: str | None = None) -> Deposit:
    deposit = Deposit()
    deposit.DepositToAccountRef = ref(ACCOUNTS["Checking"])
    for payment in payments:
        line = DepositLine()
        line.Amount = payment.TotalAmt
        line.LinkedTxn = [payment.to_linked_txn()]
        deposit.Line.append(line)
    if direct is not None:
        line = DepositLine()
        line.Amount = Decimal(direct)
        line.DepositLineDetail = DepositLineDetail()
        line.DepositLineDetail.AccountRef = ref(ACCOUNTS["Permits and Fees Income"])
        deposit.Line.append(line)
    return deposit.save(qb=qb)


@pytest.fixture
def two_payments(qb):
    customer = new_customer(qb, "Depositing Dee")
    invoice = new_invoice(qb, customer, [sales_line("1", "300.00")], tax_code=None)
    first = pay(qb, customer, "100.00", {invoice.Id: "100.00"})
    second = pay(qb, customer, "50.00", {invoice.Id: "50.00"})
    return first, second


def test_deposit_links_payments_from_undeposited_funds(qb, two_payments):
    first, second = two_payments
    deposit = deposit_of(qb, first, second, direct="25.00")
    assert deposit.TotalAmt == Decimal("175.00")
    linked = [line.LinkedTxn[0] for line in deposit.Line if line.LinkedTxn]
    assert [(link.TxnId, link.TxnType) for link in linked] == [
        (first.Id, "Payment"),
        (second.Id, "Payment"),
    ]
    assert deposit.DepositToAccountRef.value == ACCOUNTS["Checking"]
    # Depositing is no change of the payment itself.
    assert Payment.get(first.Id, qb=qb).SyncToken == first.SyncToken


def test_deposited_payment_cannot_change_amount_or_go_away(qb, two_payments):
    first, _ = two_payments
    deposit = deposit_of(qb, first)
    payment = Payment.get(first.Id, qb=qb)
    payment.TotalAmt = Decimal("90.00")
    payment.Line[0].Amount = Decimal("90.00")
    with pytest.raises(QuickbooksException) as raised:
        payment.save(qb=qb)
    assert raised.value.error_code == 6540
    assert raised.value.message == "Deposited Transaction cannot be changed"
    with pytest.raises(QuickbooksException) as raised:
        Payment.get(first.Id, qb=qb).delete(qb=qb)
    assert raised.value.error_code == 6540
    with pytest.raises(QuickbooksException) as raised:
        Payment.get(first.Id, qb=qb).void(qb=qb)
    assert raised.value.error_code == 6540
    memo = Payment.get(first.Id, qb=qb)
    memo.sparse = True
    memo.PrivateNote = "a memo may change"
    assert memo.save(qb=qb).PrivateNote == "a memo may change"
    # Taking the payment off the deposit frees it again.
    Deposit.get(deposit.Id, qb=qb).delete(qb=qb)
    freed = Payment.get(first.Id, qb=qb)
    freed.TotalAmt = Decimal("90.00")
    freed.Line[0].Amount = Decimal("90.00")
    assert freed.save(qb=qb).TotalAmt == Decimal("90.00")


def test_a_payment_is_deposited_once_and_whole(qb, two_payments):
    first, second = two_payments
    deposit_of(qb, first)
    with pytest.raises(QuickbooksException) as raised:
        deposit_of(qb, first)
    assert raised.value.error_code == 6000
    assert "already on Deposit" in raised.value.detail
    partial = Deposit()
    partial.DepositToAccountRef = ref(ACCOUNTS["Checking"])
    line = DepositLine()
    line.Amount = Decimal("10.00")
    line.LinkedTxn = [second.to_linked_txn()]
    partial.Line = [line]
    with pytest.raises(QuickbooksException) as raised:
        partial.save(qb=qb)
    assert raised.value.error_code == 6000


def test_payment_sent_straight_to_the_bank_needs_no_deposit(qb):
    customer = new_customer(qb, "Direct Dan")
    invoice = new_invoice(qb, customer, [sales_line("1", "40.00")], tax_code=None)
    direct = pay(
        qb, customer, "40.00", {invoice.Id: "40.00"}, DepositToAccountRef=ref(ACCOUNTS["Checking"])
    )
    with pytest.raises(QuickbooksException) as raised:
        deposit_of(qb, direct)
    assert raised.value.error_code == 6000
    assert "Undeposited Funds" in raised.value.detail
