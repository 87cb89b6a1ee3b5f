"""Shared fixtures: real PostgreSQL databases, the QuickBooks sandbox, embedded settings.

PostgreSQL (127.0.0.1:5432, trust auth, user postgres) is used when it answers; tests
that need it skip with a message elsewhere, but under CI=true a missing PostgreSQL fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

PG_ADMIN_DSN = os.environ.get(
    "FIELDBOOKS_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)


def _postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return None
    except Exception as exc:  # any failure means: not available here
        return f"PostgreSQL at 127.0.0.1:5432 (user postgres) is missing: {exc}"


def require_postgres() -> None:
    """Skip the test when PostgreSQL is missing, or fail under CI=true."""
    why = _postgres_reachable()
    if why is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true requires PostgreSQL: {why}")
    pytest.skip(why)


@pytest.fixture
def make_pg_database() -> Iterator[Callable[[str], str]]:
    """A factory of fresh PostgreSQL databases (dropped after the test); returns URLs."""
    require_postgres()
    import psycopg

    created: list[str] = []

    def make(prefix: str = "fb_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        created.append(name)
        return f"postgresql://postgres@127.0.0.1:5432/{name}"

    yield make
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        for name in created:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def sandbox(tmp_path: Path):
    """The QuickBooks sandbox with its demo company, over real HTTP on loopback."""
    from qbo_sandbox.testing import running_sandbox

    with running_sandbox(tmp_path / "qbo_sandbox.sqlite", demo=True) as handle:
        yield handle


def settings_env(
    home: Path, sandbox, ops_url: str | None = None, warehouse_url: str | None = None
) -> dict[str, str]:
    """Environment variables for a fieldbooks deployment under `home` against the sandbox."""
    env = {
        "FIELDBOOKS_HOME": str(home),
        "FIELDBOOKS_QBO_BASE_URL": sandbox.base_url,
        "FIELDBOOKS_QBO_DISCOVERY_URL": sandbox.discovery_url,
        "FIELDBOOKS_QBO_REALM_ID": sandbox.realm_id,
        "FIELDBOOKS_QBO_REFRESH_TOKEN": sandbox.refresh_token,
        "FIELDBOOKS_QBO_CLIENT_ID": sandbox.client_id,
        "FIELDBOOKS_QBO_CLIENT_SECRET": sandbox.client_secret,
    }
    if ops_url:
        env["FIELDBOOKS_OPS_URL"] = ops_url
    if warehouse_url:
        env["FIELDBOOKS_WAREHOUSE_URL"] = warehouse_url
    return env
