"""docs/ops_schema.md shows the schema as it is, and every synced table reaches dbt staging."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from fieldbooks.ops import diagram, schema

ROOT = Path(__file__).resolve().parents[2]
STAGING = ROOT / "dbt_project" / "models" / "staging" / "ops"


def test_schema_doc_is_drawn_from_the_current_schema():
    current = diagram.MARKDOWN.read_text(encoding="utf-8")
    assert diagram.render_markdown(current) == current, (
        "docs/ops_schema.md is behind the schema: run `fieldbooks ops diagram`"
    )


def test_the_diagram_has_every_table_column_and_reference():
    text = diagram.mermaid()
    for table in schema.metadata.sorted_tables:
        assert f"    {table.name} {{" in text
        for column in table.columns:
            assert re.search(rf"\n        \w+ {column.name}( PK| FK)?\n", text), column
            for fk in column.foreign_keys:
                assert f"{fk.column.table.name} " in text and f': "{column.name}"' in text
    references = sum(len(c.foreign_keys) for t in schema.metadata.sorted_tables for c in t.columns)
    assert text.count("--o{") == references


def test_the_picture_renders_when_graphviz_is_installed(tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` is not installed (apt-get install graphviz)")
    assert diagram.render_picture(tmp_path / "schema.png")
    assert (tmp_path / "schema.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_synced_table_has_a_source_and_a_tested_staging_model():
    sources = yaml.safe_load((STAGING / "_ops__sources.yml").read_text())
    listed = [t["name"] for t in sources["sources"][0]["tables"]]
    assert listed == [t.name for t in schema.SYNCED_TABLES]
    models = {
        m["name"]: m for m in yaml.safe_load((STAGING / "_ops__models.yml").read_text())["models"]
    }
    for table in schema.SYNCED_TABLES:
        name = f"stg_ops__{table.name}"
        sql = (STAGING / f"{name}.sql").read_text()
        assert f"source('raw_ops', '{table.name}')" in sql
        key = models[name]["columns"][0]
        assert key["name"].endswith("_id") and {"unique", "not_null"} <= set(key["data_tests"])
        assert "is_deleted" in sql
