"""Run a Great Expectations suite over a DataFrame and name the records that fail.

Each expectation carries, in its `meta`, the issue kind, a reason template and a hint,
so a failing record becomes a `sync_issues` row that a person can act on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

# Great Expectations must never phone home.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@dataclass(frozen=True)
class Rule:
    """One expectation and what its failure means to a person."""

    expectation: Any  # a gx.expectations.Expectation
    kind: str
    reason: str  # formatted with the failing row's columns
    hint: str


@dataclass(frozen=True)
class Failure:
    """One record that broke one rule."""

    record_id: str
    rule: Rule
    row: dict[str, Any]

    @property
    def reason(self) -> str:
        """The rule's reason filled in with the record's values."""
        try:
            return self.rule.reason.format(**self.row)
        except (KeyError, IndexError, ValueError):
            return self.rule.reason


def run_suite(name: str, frame: Any, id_column: str, rules: list[Rule]) -> list[Failure]:
    """Validate a DataFrame against the rules; returns one Failure per failing record and rule."""
    if frame.empty:
        return []
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # Task logs are read by people: no progress bars, whose carriage returns garble them.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas(f"{name}_source")
    batch = (
        source.add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    for rule in rules:
        suite.add_expectation(rule.expectation)
    result = batch.validate(
        suite,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [id_column]},
    )
    rows = {str(r[id_column]): r for r in frame.to_dict(orient="records")}
    failures: list[Failure] = []
    for rule, outcome in zip(rules, result.results, strict=True):
        if outcome.success:
            continue
        for hit in outcome.result.get("unexpected_index_list") or []:
            record_id = str(hit[id_column])
            failures.append(Failure(record_id, rule, rows.get(record_id, {})))
    return failures
