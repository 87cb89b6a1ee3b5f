"""Every DAG file imports fast and cleanly, and follows the project's DAG rules,
with one company (no companies file) and with two (a companies file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))
SYNC_STEPS = [
    "extract_ops",
    "extract_qbo",
    "validate_raw",
    "validate",
    "load_quickbooks",
    "load_ops",
    "reconcile",
]
QBO_STEPS = {"extract_qbo", "load_quickbooks", "reconcile"}
TWO_COMPANIES = """
[companies.acme]
[companies.zenith_hvac]
warehouse_url = "postgresql://postgres@127.0.0.1:5432/zenith_wh"
"""

# what the DAG processor would see, described as JSON by a fresh interpreter
DESCRIBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({
    "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {
        dag_id: {
            "tags": sorted(dag.tags),
            "doc_md": bool(dag.doc_md),
            "max_active_runs": dag.max_active_runs,
            "schedule": str(dag.schedule),
            "params": sorted(dag.params.keys()),
            "tasks": {
                t.task_id: {
                    "pool": t.pool,
                    "retries": t.retries,
                    "operator": type(t).__name__,
                    "upstream": sorted(t.upstream_task_ids),
                    "mapped": type(t).__name__.endswith("MappedOperator"),
                    "trigger_rule": getattr(t.trigger_rule, "value", t.trigger_rule),
                    # how a dbt task runs dbt when it runs it itself
                    "base_cmd": list(getattr(t, "base_cmd", None) or []),
                    "indirect_selection": getattr(t, "indirect_selection", None),
                    "exclude": getattr(t, "exclude", None),
                    "dbt_cmd_flags": list(getattr(t, "dbt_cmd_flags", None) or []),
                }
                for t in dag.tasks
            },
        }
        for dag_id, dag in bag.dags.items()
    },
}))
"""


def _env(tmp_path: Path, companies: str | None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "airflow_home"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "FIELDBOOKS_HOME": str(tmp_path / "home"),
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT / "include"), str(ROOT), os.environ.get("PYTHONPATH", "")]
            ),
            **extra,
        }
    )
    env.pop("FIELDBOOKS_COMPANIES_FILE", None)
    if companies is not None:
        path = tmp_path / "companies.toml"
        path.write_text(companies)
        env["FIELDBOOKS_COMPANIES_FILE"] = str(path)
    return env


def _describe(env: dict[str, str], folder: Path = DAGS) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", DESCRIBE, str(folder)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module", autouse=True)
def manifest():
    """The prebuilt dbt manifest the sync DAG draws its dbt tasks from."""
    from fieldbooks.orchestration import ensure_manifest

    return ensure_manifest()


# the dbt task shapes of each FIELDBOOKS_DBT_EXECUTION
EXECUTION_MODES = ["local", "watcher"]
PRODUCER = "dbt_producer_watcher"
PRODUCER_DONE = "dbt_producer_watcher_done"


@pytest.fixture(
    scope="module",
    params=[
        ("one_company", "local"),
        ("two_companies", "local"),
        ("one_company", "watcher"),
        ("two_companies", "watcher"),
    ],
    ids=lambda p: "-".join(p),
)
def setup(request, tmp_path_factory):
    """(company keys, DagBag description, dbt execution mode) without a companies file and
    with one of two, for each way the dbt tasks can run."""
    companies, mode = request.param
    tmp_path = tmp_path_factory.mktemp(f"{companies}_{mode}")
    extra = {"FIELDBOOKS_DBT_EXECUTION": mode}
    if companies == "one_company":
        return ["default"], _describe(_env(tmp_path, None, **extra)), mode
    return ["acme", "zenith_hvac"], _describe(_env(tmp_path, TWO_COMPANIES, **extra)), mode


def test_there_is_a_dag_file_per_dag():
    assert [p.stem for p in DAG_FILES] == [
        "fieldbooks_full_resync",
        "fieldbooks_retry_issues",
        "fieldbooks_sync",
    ]


def test_dags_import_without_errors(setup):
    _, bag, _ = setup
    assert bag["import_errors"] == {}
    assert set(bag["dags"]) == {p.stem for p in DAG_FILES}


@pytest.mark.parametrize("mode", EXECUTION_MODES)
@pytest.mark.parametrize("companies", [None, TWO_COMPANIES], ids=["one_company", "two_companies"])
@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_parses_in_under_two_seconds(path, companies, mode, tmp_path):
    """Measured in a fresh interpreter with Airflow already imported, as the DAG processor
    does: DagBag over that one file, cosmos rendering the dbt tasks included."""
    code = (
        "import time, airflow.sdk\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "start = time.perf_counter()\n"
        f"bag = DagBag(dag_folder={str(path)!r})\n"
        "elapsed = time.perf_counter() - start\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "assert bag.dags, 'no DAG'\n"
        "print(elapsed)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(tmp_path, companies, FIELDBOOKS_DBT_EXECUTION=mode),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    seconds = float(out.stdout.strip().splitlines()[-1])
    assert seconds < 2.0, f"{path.name} took {seconds:.2f}s to parse"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_no_heavy_modules_at_parse_time(path, tmp_path):
    code = (
        "import sys, runpy, airflow.sdk\n"
        "before = set(sys.modules)\n"
        f"runpy.run_path({str(path)!r})\n"
        "heavy = {'pandas', 'quickbooks', 'great_expectations', 'dbt', 'duckdb', 'psycopg'}\n"
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(tmp_path, TWO_COMPANIES),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_every_dag_has_tags_retries_and_docs(setup):
    _, bag, _ = setup
    for dag_id, dag in bag["dags"].items():
        assert "fieldbooks" in dag["tags"], f"{dag_id} has no tags"
        assert dag["doc_md"], f"{dag_id} has no doc_md"
        assert dag["max_active_runs"] == 1, f"{dag_id} may overlap runs"
        for task_id, t in dag["tasks"].items():
            if task_id.endswith(f".transform.{PRODUCER}"):
                # cosmos skips a watcher producer's second try rather than build twice: a
                # retry would only skip; the node tasks retry, each by itself
                assert t["retries"] == 0, task_id
                continue
            assert t["retries"] >= 2, f"{dag_id}.{task_id} retries={t['retries']}"


def test_the_sync_runs_every_fifteen_minutes_and_the_others_on_demand(setup):
    _, bag, _ = setup
    assert bag["dags"]["fieldbooks_sync"]["schedule"] == "*/15 * * * *"
    for dag_id in ("fieldbooks_full_resync", "fieldbooks_retry_issues"):
        assert bag["dags"][dag_id]["schedule"] == "None"


def test_the_schedule_comes_from_configuration(tmp_path):
    bag = _describe(_env(tmp_path, None, FIELDBOOKS_SYNC_SCHEDULE="@hourly"))
    assert bag["dags"]["fieldbooks_sync"]["schedule"] == "@hourly"


def test_each_company_has_its_own_task_group_and_pools(setup):
    keys, bag, _ = setup
    tasks = bag["dags"]["fieldbooks_sync"]["tasks"]
    groups = {task_id.split(".")[0] for task_id in tasks}
    assert groups == {f"company_{k}" for k in keys}
    for key in keys:
        group = f"company_{key}"
        for task_id, t in tasks.items():
            if not task_id.startswith(f"{group}."):
                continue
            step = task_id.split(".")[1]
            pool = "qbo" if step in QBO_STEPS else "warehouse"
            assert t["pool"] == f"fieldbooks_{pool}_{key}", task_id
            # no edge between companies: one's failure leaves the others running
            assert all(u.startswith(f"{group}.") for u in t["upstream"]), task_id


def test_sync_steps_run_in_order_around_the_dbt_tasks(setup):
    keys, bag, mode = setup
    tasks = bag["dags"]["fieldbooks_sync"]["tasks"]
    for key in keys:
        g = f"company_{key}"
        assert tasks[f"{g}.extract_ops"]["upstream"] == [f"{g}.selected"]
        assert tasks[f"{g}.extract_qbo"]["upstream"] == [f"{g}.extract_ops"]
        assert tasks[f"{g}.validate_raw"]["upstream"] == [f"{g}.extract_qbo"]
        dbt = {t for t in tasks if t.startswith(f"{g}.transform.")}
        roots = {t for t in dbt if tasks[t]["upstream"] == [f"{g}.validate_raw"]}
        if mode == "local":
            assert f"{g}.transform.stg_ops__invoices_model_build" in roots
            assert f"{g}.transform.map_trades_seed_build" in roots
            last_model = f"{g}.transform.job_costing_by_branch_model_build"
        else:
            # the one `dbt build` starts first; the first node tasks wait for it
            producer = f"{g}.transform.{PRODUCER}"
            assert roots == {producer}
            for first in ("stg_ops__invoices_run", "map_trades_seed"):
                assert tasks[f"{g}.transform.{first}"]["upstream"] == [producer]
            last_model = f"{g}.transform.job_costing_by_branch_run"
        # the tests spanning models run once every model is built, before validate
        cross = f"{g}.transform.cross_model_tests"
        assert tasks[f"{g}.validate"]["upstream"] == [cross]
        assert last_model in tasks[cross]["upstream"]
        for later, earlier in zip(SYNC_STEPS[4:], SYNC_STEPS[3:], strict=False):
            assert tasks[f"{g}.{later}"]["upstream"] == [f"{g}.{earlier}"]


def test_every_dbt_model_and_seed_is_a_task_that_builds_and_tests_it(setup, manifest):
    keys, bag, mode = setup
    tasks = bag["dags"]["fieldbooks_sync"]["tasks"]
    nodes = [n for n in json.loads(manifest.read_text())["nodes"].values()]
    built = {
        (n["name"], n["resource_type"])
        for n in nodes
        if n["resource_type"] in ("model", "seed") and n["package_name"] == "fieldbooks"
    }
    assert len(built) > 80
    for key in keys:
        g = f"company_{key}.transform"
        dbt_tasks = {t for t in tasks if t.startswith(f"{g}.")}
        if mode == "local":
            node_tasks = {f"{g}.{name}_{kind}_build" for name, kind in built}
            assert dbt_tasks == node_tasks | {f"{g}.cross_model_tests"}
            for task_id in node_tasks:
                assert tasks[task_id]["operator"] == "DbtBuildLocalOperator", task_id
        else:
            # cosmos names a watcher task after what it watches (`run`, `seed`); run by
            # itself (cleared or retried) it builds and tests its node as a local task does
            suffix = {"model": "run", "seed": "seed"}
            node_tasks = {f"{g}.{name}_{suffix[kind]}" for name, kind in built}
            assert dbt_tasks == node_tasks | {
                f"{g}.cross_model_tests",
                f"{g}.{PRODUCER}",
                f"{g}.{PRODUCER_DONE}",
            }
            for task_id in node_tasks:
                t = tasks[task_id]
                assert t["operator"] in ("DbtRunWatcherOperator", "DbtSeedWatcherOperator")
                assert (t["base_cmd"], t["indirect_selection"]) == (["build"], "cautious")
            assert tasks[f"{g}.{PRODUCER}"]["operator"] == "DbtProducerWatcherOperator"
        assert tasks[f"{g}.cross_model_tests"]["operator"] == "DbtTestLocalOperator"


def test_the_watcher_build_runs_each_models_tests_but_leaves_the_cross_model_tests(
    tmp_path, manifest
):
    """The producer's one `dbt build` runs every node and each node's own tests (cosmos would
    pass --resource-type seed/model/snapshot under TestBehavior.NONE and drop the tests), and
    excludes exactly the tests `cross_model_tests` runs after every model."""
    from fieldbooks.orchestration import cross_model_tests

    bag = _describe(_env(tmp_path, None, FIELDBOOKS_DBT_EXECUTION="watcher"))
    tasks = bag["dags"]["fieldbooks_sync"]["tasks"]
    producer = tasks[f"company_default.transform.{PRODUCER}"]
    assert producer["base_cmd"] == ["build"]
    assert "--resource-type" not in producer["dbt_cmd_flags"]
    assert producer["exclude"] == cross_model_tests(manifest)
    # a producer that skips (a second try) lets the first node tasks build their node
    # themselves; a failed one fails them, and the sync stops before validate
    first = tasks["company_default.transform.stg_ops__invoices_run"]
    assert first["trigger_rule"] == "none_failed"


def test_the_dbt_execution_mode_comes_from_configuration():
    from fieldbooks.orchestration import DEFAULT_DBT_EXECUTION, dbt_execution

    assert dbt_execution({}) == DEFAULT_DBT_EXECUTION
    assert dbt_execution({"FIELDBOOKS_DBT_EXECUTION": " Watcher "}) == "watcher"
    assert dbt_execution({"FIELDBOOKS_DBT_EXECUTION": "local"}) == "local"
    with pytest.raises(ValueError, match="watcher or local"):
        dbt_execution({"FIELDBOOKS_DBT_EXECUTION": "kubernetes"})


def test_cross_model_tests_are_the_tests_reading_several_nodes(manifest):
    from fieldbooks.orchestration import cross_model_tests

    names = cross_model_tests(manifest)
    assert "assert_tieout_summary_adds_up" in names
    assert any(n.startswith("relationships_stg_ops__invoices_customer_id") for n in names)
    assert "unique_stg_ops__invoices_invoice_id" not in names


@pytest.mark.parametrize(
    ("dag_id", "params"),
    [
        ("fieldbooks_full_resync", ["companies", "entities", "since"]),
        ("fieldbooks_retry_issues", ["companies", "issue_ids", "kinds"]),
    ],
)
def test_the_manual_dags_change_nothing_themselves_and_hand_the_request_to_the_sync(
    setup, dag_id, params
):
    """The watermark reset and the issue marking happen in fieldbooks_sync's extract_ops, in
    the company's warehouse pool: each manual DAG only checks its form and triggers the sync
    (no mapped task outside a pool, where DuckDB's lock or a running extract could undo it)."""
    _, bag, _ = setup
    dag = bag["dags"][dag_id]
    assert dag["params"] == params
    assert set(dag["tasks"]) == {"sync_conf", "sync"}
    assert not any(t["mapped"] for t in dag["tasks"].values())
    assert dag["tasks"]["sync"]["operator"] == "TriggerDagRunOperator"
    assert dag["tasks"]["sync"]["upstream"] == ["sync_conf"]


def test_a_missing_manifest_is_an_import_error_that_says_how_to_build_it(tmp_path):
    env = _env(tmp_path, None, FIELDBOOKS_DBT_MANIFEST=str(tmp_path / "nowhere.json"))
    bag = _describe(env)
    errors = bag["import_errors"]
    assert list(errors) == [str(DAGS / "fieldbooks_sync.py")]
    assert "fieldbooks dbt-manifest" in next(iter(errors.values()))


def test_a_wrong_companies_file_is_an_import_error_naming_the_file(tmp_path):
    bag = _describe(_env(tmp_path, "[companies.Bad-Key]\n"))
    assert set(bag["import_errors"]) == {str(p) for p in DAG_FILES}
    for message in bag["import_errors"].values():
        assert "companies.toml" in message and "Bad-Key" in message
