"""List entities: the demo company, customers and jobs, vendors, accounts, items, classes,
departments and payment methods; names unique, lists made inactive instead of deleted."""

import json
from decimal import Decimal

import pytest
from quickbooks.exceptions import QuickbooksException, UnsupportedException, ValidationException
from quickbooks.objects.account import Account
from quickbooks.objects.company_info import CompanyInfo
from quickbooks.objects.customer import Customer
from quickbooks.objects.department import Department
from quickbooks.objects.item import Item
from quickbooks.objects.paymentmethod import PaymentMethod
from quickbooks.objects.taxcode import TaxCode
from quickbooks.objects.trackingclass import Class
from quickbooks.objects.vendor import Vendor

from qbo_sandbox import demo_company

from .helpers import new_customer


def new_vendor(qb, name: str, **fields) -> Vendor:
    vendor = Vendor()
    vendor.DisplayName = name
    for key, value in fields.items():
        setattr(vendor, key, value)
    return vendor.save(qb=qb)


def test_demo_company_has_the_documented_ids(qb):
    accounts = {a.Name: a for a in Account.all(qb=qb, max_results=1000)}
    assert {name: a.Id for name, a in accounts.items()} == demo_company.ACCOUNT_IDS
    assert (accounts["Undeposited Funds"].AccountType, accounts["Checking"].AccountType) == (
        "Other Current Asset",
        "Bank",
    )
    assert accounts["Business Credit Card"].Classification == "Liability"
    assert accounts["Equipment Rental"].AccountSubType == "EquipmentRental"
    items = {i.Name: i for i in Item.all(qb=qb)}
    assert {name: item.Id for name, item in items.items()} == demo_company.ITEM_IDS
    assert items["Materials"].ExpenseAccountRef.value == "7"
    assert {c.Name: c.Id for c in Class.all(qb=qb)} == demo_company.CLASS_IDS
    assert {d.Name: d.Id for d in Department.all(qb=qb)} == demo_company.DEPARTMENT_IDS
    methods = {m.Name: m for m in PaymentMethod.all(qb=qb)}
    assert {name: m.Id for name, m in methods.items()} == demo_company.PAYMENT_METHOD_IDS
    assert methods["Credit Card"].Type == "CREDIT_CARD"
    codes = {c.Name: c for c in TaxCode.all(qb=qb)}
    assert {name: c.Id for name, c in codes.items()} == demo_company.TAX_CODE_IDS
    regional = codes["Regional Sales Tax"].SalesTaxRateList.TaxRateDetail[0].TaxRateRef.value
    rate = qb.get_single_object("TaxRate", regional)["TaxRate"]
    assert rate["RateValue"] == demo_company.SECOND_TAX_RATE_PERCENT == Decimal("9.975")
    assert CompanyInfo.get(qb.company_id, qb=qb).CompanyName == "Demo Field Services"


def test_job_sub_customer_gets_parent_colon_child_name(qb):
    parent = new_customer(qb, "Smith Family")
    job = Customer()
    job.DisplayName = "Kitchen Remodel"
    job.ParentRef = parent.to_ref()
    job.BillWithParent = True
    job = job.save(qb=qb)
    assert (job.Job, job.BillWithParent, job.Level) == (True, True, 1)
    assert job.FullyQualifiedName == "Smith Family:Kitchen Remodel"
    assert job.ParentRef.value == parent.Id
    top = Customer.get(parent.Id, qb=qb)
    assert (top.Job, top.Level, top.FullyQualifiedName) == (False, 0, "Smith Family")


def test_display_name_is_unique_across_customers_and_vendors_even_inactive(qb):
    first = new_customer(qb, "Duplicate Dan")
    with pytest.raises(QuickbooksException) as raised:
        new_customer(qb, "duplicate dan")
    assert raised.value.error_code == 6240
    with pytest.raises(QuickbooksException) as raised:
        new_vendor(qb, "Duplicate Dan")
    assert raised.value.error_code == 6240
    assert "Customer Id=" in raised.value.detail
    first.sparse = True
    first.Active = False
    first.save(qb=qb)
    with pytest.raises(QuickbooksException) as raised:
        new_vendor(qb, "Duplicate Dan")
    assert raised.value.error_code == 6240
    vendor = new_vendor(qb, "Ferguson Supply")
    with pytest.raises(QuickbooksException) as raised:
        new_customer(qb, "FERGUSON SUPPLY")
    assert raised.value.error_code == 6240
    renamed = Vendor.get(vendor.Id, qb=qb)
    renamed.DisplayName = "Ferguson Supply Co"
    assert renamed.save(qb=qb).SyncToken == "1"  # its own name is no conflict


def test_a_customer_or_vendor_needs_a_name(qb):
    with pytest.raises(QuickbooksException) as raised:
        Customer().save(qb=qb)
    assert raised.value.error_code == 6080
    derived = Vendor()
    derived.GivenName, derived.FamilyName = "Pat", "Plumber"
    assert derived.save(qb=qb).DisplayName == "Pat Plumber"


def test_lists_cannot_be_deleted_only_made_inactive(qb):
    customer = new_customer(qb, "Short Lived")
    for entity, object_id in (("Customer", customer.Id), ("Class", "1"), ("Account", "11")):
        with pytest.raises(UnsupportedException):
            qb.delete_object(entity, json.dumps({"Id": object_id, "SyncToken": "0"}))
    customer.sparse = True
    customer.Active = False
    assert customer.save(qb=qb).Active is False
    assert Customer.filter(DisplayName="Short Lived", qb=qb) == []
    assert len(Customer.where("Active = false", qb=qb)) == 1
    assert Customer.get(customer.Id, qb=qb).Active is False
    roofing = Class.get(demo_company.CLASS_IDS["Roofing"], qb=qb)
    roofing.Active = False
    roofing.save(qb=qb)
    assert "Roofing" not in {c.Name for c in Class.all(qb=qb)}
    assert len(Class.where("Active IN (true, false)", qb=qb)) == 5


def test_classes_and_departments_nest_with_full_names(qb):
    north = Department.get(demo_company.DEPARTMENT_IDS["North"], qb=qb)
    east = Department()
    east.Name = "North East"
    east.ParentRef = north.to_ref()
    east = east.save(qb=qb)
    assert (east.SubDepartment, east.FullyQualifiedName) == (True, "North:North East")
    solar = Class()
    solar.Name = "Solar"
    solar.ParentRef = Class.get("3", qb=qb).to_ref()
    assert solar.save(qb=qb).FullyQualifiedName == "Electrical:Solar"
    dup = Class()
    dup.Name = "hvac"
    with pytest.raises(QuickbooksException) as raised:
        dup.save(qb=qb)
    assert raised.value.error_code == 6240
    nameless = Department()
    with pytest.raises(ValidationException) as raised:
        nameless.save(qb=qb)
    assert raised.value.error_code == 2020


def test_payment_method_types(qb):
    method = PaymentMethod()
    method.Name = "Zelle"
    saved = method.save(qb=qb)
    assert (saved.Type, saved.Active) == ("NON_CREDIT_CARD", True)
    card = PaymentMethod()
    card.Name = "Amex"
    card.Type = "CREDIT_CARD"
    assert card.save(qb=qb).Type == "CREDIT_CARD"


def test_accounts_take_classification_from_type_and_refuse_bad_names(qb):
    account = Account()
    account.Name = "Fuel"
    account.AccountType = "Expense"
    account.AccountSubType = "Auto"
    saved = account.save(qb=qb)
    assert (saved.Classification, saved.SubAccount) == ("Expense", False)
    bad = Account()
    bad.Name = "Fuel: Diesel"
    bad.AccountType = "Expense"
    with pytest.raises(QuickbooksException) as raised:
        bad.save(qb=qb)
    assert raised.value.error_code == 2170
    untyped = Account()
    untyped.Name = "Mystery"
    with pytest.raises(QuickbooksException) as raised:
        untyped.save(qb=qb)
    assert raised.value.error_code == 6010


def test_item_names_are_unique_and_need_an_income_account(qb):
    item = Item()
    item.Name = "Drain Cleaning"
    item.Type = "Service"
    item.IncomeAccountRef = Account.get("1", qb=qb).to_ref()
    assert item.save(qb=qb).FullyQualifiedName == "Drain Cleaning"
    again = Item()
    again.Name = "drain cleaning"
    again.IncomeAccountRef = Account.get("1", qb=qb).to_ref()
    with pytest.raises(QuickbooksException) as raised:
        again.save(qb=qb)
    assert raised.value.error_code == 6240
    no_account = Item()
    no_account.Name = "Loose Item"
    with pytest.raises(ValidationException) as raised:
        no_account.save(qb=qb)
    assert raised.value.error_code == 2020


def test_tax_codes_are_read_only(qb):
    with pytest.raises(UnsupportedException):
        qb.create_object("TaxCode", json.dumps({"Name": "Mine"}))
