"""The demo company: fixed realm, fixed refresh token and deterministic Ids callers can import.

Objects are created in the order listed, so every demo realm gets the same Ids.
"""

from decimal import Decimal
from typing import Any

REALM_ID = "9130350000000001"
REFRESH_TOKEN = "demo-refresh-token"
COMPANY_NAME = "Demo Field Services"

ACCOUNT_IDS = {
    "Services": "1",
    "Sales of Product Income": "2",
    "Permits and Fees Income": "3",
    "Accounts Receivable (A/R)": "4",
    "Undeposited Funds": "5",
    "Checking": "6",
    "Cost of Goods Sold": "7",
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
    objects.append(
        (
            "TaxRate",
            {
                "Name": "Local Sales Tax",
                "Description": "Local Sales Tax",
                "RateValue": TAX_RATE_PERCENT,
                "SpecialTaxType": "NONE",
                "DisplayType": "ReadOnly",
            },
        )
    )
    objects.append(
        (
            "TaxCode",
            {
                "Name": "Local Sales Tax",
                "Description": "Local Sales Tax",
                "Taxable": True,
                "TaxGroup": False,
                "SalesTaxRateList": {
                    "TaxRateDetail": [
                        {
                            "TaxRateRef": {"value": TAX_RATE_ID, "name": "Local Sales Tax"},
                            "TaxTypeApplicable": "TaxOnAmount",
                            "TaxOrder": 0,
                        }
                    ]
                },
                "PurchaseTaxRateList": {"TaxRateDetail": []},
            },
        )
    )
    objects.append(("CompanyInfo", company_info(COMPANY_NAME)))
    return objects


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
