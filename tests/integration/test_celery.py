"""The distributed deployment without Docker: CeleryExecutor across two workers on loopback.

Airflow's api-server, scheduler, dag-processor and two Celery workers run as separate
processes, with PostgreSQL as the metadata DB and Celery result backend (a database of
the test's own) and Redis as the broker (a queue of the test's own). `fieldbooks_sync`
is triggered through the REST API (/api/v2, a JWT from /auth/token) against the
QuickBooks sandbox, an operations DB and a warehouse on PostgreSQL; the run must
succeed with task instances executed on both workers. Each worker records its own name
as the task instances' hostname ([core] hostname_callable), so that is what tells them
apart. Nothing here depends on task ids: the whole run's state and the set of workers.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from fieldbooks.airflow_processes import (
    AirflowApi,
    components_running,
    deployment_env,
    free_port,
    run_airflow,
    start_celery_worker,
    start_core,
    wait_dags,
    wait_http,
    write_simple_auth_password,
)
from fieldbooks.ops.seed import seed_demo
from tests.conftest import settings_env

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = 13  # the queue name below is what keeps concurrent runs apart
DAG_ID = "fieldbooks_sync"
WORKERS = ("fbw1", "fbw2")
RUN_TIMEOUT = 600  # seconds for one DAG run


def _require(what: str, why: str | None) -> None:
    if why is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true requires {what}: {why}")
    pytest.skip(f"{what} is missing: {why}")


def _redis_missing() -> str | None:
    try:
        import redis

        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=3).ping()
        return None
    except Exception as exc:  # any failure means: not available here
        return str(exc)


def _celery_provider_missing() -> str | None:
    try:
        import airflow.providers.celery  # noqa: F401

        return None
    except ImportError as exc:
        return str(exc)


def _stamp(t0: float) -> str:
    return f"{time.monotonic() - t0:6.1f}s"


def _timeline(tis: list[dict]) -> list[str]:
    def when(ti, key):
        return datetime.fromisoformat(ti[key]) if ti.get(key) else None

    rows = sorted(tis, key=lambda ti: when(ti, "start_date") or datetime.max.astimezone())
    starts = [when(ti, "start_date") for ti in rows if ti.get("start_date")]
    origin = min(starts) if starts else None
    lines = []
    for ti in rows:
        start, end = when(ti, "start_date"), when(ti, "end_date")
        offset = f"{(start - origin).total_seconds():6.1f}s" if start and origin else "     -"
        took = f"{(end - start).total_seconds():5.1f}s" if start and end else "    -"
        name = ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else "")
        lines.append(
            f"  +{offset} {took} {ti['state'] or '-':>8} {ti.get('hostname') or '-':>6} {name}"
        )
    return lines


@pytest.mark.slow
@pytest.mark.postgres
def test_fieldbooks_sync_runs_across_two_celery_workers(sandbox, tmp_path, make_pg_database):
    _require("Redis on 127.0.0.1:6379", _redis_missing())
    _require("apache-airflow-providers-celery", _celery_provider_missing())
    t0 = time.monotonic()
    timeline: list[str] = []

    def mark(what: str) -> None:
        timeline.append(f"{_stamp(t0)} {what}")
        print(timeline[-1], flush=True)

    metadata = make_pg_database("fb_af_meta")
    fb_env = settings_env(
        tmp_path / "fieldbooks",
        sandbox,
        ops_url=make_pg_database("fb_ops"),
        warehouse_url=make_pg_database("fb_wh"),
    )
    counts = seed_demo(fb_env["FIELDBOOKS_OPS_URL"])
    mark(f"databases made, operations seeded ({counts.invoices} invoices)")

    queue = f"fieldbooks_test_{uuid.uuid4().hex[:10]}"
    airflow_home = tmp_path / "airflow"
    log_dir = tmp_path / "logs"
    api_port = free_port()
    pg = metadata.replace("postgresql://", "")
    env = deployment_env(
        airflow_home,
        api_port,
        {
            **fb_env,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg://{pg}",
            # psycopg 3 does async too (Airflow would pick asyncpg, not installed here)
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": f"postgresql+psycopg://{pg}",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{pg}",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            # only the run this test triggers: no interval runs when the DAG is unpaused
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "8",
        },
    )
    password = write_simple_auth_password(airflow_home)
    run_airflow(["db", "migrate"], env, log_dir / "setup.log")
    mark("airflow db migrate on PostgreSQL")

    try:
        with components_running() as started:
            start_core(started, env, log_dir, api_port)
            for name in WORKERS:
                start_celery_worker(started, name, env, log_dir, queue)
            mark(f"started {', '.join(c.name for c in started)}")
            url = f"http://127.0.0.1:{api_port}"
            wait_http(f"{url}/api/v2/version", 180, started)
            api = AirflowApi(url, "admin", password)
            mark("api-server answers; JWT from /auth/token")
            wait_dags(api, [DAG_ID], 180, started)
            mark(f"{DAG_ID} parsed by the dag-processor")
            # a warehouse on PostgreSQL takes a writer per worker (DuckDB's pools keep 1)
            made = api.ensure_pools(
                api.pools_used([DAG_ID]),
                lambda name: len(WORKERS) if "warehouse" in name else 4,
            )
            mark(f"pools created over REST: {made}")
            _wait_workers_ready(started, t0, mark)

            hosts: set[str] = set()
            for attempt in (1, 2):
                run = api.trigger(DAG_ID)
                mark(f"triggered {run['dag_run_id']} through POST /api/v2")
                done = api.wait_run(DAG_ID, run["dag_run_id"], RUN_TIMEOUT, started)
                tis = api.task_instances(DAG_ID, run["dag_run_id"])
                mark(f"run finished: {done['state']} ({len(tis)} task instances)")
                print("task timeline (offset, duration, state, worker, task):")
                print("\n".join(_timeline(tis)))
                failed = [t["task_id"] for t in tis if t["state"] not in ("success", "skipped")]
                assert done["state"] == "success", (
                    f"run {done['state']}; not successful: {failed}\n" + _logs_hint(log_dir)
                )
                assert not failed
                hosts |= {t["hostname"] for t in tis if t["state"] == "success"}
                if hosts == set(WORKERS):
                    break
                # Celery hands each task to whichever worker polls first: with few tasks, all
                # may land on one worker by chance (1 in 2**7 for 8); a second run (which
                # writes nothing) then decides
                mark(f"run {attempt} ran only on {sorted(hosts)}; once more")
            assert hosts == set(WORKERS), f"tasks ran on {hosts}, expected both of {WORKERS}"
            for name in WORKERS:
                log = (log_dir / f"worker-{name}.log").read_text(errors="replace")
                assert f"{name}@" in log and "ready." in log, f"worker {name} log:\n{log[-2000:]}"
                # Celery's own word, beside the hostname Airflow recorded
                received = [line for line in log.splitlines() if "execute_workload[" in line]
                received = [line for line in received if "received" in line]
                mark(f"worker {name}: {len(received)} task(s) received per its Celery log")
                assert received, f"worker {name} received no task:\n{log[-2000:]}"
    finally:
        mark("every process stopped")
        _drop_queue(queue)
        print("timeline:\n" + "\n".join(timeline))


def _drop_queue(queue: str) -> None:
    """Remove the test's queue and its bindings from the shared Redis."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    keys = list(client.scan_iter(match=f"*{queue}*"))
    if keys:
        client.delete(*keys)


def _wait_workers_ready(started, t0, mark, timeout: float = 120) -> None:
    """Both Celery workers connected to the broker (their `ready.` line)."""
    workers = [c for c in started if c.name.startswith("worker-")]
    deadline = time.monotonic() + timeout
    pending = {c.name for c in workers}
    while pending:
        for c in workers:
            if c.name in pending and "ready." in c.log_file.read_text(errors="replace"):
                pending.discard(c.name)
                mark(f"{c.name} ready")
            if not c.alive():
                raise RuntimeError(f"{c.name} exited:\n{c.log_tail()}")
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"workers {sorted(pending)} not ready within {timeout}s")
        time.sleep(0.5)


def _logs_hint(log_dir: Path) -> str:
    parts = []
    for f in sorted(log_dir.glob("*.log")):
        tail = "\n".join(f.read_text(errors="replace").splitlines()[-15:])
        parts.append(f"--- {f.name}\n{tail}")
    return "\n".join(parts)


@pytest.mark.slow
def test_make_airflow_serves_the_ui_on_demo_data_and_stops_everything(tmp_path):
    """What `make airflow` runs: demo data made, UI up with a login, all gone on SIGTERM."""
    import json
    import signal
    import subprocess
    import sys

    import psutil

    home = tmp_path / "fieldbooks"
    api_port, sandbox_port = free_port(), free_port()
    env = {
        **os.environ,
        "FIELDBOOKS_HOME": str(home),
        "FIELDBOOKS_QBO_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
        "AIRFLOW_PORT": str(api_port),
        "PYTHONUNBUFFERED": "1",
    }
    out = tmp_path / "make_airflow.out"
    t0 = time.monotonic()
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fieldbooks.airflow_processes", "local"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    family: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while "Airflow is up on" not in out.read_text():
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.5)
        print(f"{_stamp(t0)} make airflow: UI up\n{out.read_text()}")
        text = out.read_text()
        assert f"http://127.0.0.1:{api_port}" in text
        password = text.split("(login: admin / ", 1)[1].split(")", 1)[0]
        api = AirflowApi(f"http://127.0.0.1:{api_port}", "admin", password)
        assert DAG_ID in api.dag_ids()
        pools = {p["name"] for p in api.paged("/pools", "pools")}
        assert api.pools_used([DAG_ID]) <= pools, f"missing pools: {pools}"
        assert (home / "ops.sqlite").exists()  # the demo operations DB was seeded
        stored = home / "airflow" / "simple_auth_manager_passwords.json.generated"
        assert json.loads(stored.read_text())["admin"] == password
        family = {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        assert len(family) >= 4  # api-server, scheduler, dag-processor, sandbox (and children)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    print(f"{_stamp(t0)} make airflow: stopped (exit {proc.returncode})")
    assert proc.returncode == 0, out.read_text()
    alive = [p for p in family if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"left running: {alive}"
