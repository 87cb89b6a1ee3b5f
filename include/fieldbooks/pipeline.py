"""The sync run, step by step: the functions the DAG and the command line both call.

Every step takes the settings and the run id and returns plain data (for XCom and
for the terminal). Steps are safe to rerun: each reads its inputs from the warehouse.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from fieldbooks.config import Settings
from fieldbooks.warehouse.state import utcnow

log = logging.getLogger(__name__)


def new_run_id() -> str:
    """A run id for a run started outside Airflow."""
    return "cli__" + utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")


def step_extract_ops(settings: Settings, run_id: str = "") -> dict[str, Any]:
    """Step 1: operations changes into raw_ops.*; rows merged, deletes found, tables held."""
    from fieldbooks.ops.extract import extract_ops

    results = extract_ops(settings, run_id)
    held = {r.table: r.held for r in results if r.held}
    for table, why in held.items():
        log.warning("raw_ops.%s held back (see `fieldbooks issues list`): %s", table, why)
    return {
        "rows": {r.table: r.rows for r in results},
        "hard_deleted": {r.table: r.hard_deleted for r in results if r.hard_deleted},
        "held": held,
    }


def step_extract_qbo(settings: Settings, run_id: str = "") -> dict[str, int]:
    """Step 2: QuickBooks changes into raw_qbo.*; objects merged per entity."""
    from fieldbooks.qbo.connection import check_token_expiry
    from fieldbooks.qbo.extract import extract_qbo

    extracted = {r.entity: r.objects for r in extract_qbo(settings)}
    check_token_expiry(settings, run_id)  # a token_expiring issue well before the 100 days
    return extracted


def step_validate_raw(settings: Settings, run_id: str) -> dict[str, Any]:
    """Step 2b: the raw contracts over what was just extracted; broken records held as issues."""
    from fieldbooks.quality.raw import validate_raw

    reports, data_docs = validate_raw(settings, run_id)
    return {"suites": [asdict(r) for r in reports], "data_docs": data_docs}


def step_transform(settings: Settings) -> dict[str, Any]:
    """Step 3: dbt build."""
    from fieldbooks.transform import transform

    result = transform(settings)
    return {"command": result.command, "succeeded": result.succeeded}


def step_validate(settings: Settings, run_id: str) -> dict[str, Any]:
    """Step 4: outbound suites; failing records held back as issues."""
    from fieldbooks.quality.outbound import validate_outbound

    reports, data_docs = validate_outbound(settings, run_id)
    return {"suites": [asdict(r) for r in reports], "data_docs": data_docs}


def step_load_quickbooks(settings: Settings, run_id: str) -> dict[str, dict[str, int]]:
    """Step 5a: outbound changes into QuickBooks."""
    from fieldbooks.qbo.push import load_quickbooks

    return load_quickbooks(settings, run_id).as_dict()


def step_load_ops(settings: Settings, run_id: str) -> dict[str, int]:
    """Step 5b: QuickBooks-side changes into the operations DB."""
    from fieldbooks.ops.writeback import load_ops

    return load_ops(settings, run_id)


def step_reconcile(settings: Settings, run_id: str) -> dict[str, Any]:
    """Step 6: reconciliation marts and the run summary."""
    from fieldbooks.reconcile import reconcile

    summary = reconcile(settings, run_id)
    return {**summary.__dict__, "ties_out": summary.ties_out, "lines": summary.lines()}


def sync(settings: Settings, run_id: str | None = None) -> dict[str, Any]:
    """Steps 1-6 in order (the raw contracts right after the extracts), as the DAG runs them."""
    run_id = run_id or new_run_id()
    log.info("sync run %s", run_id)
    step_extract_ops(settings, run_id)
    step_extract_qbo(settings, run_id)
    step_validate_raw(settings, run_id)
    step_transform(settings)
    step_validate(settings, run_id)
    step_load_quickbooks(settings, run_id)
    step_load_ops(settings, run_id)
    return step_reconcile(settings, run_id)
