"""What the DAGs call: a company's sync step, its dbt task group, the manual DAGs' actions.

DAG files only wire; everything here imports the pipeline lazily so parsing stays fast.
The dbt task group is rendered by astronomer-cosmos from a prebuilt manifest
(dbt_project/target/manifest.json, built by `fieldbooks dbt-manifest`).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fieldbooks.companies import company_keys, load_company, warehouse_pool
from fieldbooks.config import project_root

log = logging.getLogger(__name__)

# what every fieldbooks DAG starts from and retries with
START_DATE = datetime(2026, 1, 1)
DEFAULT_ARGS = {
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


def companies_param(description: str) -> Any:
    """The Params form's company picker (the companies file's keys; none: every one)."""
    from airflow.sdk import Param

    return Param(
        [], type="array", items={"type": "string", "enum": company_keys()}, description=description
    )


# the sync steps in order; True when the step takes the run id
SYNC_STEPS: dict[str, bool] = {
    "extract_ops": True,
    "extract_qbo": True,
    "validate_raw": True,
    "transform": False,
    "validate": True,
    "load_quickbooks": True,
    "load_ops": True,
    "reconcile": True,
}
# steps that call QuickBooks run in the company's QuickBooks pool, the rest in its warehouse pool
QBO_STEPS = frozenset({"extract_qbo", "load_quickbooks", "reconcile"})
# the QuickBooks side of a full resync: one change-data-capture watermark per realm
QBO_STREAM = "quickbooks"
MANIFEST_INPUTS = ("models", "seeds", "tests", "macros", "dbt_project.yml")


class ManifestMissing(RuntimeError):
    """The dbt manifest the DAGs are drawn from is missing or older than the project."""


def manifest_path(project_dir: Path | None = None) -> Path:
    """Where the prebuilt manifest lives: FIELDBOOKS_DBT_MANIFEST, by default
    dbt_project/target/manifest.json (git-ignored)."""
    if project_dir is None and os.environ.get("FIELDBOOKS_DBT_MANIFEST"):
        return Path(os.environ["FIELDBOOKS_DBT_MANIFEST"])
    return (project_dir or project_root() / "dbt_project") / "target" / "manifest.json"


def _newest_input(project_dir: Path) -> float:
    """The newest modification time among the files dbt parses."""
    newest = 0.0
    for name in MANIFEST_INPUTS:
        path = project_dir / name
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def manifest_is_current(project_dir: Path | None = None) -> bool:
    """True when the manifest exists and no model, seed, test or macro is newer."""
    path = manifest_path(project_dir)
    project_dir = project_dir or project_root() / "dbt_project"
    return path.exists() and path.stat().st_mtime >= _newest_input(project_dir)


def build_manifest(project_dir: Path | None = None) -> Path:
    """`dbt parse` into dbt_project/target: the manifest the DAGs render their dbt tasks from."""
    import tempfile

    from dbt.cli.main import dbtRunner

    path = manifest_path(project_dir)
    project_dir = project_dir or project_root() / "dbt_project"
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    with tempfile.TemporaryDirectory() as scratch:
        # parsing needs a profile but never connects; the DuckDB target needs no server
        os.environ.setdefault("FIELDBOOKS_DUCKDB_PATH", str(Path(scratch) / "parse.duckdb"))
        result = dbtRunner().invoke(
            [
                "parse",
                "--project-dir",
                str(project_dir),
                "--profiles-dir",
                str(project_dir),
                "--target",
                "duckdb",
                "--target-path",
                str(Path(scratch) / "target"),
                "--log-path",
                str(Path(scratch) / "logs"),
                "--no-partial-parse",
                "--quiet",
            ]
        )
        if not result.success:
            raise ManifestMissing(f"dbt parse failed: {result.exception or 'see the log above'}")
        path.parent.mkdir(parents=True, exist_ok=True)
        # moved into place whole: a DAG parsed meanwhile reads the old manifest or the new one;
        # partial_parse.msgpack lets cosmos' first dbt task skip a full parse
        for name, dest in (
            ("manifest.json", path),
            ("partial_parse.msgpack", path.parent / "partial_parse.msgpack"),
        ):
            staged = dest.with_name(f".{dest.name}.{os.getpid()}")
            shutil.copyfile(Path(scratch) / "target" / name, staged)
            os.replace(staged, dest)
    return path


def ensure_manifest(project_dir: Path | None = None) -> Path:
    """Build the manifest unless it is current (the demo, the tests, `make venv`)."""
    if manifest_is_current(project_dir):
        return manifest_path(project_dir)
    return build_manifest(project_dir)


def require_manifest() -> Path:
    """The manifest's path; a clear error (a DAG import error in the UI) when it is missing."""
    path = manifest_path()
    if not path.exists():
        raise ManifestMissing(
            f"the dbt manifest {path} is missing, so the dbt tasks cannot be drawn: run "
            "`fieldbooks dbt-manifest` (make venv and fieldbooks demo run it) where the DAGs "
            "are parsed, after every change to dbt_project/"
        )
    return path


def chosen_companies(
    requested: Sequence[str] | None, env: dict[str, str] | None = None
) -> list[str]:
    """The companies a run covers: the requested keys (checked), or every company when none."""
    keys = company_keys(env)
    if not requested:
        return keys
    unknown = [k for k in requested if k not in keys]
    if unknown:
        raise ValueError(f"no company {unknown}; the companies are {', '.join(keys)}")
    return [k for k in keys if k in requested]


def company_selected(key: str, requested: Sequence[str] | None) -> bool:
    """Whether this run syncs the company (conf {"companies": [...]}; none: all of them)."""
    chosen = chosen_companies(requested)
    if key not in chosen:
        log.info("company %s is not in this run's companies %s: skipped", key, chosen)
    return key in chosen


def is_auth_failure(exc: BaseException) -> bool:
    """QuickBooks refused the company's credentials: retrying cannot help, reconnecting can."""
    from intuitlib.exceptions import AuthClientError

    from fieldbooks.errors import ErrorClass, classify_qbo_error

    return isinstance(exc, AuthClientError) or classify_qbo_error(exc) is ErrorClass.AUTH


def run_step(
    key: str,
    step: str,
    run_id: str,
    resync: dict[str, Any] | None = None,
    companies: Sequence[str] | None = None,
    retry: dict[str, Any] | None = None,
) -> Any:
    """Run one sync step for one company with its own settings; a refused QuickBooks
    connection fails the task at once (no retries) with what to do.

    `resync`, `retry` and `companies` are the run's conf (`fieldbooks_full_resync` and
    `fieldbooks_retry_issues` send them): `extract_ops` applies them first (`apply_resync`,
    `apply_retry`), inside the company's warehouse pool and with no other sync of the company
    running (max_active_runs=1), so nothing holds the warehouse's lock against them and no
    extract can write an older watermark over the reset. The other steps ignore them."""
    from fieldbooks import pipeline

    settings = load_company(key).settings
    func = getattr(pipeline, f"step_{step}")
    applied: dict[str, Any] = {}
    if step == "extract_ops":
        applied["watermarks_reset"] = apply_resync(key, resync, companies, settings)
        applied["issues_retrying"] = apply_retry(key, retry, companies, settings)
    try:
        result = func(settings, run_id) if SYNC_STEPS[step] else func(settings)
    except Exception as exc:
        if step not in QBO_STEPS or not is_auth_failure(exc):
            raise
        from airflow.exceptions import AirflowFailException

        raise AirflowFailException(
            f"company {key}: QuickBooks refused its connection ({exc}); reconnect the company "
            f"(`fieldbooks connect`, connection {load_company(key, connection=False).qbo_conn_id})"
            ", then clear this task"
        ) from exc
    return {**result, **{k: v for k, v in applied.items() if v is not None}}


def _dbt_for_company(key: str, context: Any, operator: Any) -> None:
    """A cosmos interceptor: the company's warehouse and vars, resolved at run time
    (the QuickBooks realm may come from the company's Airflow connection), and its own
    mapping seeds, which must exist: never another company's."""
    from fieldbooks.mapping import require_mappings
    from fieldbooks.transform import dbt_env, dbt_project_dir, dbt_vars

    settings = load_company(key).settings
    require_mappings(settings)
    # cosmos clones this folder before each command: the company's seeds come with it
    operator.project_dir = str(dbt_project_dir(settings))
    operator.env = {**(operator.env or {}), **dbt_env(settings)}
    operator.vars = dbt_vars(settings)


def cross_model_tests(manifest: Path) -> list[str]:
    """The project's tests that read more than one node (relationships, sums across models,
    reconciliation checks): they run once, after every model is built."""
    import json

    nodes = json.loads(manifest.read_text())["nodes"].values()
    return sorted(
        n["name"]
        for n in nodes
        if n["resource_type"] == "test" and len(n["depends_on"]["nodes"]) > 1
    )


# how the dbt tasks run (FIELDBOOKS_DBT_EXECUTION): "watcher", one `dbt build` watched by a task
# per node, or "local", a `dbt build --select` per node
DBT_EXECUTION_MODES = ("watcher", "local")
DEFAULT_DBT_EXECUTION = "local"


def dbt_execution(env: dict[str, str] | None = None) -> str:
    """How the company's dbt tasks run, read where the DAG is parsed: the scheduler, the DAG
    processor and every worker must see the same FIELDBOOKS_DBT_EXECUTION."""
    value = (env if env is not None else os.environ).get("FIELDBOOKS_DBT_EXECUTION", "")
    mode = value.strip().lower() or DEFAULT_DBT_EXECUTION
    if mode not in DBT_EXECUTION_MODES:
        raise ValueError(
            f"FIELDBOOKS_DBT_EXECUTION={value!r} is not a dbt execution mode: set it to "
            f"{' or '.join(DBT_EXECUTION_MODES)} (or leave it unset for {DEFAULT_DBT_EXECUTION})"
        )
    return mode


def dbt_task_group(key: str, group_id: str = "transform") -> Any:
    """The company's dbt project as a cosmos DbtTaskGroup, in the company's warehouse pool,
    then `cross_model_tests` for the tests spanning several models.

    local: a task per seed and model that builds it and runs its own tests
    (`dbt build --select`), each starting dbt afresh (~4 s apiece).
    watcher: one producer task runs a single `dbt build` of the project (each model's own
    tests run right after it, as in local); a task per seed and model reports its node's result
    from it, and rebuilds and retests that node alone when cleared or retried."""
    from cosmos import (
        DbtTaskGroup,
        ExecutionConfig,
        ProfileConfig,
        ProjectConfig,
        RenderConfig,
    )
    from cosmos.constants import (
        ExecutionMode,
        InvocationMode,
        LoadMode,
        TestBehavior,
        TestIndirectSelection,
    )
    from cosmos.operators.local import DbtTestLocalOperator

    from fieldbooks.warehouse.connection import parse_warehouse_url

    mode = dbt_execution()
    project_dir = project_root() / "dbt_project"
    manifest = require_manifest()
    cross_tests = cross_model_tests(manifest)
    # the target (duckdb or postgres) is known from the companies file alone: no connection read
    target = parse_warehouse_url(load_company(key, connection=False).settings.warehouse_url).kind
    project_config = ProjectConfig(
        dbt_project_path=project_dir,
        manifest_path=manifest,
        project_name="fieldbooks",
    )
    # ProjectConfig wraps every manifest path in an ObjectStoragePath, whose first open loads
    # every Airflow plugin (FastAPI included): seconds of parse time for a local file
    project_config.manifest_path = manifest
    profile_config = ProfileConfig(
        profile_name="fieldbooks",
        target_name=target,
        profiles_yml_filepath=project_dir / "profiles.yml",
    )
    operator_args = {
        "pool": warehouse_pool(key),
        "install_deps": False,
        "interceptors": [functools.partial(_dbt_for_company, key)],
    }
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=project_config,
        profile_config=profile_config,
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # local: one task per node, `dbt build --select node`, its tests included, so
            # clearing it rebuilds and retests that model; ~85 tasks keep parsing well under 2 s.
            # watcher has no build task (the producer builds): its tasks render as `run`/`seed`
            # and _watch_one_build makes them build and test when they run dbt themselves
            test_behavior=TestBehavior.BUILD if mode == "local" else TestBehavior.NONE,
            # intermediate models are ephemeral but carry tests: their task runs those
            ephemeral_models_as_empty_operator=False,
            emit_datasets=False,
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL if mode == "local" else ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.DBT_RUNNER,
            # a model's task runs only the tests reading nothing else (cautious): a test
            # spanning models would otherwise run before its other models exist
            test_indirect_selection=TestIndirectSelection.CAUTIOUS,
        ),
        operator_args=operator_args,
    )
    if mode == "watcher":
        _watch_one_build(group, key, cross_tests)
    leaves = list(group.get_leaves())
    cross = DbtTestLocalOperator(
        task_id="cross_model_tests",
        task_group=group,
        project_dir=project_dir,
        profile_config=profile_config,
        select=cross_tests,
        invocation_mode=InvocationMode.DBT_RUNNER,
        manifest_filepath=manifest,
        emit_datasets=False,
        **operator_args,
    )
    for leaf in leaves:
        leaf >> cross
    return group


def _watch_one_build(group: Any, key: str, cross_tests: list[str]) -> None:
    """Shape cosmos' watcher tasks to this pipeline's rules.

    - The producer's `dbt build` covers every seed, model and model's own test (cosmos would
      limit it to seeds and models under TestBehavior.NONE) but not `cross_model_tests`, which
      still run once after every model.
    - The producer is upstream of the first node tasks. Cosmos leaves them side by side so
      they can report while the build runs, but `airflow dags test` runs one task at a time:
      a node task that started first would wait forever for a build that cannot start.
      Those tasks take `none_failed`, so a producer that skips (cosmos skips it on any second
      try rather than build twice) lets them run dbt for their own node instead of skipping
      the sync; a failed build fails them upstream and the run stops before `validate`.
    - The producer does not retry: a retry would only skip.
    - A node task run for itself (cleared, retried, or the producer skipped) does what a
      local task does: `dbt build --select node --indirect-selection cautious`.
    - Every task of the group sits in the company's warehouse pool (DuckDB has one writer).
    """
    from airflow.task.trigger_rule import TriggerRule
    from cosmos.constants import PRODUCER_WATCHER_DONE_TASK_ID, PRODUCER_WATCHER_TASK_ID

    tasks = {t.task_id.rsplit(".", 1)[-1]: t for t in group.children.values()}
    producer = tasks[PRODUCER_WATCHER_TASK_ID]
    producer.retries = 0
    flags = list(producer.dbt_cmd_flags or [])
    kept = []
    while flags:
        flag = flags.pop(0)
        if flag == "--resource-type":
            flags.pop(0)
            continue
        kept.append(flag)
    producer.dbt_cmd_flags = kept
    producer.exclude = cross_tests
    tasks[PRODUCER_WATCHER_DONE_TASK_ID].pool = warehouse_pool(key)
    for name, task in tasks.items():
        if name in (PRODUCER_WATCHER_TASK_ID, PRODUCER_WATCHER_DONE_TASK_ID):
            continue
        task.base_cmd = ["build"]
        task.indirect_selection = "cautious"
        if not task.upstream_task_ids:
            producer >> task
            task.trigger_rule = TriggerRule.NONE_FAILED


def trigger_sync(run_prefix: str, conf: Any) -> Any:
    """A manual DAG's last task: the `fieldbooks_sync` run that carries its request (`conf`,
    checked by the DAG's first task), queued behind any sync in progress; the run id
    `<run_prefix>__<this run's id>` says where it came from."""
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    return TriggerDagRunOperator(
        task_id="sync",
        trigger_dag_id="fieldbooks_sync",
        trigger_run_id=f"{run_prefix}__{{{{ run_id }}}}",
        conf=conf,
    )


def _since(value: str | None) -> datetime | None:
    """The `since` of a full resync as naive UTC; None means from the beginning."""
    if not value:
        return None
    from datetime import UTC

    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"since {value!r} is not an ISO date-time (e.g. 2026-02-01T00:00:00Z); "
            "leave it empty to re-read from the beginning"
        ) from None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def resync_streams() -> list[str]:
    """What a full resync can reset: each operations table, and QuickBooks (one stream)."""
    from fieldbooks.ops.schema import SYNCED_TABLES

    return [t.name for t in SYNCED_TABLES] + [QBO_STREAM]


def _check_streams(streams: Iterable[str]) -> None:
    unknown = sorted(set(streams) - set(resync_streams()))
    if unknown:
        raise ValueError(f"no entity {unknown}; choose from {', '.join(resync_streams())}")


def resync_request(entities: Sequence[str] | None, since: str | None) -> dict[str, Any]:
    """The resync request `fieldbooks_full_resync` hands to `fieldbooks_sync` in its conf
    (`{"resync": {"entities": [...], "since": ...}}`), checked: a typo in the conf of a
    hand-triggered run must fail before any watermark moves, not reset the wrong streams."""
    if entities is not None and (
        isinstance(entities, str) or not all(isinstance(e, str) for e in entities)
    ):
        raise ValueError(
            f"resync entities must be a list of names, not {entities!r}; "
            f"choose from {', '.join(resync_streams())}"
        )
    streams = list(entities or [])
    _check_streams(streams)
    _since(since)
    return {"entities": streams, "since": since or None}


def apply_resync(
    key: str,
    resync: dict[str, Any] | None,
    companies: Sequence[str] | None,
    settings: Any = None,
) -> dict[str, str] | None:
    """Apply a run's resync request to one company: its watermarks move back (`reset_watermarks`)
    when the run carries one and covers the company; None when there is nothing to do.

    `extract_ops` calls it, in the company's warehouse pool, so the reset cannot meet a running
    sync's lock nor be overwritten by an extract that read with the old watermark. A retried
    or cleared `extract_ops` applies it again and re-reads again: safe, since raw merges are
    keyed and every write to either side goes through the ledger."""
    shape = '{"entities": [...], "since": "<ISO date-time or null>"}'
    if not _conf_request("resync", resync, ("entities", "since"), shape):
        return None
    request = resync_request(resync.get("entities"), resync.get("since"))
    if key not in chosen_companies(companies):
        log.info("company %s is not in this run's companies: no resync", key)
        return None
    return reset_watermarks(key, request["entities"], request["since"], settings)


def _conf_request(name: str, value: Any, keys: tuple[str, ...], shape: str) -> bool:
    """Whether a run's conf carries this request; a malformed one (conf can be typed by
    hand in the Trigger form) fails before anything is changed."""
    if value is None:
        return False
    if not isinstance(value, dict) or set(value) - set(keys):
        raise ValueError(f"{name} must be {shape}, not {value!r}")
    return True


def retry_request(issue_ids: Sequence[str | int] | None, kinds: Sequence[str] | None) -> dict:
    """The retry request `fieldbooks_retry_issues` hands to `fieldbooks_sync` in its conf
    (`{"retry": {"issue_ids": [...], "kinds": [...]}}`), checked: ids as strings (what the
    status page sends), at least one id or kind."""
    for name, values, types in (("issue_ids", issue_ids, (str, int)), ("kinds", kinds, (str,))):
        if values is not None and (
            isinstance(values, str) or not all(isinstance(v, types) for v in values)
        ):
            raise ValueError(f"retry {name} must be a list, not {values!r}")
    request = {"issue_ids": [str(i) for i in issue_ids or []], "kinds": list(kinds or [])}
    if not request["issue_ids"] and not request["kinds"]:
        raise ValueError("give issue_ids or kinds: which issues to retry")
    return request


def apply_retry(
    key: str,
    retry: dict[str, Any] | None,
    companies: Sequence[str] | None,
    settings: Any = None,
) -> list[str] | None:
    """Put a run's chosen issues of one company back in line (`mark_issues_retrying`) when
    the run carries a retry request and covers the company; None when there is nothing to do.

    `extract_ops` calls it, in the company's warehouse pool, so it never waits on a running
    sync's DuckDB lock (a task outside the pool could exhaust its retries there), and the
    records it frees are tried in this very run. Applied again on a retry: marking an issue
    that is already retrying changes nothing."""
    shape = '{"issue_ids": [...], "kinds": [...]}'
    if not _conf_request("retry", retry, ("issue_ids", "kinds"), shape):
        return None
    request = retry_request(retry.get("issue_ids"), retry.get("kinds"))
    if key not in chosen_companies(companies):
        log.info("company %s is not in this run's companies: no retry", key)
        return None
    return mark_issues_retrying(key, request["issue_ids"], request["kinds"], settings)


def reset_watermarks(
    key: str, entities: Iterable[str], since: str | None, settings: Any = None
) -> dict[str, str]:
    """Move the chosen streams' watermarks back to `since` (or forget them: read everything),
    so the next extract re-reads them; merges are keyed, so nothing is duplicated. A watermark
    already at or before `since`, or none yet, stays: moving it forward would skip changes.

    Run it where no sync of the company is extracting (its `extract_ops` does, through
    `apply_resync`): an extract that read with the old watermark would write its newer one
    over the reset, and the re-read would silently not happen."""
    from fieldbooks.warehouse.connection import connect
    from fieldbooks.warehouse.state import ensure_state, get_watermark, set_watermark

    streams = list(entities) or resync_streams()
    _check_streams(streams)
    when = _since(since)
    settings = settings or load_company(key).settings
    done: dict[str, str] = {}
    with connect(settings.warehouse_url) as wh:
        ensure_state(wh)
        with wh.transaction():
            for stream in streams:
                source, name, realm = (
                    ("qbo", "cdc", settings.qbo.realm_id)
                    if stream == QBO_STREAM
                    else ("ops", stream, "")
                )
                if when is None:
                    wh.execute(
                        "delete from fieldbooks.watermarks "
                        "where source = %s and stream in (%s, %s) and realm_id = %s",
                        (source, name, f"{name}#keys", realm),
                    )
                    done[stream] = "from the beginning"
                    continue
                current = get_watermark(wh, source, name, realm)
                if current is None or _since(current) <= when:
                    # never forward: changes between the watermark and `since` are not read yet
                    done[stream] = f"kept at {current}" if current else "never read: read in full"
                    continue
                set_watermark(wh, source, name, when.isoformat(), realm)
                done[stream] = when.isoformat()
    log.info("company %s: watermarks reset %s", key, done)
    return done


def mark_issues_retrying(
    key: str, issue_ids: Sequence[str | int], kinds: Sequence[str], settings: Any = None
) -> list[str]:
    """Put the company's open issues with these ids or of these kinds back in line
    (as `fieldbooks issues retry` does); the sync that follows retries them."""
    from fieldbooks.issues import list_issues, mark_retrying
    from fieldbooks.warehouse.connection import connect
    from fieldbooks.warehouse.state import ensure_state

    if not issue_ids and not kinds:
        raise ValueError("give issue_ids or kinds: which issues to retry")
    wanted = {str(i) for i in issue_ids}
    settings = settings or load_company(key).settings
    with connect(settings.warehouse_url) as wh:
        ensure_state(wh)
        for kind in kinds:
            wanted.update(row["issue_id"] for row in list_issues(wh, "open", kind))
        chosen = mark_retrying(wh, sorted(wanted)) if wanted else []
    log.info("company %s: %d issue(s) marked for retry", key, len(chosen))
    return chosen
