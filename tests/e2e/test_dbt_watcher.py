"""The dbt tasks in cosmos' watcher mode (FIELDBOOKS_DBT_EXECUTION=watcher), through Airflow:
one `dbt build` for the whole project, and a model's task that is cleared rebuilds that
model alone, with the company's settings (the interceptor applies to it as to the build)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fieldbooks.config import load_settings
from fieldbooks.ops.seed import seed_demo
from fieldbooks.warehouse.connection import connect
from tests.conftest import settings_env

# Clear one task instance of the newest run and run it as the scheduler would: as its next
# try, in-process, through the same helper `airflow dags test` runs every task with. (`dags
# test` on the run's logical date is no clear: it deletes the run and starts a new one.)
CLEAR_ONE = """
import os, sys
from sqlalchemy import select
from airflow.dag_processing.dagbag import DagBag
from airflow.models.taskinstance import TaskInstance, clear_task_instances
from airflow.models.dagrun import DagRun
from airflow.sdk.definitions.dag import _run_task
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState

task_id = sys.argv[1]
bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
dag = bag.dags["fieldbooks_sync"]
with create_session() as session:
    run = session.scalar(
        select(DagRun).where(DagRun.dag_id == "fieldbooks_sync").order_by(DagRun.id.desc()).limit(1)
    )
    ti = session.scalar(
        select(TaskInstance).where(
            TaskInstance.dag_id == "fieldbooks_sync",
            TaskInstance.run_id == run.run_id,
            TaskInstance.task_id == task_id,
        )
    )
    clear_task_instances([ti], session, dag_run_state=DagRunState.RUNNING)
    session.commit()
    ti = session.merge(ti)
    ti.try_number += 1  # what the scheduler does when it queues a cleared task
    ti.state = TaskInstanceState.SCHEDULED
    session.commit()
    print("run", run.run_id, "try", ti.try_number)
_run_task(ti=ti, task=dag.task_dict[task_id], run_triggerer=True)
with create_session() as session:
    state = session.scalar(
        select(TaskInstance.state).where(
            TaskInstance.dag_id == "fieldbooks_sync",
            TaskInstance.run_id == run.run_id,
            TaskInstance.task_id == task_id,
        )
    )
print("STATE", state)
"""

MODEL = "job_costing_by_branch"
TASK = f"company_default.transform.{MODEL}_run"


def _table_rows(settings, name: str) -> int | None:
    """Rows of the warehouse table `name` (any schema); None when there is no such table."""
    with connect(settings.warehouse_url) as wh:
        schema = wh.scalar(
            "select table_schema from information_schema.tables where table_name = %s", (name,)
        )
        if schema is None:
            return None
        return wh.scalar(f'select count(*) from "{schema}"."{name}"')


def _drop_table(settings, name: str) -> None:
    with connect(settings.warehouse_url) as wh:
        schema = wh.scalar(
            "select table_schema from information_schema.tables where table_name = %s", (name,)
        )
        wh.execute(f'drop table "{schema}"."{name}"')


def _last_run(home: Path) -> tuple[str, str]:
    with sqlite3.connect(home / "airflow.db") as db:
        return db.execute(
            "select run_id, state from dag_run where dag_id = 'fieldbooks_sync' "
            "order by id desc limit 1"
        ).fetchone()


@pytest.mark.slow
def test_a_cleared_model_task_rebuilds_that_model_alone_in_watcher_mode(sandbox, tmp_path):
    from fieldbooks.airflow_local import airflow_env, dags_test, last_run_states, prepare_airflow

    env = settings_env(tmp_path, sandbox)
    settings = load_settings(env)
    seed_demo(settings.ops_url)
    home = tmp_path / "airflow"
    aenv = airflow_env(home, {**env, "FIELDBOOKS_DBT_EXECUTION": "watcher"})
    log_file = tmp_path / "airflow.log"
    prepare_airflow(home, aenv, log_file)

    dags_test("fieldbooks_sync", aenv, log_file)
    state, tasks = last_run_states("fieldbooks_sync", aenv)
    assert state == "success"
    assert tasks["company_default.transform.dbt_producer_watcher"] == "success"
    assert tasks[TASK] == "success"
    rows = _table_rows(settings, MODEL)
    assert rows, f"{MODEL} was not built"

    # the model's table is lost; clearing its task, and only its task, must rebuild it
    # (the producer stays as it was: succeeded)
    _drop_table(settings, MODEL)
    assert _table_rows(settings, MODEL) is None
    run_id = _last_run(home)[0]
    start = log_file.stat().st_size
    with open(log_file, "a") as log:
        code = subprocess.run(
            [sys.executable, "-c", CLEAR_ONE, TASK],
            env=aenv,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=600,
        ).returncode
    output = log_file.read_text()[start:]
    assert code == 0, output[-3000:]
    assert f"run {run_id} try 2" in output
    assert "STATE success" in output, output[-3000:]
    assert f"Running model 'model.fieldbooks.{MODEL}'" in output
    # the company's own dbt build of that one node, its tests included (not a `dbt run`)
    # (cosmos logs the dbtRunner arguments as a Python list)
    command = next(line for line in output.splitlines() if "'--select'" in line and MODEL in line)
    assert command.lstrip(" [").startswith("'build'"), command
    assert "'--indirect-selection', 'cautious'" in command, command
    assert "realm_id: '" in command  # the company's vars: the interceptor ran
    assert _table_rows(settings, MODEL) == rows
