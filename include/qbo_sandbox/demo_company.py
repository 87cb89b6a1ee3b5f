"""The demo company: fixed realm, fixed refresh token and deterministic Ids callers can import.

A field-service business: service items that match the reference operations DB, classes for
the trades, departments for the branches, two sales tax codes, payment methods, income,
cost and expense accounts, a credit card and A/P. Objects are created in the order listed,
so every demo realm gets the same Ids; objects added in later versions come after the first
ones, so earlier Ids never move.

Also the empty-company fixture's fixed realm and refresh token.
"""

from decimal import Decimal
from typing import Any

REALM_ID = "9130350000000001"
REFRESH_TOKEN = "demo-refresh-token"
COMPANY_NAME = "Demo Field Services"
# `--company empty`: a company with nothing but its CompanyInfo.
EMPTY_REALM_ID = "9130350000000000"
EMPTY_REFRESH_TOKEN = "empty-refresh-token"
EMPTY_COMPANY_NAME = "Sandbox Company"

ACCOUNT_IDS = {
    "Services": "1",
    "Sales of Product Income": "2",
    "Permits and Fees Income": "3",
    "Accounts Receivable (A/R)": "4",
    "Undeposited Funds": "5",
    "Checking": "6",
    "Cost of Goods Sold": "7",
    "Materials": "8",
    "Subcontractors": "9",
    "Permits": "10",
    "Equipment Rental": "11",
    "Accounts Payable (A/P)": "12",
    "Business Credit Card": "13",
    "Sales Tax Payable": "14",
    "Retained Earnings": "15",
}
ITEM_IDS = {
    "Plumbing Service": "1",
    "HVAC Service": "2",
    "Electrical Service": "3",
    "Materials": "4",
    "Permit Fee": "5",
    "Trip Charge": "6",
}
TAX_RATE_ID = "1"
TAX_CODE_ID = "1"
TAX_RATE_PERCENT = Decimal("8.25")
# The second rate and code (a regional rate, 9.975 %).
SECOND_TAX_RATE_ID = "2"
SECOND_TAX_CODE_ID = "2"
SECOND_TAX_RATE_PERCENT = Decimal("9.975")
TAX_CODE_IDS = {"Local Sales Tax": TAX_CODE_ID, "Regional Sales Tax": SECOND_TAX_CODE_ID}
TAX_RATE_IDS = {"Local Sales Tax": TAX_RATE_ID, "Regional Sales Tax": SECOND_TAX_RATE_ID}
# Classes are the trades, departments the branches.
CLASS_IDS = {
    "Plumbing": "1",
    "HVAC": "2",
    "Electrical": "3",
    "General Contracting": "4",
    "Roofing": "5",
}
DEPARTMENT_IDS = {"North": "1", "South": "2"}
# (name, Type) in Id order; the operations DB records check, card, ach and cash.
PAYMENT_METHODS = [
    ("Cash", "NON_CREDIT_CARD"),
    ("Check", "NON_CREDIT_CARD"),
    ("Credit Card", "CREDIT_CARD"),
    ("ACH", "NON_CREDIT_CARD"),
]
PAYMENT_METHOD_IDS = {name: str(n) for n, (name, _) in enumerate(PAYMENT_METHODS, 1)}
LINE_TAX_CODES = ("TAX", "NON")
COMPANY_INFO_ID = "1"

# (name, AccountType, AccountSubType), in Id order.
ACCOUNTS = [
    ("Services", "Income", "ServiceFeeIncome"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("Permits and Fees Income", "Income", "OtherPrimaryIncome"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("Checking", "Bank", "Checking"),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
    ("Materials", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
    ("Subcontractors", "Cost of Goods Sold", "CostOfLaborCos"),
    ("Permits", "Expense", "OtherMiscellaneousServiceCost"),
    ("Equipment Rental", "Expense", "EquipmentRental"),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable"),
    ("Business Credit Card", "Credit Card", "CreditCard"),
    ("Sales Tax Payable", "Other Current Liability", "SalesTaxPayable"),
    ("Retained Earnings", "Equity", "RetainedEarnings"),
]
# (name, Type, income account name, expense account name or None), in Id order.
ITEMS = [
    ("Plumbing Service", "Service", "Services", None),
    ("HVAC Service", "Service", "Services", None),
    ("Electrical Service", "Service", "Services", None),
    ("Materials", "NonInventory", "Sales of Product Income", "Cost of Goods Sold"),
    ("Permit Fee", "Service", "Permits and Fees Income", None),
    ("Trip Charge", "Service", "Services", None),
]


def demo_objects() -> list[tuple[str, dict[str, Any]]]:
    """Every demo object as (entity, body), in creation order."""
    objects: list[tuple[str, dict[str, Any]]] = []
    for name, account_type, sub_type in ACCOUNTS:
        objects.append(
            ("Account", {"Name": name, "AccountType": account_type, "AccountSubType": sub_type})
        )
    for name, item_type, income, expense in ITEMS:
        body: dict[str, Any] = {
            "Name": name,
            "Type": item_type,
            "IncomeAccountRef": {"value": ACCOUNT_IDS[income], "name": income},
        }
        if expense is not None:
            body["ExpenseAccountRef"] = {"value": ACCOUNT_IDS[expense], "name": expense}
        objects.append(("Item", body))
    objects.append(("TaxRate", _tax_rate("Local Sales Tax", TAX_RATE_PERCENT)))
    objects.append(("TaxCode", _tax_code("Local Sales Tax", TAX_RATE_ID)))
    objects.append(("CompanyInfo", company_info(COMPANY_NAME)))
    # Added with the field-service fixture (after the first objects, so their Ids hold).
    objects.append(("TaxRate", _tax_rate("Regional Sales Tax", SECOND_TAX_RATE_PERCENT)))
    objects.append(("TaxCode", _tax_code("Regional Sales Tax", SECOND_TAX_RATE_ID)))
    objects.extend(("Class", {"Name": name}) for name in CLASS_IDS)
    objects.extend(("Department", {"Name": name}) for name in DEPARTMENT_IDS)
    objects.extend(
        ("PaymentMethod", {"Name": name, "Type": kind}) for name, kind in PAYMENT_METHODS
    )
    return objects


def _tax_rate(name: str, percent: Decimal) -> dict[str, Any]:
    """A sales tax rate as QuickBooks shows it."""
    return {
        "Name": name,
        "Description": name,
        "RateValue": percent,
        "SpecialTaxType": "NONE",
        "DisplayType": "ReadOnly",
    }


def _tax_code(name: str, rate_id: str) -> dict[str, Any]:
    """A taxable sales tax code applying one rate."""
    return {
        "Name": name,
        "Description": name,
        "Taxable": True,
        "TaxGroup": False,
        "SalesTaxRateList": {
            "TaxRateDetail": [
                {
                    "TaxRateRef": {"value": rate_id, "name": name},
                    "TaxTypeApplicable": "TaxOnAmount",
                    "TaxOrder": 0,
                }
            ]
        },
        "PurchaseTaxRateList": {"TaxRateDetail": []},
    }


def company_info(name: str) -> dict[str, Any]:
    """A CompanyInfo body for a company of this name."""
    return {
        "CompanyName": name,
        "LegalName": name,
        "CompanyAddr": {
            "Line1": "100 Demo Way",
            "City": "Mountain View",
            "CountrySubDivisionCode": "CA",
            "PostalCode": "94043",
            "Country": "US",
        },
        "Country": "US",
        "FiscalYearStartMonth": "January",
        "SupportedLanguages": "en",
        "NameValue": [{"Name": "QBOIndustryType", "Value": "Construction Trades"}],
    }
