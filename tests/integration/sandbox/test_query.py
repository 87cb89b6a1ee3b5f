"""The query endpoint: paging, escaping, COUNT, malformed input (4000), every entity."""

import pytest
from quickbooks.exceptions import ValidationException
from quickbooks.objects.customer import Customer
from quickbooks.objects.trackingclass import Class

from .helpers import api_get, new_customer, new_invoice, sales_line


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


def test_malformed_query_answers_4000_saying_where(qb):
    for text in (
        "SELECT * FROM Customer WHERE DisplayName = 'unterminated",
        "SELECT * FROM Customer WHERE Id = '1' OR Id = '2'",
        "SELECT Id, FROM Customer",
    ):
        with pytest.raises(ValidationException) as raised:
            qb.query(text)
        assert raised.value.error_code == 4000
        assert "column" in raised.value.detail


def test_query_by_get_with_query_parameter(qb, company):
    response = api_get(qb, company.handle, "query", query="select count(*) from Item")
    assert response.status_code == 200
    assert response.json()["QueryResponse"] == {"totalCount": 6}


def test_filters_compare_numbers_times_and_references(qb):
    customer = new_customer(qb, "Filter Fay")
    other = new_customer(qb, "Filter Finn")
    for amount in ("10.00", "25.00", "99.00"):
        new_invoice(qb, customer, [sales_line("1", amount)], tax_code=None)
    new_invoice(qb, other, [sales_line("1", "50.00")], tax_code=None)
    mine = qb.query(
        f"select * from Invoice where CustomerRef = '{customer.Id}' and TotalAmt >= 25 "
        "orderby TotalAmt desc"
    )["QueryResponse"]["Invoice"]
    assert [i["TotalAmt"] for i in mine] == [99, 25]
    stamp = mine[0]["MetaData"]["CreateTime"]
    assert (
        len(
            qb.query(f"select * from Invoice where MetaData.LastUpdatedTime >= '{stamp}'")[
                "QueryResponse"
            ].get("Invoice", [])
        )
        >= 1
    )
    numbers = qb.query("select * from Invoice where DocNumber in ('1001', '1004')")
    assert [i["DocNumber"] for i in numbers["QueryResponse"]["Invoice"]] == ["1001", "1004"]


def test_maxresults_is_capped_at_1000_and_defaults_to_100(qb):
    raw = qb.query("select * from Class maxresults 5000")["QueryResponse"]
    assert raw["maxResults"] == 5
    assert len(Class.where("Name LIKE '%'", qb=qb)) == 5


@pytest.mark.parametrize(
    "entity",
    [
        "Account",
        "Item",
        "Class",
        "Department",
        "PaymentMethod",
        "TaxCode",
        "TaxRate",
        "Customer",
        "Vendor",
        "Invoice",
        "Payment",
        "CreditMemo",
        "RefundReceipt",
        "Deposit",
        "Purchase",
        "Bill",
        "BillPayment",
        "CompanyInfo",
    ],
)
def test_every_entity_answers_a_count_query(qb, entity):
    assert "totalCount" in qb.query(f"select count(*) from {entity}")["QueryResponse"]


def test_unknown_entity_in_a_query_is_refused(qb):
    with pytest.raises(ValidationException) as raised:
        qb.query("select * from Spaceship")
    assert raised.value.error_code == 4001
