"""How each operations table is extracted: key, change column, soft deletes, hard-delete checks.

Defaults come from the declared schema (`ops.schema.SYNCED_TABLES`): the primary key,
`updated_at`, `deleted_at` where the table has one, and a hard-delete check every
`FIELDBOOKS_OPS_HARD_DELETE_CHECK_HOURS` (24 by default; 0 checks on every run; `never`
switches it off). A TOML file named by `FIELDBOOKS_OPS_TABLES` overrides any of it per
table, for an operations system whose tables differ from the reference one:

    [tables.labor_entries]
    hard_delete_check_hours = 1        # entries are deleted often: check hourly

    [tables.tax_rates]
    hard_delete_check_hours = "never"  # rates are only ever deactivated
    change_column = "modified_on"
    soft_delete_column = "removed_at"  # or false: the table has none
    key = ["code"]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table

from fieldbooks.ops import schema

_FIELDS = {"key", "change_column", "soft_delete_column", "hard_delete_check_hours"}


@dataclass(frozen=True)
class SourceTable:
    """One operations table and the rules its extraction follows."""

    table: Table
    key: tuple[str, ...]
    change_column: str
    soft_delete_column: str | None
    # None: never compare key sets; timedelta(0): on every run
    hard_delete_check: timedelta | None

    @property
    def name(self) -> str:
        """The table's name, in the source and under raw_ops."""
        return self.table.name


def parse_check_hours(value: Any, where: str) -> timedelta | None:
    """A cadence in hours (a number, or "never") as a timedelta; None means never."""
    if value is False or (isinstance(value, str) and value.strip().lower() == "never"):
        return None
    try:
        hours = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f'{where}: hard-delete check must be a number of hours or "never", not {value!r}'
        ) from None
    if hours < 0:
        raise ValueError(f"{where}: hard-delete check hours must be 0 or more, not {hours}")
    return timedelta(hours=hours)


def _override(base: SourceTable, options: dict[str, Any], where: str) -> SourceTable:
    unknown = set(options) - _FIELDS
    if unknown:
        raise ValueError(f"{where}: unknown option(s) {sorted(unknown)}; use {sorted(_FIELDS)}")
    key = tuple(options.get("key", base.key))
    change = options.get("change_column", base.change_column)
    soft = options.get("soft_delete_column", base.soft_delete_column)
    soft = None if soft is False else soft
    check = base.hard_delete_check
    if "hard_delete_check_hours" in options:
        check = parse_check_hours(options["hard_delete_check_hours"], where)
    for column in (*key, change, *([soft] if soft else [])):
        if column not in base.table.c:
            raise ValueError(f"{where}: {base.name} has no column {column!r}")
    return SourceTable(base.table, key, change, soft, check)


def source_tables(
    default_check: timedelta | None = timedelta(hours=24), overrides: Path | None = None
) -> list[SourceTable]:
    """Every synced operations table with its extraction rules, in dependency order."""
    tables = [
        SourceTable(
            table=table,
            key=tuple(c.name for c in table.primary_key.columns),
            change_column="updated_at",
            soft_delete_column="deleted_at" if "deleted_at" in table.c else None,
            hard_delete_check=default_check,
        )
        for table in schema.SYNCED_TABLES
    ]
    if overrides is None:
        return tables
    try:
        document = tomllib.loads(Path(overrides).read_text())
    except FileNotFoundError:
        raise ValueError(f"FIELDBOOKS_OPS_TABLES names {overrides}, which does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{overrides} is not valid TOML: {exc}") from None
    per_table = document.get("tables", {})
    by_name = {t.name: t for t in tables}
    missing = set(per_table) - set(by_name)
    if missing:
        raise ValueError(
            f"{overrides}: no synced operations table named {sorted(missing)}; "
            f"the tables are {sorted(by_name)}"
        )
    return [
        _override(t, per_table[t.name], f"{overrides} [tables.{t.name}]")
        if t.name in per_table
        else t
        for t in tables
    ]
