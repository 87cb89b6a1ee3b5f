"""Run the real DAGs with `airflow dags test` on an Airflow home of our own (SQLite metadata).

Used by `fieldbooks demo` and the end-to-end tests; a deployment runs the scheduler instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from fieldbooks.companies import load_companies
from fieldbooks.config import project_root


class DagRunFailed(RuntimeError):
    """`airflow dags test` reported a failed run; the message ends with its log tail."""


def pools(env: dict[str, str] | None = None) -> dict[str, int]:
    """Every company's two pools and their slots. QuickBooks: one task at a time, so one
    process paces the realm's rate limits; warehouse: one writer on DuckDB, four on PostgreSQL."""
    found: dict[str, int] = {}
    for company in load_companies(env, connection=False):
        found[company.qbo_pool] = 1
        duckdb = company.settings.warehouse_url.startswith("duckdb")
        found[company.warehouse_pool] = 1 if duckdb else 4
    return found


def __getattr__(name: str) -> Any:
    # POOLS follows the companies file of the moment, so it is computed when read
    if name == "POOLS":
        return pools()
    raise AttributeError(name)


def airflow_env(airflow_home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment that points Airflow at this project's DAGs and a private home."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(project_root() / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(project_root() / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
            # cosmos keeps dbt's partial-parse state per Airflow home, not in a shared /tmp
            "AIRFLOW__COSMOS__CACHE_DIR": str(airflow_home / "cosmos_cache"),
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "DO_NOT_TRACK": "1",
            "GX_ANALYTICS_ENABLED": "false",
            "SCARF_ANALYTICS": "false",
            "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        }
    )
    env.update(extra or {})
    return env


def _airflow(args: list[str], env: dict[str, str], log_file: Path) -> int:
    """Run one airflow command, appending its output to log_file."""
    airflow = Path(sys.executable).with_name("airflow")
    with open(log_file, "a") as log:
        log.write(f"\n$ airflow {' '.join(args)}\n")
        log.flush()
        return subprocess.run(
            [str(airflow), *args], env=env, stdout=log, stderr=subprocess.STDOUT
        ).returncode


def prepare_airflow(airflow_home: Path, env: dict[str, str], log_file: Path) -> None:
    """Create the metadata DB, every company's pools, and the dbt manifest the DAGs draw from."""
    from fieldbooks.orchestration import ensure_manifest

    airflow_home.mkdir(parents=True, exist_ok=True)
    ensure_manifest()
    if _airflow(["db", "migrate"], env, log_file) != 0:
        raise DagRunFailed(f"airflow db migrate failed; see {log_file}")
    wanted = {
        name: {"slots": slots, "description": f"fieldbooks {name}", "include_deferred": False}
        for name, slots in pools(env).items()
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=airflow_home, delete=False) as f:
        json.dump(wanted, f)
    try:
        if _airflow(["pools", "import", f.name], env, log_file) != 0:
            raise DagRunFailed(f"airflow pools import failed; see {log_file}")
    finally:
        os.unlink(f.name)


def dags_test(
    dag_id: str,
    env: dict[str, str],
    log_file: Path,
    conf: dict[str, Any] | None = None,
    expect_success: bool = True,
) -> str:
    """Run one DAG run in-process and return its output; unless expect_success is False,
    raise DagRunFailed when the run did not succeed."""
    start = log_file.stat().st_size if log_file.exists() else 0
    args = ["dags", "test", dag_id] + (["--conf", json.dumps(conf)] if conf else [])
    code = _airflow(args, env, log_file)
    with open(log_file) as log:
        log.seek(start)
        output = log.read()
    if expect_success and (code != 0 or "state=success" not in output.split("DagRun Finished")[-1]):
        tail = "\n".join(output.splitlines()[-40:])
        raise DagRunFailed(
            f"airflow dags test {dag_id} did not succeed (exit {code}); log tail:\n{tail}"
        )
    return output


def last_run_states(dag_id: str, env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The newest run of a DAG on this private Airflow home (its SQLite metadata DB): the
    run's state, and each task's state by task id."""
    import sqlite3

    with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as db:
        run_id, state = db.execute(
            "select run_id, state from dag_run where dag_id = ? order by id desc limit 1",
            (dag_id,),
        ).fetchone()
        tasks = db.execute(
            "select task_id, state from task_instance where dag_id = ? and run_id = ?",
            (dag_id, run_id),
        ).fetchall()
    return state, dict(tasks)
