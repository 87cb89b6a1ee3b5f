"""The companies one deployment syncs: each its own operations DB, warehouse and QuickBooks realm.

`FIELDBOOKS_COMPANIES_FILE` (TOML) lists them; without it there is one company, `default`,
whose settings are `load_settings()`'s:

    [companies.acme]
    home = "/data/acme"                      # default $FIELDBOOKS_HOME/companies/acme
    ops_url = "postgresql://..."             # default sqlite under home
    warehouse_url = "duckdb:///..."          # default duckdb under home
    qbo_connection = "fieldbooks_qbo_acme"   # Airflow connection; default fieldbooks_qbo_<key>
    webhook_verifier_token_env = "ACME_WEBHOOK_TOKEN"   # env var holding the verifier token
    mappings = "mappings/acme"               # its map_*.csv; default <home>/mappings

    [companies.acme.env]                     # any other FIELDBOOKS_* setting, for this company
    FIELDBOOKS_QBO_REALM_ID = "9130350000000002"
    FIELDBOOKS_CONFLICT_POLICIES = "customer=flag"

Each company's mapping seeds hold its own QuickBooks ids (item, account, class, tax code ids
differ between realms), so a company in the file never falls back to dbt_project/seeds: its
`mappings` folder (relative to the companies file) must hold every map_*.csv, which
`fieldbooks --company acme mapping suggest` drafts. Two companies share a folder only when
both name it, for realms whose ids agree.

Secrets (client secret, refresh token) belong in the company's Airflow connection, not here.
The QuickBooks settings come from that connection when it exists, else from FIELDBOOKS_QBO_*.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fieldbooks.config import Settings, load_settings, project_root

COMPANIES_FILE_VAR = "FIELDBOOKS_COMPANIES_FILE"
DEFAULT_KEY = "default"
KEY_PATTERN = re.compile(r"[a-z0-9_]{1,40}")
_STRING_FIELDS = (
    "home",
    "ops_url",
    "warehouse_url",
    "qbo_connection",
    "webhook_verifier_token_env",
    "mappings",
)
_FIELDS = {*_STRING_FIELDS, "env"}
# settings that say which company this is: a file entry names them itself, never inherits them
_PER_COMPANY_VARS = (
    "FIELDBOOKS_HOME",
    "FIELDBOOKS_OPS_URL",
    "FIELDBOOKS_WAREHOUSE_URL",
    "FIELDBOOKS_MAPPINGS_DIR",
)


class CompaniesFileError(ValueError):
    """The companies file is missing, unreadable or names something wrongly."""


def qbo_pool(key: str) -> str:
    """The Airflow pool of a company's QuickBooks calls (its rate limits)."""
    return f"fieldbooks_qbo_{key}"


def warehouse_pool(key: str) -> str:
    """The Airflow pool of a company's warehouse writes (DuckDB takes one writer)."""
    return f"fieldbooks_warehouse_{key}"


@dataclass(frozen=True)
class Company:
    """One field-service business: its systems, and the names Airflow knows it by."""

    key: str
    settings: Settings
    qbo_connection: str | None = None
    webhook_verifier_token_env: str | None = None

    @property
    def qbo_conn_id(self) -> str:
        """The Airflow connection holding this company's QuickBooks OAuth fields."""
        return self.qbo_connection or f"fieldbooks_qbo_{self.key}"

    @property
    def qbo_pool(self) -> str:
        """The pool every task calling this company's QuickBooks runs in."""
        return qbo_pool(self.key)

    @property
    def warehouse_pool(self) -> str:
        """The pool every task writing this company's warehouse runs in."""
        return warehouse_pool(self.key)


def _environ(env: dict[str, str] | None) -> dict[str, str]:
    return dict(os.environ if env is None else env)


def companies_file(env: dict[str, str] | None = None) -> Path | None:
    """The companies file named by FIELDBOOKS_COMPANIES_FILE, or None when unset."""
    value = _environ(env).get(COMPANIES_FILE_VAR, "").strip()
    return Path(value).expanduser() if value else None


def _read_table(path: Path) -> dict[str, dict[str, Any]]:
    """The [companies.*] tables of the file, every key and field checked."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise CompaniesFileError(
            f"{COMPANIES_FILE_VAR}={path}: no such file; create it or unset the variable"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise CompaniesFileError(f"{path}: not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"companies"})
    if extra:
        raise CompaniesFileError(
            f"{path}: unknown top-level key(s) {extra}; only [companies.<key>]"
        )
    table = data.get("companies")
    if not isinstance(table, dict) or not table:
        raise CompaniesFileError(f"{path}: no companies; add a [companies.<key>] table per company")
    for key, entry in table.items():
        where = f"{path}: [companies.{key}]"
        if not KEY_PATTERN.fullmatch(key):
            raise CompaniesFileError(f"{where}: a company key is 1-40 of a-z, 0-9 and _")
        if not isinstance(entry, dict):
            raise CompaniesFileError(f"{where}: must be a table of settings")
        unknown = sorted(set(entry) - _FIELDS)
        if unknown:
            raise CompaniesFileError(
                f"{where}: unknown setting(s) {unknown}; known: {', '.join(sorted(_FIELDS))}"
            )
        for name in _STRING_FIELDS:
            if name in entry and not (isinstance(entry[name], str) and entry[name].strip()):
                raise CompaniesFileError(f"{where}: {name} must be a non-empty string")
        overrides = entry.get("env", {})
        if not isinstance(overrides, dict):
            raise CompaniesFileError(f"{where}.env: must be a table of FIELDBOOKS_* variables")
        for var, value in overrides.items():
            if not var.startswith("FIELDBOOKS_") or var in (COMPANIES_FILE_VAR, *_PER_COMPANY_VARS):
                raise CompaniesFileError(
                    f"{where}.env: {var} cannot be set here; use FIELDBOOKS_* settings other "
                    f"than {COMPANIES_FILE_VAR} (home, ops_url, warehouse_url, mappings are fields)"
                )
            if not isinstance(value, str | int | float | bool):
                raise CompaniesFileError(f"{where}.env: {var} must be a string or a number")
    return table


def company_keys(env: dict[str, str] | None = None) -> list[str]:
    """The company keys, in file order; cheap enough for DAG parsing (reads the file only)."""
    path = companies_file(env)
    return [DEFAULT_KEY] if path is None else list(_read_table(path))


def _qbo_from_connection(conn_id: str, settings: Settings):
    """The company's QuickBooks settings from its Airflow connection, None when it has none."""
    try:
        from fieldbooks.qbo.connection import qbo_settings_from_connection
    except ModuleNotFoundError as exc:  # a checkout without Airflow connections support
        if exc.name != "fieldbooks.qbo.connection":
            raise
        return None
    return qbo_settings_from_connection(conn_id, settings.qbo.limits)


def _company_settings(
    key: str, entry: dict[str, Any], env: dict[str, str], path: Path
) -> tuple[Settings, str | None]:
    """One file entry's Settings (before the connection), and the connection it names."""
    company_env = {k: v for k, v in env.items() if k not in _PER_COMPANY_VARS}
    company_env.update({k: str(v) for k, v in entry.get("env", {}).items()})
    base_home = Path(env.get("FIELDBOOKS_HOME", project_root() / ".fieldbooks"))
    home = Path(entry["home"]).expanduser() if "home" in entry else base_home / "companies" / key
    company_env["FIELDBOOKS_HOME"] = str(home)
    if "ops_url" in entry:
        company_env["FIELDBOOKS_OPS_URL"] = entry["ops_url"]
    if "warehouse_url" in entry:
        company_env["FIELDBOOKS_WAREHOUSE_URL"] = entry["warehouse_url"]
    # relative to the file, so the file and its mapping folders move together
    mappings = (
        path.parent / Path(entry["mappings"]).expanduser()
        if "mappings" in entry
        else home / "mappings"
    )
    company_env["FIELDBOOKS_MAPPINGS_DIR"] = str(mappings)
    try:
        settings = load_settings(company_env)
    except ValueError as exc:
        raise CompaniesFileError(f"{path}: [companies.{key}]: {exc}") from None
    return settings, entry.get("qbo_connection")


def load_company(key: str, env: dict[str, str] | None = None, connection: bool = True) -> Company:
    """One company by key, its QuickBooks settings from its connection when that exists.

    connection=False skips the Airflow connection (DAG parse time: no metadata DB calls).
    """
    environ = _environ(env)
    path = companies_file(environ)
    if path is None:
        if key != DEFAULT_KEY:
            raise CompaniesFileError(
                f"no company {key!r}: {COMPANIES_FILE_VAR} is not set, so the only company is "
                f"{DEFAULT_KEY!r}"
            )
        settings, named, extra = load_settings(environ), None, {}
    else:
        table = _read_table(path)
        if key not in table:
            raise CompaniesFileError(
                f"{path}: no company {key!r}; the file lists {', '.join(table)}"
            )
        settings, named = _company_settings(key, table[key], environ, path)
        extra = {"webhook_verifier_token_env": table[key].get("webhook_verifier_token_env")}
    company = Company(key=key, settings=settings, qbo_connection=named, **extra)
    if connection:
        qbo = _qbo_from_connection(company.qbo_conn_id, settings)
        if qbo is not None:
            company = replace(company, settings=replace(settings, qbo=qbo))
    return company


def load_companies(env: dict[str, str] | None = None, connection: bool = True) -> list[Company]:
    """Every company, in file order."""
    return [load_company(key, env, connection) for key in company_keys(env)]
