"""Benchmark: extracting the operations DB into the warehouse, fieldbooks against dlt and pandas.

    .venv/bin/python bench/extract_ops.py all > bench/results/extract_ops.raw.jsonl
    .venv/bin/python bench/extract_ops.py all --scale small   # a quick check of the harness

`all` seeds the scale (`large` by default, at least 1,000,000 invoice lines) into a new
PostgreSQL database once (fieldbooks.ops.seed), then, for each destination (a DuckDB
file, a new PostgreSQL database), runs every tool in its own process, so that its peak
RSS (getrusage in the child) is its own, against a fresh destination dropped afterwards:

- fieldbooks: `extract_ops` (watermark + overlap; from PostgreSQL its COPY fast path:
  `COPY (select ...) TO STDOUT` parsed by Arrow's CSV reader into DuckDB, or piped into
  `COPY ... FROM STDIN` on PostgreSQL; appended on a first load, merged on the key after);
- fieldbooks incremental: `extract_ops` again on the same destination, after 0.1 % of
  every synced table's rows got a fresh `updated_at` (a direct UPDATE, in the parent);
- dlt: its `sql_database` source with the pyarrow backend (dlt's fast path), from the
  separate venv `.venv-bench` (bench/requirements-dlt.txt), telemetry off;
- dlt with its default sqlalchemy backend, on `medium` only (it is far slower: see the
  results), so the whole run stays bounded;
- pandas: `read_sql` in 10,000-row chunks from a server-side cursor, then `to_sql`
  (PostgreSQL, psycopg executemany) or, as duckdb-engine is not installed, the chunk
  registered with the duckdb Python API and `insert into ... select * from chunk`.

Every tool reads the same 19 tables (fieldbooks.ops.schema.SYNCED_TABLES). Each child
has a time cap; a tool that hits it is reported as capped, with the rows it had done.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import _harness as harness
from _harness import PG_URL, ROOT

DLT_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
CHANGED_SHARE = 0.001
CAP_SECONDS = 420
CHUNK_ROWS = 10_000
# what nothing in a child may do: phone home
QUIET_ENV = {"RUNTIME__DLTHUB_TELEMETRY": "false", **harness.QUIET_ENV}


def _tables() -> list[str]:
    """The synced tables' names (what every tool reads)."""
    from fieldbooks.ops.schema import SYNCED_TABLES

    return [t.name for t in SYNCED_TABLES]


# ---- children: one tool, one destination, one process ------------------------------


def run_fieldbooks(ops_db: str, dest: str, dest_ref: str) -> dict:
    """`extract_ops` from ops_db into the destination (full or incremental, by its watermarks)."""
    import duckdb  # noqa: F401  (imported before the clock starts, as for the others)
    import pyarrow.csv  # noqa: F401

    from fieldbooks.config import load_settings
    from fieldbooks.ops.extract import extract_ops

    home = tempfile.mkdtemp(prefix="fb_bench_home_")
    warehouse = f"duckdb:///{dest_ref}" if dest == "duckdb" else PG_URL.format(name=dest_ref)
    settings = load_settings(
        {
            "FIELDBOOKS_HOME": home,
            "FIELDBOOKS_OPS_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{ops_db}",
            "FIELDBOOKS_WAREHOUSE_URL": warehouse,
        }
    )
    started = time.perf_counter()
    extracted = extract_ops(settings)
    seconds = time.perf_counter() - started
    shutil.rmtree(home)
    return {"rows": sum(t.rows for t in extracted), "seconds": seconds, "capped": False}


def run_pandas(ops_db: str, dest: str, dest_ref: str, tables: list[str], cap: float) -> dict:
    """pandas read_sql in chunks (server-side cursor), then to_sql / duckdb insert."""
    import pandas as pd
    from sqlalchemy import create_engine, text

    source = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{ops_db}")
    if dest == "duckdb":
        import duckdb

        duck = duckdb.connect(dest_ref)
        duck.execute("create schema raw_pandas")
    else:
        target = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{dest_ref}")
        with target.begin() as conn:
            conn.execute(text("create schema raw_pandas"))
    rows = 0
    capped = False
    started = time.perf_counter()
    with source.connect() as conn:
        streaming = conn.execution_options(stream_results=True)
        for table in tables:
            first = True
            for frame in pd.read_sql(f"select * from {table}", streaming, chunksize=CHUNK_ROWS):
                if dest == "duckdb":
                    duck.register("chunk", frame)
                    if first:
                        duck.execute(f"create table raw_pandas.{table} as select * from chunk")
                    else:
                        duck.execute(f"insert into raw_pandas.{table} select * from chunk")
                    duck.unregister("chunk")
                else:
                    frame.to_sql(
                        table,
                        target,
                        schema="raw_pandas",
                        if_exists="replace" if first else "append",
                        index=False,
                        chunksize=CHUNK_ROWS,
                    )
                first = False
                rows += len(frame)
                if time.perf_counter() - started > cap:
                    capped = True
                    break
            if capped:
                break
    seconds = time.perf_counter() - started
    if dest == "duckdb":
        duck.close()
    else:
        target.dispose()
    source.dispose()
    return {"rows": rows, "seconds": seconds, "capped": capped}


def run_dlt(ops_db: str, dest: str, dest_ref: str, tables: list[str], backend: str) -> dict:
    """dlt's sql_database source into the destination (runs in .venv-bench)."""
    for key, value in QUIET_ENV.items():
        os.environ[key] = value
    import dlt
    import duckdb  # noqa: F401  (imported before the clock starts, as for the others)
    import pyarrow  # noqa: F401
    from dlt.sources.sql_database import sql_database

    pipelines = tempfile.mkdtemp(prefix="fb_bench_dlt_")
    source = sql_database(
        credentials=f"postgresql+psycopg2://postgres@127.0.0.1:5432/{ops_db}",
        schema="public",
        table_names=tables,
        backend=backend,
    )
    if dest == "duckdb":
        destination = dlt.destinations.duckdb(dest_ref)
    else:
        # trust auth: the password is never checked, dlt only insists on having one
        destination = dlt.destinations.postgres(
            f"postgresql://postgres:unused@127.0.0.1:5432/{dest_ref}"
        )
    pipeline = dlt.pipeline(
        pipeline_name="fb_bench",
        destination=destination,
        dataset_name="raw_dlt",
        pipelines_dir=pipelines,
    )
    started = time.perf_counter()
    pipeline.run(source, write_disposition="replace")
    seconds = time.perf_counter() - started
    counts = pipeline.last_trace.last_normalize_info.row_counts
    shutil.rmtree(pipelines)
    rows = sum(n for name, n in counts.items() if not name.startswith("_dlt"))
    return {"rows": rows, "seconds": seconds, "capped": False}


# ---- the parent: databases, the change set, the matrix ------------------------------


def seed_ops(scale: str) -> tuple[str, dict]:
    """A new ops database seeded at the scale; its name and row counts."""
    from fieldbooks.ops.seed import plan_for, seed_plan

    name = harness.create_database("fb_bench_")
    started = time.perf_counter()
    counts = seed_plan(PG_URL.format(name=name), plan_for(scale)).rows
    return name, {
        "step": "seed",
        "scale": scale,
        "invoice_lines": counts.get("invoice_lines", 0),
        "rows": sum(counts.values()),
        "seconds": round(time.perf_counter() - started, 1),
    }


def change_rows(ops_db: str, tables: list[str]) -> dict:
    """Give 0.1 % of every synced table's rows (at least one) a fresh updated_at."""
    import psycopg

    with psycopg.connect(PG_URL.format(name=ops_db)) as conn:
        stamps = [conn.execute(f"select max(updated_at) from {t}").fetchone()[0] for t in tables]
        newest = max(s for s in stamps if s is not None)
        stamp = newest.replace(microsecond=0) + timedelta(hours=1)
        conn.execute("select setseed(0.42)")
        changed = 0
        total = 0
        for table in tables:
            count = conn.execute(f"select count(*) from {table}").fetchone()[0]
            share = max(1, round(count * CHANGED_SHARE))
            changed += conn.execute(
                f"""update {table} set updated_at = %s
                    where ctid in (select ctid from {table} order by random() limit %s)""",
                (stamp, share),
            ).rowcount
            total += count
        conn.commit()
    return {"step": "change", "changed_rows": changed, "of_rows": total, "stamp": str(stamp)}


def _child(args: list[str], python: Path, cap: float) -> dict:
    """Run one measurement in a child process; its JSON line, or a capped record."""
    env = {**QUIET_ENV, "FB_BENCH_TABLES": ",".join(_tables())}
    done, seconds = harness.run_child(__file__, args, env, cap + 60, python)
    if done is None:
        return {"rows": None, "seconds": round(seconds), "capped": True}
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-5:], "capped": False}
    return harness.last_record(done.stdout)


def _new_dest(dest: str, workdir: str) -> str:
    """A fresh destination: a DuckDB file path, or a new PostgreSQL database's name."""
    if dest == "duckdb":
        return str(Path(workdir, f"{uuid.uuid4().hex[:8]}.duckdb"))
    return harness.create_database("fb_bench_")


def _drop_dest(dest: str, ref: str) -> None:
    """Remove a destination made by _new_dest."""
    if dest == "duckdb":
        for path in Path(ref).parent.glob(Path(ref).name + "*"):
            path.unlink()
    else:
        harness.drop_database(ref)


def _emit(record: dict) -> None:
    """One JSON line of results."""
    for key in ("seconds",):
        if isinstance(record.get(key), float):
            record[key] = round(record[key], 2)
    if record.get("rows") and record.get("seconds"):
        record["rows_per_second"] = round(record["rows"] / record["seconds"])
    harness.emit(record)


def measure(ops_db: str, scale: str, dest: str, tool: str, cap: float, workdir: str) -> None:
    """One tool into one fresh destination, in a child; fieldbooks also runs incrementally."""
    ref = _new_dest(dest, workdir)
    base = ["--ops-db", ops_db, "--dest", dest, "--dest-ref", ref, "--cap", str(cap)]
    label = {"scale": scale, "dest": dest, "tool": tool}
    try:
        if tool == "fieldbooks":
            _emit({**label, **_child([*base, "--tool", tool], Path(sys.executable), cap)})
            change = change_rows(ops_db, _tables())
            _emit({**label, **change})
            record = _child([*base, "--tool", tool], Path(sys.executable), cap)
            _emit({**label, "tool": "fieldbooks_incremental", **record})
        elif tool.startswith("dlt"):
            backend = tool.removeprefix("dlt_")
            args = [*base, "--tool", "dlt", "--backend", backend]
            _emit({**label, **_child(args, DLT_PYTHON, cap)})
        else:
            _emit({**label, **_child([*base, "--tool", tool], Path(sys.executable), cap)})
    finally:
        _drop_dest(dest, ref)


def run_all(scale: str, cap: float, with_medium: bool) -> None:
    """The whole matrix: seed once per scale, every tool into every destination."""
    harness.emit({"machine": harness.machine()})
    plans = [(scale, ["fieldbooks", "dlt_pyarrow", "pandas"])]
    if with_medium:
        plans.append(("medium", ["fieldbooks", "dlt_pyarrow", "dlt_sqlalchemy"]))
    workdir = tempfile.mkdtemp(prefix="fb_bench_")
    try:
        for plan_scale, tools in plans:
            ops_db, seeded = seed_ops(plan_scale)
            harness.emit(seeded)
            try:
                for dest in ("duckdb", "postgres"):
                    for tool in tools:
                        measure(ops_db, plan_scale, dest, tool, cap, workdir)
            finally:
                harness.drop_database(ops_db)
    finally:
        shutil.rmtree(workdir)


def main(argv: list[str] | None = None) -> int:
    """Run one measurement (a child), or the whole matrix."""
    parser, one, every = harness.commands(__doc__)
    one.add_argument("--tool", choices=["fieldbooks", "dlt", "pandas"], required=True)
    one.add_argument("--ops-db", required=True)
    one.add_argument("--dest", choices=["duckdb", "postgres"], required=True)
    one.add_argument("--dest-ref", required=True)
    one.add_argument("--backend", default="pyarrow")
    one.add_argument("--cap", type=float, default=CAP_SECONDS)
    every.add_argument("--scale", choices=["small", "medium", "large"], default="large")
    every.add_argument("--cap", type=float, default=CAP_SECONDS)
    every.add_argument("--no-medium", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "all":
        run_all(args.scale, args.cap, not args.no_medium)
        return 0
    if args.tool == "dlt":
        # .venv-bench has no fieldbooks: the table list comes from the parent's schema
        tables = os.environ["FB_BENCH_TABLES"].split(",")
        result = run_dlt(args.ops_db, args.dest, args.dest_ref, tables, args.backend)
        result["backend"] = args.backend
    elif args.tool == "pandas":
        result = run_pandas(args.ops_db, args.dest, args.dest_ref, _tables(), args.cap)
    else:
        result = run_fieldbooks(args.ops_db, args.dest, args.dest_ref)
    result["peak_rss_mb"] = harness.peak_rss_mb(children=True)  # dlt's workers are its children
    harness.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
