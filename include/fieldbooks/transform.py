"""Step 3: run dbt over dbt_project/ against the configured warehouse.

dbt runs in-process through its programmatic runner; the profile is chosen
from FIELDBOOKS_WAREHOUSE_URL so the same project builds on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fieldbooks.config import Settings
from fieldbooks.warehouse.connection import parse_warehouse_url

# dbt must never phone home: this is built where only package registries answer.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


class TransformError(RuntimeError):
    """dbt finished with failures; the message names the failing nodes."""


@dataclass(frozen=True)
class DbtResult:
    """What one dbt invocation did."""

    command: str
    succeeded: int
    failed: list[str]


def dbt_vars(settings: Settings) -> dict[str, object]:
    """The --vars of every dbt command: the company, and any conflict policy overrides
    (dbt_project.yml keeps the defaults; a var given on the command line replaces a whole
    dict, so overrides travel apart)."""
    found: dict[str, object] = {"realm_id": settings.qbo.realm_id}
    if settings.conflict_policies:
        found["conflict_policy_overrides"] = dict(settings.conflict_policies)
    return found


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment variables profiles.yml reads to reach the warehouse."""
    target = parse_warehouse_url(settings.warehouse_url)
    env = {
        "FIELDBOOKS_DBT_TARGET": target.kind,
        "FIELDBOOKS_REALM_ID": settings.qbo.realm_id,
    }
    if target.kind == "duckdb":
        env["FIELDBOOKS_DUCKDB_PATH"] = str(target.path)
    else:
        env.update(
            {
                "FIELDBOOKS_PG_HOST": target.host,
                "FIELDBOOKS_PG_PORT": str(target.port),
                "FIELDBOOKS_PG_USER": target.user,
                "FIELDBOOKS_PG_PASSWORD": target.password,
                "FIELDBOOKS_PG_DBNAME": target.dbname,
            }
        )
    return env


# what a company's project folder does not take from the checkout: its seeds are its own
# mapping folder, and dbt's own output stays per company (--target-path, --log-path)
_NOT_LINKED = frozenset({"seeds", "target", "logs", "dbt_packages"})


def dbt_project_dir(settings: Settings) -> Path:
    """The dbt project folder this company builds from.

    The checkout's dbt_project/ when the company maps with its seeds (one company, the demo);
    otherwise `<home>/dbt/project`, a folder of links to every part of dbt_project/ whose
    `seeds` links to the company's mapping folder. Not an absolute seed-paths: dbt writes each
    seed's compiled SQL to target/run/<project>/<seed path>, which for an absolute path is the
    CSV itself (it overwrote the seeds when tried), and a ../ path can climb out of target.
    Rebuilt on every call, each link replaced atomically, so two processes can share it.
    """
    project = settings.dbt_project_dir
    if settings.mappings_dir.resolve() == (project / "seeds").resolve():
        return project
    folder = settings.home / "dbt" / "project"
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p.resolve() for p in project.iterdir() if p.name not in _NOT_LINKED}
    wanted["seeds"] = settings.mappings_dir.resolve()
    for name, target in wanted.items():
        link = folder / name
        if link.is_symlink() and link.resolve() == target:
            continue
        staged = folder / f".{name}.{os.getpid()}"
        staged.unlink(missing_ok=True)
        staged.symlink_to(target, target_is_directory=target.is_dir())
        os.replace(staged, link)
    for stale in folder.iterdir():
        if stale.is_symlink() and stale.name not in wanted and not stale.name.startswith("."):
            stale.unlink(missing_ok=True)
    return folder


def run_dbt(settings: Settings, args: Sequence[str]) -> DbtResult:
    """Run one dbt command (e.g. ["build"]) and raise TransformError when a node fails.

    Every command parses the seeds, so a company without its own mapping seeds stops here
    (MappingError, saying how to draft them) rather than build on another company's ids.
    """
    from dbt.cli.main import dbtRunner

    from fieldbooks.mapping import require_mappings

    require_mappings(settings)
    os.environ.update(dbt_env(settings))
    target = os.environ["FIELDBOOKS_DBT_TARGET"]
    full = [
        *args,
        "--project-dir",
        str(dbt_project_dir(settings)),
        "--profiles-dir",
        str(settings.dbt_project_dir),
        "--target",
        target,
        "--vars",
        json.dumps(dbt_vars(settings)),
        # artifacts and logs per deployment home: two runs (two workers, two test
        # sessions) never write each other's manifest or partial-parse state
        "--target-path",
        str(settings.home / "dbt" / "target"),
        "--log-path",
        str(settings.home / "dbt" / "logs"),
    ]
    result = dbtRunner().invoke(full)
    failed: list[str] = []
    succeeded = 0
    for node in getattr(result.result, "results", None) or []:
        status = str(getattr(node, "status", "")).lower()
        if status in ("error", "fail", "runtime error"):
            failed.append(f"{node.node.unique_id}: {node.message}")
        else:
            succeeded += 1
    if result.exception is not None:
        raise TransformError(f"dbt {' '.join(args)} could not run: {result.exception}")
    if failed or not result.success:
        detail = "\n  ".join(failed) or "see the dbt log above"
        raise TransformError(f"dbt {' '.join(args)} failed:\n  {detail}")
    return DbtResult(command=" ".join(args), succeeded=succeeded, failed=failed)


def transform(settings: Settings) -> DbtResult:
    """Seed the mappings, build every model and run its tests."""
    return run_dbt(settings, ["build"])
