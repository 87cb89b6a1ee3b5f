"""Run a Great Expectations suite over a DataFrame and name the records that fail.

Each expectation comes with the issue kind, a reason template and a hint (a `Rule`), so
a failing record becomes a `sync_issues` row that a person can act on. A suite that
fails most of what it checks means the input itself is broken: `mostly_broken` decides.
"""

from __future__ import annotations

import copy
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fieldbooks.quality.docs import DataDocs

# Great Expectations must never phone home.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Importing it logs each API function it registers at INFO: some 200 lines of noise in
# the task log people read.
logging.getLogger("great_expectations").setLevel(logging.WARNING)

# Hold back at most this share of what a suite checked before deciding the input is broken.
MAX_HELD_SHARE = 0.5
MIN_ROWS_FOR_ABORT = 10


class ValidationAborted(RuntimeError):
    """Most records a suite checked failed: the input is broken, nothing is written."""


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


def mostly_broken(checked: int, held: int) -> bool:
    """Whether a suite held back so much of a big enough input that the input is broken."""
    return checked >= MIN_ROWS_FOR_ABORT and held > MAX_HELD_SHARE * checked


def quiet_config() -> dict[str, Any]:
    """Context settings for a worker: no analytics, and no progress bars, whose carriage
    returns garble the task logs people read."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    return {"analytics_enabled": False, "progress_bars": ProgressBarsConfig(globally=False)}


def _scratch_context() -> Any:
    """An in-memory context whose results go nowhere (no report asked for)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(), **quiet_config()
    )
    return gx.get_context(project_config=config, mode="ephemeral")


def run_suite(
    name: str,
    frame: Any,
    id_column: str,
    rules: list[Rule],
    docs: DataDocs | None = None,
) -> list[Failure]:
    """Validate a DataFrame against the rules; returns one Failure per failing record and rule.

    With `docs`, the suite and its result are kept for the run's Data Docs report.
    """
    if frame.empty:
        return []
    import great_expectations as gx

    context = docs.context if docs else _scratch_context()
    # copies: an expectation joins one suite only, and a rule may serve several runs
    expectations = [copy.copy(rule.expectation) for rule in rules]
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=expectations))
    batch = (
        context.data_sources.add_or_update_pandas(name)
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("whole")
    )
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": frame},
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [id_column]},
        run_id=docs.run if docs else None,
    )
    if docs:
        docs.suites.append(name)
    rows = {str(r[id_column]): r for r in frame.to_dict(orient="records")}
    failures: list[Failure] = []
    # results come back in the suite's order, which is the rules' order
    for rule, outcome in zip(rules, result.results, strict=True):
        if outcome.success:
            continue
        for hit in outcome.result.get("unexpected_index_list") or []:
            record_id = str(hit[id_column])
            failures.append(Failure(record_id, rule, rows.get(record_id, {})))
    return failures
