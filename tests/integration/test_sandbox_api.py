"""The QBO emulator over real HTTP, driven by python-quickbooks and intuit-oauth unchanged."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks.batch import batch_create
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import (
    AuthorizationException,
    ObjectNotFoundException,
    QuickbooksException,
    UnsupportedException,
    ValidationException,
)
from quickbooks.objects.account import Account
from quickbooks.objects.base import Ref
from quickbooks.objects.company_info import CompanyInfo
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.payment import Payment, PaymentLine
from quickbooks.objects.tax import TxnTaxDetail
from quickbooks.objects.taxcode import TaxCode

from qbo_sandbox import demo_company
from qbo_sandbox.testing import SandboxHandle, running_sandbox
from qbo_sandbox.tls import tls_available


@pytest.fixture(autouse=True)
def _loopback_http(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def sandbox(tmp_path):
    with running_sandbox(tmp_path / "qbo.sqlite3") as handle:
        yield handle


@pytest.fixture
def qb(sandbox):
    return connect(sandbox)


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


def ref(value: str) -> Ref:
    """A Ref with just a value."""
    result = Ref()
    result.value = value
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


def new_customer(qb: QuickBooks, name: str, **fields) -> Customer:
    customer = Customer()
    customer.DisplayName = name
    for key, value in fields.items():
        setattr(customer, key, value)
    return customer.save(qb=qb)


def new_invoice(
    qb: QuickBooks, customer: Customer, lines, tax_code: str | None = "1", **fields
) -> Invoice:
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = lines
    if tax_code:
        invoice.TxnTaxDetail = TxnTaxDetail()
        invoice.TxnTaxDetail.TxnTaxCodeRef = ref(tax_code)
    for key, value in fields.items():
        setattr(invoice, key, value)
    return invoice.save(qb=qb)


def pay(qb: QuickBooks, customer: Customer, total: str, applied: dict[str, str]) -> Payment:
    payment = Payment()
    payment.CustomerRef = customer.to_ref()
    payment.TotalAmt = Decimal(total)
    for invoice_id, amount in applied.items():
        line = PaymentLine()
        line.Amount = Decimal(amount)
        link = Invoice()
        link.Id = invoice_id
        line.LinkedTxn = [link.to_linked_txn()]
        payment.Line.append(line)
    return payment.save(qb=qb)


def admin(handle: SandboxHandle, method: str, path: str, **kwargs) -> requests.Response:
    response = requests.request(method, handle.base_url + "/_sandbox" + path, timeout=10, **kwargs)
    response.raise_for_status()
    return response


def server_now(handle: SandboxHandle) -> datetime:
    return datetime.fromtimestamp(admin(handle, "GET", "/clock").json()["epoch"], UTC)


# ---------------------------------------------------------------- demo company
def test_demo_company_has_the_documented_ids(qb):
    accounts = {a.Name: (a.Id, a.AccountType, a.AccountSubType) for a in Account.all(qb=qb)}
    assert {name: ids[0] for name, ids in accounts.items()} == demo_company.ACCOUNT_IDS
    assert accounts["Undeposited Funds"][1:] == ("Other Current Asset", "UndepositedFunds")
    items = {i.Name: i for i in Item.all(qb=qb)}
    assert {name: item.Id for name, item in items.items()} == demo_company.ITEM_IDS
    assert items["Materials"].Type == "NonInventory"
    assert items["Materials"].ExpenseAccountRef.value == "7"
    assert items["Permit Fee"].IncomeAccountRef.value == "3"
    tax_code = TaxCode.get(demo_company.TAX_CODE_ID, qb=qb)
    assert tax_code.Name == "Local Sales Tax"
    assert tax_code.SalesTaxRateList.TaxRateDetail[0].TaxRateRef.value == demo_company.TAX_RATE_ID
    rate = qb.get_single_object("TaxRate", demo_company.TAX_RATE_ID)["TaxRate"]
    assert rate["RateValue"] == Decimal("8.25")
    assert CompanyInfo.get(demo_company.REALM_ID, qb=qb).CompanyName == "Demo Field Services"


# ---------------------------------------------------------------- create and compute
def test_invoice_totals_tax_and_doc_number_are_computed_by_the_server(qb):
    customer = new_customer(qb, "Acme Property Management")
    invoice = new_invoice(
        qb,
        customer,
        [sales_line("1", "150.00", "TAX", qty="2", price="75"), sales_line("5", "50.00", "NON")],
    )
    # 150.00 taxable at 8.25% = 12.375, rounded half-up to 12.38
    assert invoice.TxnTaxDetail.TotalTax == Decimal("12.38")
    assert invoice.TotalAmt == Decimal("212.38")
    assert invoice.Balance == Decimal("212.38")
    assert invoice.DocNumber == "1001"
    assert invoice.SyncToken == "0"
    assert [line.DetailType for line in invoice.Line] == [
        "SalesItemLineDetail",
        "SalesItemLineDetail",
        "SubTotalLineDetail",
    ]
    assert invoice.Line[2].Amount == Decimal("200.00")
    assert invoice.MetaData.CreateTime == invoice.MetaData.LastUpdatedTime
    datetime.fromisoformat(invoice.MetaData.CreateTime)  # ISO with an offset
    second = new_invoice(qb, customer, [sales_line("2", "10.00")], tax_code=None)
    assert (second.DocNumber, second.TotalAmt) == ("1002", Decimal("10.00"))
    assert Customer.get(customer.Id, qb=qb).Balance == Decimal("222.38")


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


def test_reference_to_missing_or_inactive_item_is_a_business_error(qb):
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


def test_duplicate_doc_number_answers_6140_unless_switched_off(qb, tmp_path):
    customer = new_customer(qb, "Doc Numbers")
    new_invoice(qb, customer, [sales_line("1", "10.00")], DocNumber="A-1")
    with pytest.raises(QuickbooksException) as raised:
        new_invoice(qb, customer, [sales_line("1", "10.00")], DocNumber="A-1")
    assert raised.value.error_code == 6140
    with running_sandbox(tmp_path / "lenient.sqlite3", duplicate_doc_number_check=False) as lenient:
        client = connect(lenient)
        other = new_customer(client, "Doc Numbers")
        new_invoice(client, other, [sales_line("1", "10.00")], DocNumber="A-1")
        assert new_invoice(client, other, [sales_line("1", "10.00")], DocNumber="A-1").Id == "2"


def test_job_sub_customer_gets_parent_colon_child_name(qb):
    parent = new_customer(qb, "Smith Family")
    job = Customer()
    job.DisplayName = "Kitchen Remodel"
    job.ParentRef = parent.to_ref()
    job = job.save(qb=qb)
    assert job.Job is True
    assert job.FullyQualifiedName == "Smith Family:Kitchen Remodel"
    assert job.Level == 1


# ---------------------------------------------------------------- names
def test_duplicate_display_name_answers_6240_even_against_inactive_customers(qb):
    first = new_customer(qb, "Duplicate Dan")
    with pytest.raises(QuickbooksException) as raised:
        new_customer(qb, "duplicate dan")
    assert raised.value.error_code == 6240
    first.sparse = True
    first.Active = False
    first.save(qb=qb)
    with pytest.raises(QuickbooksException) as raised:
        new_customer(qb, "Duplicate Dan")
    assert raised.value.error_code == 6240


def test_customer_cannot_be_deleted_only_made_inactive(qb):
    customer = new_customer(qb, "Short Lived")
    with pytest.raises(UnsupportedException):
        qb.delete_object("Customer", json.dumps({"Id": customer.Id, "SyncToken": "0"}))
    customer.sparse = True
    customer.Active = False
    saved = customer.save(qb=qb)
    assert saved.Active is False
    assert Customer.filter(DisplayName="Short Lived", qb=qb) == []
    assert len(Customer.where("Active = false", qb=qb)) == 1
    assert Customer.get(customer.Id, qb=qb).Active is False


# ---------------------------------------------------------------- query
def test_query_pages_and_finds_apostrophe_and_accented_names(qb):
    names = ["Able", "Baker", "O'Brien Heating", "Zoë Peña Électrique", "Charlie"]
    for name in names:
        new_customer(qb, name)
    found = Customer.filter(DisplayName="O'Brien Heating", qb=qb)
    assert [c.DisplayName for c in found] == ["O'Brien Heating"]
    accented = Customer.filter(DisplayName="Zoë Peña Électrique", qb=qb)
    assert [c.DisplayName for c in accented] == ["Zoë Peña Électrique"]
    page1 = Customer.where("", order_by="DisplayName", start_position=1, max_results=2, qb=qb)
    page2 = Customer.where("", order_by="DisplayName", start_position=3, max_results=2, qb=qb)
    page3 = Customer.where("", order_by="DisplayName", start_position=5, max_results=2, qb=qb)
    assert [c.DisplayName for c in page1 + page2 + page3] == sorted(names)
    assert Customer.count(qb=qb) == 5
    assert Customer.count("DisplayName LIKE 'o\\'%'", qb=qb) == 1
    raw = qb.query("SELECT * FROM Customer STARTPOSITION 2 MAXRESULTS 3")["QueryResponse"]
    assert (raw["startPosition"], raw["maxResults"], len(raw["Customer"])) == (2, 3, 3)
    assert qb.query("select * from Customer where DisplayName = 'Nobody'")["QueryResponse"] == {}


def test_malformed_query_answers_4000_with_where(qb):
    with pytest.raises(ValidationException) as raised:
        qb.query("SELECT * FROM Customer WHERE DisplayName = 'unterminated")
    assert raised.value.error_code == 4000
    assert "column" in raised.value.detail


def test_query_by_get_with_query_parameter(qb, sandbox):
    response = requests.get(
        f"{sandbox.base_url}/v3/company/{sandbox.realm_id}/query",
        params={"query": "select count(*) from Item", "minorversion": "75"},
        headers={
            "Authorization": "Bearer " + qb.auth_client.access_token,
            "Accept": "application/json",
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["QueryResponse"] == {"totalCount": 6}


# ---------------------------------------------------------------- updates
def test_sparse_update_changes_only_the_fields_sent(qb, sandbox):
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
    assert saved.DocNumber == invoice.DocNumber
    assert saved.SyncToken == "1"


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


# ---------------------------------------------------------------- payments, delete, void
def test_payment_reduces_invoice_balance_and_deleting_it_restores_the_balance(qb, sandbox):
    customer = new_customer(qb, "Paying Pat")
    invoice = new_invoice(
        qb, customer, [sales_line("1", "150.00", "TAX"), sales_line("5", "50.00")]
    )
    payment = pay(qb, customer, "120.00", {invoice.Id: "100.00"})
    assert payment.UnappliedAmt == Decimal("20.00")
    assert payment.DepositToAccountRef.value == demo_company.ACCOUNT_IDS["Undeposited Funds"]
    paid = Invoice.get(invoice.Id, qb=qb)
    assert paid.Balance == Decimal("112.38")
    assert paid.SyncToken == "1"
    assert [(link.TxnId, link.TxnType) for link in paid.LinkedTxn] == [(payment.Id, "Payment")]
    assert Customer.get(customer.Id, qb=qb).Balance == Decimal("112.38")

    payment.delete(qb=qb)
    restored = Invoice.get(invoice.Id, qb=qb)
    assert restored.Balance == Decimal("212.38")
    assert restored.SyncToken == "2"
    assert restored.LinkedTxn == []
    with pytest.raises(ObjectNotFoundException):
        Payment.get(payment.Id, qb=qb)
    state = admin(sandbox, "GET", f"/realms/{sandbox.realm_id}/objects/Payment").json()
    assert [(p["Id"], p.get("status")) for p in state] == [(payment.Id, "Deleted")]


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
        invoice_now = Invoice.get(invoice.Id, qb=qb)
        invoice_now.void(qb=qb)  # has a payment applied
    Payment.get(payment.Id, qb=qb).void(qb=qb)
    voided_payment = Payment.get(payment.Id, qb=qb)
    assert voided_payment.TotalAmt == Decimal("0.00")
    assert Invoice.get(invoice.Id, qb=qb).Balance == Decimal("86.60")
    Invoice.get(invoice.Id, qb=qb).void(qb=qb)
    voided = Invoice.get(invoice.Id, qb=qb)
    assert (voided.TotalAmt, voided.Balance) == (Decimal("0.00"), Decimal("0.00"))
    assert voided.PrivateNote == "Voided"
    assert len(Invoice.all(qb=qb)) == 1


def test_deleting_an_invoice_with_a_stale_sync_token_fails(qb):
    customer = new_customer(qb, "Delete Dora")
    invoice = new_invoice(qb, customer, [sales_line("1", "10.00")])
    invoice.SyncToken = "7"
    with pytest.raises(QuickbooksException) as raised:
        invoice.delete(qb=qb)
    assert raised.value.error_code == 5010
    fresh = Invoice.get(invoice.Id, qb=qb)
    assert fresh.delete(qb=qb)["Invoice"]["status"] == "Deleted"


# ---------------------------------------------------------------- CDC
def test_cdc_returns_changed_objects_and_stripped_deletes(qb, sandbox):
    since = server_now(sandbox) - timedelta(seconds=5)
    customer = new_customer(qb, "Changing Chris")
    kept = new_invoice(qb, customer, [sales_line("1", "10.00")])
    gone = new_invoice(qb, customer, [sales_line("1", "20.00")])
    Invoice.get(gone.Id, qb=qb).delete(qb=qb)
    # python-quickbooks sends the time without a zone; the emulator reads it as UTC.
    result = change_data_capture([Customer, Invoice], since.replace(tzinfo=None), qb=qb)
    assert [c.DisplayName for c in result.Customer] == ["Changing Chris"]
    by_id = {invoice.Id: invoice for invoice in result.Invoice}
    assert by_id[kept.Id].TotalAmt == Decimal("10.00")
    deleted = by_id[gone.Id]
    assert deleted.status == "Deleted"
    raw = qb.change_data_capture("Invoice,Customer", since.strftime("%Y-%m-%dT%H:%M:%S"))
    responses = raw["CDCResponse"][0]["QueryResponse"]
    stripped = next(obj for obj in responses[0]["Invoice"] if obj["Id"] == gone.Id)
    assert set(stripped) == {"Id", "status", "domain", "MetaData"}
    assert set(stripped["MetaData"]) == {"LastUpdatedTime"}
    assert responses[1]["maxResults"] == 1
    later = qb.change_data_capture(
        "Customer", (server_now(sandbox) + timedelta(seconds=5)).isoformat()
    )
    assert later["CDCResponse"][0]["QueryResponse"] == [{}]


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
        assert len(responses[0]["Customer"]) + len(responses[1].get("Item", [])) == 3


def test_cdc_refuses_windows_older_than_30_days_and_tax_entities(qb, sandbox):
    too_old = server_now(sandbox) - timedelta(days=31)
    with pytest.raises(QuickbooksException) as raised:
        qb.change_data_capture("Customer", too_old.isoformat())
    assert raised.value.error_code == 6000
    assert "30 days" in raised.value.detail
    with pytest.raises(UnsupportedException):
        qb.change_data_capture("TaxCode", server_now(sandbox).isoformat())


def test_clock_jump_expires_tokens_rotates_refresh_token_and_ages_out_cdc(qb, sandbox):
    customer = new_customer(qb, "Time Traveller")
    admin(sandbox, "POST", "/clock", json={"advance_seconds": 35 * 86400})
    with pytest.raises(AuthorizationException):
        Customer.get(customer.Id, qb=qb)  # access token older than an hour
    client = connect(sandbox)
    rotated = client.auth_client.refresh_token
    assert rotated != demo_company.REFRESH_TOKEN  # older than a day: a new value
    with pytest.raises(AuthClientError) as raised:
        connect(sandbox)  # the old value stopped working
    assert raised.value.status_code == 400
    assert connect(sandbox, refresh_token=rotated).auth_client.access_token
    old = datetime.fromisoformat(customer.MetaData["LastUpdatedTime"])
    with pytest.raises(QuickbooksException) as raised:
        client.change_data_capture("Customer", old.isoformat())
    assert raised.value.error_code == 6000


# ---------------------------------------------------------------- idempotency, log
def test_repeated_requestid_returns_the_first_answer_and_writes_nothing(qb, sandbox):
    first = Customer()
    first.DisplayName = "Retry Rachel"
    saved = first.save(qb=qb, request_id="req-0001")
    again = Customer()
    again.DisplayName = "Retry Rachel"
    replayed = again.save(qb=qb, request_id="req-0001")
    assert replayed.Id == saved.Id
    assert replayed.MetaData == saved.MetaData
    customers = admin(sandbox, "GET", f"/realms/{sandbox.realm_id}/objects/Customer").json()
    assert [c["DisplayName"] for c in customers] == ["Retry Rachel"]
    log = admin(sandbox, "GET", f"/realms/{sandbox.realm_id}/requests").json()
    creates = [entry for entry in log if entry["request_id"] == "req-0001"]
    assert [(e["operation"], e["entity"], e["status"], e["replayed"]) for e in creates] == [
        ("create", "Customer", 200, False),
        ("create", "Customer", 200, True),
    ]


def test_request_log_records_faults_and_can_be_cleared(qb, sandbox):
    with pytest.raises(ObjectNotFoundException):
        Customer.get("404", qb=qb)
    path = f"/realms/{sandbox.realm_id}/requests"
    log = admin(sandbox, "GET", path).json()
    assert log[0]["operation"] == "token"
    assert (log[-1]["operation"], log[-1]["status"], log[-1]["fault_code"]) == ("read", 400, "610")
    admin(sandbox, "DELETE", path)
    assert admin(sandbox, "GET", path).json() == []


# ---------------------------------------------------------------- auth and realms
def test_api_call_without_a_valid_token_answers_401_fault_3200(qb, sandbox):
    url = f"{sandbox.base_url}/v3/company/{sandbox.realm_id}/customer/1?minorversion=75"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = requests.get(url, headers={"Accept": "application/json", **headers}, timeout=10)
        assert response.status_code == 401
        assert response.json()["Fault"]["Error"][0]["code"] == "3200"
    qb.session.access_token = "bogus"
    with pytest.raises(AuthorizationException) as raised:
        Customer.get("1", qb=qb)
    assert raised.value.error_code == 401


def test_invalid_refresh_token_answers_invalid_grant(sandbox):
    auth = AuthClient(
        sandbox.client_id,
        sandbox.client_secret,
        sandbox.redirect_uri,
        environment=sandbox.discovery_url,
    )
    with pytest.raises(AuthClientError) as raised:
        auth.refresh(refresh_token="no-such-token")
    assert raised.value.status_code == 400
    assert raised.value.response.json() == {"error": "invalid_grant"}
    wrong_secret = AuthClient(
        sandbox.client_id, "wrong", sandbox.redirect_uri, environment=sandbox.discovery_url
    )
    with pytest.raises(AuthClientError) as raised:
        wrong_secret.refresh(refresh_token=sandbox.refresh_token)
    assert raised.value.status_code == 401


def test_token_endpoint_answers_intuit_shaped_tokens(sandbox):
    auth = AuthClient(
        sandbox.client_id,
        sandbox.client_secret,
        sandbox.redirect_uri,
        environment=sandbox.discovery_url,
    )
    auth.refresh(refresh_token=sandbox.refresh_token)
    assert auth.expires_in == 3600
    assert auth.refresh_token == demo_company.REFRESH_TOKEN
    assert auth.x_refresh_token_expires_in == 100 * 86400


def test_authorization_code_flow_connects_a_company(sandbox):
    auth = AuthClient(
        sandbox.client_id,
        sandbox.client_secret,
        sandbox.redirect_uri,
        environment=sandbox.discovery_url,
    )
    response = requests.get(
        auth.auth_endpoint,
        params={
            "client_id": sandbox.client_id,
            "redirect_uri": sandbox.redirect_uri,
            "state": "xyz",
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302
    query = parse_qs(urlparse(response.headers["location"]).query)
    assert query["state"] == ["xyz"] and query["realmId"] == [sandbox.realm_id]
    auth.get_bearer_token(query["code"][0], realm_id=query["realmId"][0])
    assert auth.access_token and auth.refresh_token
    with pytest.raises(AuthClientError):
        auth.get_bearer_token(query["code"][0])  # a code works once


def test_two_realms_are_isolated(qb, sandbox):
    created = admin(sandbox, "POST", "/realms", json={"demo": True}).json()
    other = connect(sandbox, realm_id=created["realm_id"], refresh_token=created["refresh_token"])
    assert created["realm_id"] != sandbox.realm_id
    mine = new_customer(qb, "Only In A")
    theirs = new_customer(other, "Only In B")
    assert mine.Id == theirs.Id == "1"  # Ids are per company
    assert [c.DisplayName for c in Customer.all(qb=qb)] == ["Only In A"]
    assert [c.DisplayName for c in Customer.all(qb=other)] == ["Only In B"]
    assert new_customer(other, "Only In A").Id == "2"  # names are per company too
    # A token for company A does not open company B.
    cross = connect(sandbox)
    cross.company_id = created["realm_id"]
    with pytest.raises(AuthorizationException):
        Customer.all(qb=cross)
    blank = admin(
        sandbox, "POST", "/realms", json={"demo": False, "company_name": "Blank Co"}
    ).json()
    blank_client = connect(
        sandbox, realm_id=blank["realm_id"], refresh_token=blank["refresh_token"]
    )
    assert Item.all(qb=blank_client) == []
    assert CompanyInfo.get(blank["realm_id"], qb=blank_client).CompanyName == "Blank Co"


# ---------------------------------------------------------------- batch, throttle, restart, TLS
def test_batch_runs_items_independently(qb, sandbox):
    existing = new_customer(qb, "Batch Existing")
    first, duplicate = Customer(), Customer()
    first.DisplayName = "Batch New"
    duplicate.DisplayName = "Batch Existing"
    result = batch_create([first, duplicate], qb=qb)
    assert [c.DisplayName for c in result.successes] == ["Batch New"]
    assert [f.Error[0].code for f in result.faults] == ["6240"]
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
    answer = qb.batch_operation(json.dumps(body))["BatchItemResponse"]
    assert len(answer[0]["QueryResponse"]["Customer"]) == 2
    assert answer[1]["Invoice"]["TotalAmt"] == Decimal("0.00")
    assert answer[2]["Fault"]["Error"][0]["code"] == "610"
    too_many = {
        "BatchItemRequest": [{"bId": str(i), "Query": "select * from Item"} for i in range(31)]
    }
    with pytest.raises(QuickbooksException) as raised:
        qb.batch_operation(json.dumps(too_many))
    assert raised.value.error_code == 1040


def test_throttled_request_answers_429_with_an_xml_body(tmp_path):
    with running_sandbox(tmp_path / "throttle.sqlite3", requests_per_minute=2) as handle:
        client = connect(handle)
        Item.all(qb=client)
        Item.all(qb=client)
        with pytest.raises(QuickbooksException) as raised:
            Item.all(qb=client)
        assert raised.value.error_code == 10000
        assert "ThrottleExceeded" in raised.value.message


def test_state_and_clock_survive_a_restart(tmp_path):
    db = tmp_path / "persist.sqlite3"
    with running_sandbox(db) as handle:
        new_customer(connect(handle), "Persistent Pete")
        admin(handle, "POST", "/clock", json={"offset_seconds": 3600})
    with running_sandbox(db) as handle:
        assert [c.DisplayName for c in Customer.all(qb=connect(handle))] == ["Persistent Pete"]
        assert admin(handle, "GET", "/clock").json()["offset_seconds"] == 3600


@pytest.mark.skipif(not tls_available(), reason="trustme is not installed")
def test_tls_mode_serves_https_without_the_insecure_transport_switch(tmp_path, monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT")
    with running_sandbox(tmp_path / "tls.sqlite3", tls=True) as handle:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", handle.ca_path)
        assert handle.base_url.startswith("https://")
        client = connect(handle)
        assert new_customer(client, "Secure Sue").Id == "1"


def test_requestid_is_forgotten_after_its_lifetime(qb, sandbox):
    first = Customer()
    first.DisplayName = "Early Bird"
    saved = first.save(qb=qb, request_id="req-ttl")
    admin(sandbox, "POST", "/clock", json={"advance_seconds": 1800})
    second = Customer()
    second.DisplayName = "Late Bird"
    assert second.save(qb=qb, request_id="req-ttl").Id == saved.Id  # still remembered
    with running_sandbox(
        Path(sandbox.db_path).with_name("ttl.sqlite3"), request_id_ttl_seconds=60
    ) as short:
        client = connect(short)
        one = Customer()
        one.DisplayName = "Early Bird"
        kept = one.save(qb=client, request_id="req-ttl")
        admin(short, "POST", "/clock", json={"advance_seconds": 120})
        client = connect(short)  # fresh access token on the same day
        two = Customer()
        two.DisplayName = "Late Bird"
        assert two.save(qb=client, request_id="req-ttl").Id != kept.Id


def test_concurrent_writers_get_distinct_ids(sandbox):
    def create_five(worker: int) -> list[str]:
        client = connect(sandbox)
        return [new_customer(client, f"Worker {worker} #{n}").Id for n in range(5)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = [customer_id for batch in pool.map(create_five, range(6)) for customer_id in batch]
    assert sorted(ids, key=int) == [str(n) for n in range(1, 31)]
