"""The raw QuickBooks contract: what a live raw_qbo row must hold before dbt reads its payload.

Its id and SyncToken are present, its payload is a JSON object whose `Id` is the row's
id, and its `TotalAmt`, where the entity has one, is exact to the cent (dbt casts it to
numeric(18,2), which would round a third decimal away without a word). The payload is
parsed here, digit for digit, so the frame carries what the rules read, not the payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fieldbooks.money import loads_exact
from fieldbooks.qbo.raw import CDC_ENTITIES, QUERY_ENTITIES
from fieldbooks.quality.raw_ops import KIND, MONEY_PATTERN
from fieldbooks.quality.runner import Rule

REREAD = (
    "Open the record in QuickBooks and save it, so the next extract reads it again; "
    "raw_qbo rows are written only by `fieldbooks extract qbo`, so a row like this one "
    "was changed by something else."
)


@dataclass(frozen=True)
class QboTable:
    """One raw_qbo table under contract."""

    entity: str  # QuickBooks' name: Invoice

    @property
    def name(self) -> str:
        """raw_qbo.<name>, and the sync_issues entity."""
        return self.entity.lower()

    @property
    def suite(self) -> str:
        """The suite's name in the Data Docs report."""
        return f"raw_qbo_{self.name}"

    @property
    def stream(self) -> str:
        """The watermark stream of the newest extract this contract has checked."""
        return f"raw_qbo.{self.name}"

    def rules(self) -> list[Rule]:
        """The contract (the same for every entity; TotalAmt only where there is one)."""
        return qbo_rules(self)

    def query(self, mark: datetime | None, realm_id: str, tables: set[str]) -> tuple[str, tuple]:
        """The batch's SQL and parameters (every live row of the realm before the first check)."""
        if mark is None:
            return batch_sql(self, since=False), (realm_id,)
        return batch_sql(self, since=True), (realm_id, mark, realm_id, self.name)

    def frame(self, rows: list[dict[str, Any]]) -> Any:
        """The batch as the rules read it."""
        return qbo_frame(rows)

    def held(self, row: dict[str, Any]) -> tuple[str, str | None, str | None]:
        """The QuickBooks object a failing row holds back: (entity, None, its id)."""
        return self.name, None, row.get("id")


CONTRACT_ENTITIES = tuple(QboTable(e) for e in (*CDC_ENTITIES, *QUERY_ENTITIES))


def qbo_rules(spec: QboTable) -> list[Rule]:
    """The contract of one raw_qbo table."""
    import great_expectations as gx

    e = gx.expectations
    label = f"QuickBooks {spec.entity} {{id}}"
    return [
        Rule(
            e.ExpectColumnValueLengthsToBeBetween(
                column="id", min_value=1, description="id is present"
            ),
            KIND,
            f"{label}: raw_qbo.{spec.name} holds it with an empty id",
            REREAD,
        ),
        Rule(
            e.ExpectColumnValuesToNotBeNull(
                column="sync_token", description="SyncToken is present"
            ),
            KIND,
            f"{label}: raw_qbo.{spec.name} has no SyncToken for it",
            f"QuickBooks always sends one and an update needs it. {REREAD}",
        ),
        Rule(
            e.ExpectColumnValuesToBeInSet(
                column="payload_shape",
                value_set=["an object"],
                description="payload is a JSON object",
            ),
            KIND,
            f"{label}: its payload in raw_qbo.{spec.name} is {{payload_shape}}",
            REREAD,
        ),
        Rule(
            e.ExpectColumnPairValuesToBeEqual(
                column_A="payload_id",
                column_B="id",
                ignore_row_if="either_value_is_missing",
                description="payload Id is the row's id",
            ),
            KIND,
            f"{label}: its payload in raw_qbo.{spec.name} carries Id '{{payload_id}}'",
            REREAD,
        ),
        Rule(
            e.ExpectColumnValuesToMatchRegex(
                column="total_amt",
                regex=MONEY_PATTERN,
                description="TotalAmt is an amount exact to the cent",
            ),
            KIND,
            f"{label}: TotalAmt {{total_amt}} is not an amount exact to the cent",
            f"Correct the {spec.entity}'s amounts in QuickBooks (two decimals at most); the "
            "next extract reads it again.",
        ),
    ]


def _shape(value: Any) -> str:
    """A parsed payload's shape, as a reason says it."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a JSON array"
    return "a JSON string" if isinstance(value, str) else "a bare JSON value"


def describe(row: dict[str, Any]) -> dict[str, Any]:
    """One raw_qbo row as the rules read it: ids, and what its payload holds."""
    described = {
        "id": row["id"],
        "sync_token": row["sync_token"] or None,
        "payload_shape": "an object",
        "payload_id": None,
        "total_amt": None,
    }
    try:
        payload = loads_exact(row["payload"]) if row["payload"] is not None else None
    except ValueError:
        return described | {"payload_shape": "not JSON"}
    if payload is None:
        return described | {"payload_shape": "empty"}
    if not isinstance(payload, dict):
        return described | {"payload_shape": _shape(payload)}
    payload_id = payload.get("Id")
    return described | {
        "payload_id": "" if payload_id is None else str(payload_id),
        # as written: 12.345 stays 12.345 (no float on the way), a non-number stays visible
        "total_amt": None if payload.get("TotalAmt") is None else str(payload["TotalAmt"]),
    }


def batch_sql(spec: QboTable, since: bool) -> str:
    """The realm's live rows to check, payload as text (jsonb keeps its digits that way).

    Every live row, or with `since`: the rows extracted after the mark and those of
    objects with an open contract issue (four %s: realm, mark, realm, entity); one %s
    (realm) without.
    """
    where = "realm_id = %s and not coalesce(deleted, false)"
    if since:
        where += (
            " and (_extracted_at > %s or id in (select qbo_id from fieldbooks.sync_issues "
            f"where realm_id = %s and entity = %s and kind = '{KIND}' "
            "and status in ('open', 'retrying')))"
        )
    return (
        "select id, sync_token, cast(payload as varchar) as payload, _extracted_at "
        f"from raw_qbo.{spec.name} where {where}"
    )


def qbo_frame(rows: list[dict[str, Any]]) -> Any:
    """The batch as a DataFrame of what the rules read."""
    import pandas as pd

    return pd.DataFrame([describe(row) for row in rows], dtype=object)
