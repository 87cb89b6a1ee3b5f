"""What the benchmark scripts share: the `run`/`all` command line, the timed child process each
measurement runs in (its peak RSS, its JSON line), scratch PostgreSQL databases, the machine.

Standard library only at import: a child may run in `.venv-bench`, which has no fieldbooks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URL = "postgresql://postgres@127.0.0.1:5432/{name}"
# what nothing a benchmark runs may do: phone home (each script adds its tools' own switches)
QUIET_ENV = {"DO_NOT_TRACK": "1"}


def commands(
    doc: str,
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser, argparse.ArgumentParser]:
    """The parser, its `run` (one measurement: what run_child starts) and its `all` subcommand."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    return parser, sub.add_parser("run"), sub.add_parser("all")


def emit(record: dict) -> None:
    """One JSON line of results on stdout."""
    print(json.dumps(record), flush=True)


def peak_rss_mb(children: bool = False) -> int:
    """This process's peak RSS (or its waited-for children's, when larger), in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if children:
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return round(peak / 1024)


def run_child(
    script: str,
    args: Sequence[str],
    env: dict[str, str],
    timeout: float,
    python: str | Path = sys.executable,
) -> tuple[subprocess.CompletedProcess | None, float]:
    """`python script run *args` with env added; the finished process (None if timed out), seconds."""
    command = [str(python), script, "run", *args]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - started
    return done, time.perf_counter() - started


def last_record(stdout: str) -> dict:
    """The JSON line a child ends its output with (IndexError or JSONDecodeError when none)."""
    return json.loads(stdout.strip().splitlines()[-1])


def admin(sql: str) -> None:
    """One statement on the postgres database, autocommit."""
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


def create_database(prefix: str) -> str:
    """A new, empty PostgreSQL database's name (prefix + 8 random hex digits)."""
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    admin(f'create database "{name}"')
    return name


def drop_database(name: str) -> None:
    """Drop one of the benchmark's databases, connections and all."""
    admin(f'drop database if exists "{name}" with (force)')


def machine(load_average: bool = False, packages: Sequence[str] = ()) -> dict:
    """What the figures were measured on (with the load average and package versions if asked)."""
    from importlib.metadata import version

    import psycopg

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = int(
        next(
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    )
    with psycopg.connect(PG_ADMIN) as conn:
        postgres = conn.execute("show server_version").fetchone()[0]
    record = {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 2**20, 1)}
    if load_average:
        record["load_average"] = [round(x, 2) for x in os.getloadavg()]
    record |= {"python": platform.python_version(), "postgres": postgres}
    record |= {p: version(p) for p in packages}
    record["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return record
