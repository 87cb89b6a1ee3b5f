"""Benchmark: seeding the reference operations DB, fieldbooks' bulk path against what users write instead.

    .venv/bin/python bench/seed_ops.py all > bench/results/seed_ops.raw.jsonl
    .venv/bin/python bench/seed_ops.py run --backend postgres --scale large --method bulk --verify

Every measurement runs in its own process (so its peak RSS is its own) against a fresh
database that is dropped afterwards: a SQLite file in a temporary directory, or a new
PostgreSQL database on 127.0.0.1:5432 (user postgres). Methods, all fed by the same
generator (fieldbooks.ops.generate), so only the way rows reach the database differs:

- bulk: `fieldbooks ops seed` (fieldbooks.ops.bulk: COPY / executemany in 10,000-row
  buffers, indexes and keys after the load, one transaction);
- in_memory: every row in lists first, then one SQLAlchemy Core executemany per table
  (what the first demo seed did);
- row_by_row: one SQLAlchemy Core INSERT per row in one transaction (a naive loader).

--verify also checks the invariants and prints the content checksum of the result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from sqlalchemy import create_engine, insert

from fieldbooks.ops import schema
from fieldbooks.ops.generate import Plan, iter_rows
from fieldbooks.ops.seed import create_schema, plan_for, seed_plan

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"

# (backend, scale, method, invoices or None): bounded so the whole matrix runs in minutes
MATRIX = [
    ("sqlite", "small", "bulk", None),
    ("postgres", "small", "bulk", None),
    ("sqlite", "medium", "bulk", None),
    ("postgres", "medium", "bulk", None),
    ("sqlite", "large", "bulk", None),
    ("postgres", "large", "bulk", None),
    ("sqlite", "medium", "in_memory", None),
    ("postgres", "medium", "in_memory", None),
    ("sqlite", "medium", "row_by_row", 2_000),
    ("postgres", "medium", "row_by_row", 2_000),
]


def _in_memory(url: str, plan: Plan) -> dict[str, int]:
    """Every row in lists first, then one Core executemany per table."""
    rows: dict[str, list[dict]] = defaultdict(list)
    for table, row in iter_rows(plan):
        rows[table].append(row)
    engine = create_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        for table in schema.metadata.sorted_tables:
            if rows[table.name]:
                conn.execute(insert(table), rows[table.name])
    engine.dispose()
    return {name: len(r) for name, r in rows.items()}


def _row_by_row(url: str, plan: Plan) -> dict[str, int]:
    """One Core INSERT per row, in one transaction."""
    counts: dict[str, int] = defaultdict(int)
    engine = create_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        for table, row in iter_rows(plan):
            conn.execute(insert(schema.metadata.tables[table]), row)
            counts[table] += 1
    engine.dispose()
    return dict(counts)


def run_one(backend: str, scale: str, method: str, invoices: int | None, verify: bool) -> dict:
    """One measurement in this process, on a fresh database dropped afterwards."""
    import psycopg

    plan = plan_for(scale, invoices=invoices)
    workdir = tempfile.mkdtemp(prefix="fb_bench_")
    name = f"fb_bench_{uuid.uuid4().hex[:8]}"
    if backend == "postgres":
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'create database "{name}"')
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    else:
        url = f"sqlite:///{workdir}/ops.sqlite"
    try:
        started = time.perf_counter()
        if method == "bulk":
            counts = seed_plan(url, plan).rows
        elif method == "in_memory":
            counts = _in_memory(url, plan)
        else:
            counts = _row_by_row(url, plan)
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result = {
            "backend": backend,
            "scale": scale,
            "method": method,
            "invoices": plan.invoices,
            "customers": plan.customers,
            "invoice_lines": counts.get("invoice_lines", 0),
            "rows": sum(counts.values()),
            "seconds": round(seconds, 1),
            "rows_per_second": round(sum(counts.values()) / seconds),
            "peak_rss_mb": round(peak_mb),
        }
        if backend == "sqlite":
            result["file_mb"] = round(Path(workdir, "ops.sqlite").stat().st_size / 2**20)
        if verify:
            from fieldbooks.ops.checksum import database_checksum
            from fieldbooks.ops.invariants import check_invariants

            engine = create_engine(url)
            result["violations"] = len(check_invariants(engine))
            result["checksum"] = database_checksum(engine)
            engine.dispose()
        return result
    finally:
        if backend == "postgres":
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'drop database if exists "{name}" with (force)')
        for path in Path(workdir).glob("*"):
            path.unlink()
        os.rmdir(workdir)


def machine() -> dict:
    """What the figures were measured on."""
    import sqlite3

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
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 2**20, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgres": postgres,
        "date": time.strftime("%Y-%m-%d"),
    }


def main(argv: list[str] | None = None) -> int:
    """Run one measurement, or the whole matrix (each in a child process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("run")
    one.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    one.add_argument("--scale", choices=["small", "medium", "large"], required=True)
    one.add_argument("--method", choices=["bulk", "in_memory", "row_by_row"], default="bulk")
    one.add_argument("--invoices", type=int, default=None)
    one.add_argument("--verify", action="store_true")
    sub.add_parser("all")
    args = parser.parse_args(argv)
    if args.command == "run":
        print(
            json.dumps(run_one(args.backend, args.scale, args.method, args.invoices, args.verify)),
            flush=True,
        )
        return 0
    print(json.dumps({"machine": machine()}), flush=True)
    for backend, scale, method, invoices in MATRIX:
        command = [
            sys.executable,
            __file__,
            "run",
            "--backend",
            backend,
            "--scale",
            scale,
            "--method",
            method,
        ]
        if invoices:
            command += ["--invoices", str(invoices)]
        if method == "bulk":
            command.append("--verify")
        subprocess.run(command, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
