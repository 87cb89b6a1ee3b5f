"""The outbound suites name each failing record with a reason a person can act on."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from fieldbooks.quality.outbound import customer_rules, invoice_rules
from fieldbooks.quality.runner import run_suite


def _invoice(ops_id: str, **overrides) -> dict:
    row = {
        "ops_invoice_id": ops_id,
        "doc_number": f"FB-{ops_id}",
        "ops_customer_id": "1",
        "customer_resolution": "linked",
        "unmapped_line_count": 0,
        "unmapped_categories": "",
        "subtotal": Decimal("100.00"),
        "lines_total": Decimal("100.00"),
        "tax": Decimal("8.25"),
        "total": Decimal("108.25"),
        "expected_total": Decimal("108.25"),
        "total_text": "108.25",
    }
    row.update(overrides)
    return row


def test_good_invoices_pass_and_each_bad_one_is_named_once_per_rule():
    frame = pd.DataFrame(
        [
            _invoice("1"),
            _invoice("2", customer_resolution="ambiguous"),
            _invoice("3", unmapped_line_count=1, unmapped_categories="Drain Camera"),
            _invoice("4", lines_total=Decimal("99.99")),
            _invoice("5", total=Decimal("108.26"), total_text="108.26"),
            _invoice("6", doc_number="FB-" + "9" * 30),
        ]
    )
    failures = run_suite("outbound_invoices", frame, "ops_invoice_id", invoice_rules())
    found = sorted((f.record_id, f.rule.kind) for f in failures)
    assert found == [
        ("2", "customer_ambiguous"),
        ("3", "unmapped_category"),
        ("4", "validation_failed"),
        ("5", "validation_failed"),
        ("6", "validation_failed"),
    ]
    by_id = {f.record_id: f for f in failures}
    assert "Drain Camera" in by_id["3"].reason
    assert "99.99" in by_id["4"].reason and "100.00" in by_id["4"].reason
    assert "21 characters" in by_id["6"].reason


def _customer(ops_id: str, name: str, **overrides) -> dict:
    row = {
        "ops_customer_id": ops_id,
        "display_name": name,
        "resolution": "to_create",
        "candidate_qbo_ids": None,
        "email": None,
        "name_taken_by_vendor": False,
    }
    row.update(overrides)
    return row


def test_an_email_quickbooks_would_refuse_and_a_name_a_vendor_has_are_held():
    frame = pd.DataFrame(
        [
            _customer("1", "Ann Lee", email="ann@lee.example"),
            _customer("2", "Bob Ray", email="bob at ray dot com"),
            _customer("3", "Cy Hu", email="cy@hu.example; cy2@hu.example"),
            _customer("4", "Ferguson Supply", name_taken_by_vendor=True),
            _customer("5", "Di Wu"),
        ]
    )
    failures = run_suite("outbound_customers", frame, "ops_customer_id", customer_rules())
    by_id = {f.record_id: f.reason for f in failures}
    assert sorted(by_id) == ["2", "3", "4"]
    assert "'bob at ray dot com' is not an email address" in by_id["2"]
    assert "a QuickBooks vendor already has this name" in by_id["4"]


def test_ambiguous_customer_names_its_candidates():
    frame = pd.DataFrame(
        [
            _customer("7", "Ann Lee"),
            _customer("8", "Bob Ray", resolution="ambiguous", candidate_qbo_ids="12,31"),
        ]
    )
    failures = run_suite("outbound_customers", frame, "ops_customer_id", customer_rules())
    assert [(f.record_id, f.rule.kind) for f in failures] == [("8", "customer_ambiguous")]
    assert "12,31" in failures[0].reason and "Bob Ray" in failures[0].reason


def test_an_empty_change_set_checks_nothing():
    assert run_suite("outbound_invoices", pd.DataFrame([]), "ops_invoice_id", invoice_rules()) == []
