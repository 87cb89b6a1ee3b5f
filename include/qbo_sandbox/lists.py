"""Rules of QuickBooks' list entities: Customer (and jobs), Vendor, Account, Item, Class,
Department and PaymentMethod. Lists are never deleted, only made inactive; names are unique
(DisplayName across Customer, Vendor and Employee), active or not, ignoring case.
"""

from decimal import Decimal
from typing import Any

from qbo_sandbox.context import Ctx
from qbo_sandbox.faults import QboError, business, duplicate_name, required
from qbo_sandbox.money import ZERO, cents
from qbo_sandbox.references import check_ref, depth, full_name, ref_value
from qbo_sandbox.store import Record

# Entities whose DisplayName shares one namespace (QBO_FACTS: Customer, Vendor, Employee).
NAME_SHARING = ("Customer", "Vendor", "Employee")
DISPLAY_NAME_MAX = 500
USD = {"value": "USD", "name": "United States Dollar"}
# Documents whose open amount makes up a customer's (A/R) or vendor's (A/P) balance.
RECEIVABLE_DOCS = ("Invoice", "CreditMemo", "Payment")
PAYABLE_DOCS = ("Bill", "BillPayment")

CLASSIFICATIONS = {
    "Bank": "Asset",
    "Accounts Receivable": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Other Current Liability": "Liability",
    "Long Term Liability": "Liability",
    "Equity": "Equity",
    "Income": "Revenue",
    "Other Income": "Revenue",
    "Cost of Goods Sold": "Expense",
    "Expense": "Expense",
    "Other Expense": "Expense",
}
ITEM_TYPES = ("Service", "NonInventory", "Inventory")
PAYMENT_METHOD_TYPES = ("CREDIT_CARD", "NON_CREDIT_CARD")


def name_key(entity: str, name: str) -> str:
    """The unique key of a list object's name (Customer and Vendor share one namespace)."""
    namespace = "party" if entity in NAME_SHARING else entity
    return f"name:{namespace}:{name.strip().casefold()}"


def active_default(body: dict[str, Any]) -> None:
    """Active defaults to true; only an explicit false makes an object inactive."""
    body["Active"] = body.get("Active") is not False


def unique_name(ctx: Ctx, entity: str, name: str, existing: Record | None, what: str) -> None:
    """6240 unless no other object in the name's namespace (active or not) has it."""
    for other_entity, other_id in ctx.store.find_unique(ctx.realm, name_key(entity, name)):
        if existing is not None and (other_entity, other_id) == (existing.entity, existing.id):
            continue
        raise duplicate_name(
            f"Another {what} is already using this name. Please use a different name. "
            f"({other_entity} Id={other_id})"
        )


def no_cycle(ctx: Ctx, body: dict[str, Any], existing: Record | None, entity: str) -> None:
    """A parent cannot be the object itself or one of its descendants."""
    if existing is None:
        return
    parent_id = ref_value(body.get("ParentRef"))
    seen = set()
    while parent_id is not None and parent_id not in seen:
        if parent_id == existing.id:
            raise QboError("900", "Parent cannot be child", "An object cannot be its own parent.")
        seen.add(parent_id)
        parent = ctx.store.get_object(ctx.realm, entity, parent_id)
        parent_id = ref_value(parent.body.get("ParentRef")) if parent else None


def _required_name(body: dict[str, Any]) -> str:
    """The `Name` of a list object, stripped; 2020 when missing."""
    name = str(body.get("Name") or "").strip()
    if not name:
        raise required("Name")
    if ":" in name or '"' in name:
        raise QboError(
            "2170",
            "Invalid Name",
            f'Name cannot contain a colon (:) or a double quote ("). Supplied value:{name}',
            element="Name",
        )
    return name


# ---------------------------------------------------------------- people
def _display_name(body: dict[str, Any]) -> str:
    """DisplayName, derived from the name parts when absent; 6080 when there is none."""
    display = str(body.get("DisplayName") or "").strip()
    if not display:
        parts = (
            str(body.get(k) or "").strip()
            for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
        )
        display = " ".join(part for part in parts if part)
    if not display:
        raise QboError(
            "6080",
            "No Name Provided",
            "Title, GivenName, MiddleName, FamilyName, DisplayName, Suffix - one of these "
            "must be non-empty",
            element="DisplayName",
        )
    if len(display) > DISPLAY_NAME_MAX:
        raise QboError(
            "2050",
            "String length specified does not match the supported length",
            f"Min:1, Max:{DISPLAY_NAME_MAX} supported. Supplied length:{len(display)}",
            element="DisplayName",
        )
    return display


def _prepare_party(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, entity: str
) -> dict[str, Any]:
    """What Customer and Vendor share: DisplayName rules, PrintOnCheckName, Active."""
    for key in ("FullyQualifiedName", "Balance", "BalanceWithJobs", "Level"):
        body.pop(key, None)
    display = _display_name(body)
    body["DisplayName"] = display
    unique_name(ctx, entity, display, existing, "customer, vendor or employee")
    if not str(body.get("PrintOnCheckName") or "").strip():
        body["PrintOnCheckName"] = display
    active_default(body)
    body.setdefault("CurrencyRef", USD)
    return body


def prepare_customer(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """DisplayName unique across customers and vendors; a job sits under a parent."""
    _prepare_party(ctx, body, existing, "Customer")
    parent = check_ref(ctx, body, "ParentRef", "Customer", "ParentRef", must=False)
    no_cycle(ctx, body, existing, "Customer")
    body["Job"] = parent is not None
    body["BillWithParent"] = parent is not None and body.get("BillWithParent") is True
    return body


def decorate_customer(ctx: Ctx, record: Record, obj: dict[str, Any]) -> None:
    """Read-time figures: FullyQualifiedName, Level, Balance and BalanceWithJobs (A/R)."""
    obj["FullyQualifiedName"] = full_name(ctx, record)
    obj["Level"] = depth(ctx, record)
    own = ctx.store.open_amounts(ctx.realm, [record.id], RECEIVABLE_DOCS)
    jobs = ctx.store.descendants(ctx.realm, "Customer", record.id)
    with_jobs = own + ctx.store.open_amounts(ctx.realm, jobs, RECEIVABLE_DOCS) if jobs else own
    obj["Balance"] = cents(own)
    obj["BalanceWithJobs"] = cents(with_jobs)


def prepare_vendor(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """DisplayName unique across customers and vendors."""
    _prepare_party(ctx, body, existing, "Vendor")
    body["Vendor1099"] = body.get("Vendor1099") is True
    check_ref(ctx, body, "APAccountRef", "Account", "APAccountRef", must=False)
    return body


def decorate_vendor(ctx: Ctx, record: Record, obj: dict[str, Any]) -> None:
    """Read-time Balance: what the company owes the vendor on open bills (A/P)."""
    obj["Balance"] = cents(ctx.store.open_amounts(ctx.realm, [record.id], PAYABLE_DOCS))


# ---------------------------------------------------------------- Account
def prepare_account(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Name required and unique; Classification follows AccountType."""
    for key in (
        "FullyQualifiedName",
        "CurrentBalance",
        "CurrentBalanceWithSubAccounts",
        "Classification",
    ):
        body.pop(key, None)
    name = _required_name(body)
    body["Name"] = name
    account_type = body.get("AccountType")
    if not account_type:
        raise QboError(
            "6010",
            "Invalid Account.AccountType && Account.SubType",
            "Either an Account.AccountType or an Account.AccountSubType must be specified",
            element="AccountType",
        )
    if account_type not in CLASSIFICATIONS:
        raise QboError(
            "2170", "Invalid Enumeration", f"Invalid Enumeration : {account_type}", "AccountType"
        )
    if existing is not None and existing.body.get("AccountType") != account_type:
        system = existing.body.get("AccountSubType") in SYSTEM_SUBTYPES
        if system:
            raise business(
                f"The type of the system account {existing.body.get('Name')!r} cannot change.",
                "AccountType",
            )
    body["Classification"] = CLASSIFICATIONS[account_type]
    unique_name(ctx, "Account", name, existing, "account")
    parent = check_ref(ctx, body, "ParentRef", "Account", "ParentRef", must=False)
    no_cycle(ctx, body, existing, "Account")
    body["SubAccount"] = parent is not None
    active_default(body)
    body.setdefault("CurrencyRef", USD)
    return body


# Accounts QuickBooks creates and relies on (ledger.py finds them by subtype).
SYSTEM_SUBTYPES = {
    "AccountsReceivable": ("Accounts Receivable (A/R)", "Accounts Receivable"),
    "AccountsPayable": ("Accounts Payable (A/P)", "Accounts Payable"),
    "UndepositedFunds": ("Undeposited Funds", "Other Current Asset"),
    "SalesTaxPayable": ("Sales Tax Payable", "Other Current Liability"),
    "RetainedEarnings": ("Retained Earnings", "Equity"),
}


def find_system_account(ctx: Ctx, subtype: str) -> Record | None:
    """The company's account of a system subtype (first active one), if it has one."""
    for account in ctx.store.list_objects(ctx.realm, "Account"):
        if (
            account.body.get("AccountSubType") == subtype
            and account.body.get("Active") is not False
        ):
            return account
    return None


def system_account(ctx: Ctx, subtype: str) -> Record:
    """The company's account of a system subtype, created the way QuickBooks does if missing."""
    found = find_system_account(ctx, subtype)
    if found is not None:
        return found
    from qbo_sandbox.operations import create_internal  # operations imports this module

    name, account_type = SYSTEM_SUBTYPES[subtype]
    return create_internal(
        ctx, "Account", {"Name": name, "AccountType": account_type, "AccountSubType": subtype}
    )


def decorate_account(ctx: Ctx, record: Record, obj: dict[str, Any]) -> None:
    """FullyQualifiedName, and CurrentBalance from the ledger for balance-sheet accounts."""
    from qbo_sandbox.ledger import account_balances  # ledger reads the entity registry

    obj["FullyQualifiedName"] = full_name(ctx, record)
    classification = record.body.get("Classification")
    if classification in ("Revenue", "Expense"):
        # QuickBooks shows no running balance on income and expense accounts.
        obj["CurrentBalance"] = ZERO
        obj["CurrentBalanceWithSubAccounts"] = ZERO
        return
    balances = account_balances(ctx)
    sign = Decimal(1) if classification == "Asset" else Decimal(-1)
    own = balances.get(record.id, ZERO) * sign
    below = ctx.store.descendants(ctx.realm, "Account", record.id)
    total = own + sum((balances.get(i, ZERO) * sign for i in below), ZERO)
    obj["CurrentBalance"] = cents(own)
    obj["CurrentBalanceWithSubAccounts"] = cents(total)


# ---------------------------------------------------------------- Item
def prepare_item(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Name required and unique; sellable types need an income account."""
    for key in ("FullyQualifiedName", "Level"):
        body.pop(key, None)
    name = _required_name(body)
    body["Name"] = name
    item_type = body.get("Type") or "Service"
    if item_type not in ITEM_TYPES:
        raise business(
            f"Item Type {item_type!r} is not emulated; use one of {', '.join(ITEM_TYPES)}."
        )
    body["Type"] = item_type
    unique_name(ctx, "Item", name, existing, "product or service")
    check_ref(ctx, body, "IncomeAccountRef", "Account", "IncomeAccountRef")
    check_ref(ctx, body, "ExpenseAccountRef", "Account", "ExpenseAccountRef", must=False)
    check_ref(ctx, body, "ParentRef", "Item", "ParentRef", must=False)
    no_cycle(ctx, body, existing, "Item")
    active_default(body)
    return body


def decorate_named(ctx: Ctx, record: Record, obj: dict[str, Any]) -> None:
    """FullyQualifiedName from the ParentRef chain."""
    obj["FullyQualifiedName"] = full_name(ctx, record)


# ---------------------------------------------------------------- Class, Department
def _prepare_category(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, entity: str, sub_flag: str
) -> dict[str, Any]:
    """Class and Department: a unique Name, an optional parent, Active."""
    body.pop("FullyQualifiedName", None)
    name = _required_name(body)
    body["Name"] = name
    unique_name(ctx, entity, name, existing, entity.lower())
    parent = check_ref(ctx, body, "ParentRef", entity, "ParentRef", must=False)
    no_cycle(ctx, body, existing, entity)
    body[sub_flag] = parent is not None
    active_default(body)
    return body


def prepare_class(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Class (QuickBooks' tracking category, here the trades)."""
    return _prepare_category(ctx, body, existing, "Class", "SubClass")


def prepare_department(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Department (QuickBooks' location, here the branches)."""
    return _prepare_category(ctx, body, existing, "Department", "SubDepartment")


# ---------------------------------------------------------------- PaymentMethod
def prepare_payment_method(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """A unique Name and a Type (NON_CREDIT_CARD unless CREDIT_CARD)."""
    name = _required_name(body)
    body["Name"] = name
    unique_name(ctx, "PaymentMethod", name, existing, "payment method")
    kind = str(body.get("Type") or "NON_CREDIT_CARD").upper()
    if kind not in PAYMENT_METHOD_TYPES:
        raise QboError("2170", "Invalid Enumeration", f"Invalid Enumeration : {kind}", "Type")
    body["Type"] = kind
    active_default(body)
    return body


# ---------------------------------------------------------------- read-only lists
def prepare_as_given(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Seeded objects (tax codes and rates) are stored as written."""
    if "Active" in body or existing is None:
        active_default(body)
    return body


def prepare_company(
    ctx: Ctx, body: dict[str, Any], existing: Record | None, request: dict[str, Any]
) -> dict[str, Any]:
    """CompanyInfo needs a CompanyName."""
    if not str(body.get("CompanyName") or "").strip():
        raise required("CompanyName")
    return body
