"""The raw operations contract: what a live raw_ops row must hold before dbt reads it.

The rules come from the reference schema (`ops/schema.py`), so a column added there is
checked without a line here: ids present and unique among live rows, the numbers
QuickBooks tells records apart by (invoice and job numbers) unique among live rows,
columns declared NOT NULL filled in, money exact to the cent, dates that are dates,
and references that point at a row of the table they name. Values are read as text, so
the check sees what the warehouse holds whatever type a deployment gave the column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Date, Table

from fieldbooks.ops import schema
from fieldbooks.ops.schema import ExactDecimal
from fieldbooks.quality.runner import Rule

KIND = "raw_contract"
MONEY_PATTERN = r"^-?[0-9]+(?:\.[0-9]{1,2})?$"
AGAIN = "the next run checks the record again."


@dataclass(frozen=True)
class OpsTable:
    """A raw_ops table under contract, and the synced record each of its rows belongs to."""

    name: str
    entity: str  # the sync_issues entity a failing row holds back
    owner: str  # the column holding that record's operations id

    @property
    def table(self) -> Table:
        """The declared (reference) table."""
        return schema.metadata.tables[self.name]

    @property
    def suite(self) -> str:
        """The suite's name in the Data Docs report."""
        return f"raw_ops_{self.name}"

    @property
    def stream(self) -> str:
        """The watermark stream of the newest extract this contract has checked."""
        return f"raw_ops.{self.name}"

    @property
    def label(self) -> str:
        """How a reason names the row: `raw_ops.invoice_lines 7 (invoice 3)`."""
        own = f"raw_ops.{self.name} {{id}}"
        return own if self.owner == "id" else f"{own} ({self.entity} {{{self.owner}}})"

    def rules(self) -> list[Rule]:
        """The contract, from the table's declaration."""
        return ops_rules(self)

    def query(self, mark: datetime | None, realm_id: str, tables: set[str]) -> tuple[str, tuple]:
        """The batch's SQL and parameters (every live row before the first check)."""
        if mark is None:
            return batch_sql(self, tables, since=False), ()
        return batch_sql(self, tables, since=True), (mark, realm_id, self.entity)

    def frame(self, rows: list[dict[str, Any]]) -> Any:
        """The batch as the rules read it."""
        return ops_frame(self.table, rows)

    def held(self, row: dict[str, Any]) -> tuple[str, str | None, str | None]:
        """The record a failing row holds back: (entity, operations id, QuickBooks id).

        A row with no owner belongs to no record that could sync; its issue names the row.
        """
        owner = row.get(self.owner)
        if owner is None:
            return f"raw_ops.{self.name}", row.get("id"), None
        return self.entity, owner, None


# The tables whose records fieldbooks writes to QuickBooks; a bad invoice line or
# payment application holds back its invoice or payment.
CONTRACT_TABLES = (
    OpsTable("customers", "customer", "id"),
    OpsTable("vendors", "vendor", "id"),
    OpsTable("jobs", "job", "id"),
    OpsTable("invoices", "invoice", "id"),
    OpsTable("invoice_lines", "invoice", "invoice_id"),
    OpsTable("payments", "payment", "id"),
    OpsTable("payment_applications", "payment", "payment_id"),
    OpsTable("expenses", "expense", "id"),
)


def _is_money(column: Column) -> bool:
    return isinstance(column.type, ExactDecimal) and (
        column.type.precision,
        column.type.scale,
    ) == (18, 2)


def _unique_columns(table: Table) -> list[str]:
    """The id and the declared natural keys (invoice_number, job_number ...)."""
    return ["id", *(c.name for c in table.columns if c.unique)]


def _references(table: Table) -> list[tuple[str, str, str]]:
    """(column, parent table, parent column) of every foreign key."""
    return [
        (c.name, fk.column.table.name, fk.column.name)
        for c in table.columns
        for fk in c.foreign_keys
    ]


def required_columns(table: Table) -> list[str]:
    """The columns declared NOT NULL, the id first."""
    return ["id", *(c.name for c in table.columns if not c.nullable and c.name != "id")]


def checked_columns(table: Table) -> list[str]:
    """The columns the rules read, in the table's order."""
    wanted = {"id"} | set(_unique_columns(table)) | {c for c, _, _ in _references(table)}
    for c in table.columns:
        if not c.nullable or _is_money(c) or isinstance(c.type, Date):
            wanted.add(c.name)
    return [c.name for c in table.columns if c.name in wanted]


def ops_rules(spec: OpsTable) -> list[Rule]:
    """The contract of one raw_ops table, from its declaration."""
    import great_expectations as gx

    e = gx.expectations
    table, label = spec.table, spec.label
    # one expectation for every required column: GX's cost is per expectation, not per row
    rules = [
        Rule(
            e.ExpectColumnValuesToBeNull(
                column="empty_required",
                description=f"the required columns are filled in: {', '.join(required_columns(table))}",
            ),
            KIND,
            f"{label}: required {{empty_required}} empty",
            f"Fill in what the reason names in operations (the columns are required); {AGAIN}",
        )
    ]
    for name in _unique_columns(table):
        rules.append(
            Rule(
                e.ExpectColumnValuesToBeBetween(
                    column=f"{name}__live_rows",
                    max_value=1,
                    description=f"{name} is unique among live rows",
                ),
                KIND,
                f"{label}: {name} '{{{name}}}' is shared by {{{name}__live_rows}} live rows",
                f"Give each live row of {spec.name} its own {name} in operations (QuickBooks "
                f"tells records apart by it); {AGAIN}",
            )
        )
    for c in table.columns:
        if _is_money(c):
            rules.append(
                Rule(
                    e.ExpectColumnValuesToMatchRegex(
                        column=c.name,
                        regex=MONEY_PATTERN,
                        description=f"{c.name} is an amount exact to the cent",
                    ),
                    KIND,
                    f"{label}: {c.name} {{{c.name}}} is not an amount exact to the cent",
                    f"Correct {c.name} in operations to at most two decimals; {AGAIN}",
                )
            )
        if isinstance(c.type, Date):
            rules.append(
                Rule(
                    e.ExpectColumnValuesToMatchStrftimeFormat(
                        column=c.name, strftime_format="%Y-%m-%d", description=f"{c.name} is a date"
                    ),
                    KIND,
                    f"{label}: {c.name} '{{{c.name}}}' is not a date",
                    f"Correct {c.name} in operations to a real date (YYYY-MM-DD); {AGAIN}",
                )
            )
    for name, parent, _ in _references(table):
        rules.append(
            Rule(
                e.ExpectColumnValuesToBeInSet(
                    column=f"{name}__found",
                    value_set=[True],
                    description=f"{name} points at a row of raw_ops.{parent}",
                ),
                KIND,
                f"{label}: {name} {{{name}}} matches no row of raw_ops.{parent}",
                f"Point {name} at an existing row of {parent} in operations (or restore the "
                f"one it names); {AGAIN}",
            )
        )
    return rules


def batch_sql(spec: OpsTable, tables: set[str], since: bool) -> str:
    """The live rows to check, with the counts and lookups the rules compare.

    Every live row, or with `since`: the rows extracted after the mark, the rows of
    records with an open contract issue, and the rows with no owner at all (three %s:
    mark, realm, entity). Uniqueness and references are computed for the batch's values
    only, against the whole table, so an incremental check costs the changed rows.
    `tables` are the raw_ops tables that exist; a reference to a missing one is not judged.
    """
    table = spec.table
    where = "not coalesce(t._deleted, false)"
    if since:
        owner = f't."{spec.owner}"'
        where += (
            f" and (t._extracted_at > %s or cast({owner} as varchar) in ("
            "select ops_id from fieldbooks.sync_issues where realm_id = %s and entity = %s "
            f"and kind = '{KIND}' and status in ('open', 'retrying')) or {owner} is null)"
        )
    ctes = [f"batch as (select * from raw_ops.{spec.name} t where {where})"]
    joins, derived = [], []
    for n, name in enumerate(_unique_columns(table)):
        ctes.append(
            f'u{n} as (select o."{name}" as v, count(*) as live from raw_ops.{spec.name} o '
            f'where not coalesce(o._deleted, false) and o."{name}" in (select "{name}" from batch) '
            f'group by o."{name}")'
        )
        joins.append(f'left join u{n} on u{n}.v = b."{name}"')
        derived.append(f'u{n}.live as "{name}__live_rows"')
    for n, (name, parent, key) in enumerate(_references(table)):
        if parent not in tables:
            derived.append(f'null as "{name}__found"')
            continue
        ctes.append(
            f'p{n} as (select distinct o."{key}" as v from raw_ops.{parent} o '
            f'where o."{key}" in (select "{name}" from batch))'
        )
        joins.append(f'left join p{n} on p{n}.v = b."{name}"')
        derived.append(
            f'case when b."{name}" is null then null else p{n}.v is not null end as "{name}__found"'
        )
    selected = [f'cast(b."{c}" as varchar) as "{c}"' for c in checked_columns(table)]
    return (
        f"with {', '.join(ctes)} "
        f"select {', '.join([*selected, *derived, 'b._extracted_at'])} "
        f"from batch b {' '.join(joins)}"
    )


def ops_frame(table: Table, rows: list[dict[str, Any]]) -> Any:
    """The batch as a DataFrame of text, counts and lookups, with the required columns each
    row leaves empty (`empty_required`; the extract stamp left out)."""
    import pandas as pd

    required = required_columns(table)
    described = []
    for row in rows:
        empty = [name for name in required if row[name] is None]
        described.append(
            {k: v for k, v in row.items() if k != "_extracted_at"}
            | {"empty_required": ", ".join(empty) or None}
        )
    # object columns: counts stay integers and text stays text beside the nulls
    return pd.DataFrame(described, dtype=object)
