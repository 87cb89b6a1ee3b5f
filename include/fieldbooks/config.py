"""Settings for one fieldbooks deployment, read from environment variables.

Under Airflow the same names can be set on the workers; secrets belong in
environment variables or Airflow connections, never in code or the warehouse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from fieldbooks.ops.sources import parse_check_hours
from fieldbooks.qbo.pacing import Limits

DEMO_REALM_ID = "9130350000000001"
DEMO_REFRESH_TOKEN = "demo-refresh-token"
DEMO_CLIENT_ID = "fieldbooks-demo"
DEMO_CLIENT_SECRET = "fieldbooks-demo-secret"
DEFAULT_SANDBOX_PORT = 8765
CONFLICT_POLICIES = ("ops_wins", "quickbooks_wins", "newest_wins", "flag")
CONFLICT_ENTITIES = ("customer", "invoice")
INVOICE_POLICIES = ("ops_wins", "flag")


def project_root() -> Path:
    """The checkout's top folder (the one holding dbt_project/)."""
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class QboSettings:
    """How to reach one QuickBooks company."""

    base_url: str
    discovery_url: str
    client_id: str
    client_secret: str
    realm_id: str
    refresh_token: str
    minorversion: int = 75
    redirect_uri: str = "http://127.0.0.1/callback"
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class Settings:
    """Everything a pipeline step needs to find its systems."""

    home: Path
    ops_url: str
    warehouse_url: str
    qbo: QboSettings
    # how often raw_ops key sets are compared with the source's (None: never)
    ops_hard_delete_check: timedelta | None = timedelta(hours=24)
    # per-table extraction rules (TOML), see fieldbooks.ops.sources
    ops_tables_file: Path | None = None
    dbt_project_dir: Path = field(default_factory=lambda: project_root() / "dbt_project")
    # the mapping seeds (map_*.csv) of this company's QuickBooks ids, which dbt loads
    mappings_dir: Path = field(default_factory=lambda: project_root() / "dbt_project" / "seeds")
    # per entity, what decides a record changed in both systems (dbt var conflict_policies);
    # empty keeps dbt_project.yml's defaults
    conflict_policies: dict[str, str] = field(default_factory=dict)

    @property
    def token_store(self) -> Path:
        """Where rotated QuickBooks refresh tokens are kept (outside the warehouse)."""
        return self.home / "qbo_tokens.json"


def _limits(env: dict[str, str]) -> Limits:
    """The company's QuickBooks limits; Intuit's figures unless overridden."""
    default = Limits()
    return Limits(
        requests_per_window=int(
            env.get("FIELDBOOKS_QBO_REQUESTS_PER_MINUTE", default.requests_per_window)
        ),
        batches_per_window=int(
            env.get("FIELDBOOKS_QBO_BATCHES_PER_MINUTE", default.batches_per_window)
        ),
        batch_items=int(env.get("FIELDBOOKS_QBO_BATCH_ITEMS", default.batch_items)),
        concurrency=int(env.get("FIELDBOOKS_QBO_CONCURRENCY", default.concurrency)),
        window_seconds=float(
            env.get("FIELDBOOKS_QBO_LIMIT_WINDOW_SECONDS", default.window_seconds)
        ),
        throttled_wait_seconds=float(
            env.get("FIELDBOOKS_QBO_THROTTLED_WAIT_SECONDS", default.throttled_wait_seconds)
        ),
        max_throttled_waits=int(
            env.get("FIELDBOOKS_QBO_MAX_THROTTLED_WAITS", default.max_throttled_waits)
        ),
        request_timeout_seconds=float(
            env.get("FIELDBOOKS_QBO_TIMEOUT_SECONDS", default.request_timeout_seconds)
        ),
        in_doubt_seconds=float(
            env.get("FIELDBOOKS_QBO_IN_DOUBT_SECONDS", default.in_doubt_seconds)
        ),
    )


def parse_conflict_policies(value: str, where: str) -> dict[str, str]:
    """`customer=flag,invoice=ops_wins` as a dict, each entity and policy checked."""
    policies: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        entity, _, policy = (x.strip() for x in part.partition("="))
        if entity not in CONFLICT_ENTITIES:
            raise ValueError(
                f"{where}: no conflict policy for {entity!r}; entities: {', '.join(CONFLICT_ENTITIES)}"
            )
        if policy not in CONFLICT_POLICIES:
            raise ValueError(
                f"{where}: {entity}={policy!r} is no policy; use one of {', '.join(CONFLICT_POLICIES)}"
            )
        if entity == "invoice" and policy not in INVOICE_POLICIES:
            raise ValueError(
                f"{where}: invoice={policy!r}: an invoice belongs to operations; use "
                f"{' or '.join(INVOICE_POLICIES)} (rewrite QuickBooks' edit, or hold it)"
            )
        policies[entity] = policy
    return policies


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read settings from the environment, defaulting to the embedded demo files."""
    env = dict(os.environ if env is None else env)
    home = Path(env.get("FIELDBOOKS_HOME", project_root() / ".fieldbooks")).resolve()
    sandbox = env.get("FIELDBOOKS_QBO_BASE_URL", f"http://127.0.0.1:{DEFAULT_SANDBOX_PORT}")
    qbo = QboSettings(
        base_url=sandbox.rstrip("/"),
        discovery_url=env.get(
            "FIELDBOOKS_QBO_DISCOVERY_URL",
            f"{sandbox.rstrip('/')}/.well-known/openid_configuration",
        ),
        client_id=env.get("FIELDBOOKS_QBO_CLIENT_ID", DEMO_CLIENT_ID),
        client_secret=env.get("FIELDBOOKS_QBO_CLIENT_SECRET", DEMO_CLIENT_SECRET),
        realm_id=env.get("FIELDBOOKS_QBO_REALM_ID", DEMO_REALM_ID),
        refresh_token=env.get("FIELDBOOKS_QBO_REFRESH_TOKEN", DEMO_REFRESH_TOKEN),
        minorversion=int(env.get("FIELDBOOKS_QBO_MINORVERSION", "75")),
        limits=_limits(env),
    )
    return Settings(
        home=home,
        ops_url=env.get("FIELDBOOKS_OPS_URL", f"sqlite:///{home / 'ops.sqlite'}"),
        warehouse_url=env.get("FIELDBOOKS_WAREHOUSE_URL", f"duckdb:///{home / 'warehouse.duckdb'}"),
        qbo=qbo,
        ops_hard_delete_check=parse_check_hours(
            env.get("FIELDBOOKS_OPS_HARD_DELETE_CHECK_HOURS", "24"),
            "FIELDBOOKS_OPS_HARD_DELETE_CHECK_HOURS",
        ),
        ops_tables_file=Path(env["FIELDBOOKS_OPS_TABLES"])
        if env.get("FIELDBOOKS_OPS_TABLES")
        else None,
        conflict_policies=parse_conflict_policies(
            env.get("FIELDBOOKS_CONFLICT_POLICIES", ""), "FIELDBOOKS_CONFLICT_POLICIES"
        ),
        mappings_dir=Path(env["FIELDBOOKS_MAPPINGS_DIR"]).expanduser().resolve()
        if env.get("FIELDBOOKS_MAPPINGS_DIR", "").strip()
        else project_root() / "dbt_project" / "seeds",
    )


DEFAULT_SYNC_SCHEDULE = "*/15 * * * *"


def sync_schedule(env: dict[str, str] | None = None) -> str | None:
    """fieldbooks_sync's schedule: FIELDBOOKS_SYNC_SCHEDULE (a cron expression or preset such
    as "@hourly"), every 15 minutes by default; "none" runs it only when triggered."""
    env = os.environ if env is None else env
    value = env.get("FIELDBOOKS_SYNC_SCHEDULE", "").strip() or DEFAULT_SYNC_SCHEDULE
    return None if value.lower() == "none" else value
