"""`fieldbooks mapping suggest | check` on the demo: raw_ops and raw_qbo filled by real extracts.

The operations DB is the demo seed, QuickBooks is the sandbox's demo company over HTTP, the
warehouse DuckDB or PostgreSQL; suggest writes into a copy of dbt_project/seeds, so the
project's own files are never touched.
"""

from __future__ import annotations

import csv
import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from fieldbooks import pipeline
from fieldbooks.cli import main
from fieldbooks.config import load_settings, project_root
from fieldbooks.ops.seed import seed_demo
from fieldbooks.warehouse.connection import connect
from tests.conftest import settings_env

PERMIT_FEE_ITEM = "5"


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo(request, sandbox, tmp_path, monkeypatch):
    """The demo operations DB and QuickBooks company, both extracted into the warehouse."""
    warehouse = None
    if request.param == "postgres":
        warehouse = request.getfixturevalue("make_pg_database")("fb_mapping")
    env = settings_env(tmp_path / "home", sandbox, warehouse_url=warehouse)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(env)
    settings.home.mkdir(parents=True)
    seed_demo(settings.ops_url)
    pipeline.step_extract_ops(settings, "test-mapping")
    pipeline.step_extract_qbo(settings)
    seeds = tmp_path / "seeds"
    shutil.copytree(project_root() / "dbt_project" / "seeds", seeds)
    return settings, sandbox, seeds


def _rows(path: Path, key: str) -> dict[str, dict[str, str]]:
    with path.open(newline="") as f:
        return {row[key]: row for row in csv.DictReader(f)}


def _rewrite(path: Path, key: str, changes: dict[str, dict[str, str]]) -> None:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        header, rows = list(reader.fieldnames or []), list(reader)
    for row in rows:
        row.update(changes.get(row[key], {}))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _deactivate(sandbox, entity: str, object_id: str) -> None:
    """As a bookkeeper in the QuickBooks screens: make a list object inactive."""
    request = urllib.request.Request(
        f"{sandbox.admin_url}/realms/{sandbox.realm_id}/actions/deactivate",
        data=json.dumps({"entity": entity, "id": object_id}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        assert json.load(answer)[entity]["Active"] is False


def test_suggest_proposes_the_demo_mappings_and_keeps_reviewed_rows(demo, capsys):
    settings, _, seeds = demo
    categories = seeds / "map_service_categories.csv"
    # category 1 holds an unreviewed wrong guess; category 2 was reviewed with a hand note
    _rewrite(
        categories,
        "category_id",
        {
            "1": {"qbo_item_id": "6", "qbo_item_name": "Trip Charge", "reviewed": "false"},
            "2": {"note": "checked by Dana"},
        },
    )
    reviewed_line = next(line for line in categories.read_text().splitlines() if "Dana" in line)
    (seeds / "map_trades.csv").unlink()  # never drafted yet

    assert main(["mapping", "suggest", "--seeds-dir", str(seeds)]) == 0
    out = capsys.readouterr().out

    rows = _rows(categories, "category_id")
    assert rows["1"]["qbo_item_id"] == "1" and rows["1"]["qbo_item_name"] == "Plumbing Service"
    assert rows["1"]["confidence"] == "1.00" and rows["1"]["reviewed"] == "false"
    assert reviewed_line in categories.read_text().splitlines()  # kept byte for byte
    assert (
        'service category 1 "Plumbing Service" -> item "Plumbing Service" (Id 1), confidence 1.00'
        in out
    )
    assert 'kept      service category 2 "HVAC Service" -> item 2 "HVAC Service" (reviewed)' in out
    # the demo company has no item for the categories it never sells
    assert rows["7"]["qbo_item_id"] == "" and rows["7"]["category_name"] == "Equipment"
    assert 'no match  service category 10 "Roofing Service"' in out

    trades = _rows(seeds / "map_trades.csv", "trade_id")
    assert {k: (r["qbo_class_id"], r["confidence"]) for k, r in trades.items()} == {
        "1": ("1", "1.00"),
        "2": ("2", "1.00"),
        "3": ("3", "1.00"),
        "4": ("4", "1.00"),
        "5": ("5", "1.00"),
    }
    taxes = _rows(seeds / "map_tax_jurisdictions.csv", "tax_jurisdiction")
    assert {k: r["qbo_tax_code_id"] for k, r in taxes.items()} == {"LOCAL": "1", "REGIONAL": "2"}
    branches = _rows(seeds / "map_branches.csv", "branch_id")
    assert {k: r["qbo_department_id"] for k, r in branches.items()} == {"1": "1", "2": "2"}
    expenses = _rows(seeds / "map_expense_categories.csv", "expense_category")
    assert {k: r["qbo_account_id"] for k, r in expenses.items()} == {
        "equipment_rental": "11",
        "material": "8",
        "permit": "10",
        "subcontract": "9",
    }
    # the project's own seeds are what suggest proposes for the demo, all reviewed
    project = project_root() / "dbt_project" / "seeds"
    for name, key in (
        ("map_tax_jurisdictions.csv", "tax_jurisdiction"),
        ("map_branches.csv", "branch_id"),
    ):
        assert _rows(project / name, key) == _rows(seeds / name, key)


def test_check_names_a_mapped_item_made_inactive_in_quickbooks(demo, capsys):
    settings, sandbox, seeds = demo
    main(["mapping", "check", "--seeds-dir", str(seeds)])
    assert "inactive in QuickBooks" not in capsys.readouterr().out

    _deactivate(sandbox, "Item", PERMIT_FEE_ITEM)
    pipeline.step_extract_qbo(settings)
    assert main(["mapping", "check", "--seeds-dir", str(seeds)]) == 1
    out = capsys.readouterr().out

    assert (
        'map_service_categories.csv, row category_id 5 ("Permit Fee") points at item 5 '
        '"Permit Fee", which is inactive in QuickBooks' in out
    )
    assert "invoice lines use it and are held back until then" in out
    # the categories the demo company has no item for are named with their file and row
    assert 'map_service_categories.csv has no row for service category 7 ("Equipment")' in out


def test_check_passes_when_every_mapping_is_reviewed_and_live(demo, capsys):
    settings, _, seeds = demo
    assert main(["mapping", "check", "--seeds-dir", str(seeds)]) == 1  # categories 7-13
    capsys.readouterr()
    # the project's seeds map every category the demo company sells; retire the others
    mapped = set(_rows(seeds / "map_service_categories.csv", "category_id"))
    assert mapped == {"1", "2", "3", "4", "5", "6"}
    with connect(settings.warehouse_url) as wh:
        wh.execute("update raw_ops.service_categories set _deleted = true where id > 6")
    assert main(["mapping", "check", "--seeds-dir", str(seeds)]) == 0
    assert "Every mapping is complete" in capsys.readouterr().out


def test_a_company_has_its_own_mapping_folder_that_suggest_starts_and_dbt_loads(
    demo, monkeypatch, capsys, tmp_path
):
    """A second company's QuickBooks ids are not the demo's: with a mapping folder of its own
    the transform refuses to run until the folder is drafted, suggest drafts it whole, and
    dbt loads that folder, not dbt_project/seeds."""
    from dataclasses import replace

    from fieldbooks.mapping import MappingError
    from fieldbooks.transform import run_dbt

    settings, _, _ = demo
    own = tmp_path / "acme_mappings"
    monkeypatch.setenv("FIELDBOOKS_MAPPINGS_DIR", str(own))
    acme = load_settings()
    assert acme.mappings_dir == own

    with pytest.raises(MappingError, match="lacks map_branches.csv.*mapping suggest"):
        pipeline.step_transform(acme)

    assert main(["mapping", "suggest"]) == 0
    capsys.readouterr()
    files = sorted(p.name for p in own.glob("map_*.csv"))
    assert files == sorted(
        p.name for p in (project_root() / "dbt_project" / "seeds").glob("map_*.csv")
    )
    # what suggest does not draft starts with its columns and no row: nothing is guessed
    assert _rows(own / "map_expense_payment_accounts.csv", "paid_by") == {}
    assert _rows(own / "map_customer_links.csv", "ops_customer_id") == {}
    drafted = _rows(own / "map_service_categories.csv", "category_id")
    assert drafted and {row["reviewed"] for row in drafted.values()} == {"false"}

    def loaded(of) -> tuple[int, int]:
        run_dbt(of, ["seed"])
        with connect(of.warehouse_url) as wh:
            return (
                wh.scalar("select count(*) from mappings.map_expense_payment_accounts"),
                wh.scalar("select count(*) from mappings.map_service_categories where reviewed"),
            )

    assert loaded(acme) == (0, 0)
    # the same process, the project's folder again: each dbt command loads its company's
    project = replace(acme, mappings_dir=project_root() / "dbt_project" / "seeds")
    assert loaded(project) == (
        len(_rows(project.mappings_dir / "map_expense_payment_accounts.csv", "paid_by")),
        len(_rows(project.mappings_dir / "map_service_categories.csv", "category_id")),
    )
