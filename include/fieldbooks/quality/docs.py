"""Data Docs: the browsable HTML report every validation run leaves under the fieldbooks home.

Great Expectations' own site builder renders `$FIELDBOOKS_HOME/data_docs/index.html` from
suites and results kept in filesystem stores under `$FIELDBOOKS_HOME/gx/`, so the raw
contracts and the outbound suites (separate tasks, separate processes) share one report.
Each suite keeps its newest `KEEP_RESULTS` results; older ones and their pages are
removed, which keeps the report quick to build and to read on a 15-minute schedule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fieldbooks.quality.runner import quiet_config

log = logging.getLogger(__name__)

SITE = "fieldbooks"
KEEP_RESULTS = 20


def index_path(home: Path) -> Path:
    """Where the report's front page is written."""
    return home / "data_docs" / "index.html"


def existing_index(home: Path) -> str | None:
    """The report's front page, when a validation run has written one."""
    path = index_path(home)
    return str(path) if path.exists() else None


def _filesystem(path: Path) -> dict[str, str]:
    return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(path)}


def _in_memory() -> dict[str, str]:
    return {"class_name": "InMemoryStoreBackend"}


@dataclass
class DataDocs:
    """One validation run's report: its results are stored under one run id and published
    together. Great Expectations is imported only once a suite has rows to check, so a
    quiet run costs no import."""

    home: Path
    run_id: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    suites: list[str] = field(default_factory=list)
    _context: Any = field(default=None, init=False, repr=False)

    @property
    def context(self) -> Any:
        """The run's GX context (created on first use)."""
        if self._context is None:
            self._context = _open_context(self.home)
        return self._context

    @property
    def run(self) -> Any:
        """The RunIdentifier every result of this run carries: the pipeline's run id."""
        from great_expectations.core.run_identifier import RunIdentifier

        return RunIdentifier(run_name=self.run_id or "manual", run_time=self.started)

    def publish(self) -> Path:
        """Render this run's results and suites, rebuild the index, drop the oldest results."""
        path = index_path(self.home)
        if not self.suites and path.exists():
            return path  # nothing new to show
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
        )

        _prune(self.context, self.home)
        run = self.run.to_tuple()
        ours = [
            key
            for key in self.context.validation_results_store.list_keys()
            if key.run_id.to_tuple() == run
        ]
        suites = [ExpectationSuiteIdentifier(name=name) for name in sorted(set(self.suites))]
        # with nothing validated yet there is no report: build it whole (an empty index)
        self.context.build_data_docs(
            site_names=[SITE], resource_identifiers=(ours + suites) or None
        )
        log.info("validation report (Data Docs): %s", path)
        return path


def _open_context(home: Path) -> Any:
    """A context whose suites and results land in `home`'s stores, and its Data Docs site."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig

    stores = home / "gx"
    config = DataContextConfig(
        stores={
            "expectations_store": {
                "class_name": "ExpectationsStore",
                "store_backend": _filesystem(stores / "expectations"),
            },
            "validation_results_store": {
                "class_name": "ValidationResultsStore",
                "store_backend": _filesystem(stores / "validations"),
            },
            # the suites are code (fieldbooks.quality): nothing else needs keeping
            "checkpoint_store": {"class_name": "CheckpointStore", "store_backend": _in_memory()},
            "validation_definition_store": {
                "class_name": "ValidationDefinitionStore",
                "store_backend": _in_memory(),
            },
        },
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        data_docs_sites={
            SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": _filesystem(index_path(home).parent),
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
        **quiet_config(),
    )
    context = gx.get_context(project_config=config, mode="ephemeral")
    # GX's pages fetch their logo with the context's id in the URL when a person opens
    # them: a report with no id tells nobody which deployment is reading it.
    context.variables.data_context_id = None
    return context


def _prune(context: Any, home: Path) -> None:
    """Keep each suite's newest KEEP_RESULTS results; remove the rest and their pages."""
    from great_expectations.data_context.store.html_site_store import HtmlSiteStore
    from great_expectations.data_context.types.resource_identifiers import (
        ValidationResultIdentifier,
    )

    store = context.validation_results_store
    by_suite: dict[str, list[Any]] = {}
    for key in store.list_keys():
        by_suite.setdefault(key.expectation_suite_identifier.name, []).append(key)
    stale = [
        key
        for keys in by_suite.values()
        for key in sorted(keys, key=lambda k: k.run_id.run_time, reverse=True)[KEEP_RESULTS:]
    ]
    if not stale:
        return
    pages = HtmlSiteStore(store_backend=_filesystem(index_path(home).parent))
    for key in stale:
        store.remove_key(key)
        pages.store_backends[ValidationResultIdentifier].remove_key(key.to_tuple())
    log.info("Data Docs: %d old validation result(s) removed", len(stale))
