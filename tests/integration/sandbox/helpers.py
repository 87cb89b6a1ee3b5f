"""Shared helpers of the sandbox conformance suite: clients built the way a user builds them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.objects.base import Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.payment import Payment, PaymentLine
from quickbooks.objects.tax import TxnTaxDetail

from qbo_sandbox.testing import SandboxHandle


def connect(
    handle: SandboxHandle, realm_id: str | None = None, refresh_token: str | None = None
) -> QuickBooks:
    """A python-quickbooks client pointed at the emulator (it refreshes in its constructor)."""
    auth = AuthClient(
        handle.client_id,
        handle.client_secret,
        handle.redirect_uri,
        environment=handle.discovery_url,
    )
    client = QuickBooks(
        auth_client=auth,
        refresh_token=refresh_token or handle.refresh_token,
        company_id=realm_id or handle.realm_id,
        minorversion=75,
        use_decimal=True,
    )
    client.api_url_v3 = handle.base_url + "/v3"
    client.sandbox_api_url_v3 = handle.base_url + "/v3"
    return client


def ref(value: str, kind: str | None = None) -> Ref:
    """A Ref with a value (and a type)."""
    result = Ref()
    result.value = value
    if kind:
        result.type = kind
    return result


def sales_line(item_id: str, amount: str, tax: str = "NON", qty=None, price=None) -> SalesItemLine:
    """An invoice line the way a python-quickbooks user builds one."""
    line = SalesItemLine()
    line.Amount = Decimal(amount)
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = ref(item_id)
    line.SalesItemLineDetail.TaxCodeRef = ref(tax)
    if qty is not None:
        line.SalesItemLineDetail.Qty = Decimal(qty)
        line.SalesItemLineDetail.UnitPrice = Decimal(price)
    return line


def new_customer(qb: QuickBooks, name: str, **fields: Any) -> Customer:
    """Create a customer."""
    customer = Customer()
    customer.DisplayName = name
    for key, value in fields.items():
        setattr(customer, key, value)
    return customer.save(qb=qb)


def new_invoice(
    qb: QuickBooks, customer: Customer, lines, tax_code: str | None = "1", **fields: Any
) -> Invoice:
    """Create an invoice (tax code 1, 8.25 %, unless told otherwise)."""
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = lines
    if tax_code:
        invoice.TxnTaxDetail = TxnTaxDetail()
        invoice.TxnTaxDetail.TxnTaxCodeRef = ref(tax_code)
    for key, value in fields.items():
        setattr(invoice, key, value)
    return invoice.save(qb=qb)


def pay(
    qb: QuickBooks,
    customer: Customer,
    total: str,
    applied: dict[str, str],
    credits: dict[str, str] | None = None,
    **fields: Any,
) -> Payment:
    """Create a payment applying amounts to invoices (and credit memos)."""
    payment = Payment()
    payment.CustomerRef = customer.to_ref()
    payment.TotalAmt = Decimal(total)
    for kind, links in (("Invoice", applied), ("CreditMemo", credits or {})):
        for txn_id, amount in links.items():
            line = PaymentLine()
            line.Amount = Decimal(amount)
            link = {"TxnId": txn_id, "TxnType": kind}
            line.LinkedTxn = [_linked(link)]
            payment.Line.append(line)
    for key, value in fields.items():
        setattr(payment, key, value)
    return payment.save(qb=qb)


def _linked(link: dict[str, str]):
    """A python-quickbooks LinkedTxn."""
    from quickbooks.objects.base import LinkedTxn

    linked = LinkedTxn()
    linked.TxnId = link["TxnId"]
    linked.TxnType = link["TxnType"]
    linked.TxnLineId = 1
    return linked


def admin(handle: SandboxHandle, method: str, path: str, **kwargs: Any) -> requests.Response:
    """Call the `/_sandbox` admin API; fails on anything but 2xx."""
    response = requests.request(method, handle.base_url + "/_sandbox" + path, timeout=10, **kwargs)
    response.raise_for_status()
    return response


def admin_raw(handle: SandboxHandle, method: str, path: str, **kwargs: Any) -> requests.Response:
    """Call the admin API and return whatever it answers."""
    return requests.request(method, handle.base_url + "/_sandbox" + path, timeout=10, **kwargs)


def server_now(handle: SandboxHandle) -> datetime:
    """The sandbox clock."""
    return datetime.fromtimestamp(admin(handle, "GET", "/clock").json()["epoch"], UTC)


def api_get(qb: QuickBooks, handle: SandboxHandle, path: str, **params: str) -> requests.Response:
    """A plain GET on the company API with the client's access token."""
    return requests.get(
        f"{handle.base_url}/v3/company/{qb.company_id}/{path}",
        params={"minorversion": "75", **params},
        headers={
            "Authorization": "Bearer " + qb.auth_client.access_token,
            "Accept": "application/json",
        },
        timeout=10,
    )


def api_post(
    qb: QuickBooks, handle: SandboxHandle, path: str, body: Any, timeout: float = 10, **params: str
) -> requests.Response:
    """A plain POST on the company API with the client's access token."""
    return requests.post(
        f"{handle.base_url}/v3/company/{qb.company_id}/{path}",
        params={"minorversion": "75", **params},
        json=body,
        headers={
            "Authorization": "Bearer " + qb.auth_client.access_token,
            "Accept": "application/json",
        },
        timeout=timeout,
    )
