"""The `/_sandbox` admin API: accountant actions, companies, reset, export, clock."""

from decimal import Decimal

import pytest
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.account import Account
from quickbooks.objects.customer import Customer
from quickbooks.objects.deposit import Deposit
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.payment import Payment

from qbo_sandbox import demo_company

from .helpers import admin, admin_raw, connect, new_customer, new_invoice, sales_line


def act(company, action, **body):
    return company.admin("POST", f"/actions/{action}", json=body).json()


def test_accountant_records_a_check_and_deposits_it(qb, company):
    customer = new_customer(qb, "Check Writer")
    invoice = new_invoice(qb, customer, [sales_line("1", "150.00")], tax_code=None)
    paid = act(
        company, "receive_payment", invoice_id=invoice.Id, amount="100.00", check_number="4417"
    )
    payment = Payment.get(paid["Payment"]["Id"], qb=qb)
    assert (payment.TotalAmt, payment.PaymentRefNum) == (Decimal("100.00"), "4417")
    assert payment.PaymentMethodRef.value == demo_company.PAYMENT_METHOD_IDS["Check"]
    assert Invoice.get(invoice.Id, qb=qb).Balance == Decimal("50.00")
    rest = act(company, "receive_payment", invoice_id=invoice.Id)  # the open balance
    assert Decimal(str(rest["Payment"]["TotalAmt"])) == Decimal("50.00")
    deposit = act(company, "deposit")
    assert Decimal(str(deposit["Deposit"]["TotalAmt"])) == Decimal("150.00")
    assert (
        deposit["Deposit"]["DepositToAccountRef"]["value"] == demo_company.ACCOUNT_IDS["Checking"]
    )
    assert Deposit.get(deposit["Deposit"]["Id"], qb=qb).TotalAmt == Decimal("150.00")
    # The pipeline's copy of that payment is now stale and deposited.
    payment.TotalAmt = Decimal("99.00")
    payment.Line[0].Amount = Decimal("99.00")
    with pytest.raises(QuickbooksException) as raised:
        payment.save(qb=qb)
    assert raised.value.error_code == 6540
    nothing = admin_raw(company.handle, "POST", f"/realms/{company.realm_id}/actions/deposit")
    assert nothing.status_code == 400
    assert nothing.json()["Fault"]["Error"][0]["code"] == "6000"


def test_accountant_edits_invoice_lines_and_the_pipeline_sees_a_new_sync_token(qb, company):
    customer = new_customer(qb, "Edited Eve")
    invoice = new_invoice(qb, customer, [sales_line("1", "100.00", "TAX")])
    lines = [
        {
            "Amount": 120,
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "TaxCodeRef": {"value": "TAX"}},
        }
    ]
    edited = act(company, "edit_invoice", invoice_id=invoice.Id, lines=lines)["Invoice"]
    assert (Decimal(str(edited["TotalAmt"])), edited["SyncToken"]) == (Decimal("129.90"), "1")
    invoice.Line[0].Amount = Decimal("90.00")
    with pytest.raises(QuickbooksException) as raised:
        invoice.save(qb=qb)  # still at SyncToken 0
    assert raised.value.error_code == 5010


def test_accountant_voids_and_deletes_transactions(qb, company):
    customer = new_customer(qb, "Void Victor")
    first = new_invoice(qb, customer, [sales_line("1", "10.00")], tax_code=None)
    second = new_invoice(qb, customer, [sales_line("1", "20.00")], tax_code=None)
    act(company, "void", entity="Invoice", id=first.Id)
    assert Invoice.get(first.Id, qb=qb).TotalAmt == Decimal("0.00")
    act(company, "delete", entity="invoice", id=second.Id)
    assert [i.Id for i in Invoice.all(qb=qb)] == [first.Id]
    refused = admin_raw(
        company.handle,
        "POST",
        f"/realms/{company.realm_id}/actions/delete",
        json={"entity": "Customer", "id": customer.Id},
    )
    assert refused.status_code == 400


def test_accountant_renames_and_deactivates_accounts_and_items(qb, company):
    act(
        company,
        "rename",
        entity="Account",
        id=demo_company.ACCOUNT_IDS["Checking"],
        name="Operating",
    )
    assert Account.get(demo_company.ACCOUNT_IDS["Checking"], qb=qb).Name == "Operating"
    act(company, "deactivate", entity="Item", id=demo_company.ITEM_IDS["Trip Charge"])
    assert "Trip Charge" not in {i.Name for i in Item.all(qb=qb)}
    customer = new_customer(qb, "Inactive Item Buyer")
    with pytest.raises(QuickbooksException) as raised:
        new_invoice(qb, customer, [sales_line(demo_company.ITEM_IDS["Trip Charge"], "5.00")])
    assert raised.value.error_code == 6000
    act(company, "reactivate", entity="Item", id=demo_company.ITEM_IDS["Trip Charge"])
    assert "Trip Charge" in {i.Name for i in Item.all(qb=qb)}
    clash = admin_raw(
        company.handle,
        "POST",
        f"/realms/{company.realm_id}/actions/rename",
        json={"entity": "Item", "id": "1", "name": "HVAC Service"},
    )
    assert clash.json()["Fault"]["Error"][0]["code"] == "6240"


def test_accountant_creates_customers_and_vendors_directly(qb, company):
    made = act(company, "create_customer", DisplayName="Walk-in Wanda")["Customer"]
    assert Customer.get(made["Id"], qb=qb).DisplayName == "Walk-in Wanda"
    act(company, "create_vendor", DisplayName="Home Depot")
    clash = admin_raw(
        company.handle,
        "POST",
        f"/realms/{company.realm_id}/actions/create_vendor",
        json={"DisplayName": "Walk-in Wanda"},
    )
    assert clash.json()["Fault"]["Error"][0]["code"] == "6240"
    generic = act(company, "create", entity="Class", object={"Name": "Solar"})
    assert generic["Class"]["FullyQualifiedName"] == "Solar"
    assert "receive_payment" in admin(company.handle, "GET", "/actions").json()


def test_reset_returns_a_company_to_its_fixture_and_keeps_the_connection(qb, company):
    new_customer(qb, "Soon Gone")
    company.admin("POST", "/reset")
    assert Customer.all(qb=qb) == []  # same access token still works
    assert len(Item.all(qb=qb)) == 6
    assert new_customer(qb, "Fresh Start").Id == "1"
    company.admin("POST", "/reset", json={"fixture": "empty"})
    assert Item.all(qb=qb) == []


def test_export_returns_every_entity_with_statuses(qb, company):
    customer = new_customer(qb, "Exported Ed")
    gone = new_invoice(qb, customer, [sales_line("1", "10.00")], tax_code=None)
    gone.delete(qb=qb)
    exported = company.admin("GET", "/export").json()
    assert exported["realm_id"] == company.realm_id and exported["demo"] is True
    entities = exported["entities"]
    assert {"Account", "Class", "Deposit", "BillPayment", "CompanyInfo"} <= set(entities)
    assert [c["DisplayName"] for c in entities["Customer"]] == ["Exported Ed"]
    assert [i["status"] for i in entities["Invoice"]] == ["Deleted"]
    assert len(entities["Account"]) == len(demo_company.ACCOUNT_IDS)


def test_realms_are_isolated_and_blank_companies_are_empty(qb, company):
    mine = new_customer(qb, "Only In A")
    other = admin(company.handle, "POST", "/realms", json={"demo": True}).json()
    theirs = new_customer(connect(company.handle, other["realm_id"], other["refresh_token"]), "B")
    assert mine.Id == theirs.Id == "1"  # Ids are per company
    blank = admin(
        company.handle, "POST", "/realms", json={"demo": False, "company_name": "Blank Co"}
    ).json()
    client = connect(company.handle, blank["realm_id"], blank["refresh_token"])
    assert Item.all(qb=client) == []
    assert (
        client.query("select * from CompanyInfo")["QueryResponse"]["CompanyInfo"][0]["CompanyName"]
        == "Blank Co"
    )
    realms = {r["realm_id"] for r in admin(company.handle, "GET", "/realms").json()}
    assert {company.realm_id, other["realm_id"], blank["realm_id"]} <= realms
    taken = admin_raw(company.handle, "POST", "/realms", json={"realm_id": company.realm_id})
    assert taken.status_code == 409


def test_unknown_realm_and_action_answer_404(company):
    assert admin_raw(company.handle, "GET", "/realms/nope/export").status_code == 404
    assert (
        admin_raw(
            company.handle, "POST", f"/realms/{company.realm_id}/actions/teleport"
        ).status_code
        == 404
    )
