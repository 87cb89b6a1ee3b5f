"""Start and stop Airflow's components as separate processes, and talk to them over REST.

Used by `make airflow` (api-server, scheduler and dag-processor on a private home under
.fieldbooks/, LocalExecutor on SQLite) and by the integration tests that run a whole
distributed deployment on loopback (CeleryExecutor, PostgreSQL metadata, Redis broker,
two workers). Every process starts in a session of its own so that stopping it also stops
the children it forked (Celery's pool, the task supervisors).

    python -m fieldbooks.airflow_processes      # what `make airflow` runs
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fieldbooks.airflow_local import airflow_env

SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)
WORKER_HOSTNAME_ENV = "FIELDBOOKS_WORKER_HOSTNAME"
API_PAGE = 100  # [api] maximum_page_limit's default


def worker_hostname() -> str:
    """[core] hostname_callable for workers sharing one machine: $FIELDBOOKS_WORKER_HOSTNAME.

    Airflow records it as the task instance's hostname, so a UI (and a test) can tell
    which worker ran a task even when several workers run on one host. Unset, it is the
    machine's fully qualified name, as Airflow's default.
    """
    return os.environ.get(WORKER_HOSTNAME_ENV) or socket.getfqdn()


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def airflow_bin() -> str:
    """The `airflow` script of the running interpreter's environment (else the one on PATH)."""
    beside = Path(sys.executable).with_name("airflow")
    return str(beside) if beside.exists() else (shutil.which("airflow") or "airflow")


@dataclass
class Component:
    """One running Airflow process (and, through its session, everything it forked)."""

    name: str
    proc: subprocess.Popen
    log_file: Path
    started: float = field(default_factory=time.monotonic)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def start_component(
    name: str, args: list[str], env: dict[str, str], log_dir: Path, cwd: Path | None = None
) -> Component:
    """`airflow ARGS` in a new session, output to log_dir/NAME.log."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{name}.log"
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            [airflow_bin(), *args],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Component(name, proc, log_file)


def _descendants(pid: int) -> list[int]:
    try:
        import psutil

        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except Exception:  # psutil missing or the process is gone
        return []


def stop_components(components: Iterable[Component], timeout: float = 20) -> None:
    """SIGTERM each component's session (and any descendant that left it), then SIGKILL."""
    components = list(components)
    pids: dict[int, list[int]] = {}
    for c in components:
        pids[c.proc.pid] = _descendants(c.proc.pid)
        _signal_group(c.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for c in components:
        try:
            c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for c in components:
        _signal_group(c.proc.pid, signal.SIGKILL)
        for pid in pids[c.proc.pid] + _descendants(c.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            c.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def components_running() -> Iterator[list[Component]]:
    """A list to append started components to; every one is stopped on the way out."""
    started: list[Component] = []
    try:
        yield started
    finally:
        stop_components(started)


def run_airflow(args: list[str], env: dict[str, str], log_file: Path, timeout: float = 600) -> None:
    """Run one `airflow` command to completion; raise with the log tail unless it exits 0."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        log.write(f"\n$ airflow {' '.join(args)}\n".encode())
        log.flush()
        code = subprocess.run(
            [airflow_bin(), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        ).returncode
    if code != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"airflow {' '.join(args)} exited {code}; log tail:\n{tail}")


def write_simple_auth_password(airflow_home: Path, username: str = "admin") -> str:
    """The simple auth manager's password for `username`, kept in AIRFLOW_HOME (made once)."""
    path = airflow_home / "simple_auth_manager_passwords.json.generated"
    passwords = json.loads(path.read_text()) if path.exists() else {}
    if username not in passwords:
        passwords[username] = secrets.token_urlsafe(12)
        airflow_home.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(passwords) + "\n")
        path.chmod(0o600)
    return passwords[username]


class ApiError(RuntimeError):
    """The Airflow REST API answered with an error status."""


class AirflowApi:
    """A small client of Airflow 3's public REST API (/api/v2) with a simple-auth JWT."""

    def __init__(self, base_url: str, username: str, password: str):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self._token: str | None = None

    def _raw(self, method: str, path: str, body: dict | None = None, auth: bool = True):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base_url}{path}", data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise ApiError(f"{method} {path}: HTTP {exc.code}: {detail[:500]}") from None
        return json.loads(text) if text else None

    def token(self) -> str:
        """A JWT from /auth/token (the simple auth manager's login)."""
        if self._token is None:
            answer = self._raw(
                "POST",
                "/auth/token",
                {"username": self.username, "password": self.password},
                auth=False,
            )
            self._token = answer["access_token"]
        return self._token

    def get(self, path: str, **params) -> dict:
        query = f"?{urllib.parse.urlencode(params, doseq=True)}" if params else ""
        return self._raw("GET", f"/api/v2{path}{query}")

    def post(self, path: str, body: dict) -> dict:
        return self._raw("POST", f"/api/v2{path}", body)

    def patch(self, path: str, body: dict) -> dict:
        return self._raw("PATCH", f"/api/v2{path}", body)

    def paged(self, path: str, key: str, **params) -> list[dict]:
        """Every item of a paged collection (limit/offset)."""
        items: list[dict] = []
        while True:
            page = self.get(path, limit=API_PAGE, offset=len(items), **params)
            items.extend(page[key])
            if not page[key] or len(items) >= page["total_entries"]:
                return items

    def dag_ids(self) -> list[str]:
        return [d["dag_id"] for d in self.paged("/dags", "dags")]

    def pools_used(self, dag_ids: Iterable[str]) -> set[str]:
        """The pools the tasks of these DAGs name (as the DAG processor serialized them)."""
        pools: set[str] = set()
        for dag_id in dag_ids:
            for t in self.get(f"/dags/{urllib.parse.quote(dag_id)}/tasks")["tasks"]:
                if t.get("pool"):
                    pools.add(t["pool"])
        return pools

    def ensure_pools(self, names: Iterable[str], slots_for=None) -> dict[str, int]:
        """Create every missing pool; slots_for(name) decides its size (default pool_slots)."""
        existing = {p["name"] for p in self.paged("/pools", "pools")}
        made: dict[str, int] = {}
        for name in sorted(set(names) - existing):
            slots = (slots_for or pool_slots)(name)
            self.post("/pools", {"name": name, "slots": slots, "description": "fieldbooks"})
            made[name] = slots
        return made

    def trigger(self, dag_id: str, conf: dict | None = None) -> dict:
        return self.post(
            f"/dags/{urllib.parse.quote(dag_id)}/dagRuns",
            {"logical_date": None, "conf": conf or {}},
        )

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        quoted = urllib.parse.quote(run_id, safe="")
        return self.paged(f"/dags/{dag_id}/dagRuns/{quoted}/taskInstances", "task_instances")

    def wait_run(self, dag_id: str, run_id: str, timeout: float, watch=()) -> dict:
        """Poll until the run finishes; fail early when a watched component died."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in ("success", "failed"):
                return run
            for c in watch:
                if not c.alive():
                    raise RuntimeError(f"{c.name} exited during the run:\n{c.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {run_id} still {run['state']} after {timeout}s")
            time.sleep(2)


def fieldbooks_pools() -> dict[str, int]:
    """Every pool fieldbooks' DAGs use, with its slots: per company once companies exist."""
    try:
        from fieldbooks.companies import load_companies
    except ImportError:  # before many companies: one pair of pools
        from fieldbooks.airflow_local import POOLS

        return dict(POOLS)
    pools: dict[str, int] = {}
    for company in load_companies():
        pools[company.qbo_pool] = pool_slots(company.qbo_pool)
        pools[company.warehouse_pool] = pool_slots(company.warehouse_pool)
    return pools


def set_pools(env: dict[str, str] | None = None, log_file: Path | None = None) -> dict[str, int]:
    """`airflow pools set` for every pool of fieldbooks_pools() (what airflow-init runs)."""
    pools = fieldbooks_pools()
    for name, slots in pools.items():
        args = ["pools", "set", name, str(slots), "fieldbooks"]
        if log_file is None:
            subprocess.run([airflow_bin(), *args], env=env, check=True)
        else:
            run_airflow(args, env or dict(os.environ), log_file)
    return pools


def pool_slots(name: str) -> int:
    """fieldbooks' pool sizes: one warehouse writer (DuckDB), four QuickBooks calls."""
    return 1 if "warehouse" in name else 4


def wait_http(url: str, timeout: float, watch: Iterable[Component] = ()) -> None:
    """Wait until url answers (any HTTP status); fail early when a watched component died."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            pass
        for c in watch:
            if not c.alive():
                raise RuntimeError(f"{c.name} exited before {url} answered:\n{c.log_tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout}s")
        time.sleep(0.5)


def wait_dags(api: AirflowApi, dag_ids: Iterable[str], timeout: float, watch=()) -> None:
    """Wait until the DAG processor has serialized every one of dag_ids."""
    wanted = set(dag_ids)
    deadline = time.monotonic() + timeout
    while True:
        missing = wanted - set(api.dag_ids())
        if not missing:
            return
        for c in watch:
            if not c.alive():
                raise RuntimeError(f"{c.name} exited:\n{c.log_tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"DAGs {sorted(missing)} not parsed within {timeout}s")
        time.sleep(1)


def deployment_env(
    airflow_home: Path,
    api_port: int,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Airflow settings every component of one deployment shares (same secrets, same API)."""
    keys = airflow_home / "deployment_secrets.json"
    if keys.exists():
        secret = json.loads(keys.read_text())
    else:
        airflow_home.mkdir(parents=True, exist_ok=True)
        secret = {"jwt": secrets.token_urlsafe(64), "api": secrets.token_urlsafe(64)}
        keys.write_text(json.dumps(secret))
        keys.chmod(0o600)
    env = airflow_env(
        airflow_home,
        {
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secret["jwt"],
            "AIRFLOW__API__SECRET_KEY": secret["api"],
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        },
    )
    env.update(extra or {})
    return env


def start_core(started: list[Component], env: dict[str, str], log_dir: Path, api_port: int) -> None:
    """api-server, scheduler and dag-processor, each its own process, pid files apart."""
    home = Path(env["AIRFLOW_HOME"])
    started.append(
        start_component(
            "api-server",
            [
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(api_port),
                "--workers",
                "1",
                "--pid",
                str(home / "api-server.pid"),
            ],
            env,
            log_dir,
        )
    )
    started.append(
        start_component(
            "scheduler", ["scheduler", "--pid", str(home / "scheduler.pid")], env, log_dir
        )
    )
    started.append(
        start_component(
            "dag-processor",
            ["dag-processor", "--pid", str(home / "dag-processor.pid")],
            env,
            log_dir,
        )
    )


def start_celery_worker(
    started: list[Component],
    name: str,
    env: dict[str, str],
    log_dir: Path,
    queue: str,
    concurrency: int = 1,
) -> Component:
    """One Celery worker `name@<host>` serving `queue`, recording TIs under host `name`."""
    home = Path(env["AIRFLOW_HOME"])
    worker_env = {
        **env,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "fieldbooks.airflow_processes.worker_hostname",
        WORKER_HOSTNAME_ENV: name,
    }
    component = start_component(
        f"worker-{name}",
        [
            "celery",
            "worker",
            "--celery-hostname",
            f"{name}@%h",
            "--queues",
            queue,
            "--concurrency",
            str(concurrency),
            "--pid",
            str(home / f"worker-{name}.pid"),
            "--skip-serve-logs",
            "--without-mingle",
            "--without-gossip",
        ],
        worker_env,
        log_dir,
    )
    started.append(component)
    return component


def _sandbox_answers(base: str) -> bool:
    try:
        urllib.request.urlopen(f"{base}/.well-known/openid_configuration", timeout=1).close()
        return True
    except OSError:
        return False


def run_local(port: int | None = None) -> int:
    """`make airflow`: the UI on the demo data until Ctrl-C (LocalExecutor, SQLite metadata)."""
    from fieldbooks.config import load_settings

    settings = load_settings()
    home = settings.home
    airflow_home = home / "airflow"
    log_dir = airflow_home / "process_logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    ops_file = home / "ops.sqlite"
    if settings.ops_url == f"sqlite:///{ops_file}" and not ops_file.exists():
        from fieldbooks.ops.seed import seed_demo

        counts = seed_demo(settings.ops_url)
        print(
            f"demo operations DB seeded: {counts.customers} customers, {counts.invoices} invoices"
        )

    api_port = port or (8080 if _port_free(8080) else free_port())
    env = deployment_env(
        airflow_home,
        api_port,
        {
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "FIELDBOOKS_HOME": str(home),
        },
    )
    password = write_simple_auth_password(airflow_home)
    run_airflow(["db", "migrate"], env, log_dir / "setup.log")
    set_pools(env, log_dir / "setup.log")

    with _sandbox_if_needed(settings, home, log_dir):
        with components_running() as started:
            start_core(started, env, log_dir, api_port)
            url = f"http://127.0.0.1:{api_port}"
            wait_http(f"{url}/api/v2/version", 180, started)
            api = AirflowApi(url, "admin", password)
            try:
                wait_dags(api, ["fieldbooks_sync"], 180, started)
                made = api.ensure_pools(api.pools_used(api.dag_ids()))
                if made:
                    print(f"pools created: {made}")
            except (TimeoutError, ApiError) as exc:
                print(f"warning: {exc} (see {log_dir})")
            print()
            print(f"Airflow is up on {url}  (login: admin / {password})")
            print(f"  AIRFLOW_HOME {airflow_home}, process logs in {log_dir}")
            print(f"  QuickBooks sandbox on {settings.qbo.base_url}; Ctrl-C stops everything")
            print("  DAGs start paused: unpause fieldbooks_sync or trigger it from the UI.")
            try:
                while all(c.alive() for c in started):
                    time.sleep(1)
                dead = [c for c in started if not c.alive()]
                for c in dead:
                    print(f"{c.name} exited:\n{c.log_tail()}", file=sys.stderr)
                return 1
            except KeyboardInterrupt:
                print("\nstopping Airflow ...")
                return 0


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@contextmanager
def _sandbox_if_needed(settings, home: Path, log_dir: Path):
    """The demo QuickBooks sandbox on FIELDBOOKS_QBO_BASE_URL's loopback port, unless one answers."""
    from fieldbooks.demo import sandbox_process

    base = settings.qbo.base_url
    where = urllib.parse.urlsplit(base)
    if _sandbox_answers(base) or where.hostname not in ("127.0.0.1", "localhost"):
        yield base
        return
    with sandbox_process(home / "qbo_sandbox.sqlite", where.port, log_dir / "sandbox.log") as url:
        yield url


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """`python -m fieldbooks.airflow_processes [local|pools]`."""
    argv = sys.argv[1:] if argv is None else argv
    action = argv[0] if argv else "local"
    if action == "pools":
        for name, slots in set_pools().items():
            print(f"pool {name}: {slots} slots")
        return 0
    if action == "local":
        signal.signal(signal.SIGTERM, _interrupt)
        port = os.environ.get("AIRFLOW_PORT")
        return run_local(int(port) if port else None)
    print("usage: python -m fieldbooks.airflow_processes [local|pools]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
