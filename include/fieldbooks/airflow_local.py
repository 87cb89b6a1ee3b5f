"""Run the real DAG with `airflow dags test` on an Airflow home of our own (SQLite metadata).

Used by `fieldbooks demo` and the end-to-end tests; a deployment runs the scheduler instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fieldbooks.config import project_root

POOLS = {"fieldbooks_warehouse": 1, "fieldbooks_qbo": 4}


class DagRunFailed(RuntimeError):
    """`airflow dags test` reported a failed run; the message ends with its log tail."""


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
    """Create the metadata DB and the pools the DAG uses."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    if _airflow(["db", "migrate"], env, log_file) != 0:
        raise DagRunFailed(f"airflow db migrate failed; see {log_file}")
    for pool, slots in POOLS.items():
        if _airflow(["pools", "set", pool, str(slots), f"fieldbooks {pool}"], env, log_file) != 0:
            raise DagRunFailed(f"airflow pools set {pool} failed; see {log_file}")


def dags_test(dag_id: str, env: dict[str, str], log_file: Path) -> None:
    """Run one DAG run in-process; raise DagRunFailed unless every task succeeded."""
    start = log_file.stat().st_size if log_file.exists() else 0
    code = _airflow(["dags", "test", dag_id], env, log_file)
    with open(log_file) as log:
        log.seek(start)
        output = log.read()
    if code != 0 or "state=success" not in output.split("DagRun Finished")[-1]:
        tail = "\n".join(output.splitlines()[-40:])
        raise DagRunFailed(
            f"airflow dags test {dag_id} did not succeed (exit {code}); log tail:\n{tail}"
        )
