"""Per-table extraction rules: defaults from the schema, overrides from TOML, clear errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fieldbooks.config import load_settings
from fieldbooks.ops.sources import parse_check_hours, source_tables


def test_defaults_follow_the_declared_schema():
    tables = {t.name: t for t in source_tables()}
    assert tables["invoices"].key == ("id",)
    assert tables["invoices"].change_column == "updated_at"
    assert tables["invoices"].soft_delete_column == "deleted_at"
    assert tables["invoice_lines"].hard_delete_check == timedelta(hours=24)


def test_a_toml_file_overrides_one_table(tmp_path):
    rules = tmp_path / "tables.toml"
    rules.write_text(
        "[tables.labor_entries]\nhard_delete_check_hours = 1\n"
        '[tables.tax_rates]\nhard_delete_check_hours = "never"\nsoft_delete_column = false\n'
    )
    tables = {t.name: t for t in source_tables(timedelta(hours=6), rules)}
    assert tables["labor_entries"].hard_delete_check == timedelta(hours=1)
    assert tables["tax_rates"].hard_delete_check is None
    assert tables["tax_rates"].soft_delete_column is None
    assert tables["invoices"].hard_delete_check == timedelta(hours=6)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tables.invoicez]\nkey = ['id']\n", "no synced operations table named ['invoicez']"),
        ("[tables.invoices]\nchange_colum = 'x'\n", "unknown option(s) ['change_colum']"),
        ("[tables.invoices]\nchange_column = 'modified'\n", "invoices has no column 'modified'"),
        ("[tables.invoices]\nhard_delete_check_hours = -2\n", "must be 0 or more"),
        ("[tables.invoices\n", "is not valid TOML"),
    ],
)
def test_mistakes_in_the_rules_are_named(tmp_path, text, message):
    rules = tmp_path / "tables.toml"
    rules.write_text(text)
    with pytest.raises(ValueError) as caught:
        source_tables(overrides=rules)
    assert message in str(caught.value)


def test_settings_read_the_cadence_and_the_rules_file(tmp_path):
    settings = load_settings(
        {
            "FIELDBOOKS_HOME": str(tmp_path),
            "FIELDBOOKS_OPS_HARD_DELETE_CHECK_HOURS": "0",
            "FIELDBOOKS_OPS_TABLES": str(tmp_path / "t.toml"),
        }
    )
    assert settings.ops_hard_delete_check == timedelta(0)
    assert settings.ops_tables_file == tmp_path / "t.toml"
    assert load_settings({"FIELDBOOKS_HOME": str(tmp_path)}).ops_hard_delete_check == timedelta(
        hours=24
    )
    with pytest.raises(ValueError, match="number of hours"):
        parse_check_hours("daily", "FIELDBOOKS_OPS_HARD_DELETE_CHECK_HOURS")
