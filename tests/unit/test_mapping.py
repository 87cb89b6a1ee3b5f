"""Mapping proposals by name, and the rule that suggest never rewrites a reviewed row."""

from __future__ import annotations

import csv
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from fieldbooks import mapping
from fieldbooks.mapping import (
    EXPENSE_ACCOUNTS,
    SERVICE_CATEGORIES,
    TAX_JURISDICTIONS,
    TRADES,
    OpsRecord,
    QboTarget,
    check_lines,
    check_seeds,
    propose,
    similarity,
    suggest_seeds,
)

ITEMS = {
    "1": QboTarget("1", "Plumbing Service", kind="Service"),
    "2": QboTarget("2", "HVAC Service", kind="Service"),
    "4": QboTarget("4", "Materials", kind="NonInventory"),
    "5": QboTarget("5", "Permit Fee", kind="Service"),
    "9": QboTarget("9", "Old Trip Charge", active=False, kind="Service"),
}
ACCOUNTS = {
    "1": QboTarget("1", "Services", kind="Income"),
    "8": QboTarget("8", "Materials", kind="Cost of Goods Sold"),
    "9": QboTarget("9", "Subcontractors", kind="Cost of Goods Sold"),
    "11": QboTarget("11", "Equipment Rental", kind="Expense"),
}


def _category(key: str, name: str, kind: str = "service") -> OpsRecord:
    return OpsRecord(key, {"category_name": name, "category_kind": kind}, (name,))


def _records(*categories: OpsRecord) -> dict[str, list[OpsRecord]]:
    return {SERVICE_CATEGORIES.seed: list(categories)}


def _targets() -> dict[str, dict[str, QboTarget]]:
    return {"Item": ITEMS, "Account": ACCOUNTS, "Class": {}, "Department": {}, "TaxCode": {}}


def _read(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as f:
        return {row["category_id"]: row for row in csv.DictReader(f)}


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


# --------------------------------------------------------------------------- proposals


def test_identical_names_are_proposed_with_full_confidence():
    proposal = propose(_category("1", "Plumbing Service"), ITEMS.values(), "item")
    assert proposal.target is not None and proposal.target.id == "1"
    assert proposal.confidence == 1.0


def test_case_punctuation_and_spacing_do_not_lower_an_identical_name():
    assert similarity("PLUMBING-service ", "Plumbing Service") == 1.0
    assert similarity("equipment_rental", "Equipment Rental") == 1.0


def test_a_plural_or_a_longer_form_is_proposed_below_certainty():
    material = propose(OpsRecord("material", {}, ("Material",)), ACCOUNTS.values(), "account")
    assert material.target == ACCOUNTS["8"] and 0.9 <= material.confidence < 1.0
    sub = propose(OpsRecord("subcontract", {}, ("Subcontract",)), ACCOUNTS.values(), "account")
    assert sub.target == ACCOUNTS["9"] and 0.8 < sub.confidence < 1.0


def test_names_sharing_only_a_generic_word_are_not_proposed():
    proposal = propose(_category("10", "Roofing Service"), ITEMS.values(), "item")
    assert proposal.target is None and proposal.confidence is None
    assert "closest: Plumbing Service (Id 1)" in proposal.note


def test_an_inactive_or_deleted_target_is_never_proposed():
    items = [
        QboTarget("9", "Trip Charge", active=False),
        QboTarget("3", "Trip Charge", deleted=True),
    ]
    proposal = propose(_category("6", "Trip Charge"), items, "item")
    assert proposal.target is None
    assert "no QuickBooks item" in proposal.note


def test_two_targets_that_fit_equally_are_left_for_a_person_to_choose():
    items = [QboTarget("7", "Materials"), QboTarget("3", "MATERIALS")]
    proposal = propose(_category("4", "Materials"), items, "item")
    assert proposal.target is None
    assert "several QuickBooks items fit equally" in proposal.note
    assert "MATERIALS (Id 3)" in proposal.note and "Materials (Id 7)" in proposal.note


def test_a_tax_jurisdiction_matches_on_its_rate_name_as_well_as_its_code():
    local = OpsRecord("LOCAL", {"tax_rate_name": "Local Sales Tax"}, ("Local Sales Tax", "LOCAL"))
    codes = [QboTarget("1", "Local Sales Tax"), QboTarget("2", "Regional Sales Tax")]
    proposal = propose(local, codes, "tax code")
    assert proposal.target is not None and proposal.target.id == "1"
    assert proposal.confidence == 1.0


def test_an_expense_category_is_only_proposed_a_cost_account():
    pool = mapping.candidates(EXPENSE_ACCOUNTS, ACCOUNTS)
    assert {t.id for t in pool} == {"8", "9", "11"}  # not the Services income account


@given(st.text(max_size=40), st.text(max_size=40))
def test_similarity_is_symmetric_and_between_0_and_1(a, b):
    score = similarity(a, b)
    assert 0.0 <= score <= 1.0
    assert score == similarity(b, a) or abs(score - similarity(b, a)) <= 0.01


@given(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=30))
def test_a_name_is_certain_of_itself_and_only_of_itself(name):
    if mapping.normalize(name):
        assert similarity(name, name) == 1.0
        assert similarity(name, name + " extra words") < 1.0


# --------------------------------------------------------------------------- seed files


def test_suggest_writes_proposals_unreviewed_with_their_confidence(tmp_path):
    records = _records(_category("1", "Plumbing Service"), _category("7", "Equipment", "equipment"))
    outcomes = suggest_seeds(tmp_path, records, _targets())
    rows = _read(tmp_path / "map_service_categories.csv")
    assert rows["1"]["qbo_item_id"] == "1" and rows["1"]["qbo_item_name"] == "Plumbing Service"
    assert rows["1"]["confidence"] == "1.00" and rows["1"]["reviewed"] == "false"
    assert rows["7"]["qbo_item_id"] == "" and rows["7"]["reviewed"] == "false"
    assert "no QuickBooks item" in rows["7"]["note"]
    service = next(o for o in outcomes if o.spec is SERVICE_CATEGORIES)
    assert len(service.proposed) == 1 and len(service.unmatched) == 1


def test_suggest_never_rewrites_a_reviewed_row(tmp_path):
    path = tmp_path / "map_service_categories.csv"
    header = list(SERVICE_CATEGORIES.columns)
    # an accountant chose item 2 for category 1 on purpose, and typed her own note
    _write(
        path,
        header,
        [
            ["1", "Plumbing Service", "service", "2", "HVAC Service", "0.40", "TRUE", "per Dana"],
            ["4", "Materials", "material", "99", "Stale", "0.10", "false", "old guess"],
        ],
    )
    before = path.read_text().splitlines()[1]
    outcomes = suggest_seeds(
        tmp_path,
        _records(_category("1", "Plumbing Service"), _category("4", "Materials")),
        _targets(),
    )
    after = path.read_text().splitlines()
    assert after[1] == before  # byte for byte
    rows = _read(path)
    assert rows["4"]["qbo_item_id"] == "4" and rows["4"]["note"] == ""  # unreviewed: refreshed
    service = next(o for o in outcomes if o.spec is SERVICE_CATEGORIES)
    assert len(service.kept) == 1 and "(reviewed)" in service.kept[0]


def test_a_file_without_a_reviewed_column_counts_as_written_by_hand(tmp_path):
    path = tmp_path / "map_service_categories.csv"
    _write(
        path,
        ["category_id", "category_name", "qbo_item_id", "qbo_item_name"],
        [["1", "P", "5", "X"]],
    )
    suggest_seeds(tmp_path, _records(_category("1", "Plumbing Service")), _targets())
    row = _read(path)["1"]
    assert (row["qbo_item_id"], row["qbo_item_name"], row["category_name"]) == ("5", "X", "P")
    assert row["reviewed"] == "true" and row["category_kind"] == "service"


def test_unreviewed_rows_of_records_gone_from_operations_are_dropped_reviewed_ones_stay(tmp_path):
    path = tmp_path / "map_service_categories.csv"
    header = list(SERVICE_CATEGORIES.columns)
    _write(
        path,
        header,
        [
            ["20", "Gone", "service", "1", "Plumbing Service", "0.70", "false", ""],
            ["21", "Gone too", "service", "1", "Plumbing Service", "", "true", ""],
        ],
    )
    outcomes = suggest_seeds(tmp_path, _records(), _targets())
    assert set(_read(path)) == {"21"}
    service = next(o for o in outcomes if o.spec is SERVICE_CATEGORIES)
    assert len(service.dropped) == 1 and "20" in service.dropped[0]


def test_columns_a_person_added_are_kept(tmp_path):
    path = tmp_path / "map_service_categories.csv"
    header = [*SERVICE_CATEGORIES.columns, "gl_owner"]
    _write(path, header, [["1", "Plumbing Service", "service", "", "", "", "false", "", "Dana"]])
    suggest_seeds(tmp_path, _records(_category("1", "Plumbing Service")), _targets())
    row = _read(path)["1"]
    assert row["gl_owner"] == "Dana" and row["qbo_item_id"] == "1"


def test_a_second_suggest_changes_nothing(tmp_path):
    records = _records(_category("1", "Plumbing Service"), _category("10", "Roofing Service"))
    suggest_seeds(tmp_path, records, _targets())
    first = {p.name: p.read_text() for p in tmp_path.iterdir()}
    suggest_seeds(tmp_path, records, _targets())
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == first


# --------------------------------------------------------------------------- check


def _check(tmp_path: Path, records, targets=None):
    return check_seeds(tmp_path, records, targets or _targets(), usage={})


def test_check_names_the_file_and_row_of_an_unmapped_category(tmp_path):
    findings = _check(tmp_path, _records(_category("7", "Equipment", "equipment")))
    [unmapped] = [f for f in findings if f.kind == "unmapped"]
    assert unmapped.attention
    assert 'map_service_categories.csv has no row for service category 7 ("Equipment")' in (
        unmapped.message
    )


def test_check_says_how_many_records_an_unmapped_category_holds_back(tmp_path):
    findings = check_seeds(
        tmp_path,
        _records(_category("7", "Equipment")),
        _targets(),
        usage={SERVICE_CATEGORIES.seed: {"7": 12}},
    )
    assert "12 invoice lines use it and are held back" in findings[0].message


def test_check_names_a_mapping_to_an_inactive_or_deleted_target(tmp_path):
    header = list(SERVICE_CATEGORIES.columns)
    _write(
        tmp_path / "map_service_categories.csv",
        header,
        [
            ["6", "Trip Charge", "fee", "9", "Old Trip Charge", "", "true", ""],
            ["1", "Plumbing Service", "service", "77", "Plumbing", "", "true", ""],
        ],
    )
    targets = _targets()
    targets["Item"] = {**ITEMS, "77": QboTarget("77", "Plumbing", deleted=True)}
    findings = _check(
        tmp_path,
        _records(_category("1", "Plumbing Service"), _category("6", "Trip Charge")),
        targets,
    )
    kinds = {(f.key, f.kind) for f in findings if f.attention}
    assert kinds == {("1", "gone"), ("6", "inactive")}
    inactive = next(f for f in findings if f.kind == "inactive")
    assert 'map_service_categories.csv, row category_id 6 ("Trip Charge")' in inactive.message
    assert 'item 9 "Old Trip Charge", which is inactive in QuickBooks' in inactive.message
    gone = next(f for f in findings if f.kind == "gone")
    assert "was deleted in QuickBooks" in gone.message


def test_check_flags_an_expense_mapped_to_an_income_account(tmp_path):
    _write(
        tmp_path / "map_expense_categories.csv",
        list(EXPENSE_ACCOUNTS.columns),
        [["material", "Material", "1", "Services", "", "true", ""]],
    )
    records = {EXPENSE_ACCOUNTS.seed: [OpsRecord("material", {}, ("Material",))]}
    findings = _check(tmp_path, records)
    assert [f.kind for f in findings] == ["wrong_type"]
    assert "an account of type Income" in findings[0].message


def test_check_passes_reviewed_live_mappings_and_only_notes_renames(tmp_path):
    _write(
        tmp_path / "map_trades.csv",
        list(TRADES.columns),
        [["1", "PLB", "Plumbing", "1", "Plumbing", "1.00", "true", ""]],
    )
    records = {TRADES.seed: [OpsRecord("1", {"trade_name": "Plumbing"}, ("Plumbing", "PLB"))]}
    targets = _targets()
    targets["Class"] = {"1": QboTarget("1", "Plumbing & Drains")}
    findings = _check(tmp_path, records, targets)
    assert [(f.kind, f.attention) for f in findings] == [("renamed", False)]
    assert "Every mapping is complete" in check_lines(findings)[-1]


def test_check_lists_proposals_waiting_for_review(tmp_path):
    records = {
        TAX_JURISDICTIONS.seed: [
            OpsRecord("LOCAL", {"tax_rate_name": "Local Sales Tax"}, ("Local Sales Tax", "LOCAL"))
        ]
    }
    targets = _targets()
    targets["TaxCode"] = {"1": QboTarget("1", "Local Sales Tax")}
    suggest_seeds(tmp_path, records, targets)
    findings = _check(tmp_path, records, targets)
    assert [f.kind for f in findings] == ["unreviewed"]
    lines = check_lines(findings)
    assert lines[0].startswith("map_tax_jurisdictions.csv: 1 proposal(s) wait for review")
    assert 'tax_jurisdiction LOCAL ("Local Sales Tax") -> tax code 1 "Local Sales Tax"' in lines[1]
