"""Step 4: the outbound-readiness suites, run over the change sets before any write.

A failing record is held back (an open issue raised by this run, which the loaders
skip); records that pass have their earlier validation issues resolved. A suite that
finds most of its input broken fails the task, so nothing at all is written. Every run
with something to check adds its results to the Data Docs report (`quality/docs.py`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fieldbooks.config import Settings
from fieldbooks.issues import Issue, raise_issue
from fieldbooks.mapping import shown_path
from fieldbooks.quality.docs import DataDocs
from fieldbooks.quality.runner import (
    Failure,
    Rule,
    ValidationAborted,
    mostly_broken,
    run_suite,
)
from fieldbooks.warehouse.connection import WarehouseConnection, connect
from fieldbooks.warehouse.state import ensure_state, utcnow

log = logging.getLogger(__name__)

VALIDATION_KINDS = (
    "customer_ambiguous",
    "unmapped_category",
    "validation_failed",
    "edited_in_quickbooks",
)
CONFLICT_HINT = (
    "Make the two agree (edit the record in operations or in QuickBooks), or choose a "
    "policy for it in FIELDBOOKS_CONFLICT_POLICIES (ops_wins, quickbooks_wins, "
    "newest_wins); the next run syncs it."
)
MONEY_PATTERN = r"^-?[0-9]+\.[0-9]{2}$"
# what QuickBooks takes in PrimaryEmailAddr: one address, no spaces, a dotted domain
EMAIL_PATTERN = r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$"


@dataclass(frozen=True)
class SuiteReport:
    """What one suite checked and held back."""

    suite: str
    checked: int
    held: int


def invoice_rules() -> list[Rule]:
    """Outbound invoices: customer resolved, every line mapped, amounts exact and consistent."""
    import great_expectations as gx

    e = gx.expectations
    return [
        Rule(
            e.ExpectColumnValuesToBeInSet(
                column="customer_resolution", value_set=["linked", "to_create"]
            ),
            "customer_ambiguous",
            "invoice {doc_number}: its customer (operations id {ops_customer_id}) is {customer_resolution} in QuickBooks",
            "Resolve the customer's own issue first; the invoice follows on the next run.",
        ),
        Rule(
            e.ExpectColumnValuesToBeBetween(column="unmapped_line_count", min_value=0, max_value=0),
            "unmapped_category",
            "invoice {doc_number}: {unmapped_line_count} line(s) use a category with no QuickBooks item ({unmapped_categories})",
            # {mappings} is the company's mapping folder, filled in when the issue is raised
            "Add the category to {mappings}/map_service_categories.csv with a QuickBooks item id (a row with reviewed = true).",
        ),
        Rule(
            e.ExpectColumnPairValuesToBeEqual(column_A="lines_total", column_B="subtotal"),
            "validation_failed",
            "invoice {doc_number}: lines add up to {lines_total} but the subtotal is {subtotal}",
            "Correct the invoice lines or the subtotal in operations.",
        ),
        Rule(
            e.ExpectColumnPairValuesToBeEqual(column_A="total", column_B="expected_total"),
            "validation_failed",
            "invoice {doc_number}: total {total} is not subtotal {subtotal} plus tax {tax}",
            "Correct the invoice totals in operations.",
        ),
        Rule(
            e.ExpectColumnValuesToMatchRegex(column="total_text", regex=MONEY_PATTERN),
            "validation_failed",
            "invoice {doc_number}: total {total_text} is not an exact amount in cents",
            "Amounts must have exactly two decimals; correct the invoice in operations.",
        ),
        Rule(
            e.ExpectColumnValueLengthsToBeBetween(column="doc_number", min_value=1, max_value=21),
            "validation_failed",
            "invoice {ops_invoice_id}: number '{doc_number}' is empty or longer than QuickBooks' 21 characters",
            "Shorten the invoice number in operations.",
        ),
    ]


def customer_rules() -> list[Rule]:
    """Outbound customers: one QuickBooks match at most, a usable display name."""
    import great_expectations as gx

    e = gx.expectations
    return [
        Rule(
            e.ExpectColumnValuesToBeInSet(column="resolution", value_set=["linked", "to_create"]),
            "customer_ambiguous",
            "customer '{display_name}' matches several QuickBooks customers: {candidate_qbo_ids}",
            "Give the operations customer the email of the right QuickBooks customer, or merge the duplicates in QuickBooks.",
        ),
        Rule(
            e.ExpectColumnValueLengthsToBeBetween(
                column="display_name", min_value=1, max_value=500
            ),
            "validation_failed",
            "customer {ops_customer_id}: display name is empty or longer than 500 characters",
            "Correct the customer's name in operations.",
        ),
        Rule(
            # a missing email is fine; one QuickBooks would refuse is not
            e.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL_PATTERN),
            "validation_failed",
            "customer '{display_name}': '{email}' is not an email address QuickBooks accepts",
            "Correct the customer's email in operations, or remove it.",
        ),
        Rule(
            e.ExpectColumnValuesToBeInSet(column="name_taken_by_vendor", value_set=[False]),
            "validation_failed",
            "customer '{display_name}': a QuickBooks vendor already has this name, and "
            "QuickBooks names are unique across customers, vendors and employees",
            "Rename the customer in operations (or the vendor in QuickBooks); the customer "
            "and its invoices follow on the next run.",
        ),
    ]


def _invoice_frame(wh: WarehouseConnection) -> Any:
    """The outbound invoices with the derived columns the rules read."""
    import pandas as pd

    rows = wh.fetchdicts("select * from sync.sync_qbo_invoices")
    unmapped = wh.fetchall(
        "select ops_invoice_id, category_name from sync.sync_qbo_invoice_lines where qbo_item_id is null"
    )
    names: dict[str, list[str]] = {}
    for invoice_id, category in unmapped:
        names.setdefault(str(invoice_id), []).append(str(category))
    for row in rows:
        row["ops_invoice_id"] = str(row["ops_invoice_id"])
        row["expected_total"] = row["subtotal"] + row["tax"]
        row["total_text"] = str(row["total"])
        row["unmapped_categories"] = ", ".join(sorted(set(names.get(row["ops_invoice_id"], []))))
    return pd.DataFrame(rows)


def _customer_frame(wh: WarehouseConnection) -> Any:
    """The outbound customers."""
    import pandas as pd

    rows = wh.fetchdicts("select * from sync.sync_qbo_customers")
    vendor_names = {
        str(name).strip().lower()
        for (name,) in wh.fetchall(
            "select display_name from staging.stg_qbo__vendors where not is_deleted "
            "union select display_name from sync.sync_qbo_vendors"
        )
        if name
    }
    for row in rows:
        row["ops_customer_id"] = str(row["ops_customer_id"])
        row["display_name"] = row["display_name"] or ""
        # a name is written when a customer is created; a linked one already has its own
        row["name_taken_by_vendor"] = (
            row["action"] == "create" and row["display_name"].strip().lower() in vendor_names
        )
    return pd.DataFrame(rows)


def _hold(
    wh: WarehouseConnection,
    realm_id: str,
    entity: str,
    failures: list[Failure],
    checked: list[str],
    run_id: str,
    mappings: str,
) -> int:
    """Raise an issue per failing record (`mappings`: the company's mapping folder, for hints); resolve validation issues of records that now pass."""
    failing = {f.record_id for f in failures}
    for failure in failures:
        raise_issue(
            wh,
            Issue(
                realm_id=realm_id,
                entity=entity,
                ops_id=failure.record_id,
                kind=failure.rule.kind,
                reason=failure.reason,
                # the one placeholder a hint has; str.format would trip on other braces
                hint=failure.rule.hint.replace("{mappings}", mappings),
            ),
            run_id,
        )
    passing = [record for record in checked if record not in failing]
    kinds = ", ".join(f"'{k}'" for k in VALIDATION_KINDS)
    for record in passing:
        wh.execute(
            f"""update fieldbooks.sync_issues set status = 'resolved', last_seen = %s, run_id = %s
                where realm_id = %s and entity = %s and ops_id = %s and kind in ({kinds})
                  and status in ('open', 'retrying')""",
            (utcnow(), run_id, realm_id, entity, record),
        )
    return len(failing)


def _hold_conflicts(wh: WarehouseConnection, realm_id: str, run_id: str) -> SuiteReport:
    """An issue for each record changed in both systems that its policy holds (flag, or
    newest_wins on a tie); it is in neither change set until a person decides."""
    rows = wh.fetchdicts(
        "select * from sync.sync_conflicts where outcome = 'hold' order by entity, ops_id"
    )
    for row in rows:
        raise_issue(
            wh,
            Issue(
                realm_id=realm_id,
                entity=row["entity"],
                ops_id=str(row["ops_id"]),
                qbo_id=row["qbo_id"],
                kind="edited_in_quickbooks",
                reason=(
                    f"{row['entity']} {row['ops_id']} was changed in {row['changed_in']} "
                    f"({row['entity']} {row['qbo_id']} in QuickBooks) since the last sync and "
                    f"they differ in {row['changed_fields']}; the {row['policy']} policy "
                    "holds it for a person"
                ),
                hint=CONFLICT_HINT,
            ),
            run_id,
        )
    return SuiteReport("conflicts", len(rows), len(rows))


def validate_outbound(settings: Settings, run_id: str) -> tuple[list[SuiteReport], str]:
    """Run the outbound suites; hold back failing records; abort when a set is mostly broken.

    Returns the suites' reports and the Data Docs report's path.
    """
    realm = settings.qbo.realm_id
    docs = DataDocs(settings.home, run_id)
    reports: list[SuiteReport] = []
    with connect(settings.warehouse_url) as wh:
        ensure_state(wh)
        for suite, entity, frame, id_column, rules in (
            (
                "outbound_customers",
                "customer",
                _customer_frame(wh),
                "ops_customer_id",
                customer_rules(),
            ),
            ("outbound_invoices", "invoice", _invoice_frame(wh), "ops_invoice_id", invoice_rules()),
        ):
            failures = run_suite(suite, frame, id_column, rules, docs)
            checked = [] if frame.empty else [str(v) for v in frame[id_column]]
            held = _hold(wh, realm, entity, failures, checked, run_id, shown_path(settings))
            reports.append(SuiteReport(suite, len(checked), held))
            log.info("%s: %d checked, %d held back", suite, len(checked), held)
            if mostly_broken(len(checked), held):
                path = docs.publish()
                raise ValidationAborted(
                    f"{suite}: {held} of {len(checked)} records failed validation; the input looks "
                    "broken, so nothing is written. Read the open issues (fieldbooks issues list) "
                    f"and the report at {path}."
                )
        reports.append(_hold_conflicts(wh, realm, run_id))
    return reports, str(docs.publish())
