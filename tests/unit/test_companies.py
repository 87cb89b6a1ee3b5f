"""The companies file: one company by default, many from TOML, clear errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldbooks.companies import (
    CompaniesFileError,
    company_keys,
    load_companies,
    load_company,
)
from fieldbooks.config import DEFAULT_SYNC_SCHEDULE, load_settings, project_root, sync_schedule


def _file(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "companies.toml"
    path.write_text(text)
    return {"FIELDBOOKS_HOME": str(tmp_path / "home"), "FIELDBOOKS_COMPANIES_FILE": str(path)}


def test_without_a_file_there_is_one_default_company_with_todays_settings(tmp_path):
    env = {"FIELDBOOKS_HOME": str(tmp_path), "FIELDBOOKS_QBO_REALM_ID": "42"}
    assert company_keys(env) == ["default"]
    company = load_company("default", env, connection=False)
    assert company.settings == load_settings(env)
    assert (company.qbo_conn_id, company.qbo_pool, company.warehouse_pool) == (
        "fieldbooks_qbo_default",
        "fieldbooks_qbo_default",
        "fieldbooks_warehouse_default",
    )


def test_an_unknown_key_without_a_file_names_the_only_company(tmp_path):
    with pytest.raises(CompaniesFileError, match="only company is 'default'"):
        load_company("acme", {"FIELDBOOKS_HOME": str(tmp_path)}, connection=False)


def test_each_company_gets_its_own_home_databases_and_names(tmp_path):
    env = _file(
        tmp_path,
        """
[companies.acme]
warehouse_url = "postgresql://postgres@127.0.0.1:5432/acme_wh"
qbo_connection = "qbo_acme_prod"

[companies.zenith_hvac]
home = "/data/zenith"
ops_url = "postgresql://postgres@127.0.0.1:5432/zenith_ops"
webhook_verifier_token_env = "ZENITH_WEBHOOK_TOKEN"
[companies.zenith_hvac.env]
FIELDBOOKS_QBO_REALM_ID = "9130350000000002"
FIELDBOOKS_CONFLICT_POLICIES = "customer=flag"
FIELDBOOKS_QBO_REQUESTS_PER_MINUTE = 100
""",
    )
    env["FIELDBOOKS_OPS_URL"] = "sqlite:////shared/ops.sqlite"  # never inherited by a company
    env["FIELDBOOKS_QBO_REALM_ID"] = "111"
    assert company_keys(env) == ["acme", "zenith_hvac"]
    acme, zenith = load_companies(env, connection=False)
    home = tmp_path / "home" / "companies" / "acme"
    assert acme.settings.home == home
    assert acme.settings.ops_url == f"sqlite:///{home / 'ops.sqlite'}"
    assert acme.settings.warehouse_url == "postgresql://postgres@127.0.0.1:5432/acme_wh"
    assert acme.settings.qbo.realm_id == "111"  # the FIELDBOOKS_QBO_* fallback
    assert acme.qbo_conn_id == "qbo_acme_prod"
    assert acme.settings.token_store == home / "qbo_tokens.json"
    assert zenith.settings.home == Path("/data/zenith")
    assert zenith.settings.warehouse_url == "duckdb:////data/zenith/warehouse.duckdb"
    assert zenith.settings.ops_url == "postgresql://postgres@127.0.0.1:5432/zenith_ops"
    assert zenith.settings.qbo.realm_id == "9130350000000002"
    assert zenith.settings.qbo.limits.requests_per_window == 100
    assert zenith.settings.conflict_policies == {"customer": "flag"}
    assert zenith.qbo_conn_id == "fieldbooks_qbo_zenith_hvac"
    assert zenith.webhook_verifier_token_env == "ZENITH_WEBHOOK_TOKEN"
    assert (zenith.qbo_pool, zenith.warehouse_pool) == (
        "fieldbooks_qbo_zenith_hvac",
        "fieldbooks_warehouse_zenith_hvac",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[companies.Acme]\n", r"\[companies.Acme\]: a company key is 1-40 of a-z, 0-9 and _"),
        (
            "[companies.acme]\nwarehouse = 'x'\n",
            r"\[companies.acme\]: unknown setting\(s\) \['warehouse'\]",
        ),
        ("[companies.acme]\nhome = ''\n", r"\[companies.acme\]: home must be a non-empty string"),
        (
            "[companies.acme]\nops_url = 3\n",
            r"\[companies.acme\]: ops_url must be a non-empty string",
        ),
        (
            "[companies.acme.env]\nFIELDBOOKS_HOME = '/x'\n",
            r"\[companies.acme\].env: FIELDBOOKS_HOME cannot",
        ),
        ("[companies.acme.env]\nPATH = '/x'\n", r"\[companies.acme\].env: PATH cannot be set here"),
        (
            "[companies.acme.env]\nFIELDBOOKS_MAPPINGS_DIR = '/x'\n",
            r"\[companies.acme\].env: FIELDBOOKS_MAPPINGS_DIR cannot.*mappings are fields",
        ),
        ("[companies.acme]\nmappings = ''\n", r"mappings must be a non-empty string"),
        (
            "[companies.acme.env]\nFIELDBOOKS_CONFLICT_POLICIES = 'invoice=newest_wins'\n",
            r"\[companies.acme\]: FIELDBOOKS_CONFLICT_POLICIES: invoice=",
        ),
        ("[company.acme]\n", r"unknown top-level key\(s\) \['company'\]"),
        ("", r"no companies; add a \[companies.<key>\] table"),
        ("[companies\n", "not valid TOML"),
    ],
)
def test_a_wrong_file_names_the_file_and_the_key(tmp_path, text, message):
    env = _file(tmp_path, text)
    with pytest.raises(CompaniesFileError, match=message) as err:
        load_companies(env, connection=False)
    assert str(tmp_path / "companies.toml") in str(err.value)


def test_each_company_maps_with_its_own_folder_never_the_projects_by_default(tmp_path):
    """Mapping seeds hold one realm's QuickBooks ids: a company in the file maps from
    <home>/mappings unless it names a folder (relative to the file); only the single default
    company uses dbt_project/seeds, or FIELDBOOKS_MAPPINGS_DIR."""
    env = _file(
        tmp_path,
        """
[companies.acme]
[companies.zenith]
mappings = "mappings/zenith"
[companies.shared]
mappings = "/srv/fieldbooks/shared_mappings"
""",
    )
    env["FIELDBOOKS_MAPPINGS_DIR"] = str(tmp_path / "not_for_companies")  # never inherited
    acme, zenith, shared = load_companies(env, connection=False)
    assert acme.settings.mappings_dir == tmp_path / "home" / "companies" / "acme" / "mappings"
    assert zenith.settings.mappings_dir == tmp_path / "mappings" / "zenith"
    assert shared.settings.mappings_dir == Path("/srv/fieldbooks/shared_mappings")

    alone = {"FIELDBOOKS_HOME": str(tmp_path)}
    assert load_company("default", alone, connection=False).settings.mappings_dir == (
        project_root() / "dbt_project" / "seeds"
    )
    alone["FIELDBOOKS_MAPPINGS_DIR"] = str(tmp_path / "ours")
    assert load_company("default", alone, connection=False).settings.mappings_dir == (
        tmp_path / "ours"
    )


def test_a_company_with_its_own_mappings_builds_from_links_to_the_project(tmp_path):
    """dbt reads a company's seeds through <home>/dbt/project, whose links lead to the
    checkout's models and to the company's mapping folder; the checkout's own seeds are
    never a target of anything dbt writes."""
    from dataclasses import replace

    from fieldbooks.transform import dbt_project_dir

    settings = load_settings({"FIELDBOOKS_HOME": str(tmp_path / "home")})
    assert dbt_project_dir(settings) == settings.dbt_project_dir  # the demo: the checkout
    own = replace(settings, mappings_dir=tmp_path / "acme_mappings")
    own.mappings_dir.mkdir()
    folder = dbt_project_dir(own)
    assert folder == tmp_path / "home" / "dbt" / "project"
    assert (folder / "seeds").resolve() == own.mappings_dir
    assert (folder / "models").resolve() == settings.dbt_project_dir / "models"
    assert (folder / "dbt_project.yml").resolve() == settings.dbt_project_dir / "dbt_project.yml"
    assert not (folder / "target").exists()
    # the folder moves with the setting, and a second call changes nothing
    moved = replace(own, mappings_dir=tmp_path / "moved")
    moved.mappings_dir.mkdir()
    (folder / "gone.sql").symlink_to(tmp_path / "moved")
    assert dbt_project_dir(moved) == folder
    assert (folder / "seeds").resolve() == moved.mappings_dir
    assert not (folder / "gone.sql").exists()
    before = sorted((p.name, str(p.resolve())) for p in folder.iterdir())
    dbt_project_dir(moved)
    assert sorted((p.name, str(p.resolve())) for p in folder.iterdir()) == before


def test_a_missing_file_says_which_variable_names_it(tmp_path):
    env = {"FIELDBOOKS_COMPANIES_FILE": str(tmp_path / "nope.toml")}
    with pytest.raises(
        CompaniesFileError, match="FIELDBOOKS_COMPANIES_FILE=.*nope.toml: no such file"
    ):
        company_keys(env)


def test_an_unknown_company_lists_the_ones_the_file_has(tmp_path):
    env = _file(tmp_path, "[companies.acme]\n[companies.zenith]\n")
    with pytest.raises(CompaniesFileError, match="no company 'other'; the file lists acme, zenith"):
        load_company("other", env, connection=False)


def test_the_sync_schedule_comes_from_configuration():
    assert sync_schedule({}) == DEFAULT_SYNC_SCHEDULE == "*/15 * * * *"
    assert sync_schedule({"FIELDBOOKS_SYNC_SCHEDULE": "@hourly"}) == "@hourly"
    assert sync_schedule({"FIELDBOOKS_SYNC_SCHEDULE": "none"}) is None


def test_the_command_line_works_on_the_company_it_names(tmp_path, monkeypatch):
    from fieldbooks import cli

    env = _file(tmp_path, "[companies.acme]\n")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.parse_args(["--company", "acme", "sync"]).company == "acme"
    monkeypatch.setattr(cli, "_COMPANY", "acme")
    assert cli._settings().home == tmp_path / "home" / "companies" / "acme"
    monkeypatch.setattr(cli, "_COMPANY", "zenith")
    with pytest.raises(SystemExit, match="no company 'zenith'; the file lists acme"):
        cli._settings()
