"""The requests a manual DAG hands to fieldbooks_sync, applied by the company's extract_ops
(run_step) before it extracts: a full resync's watermarks move back and the rows are read
again, a retry's issues go back in line; on a real DuckDB warehouse and SQLite operations DB
(no QuickBooks, no Airflow)."""

from __future__ import annotations

import re

import pytest

from fieldbooks.companies import load_company
from fieldbooks.ops.seed import seed_demo
from fieldbooks.orchestration import (
    apply_resync,
    apply_retry,
    reset_watermarks,
    resync_request,
    retry_request,
    run_step,
)
from fieldbooks.warehouse.connection import connect
from fieldbooks.warehouse.state import ensure_state, get_watermark, set_watermark

FUTURE = "2100-01-01T00:00:00"  # a watermark past every row: an incremental read finds none


@pytest.fixture
def env(tmp_path, monkeypatch):
    """One company (`default`) on the embedded defaults under tmp_path, outside Airflow."""
    # no companies file, no other deployment's databases, no Airflow metadata DB to ask
    for name in (
        "FIELDBOOKS_COMPANIES_FILE",
        "FIELDBOOKS_OPS_URL",
        "FIELDBOOKS_WAREHOUSE_URL",
        "AIRFLOW_HOME",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FIELDBOOKS_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def settings(env):
    """The default company, its operations DB seeded and extracted once."""
    s = load_company("default", connection=False).settings
    seed_demo(s.ops_url)
    first = run_step("default", "extract_ops", "run-1")
    assert first["rows"]["invoices"] == 200
    return s


@pytest.fixture
def south(tmp_path, monkeypatch):
    """The company `south` of a companies file that also lists `north`."""
    companies = tmp_path / "companies.toml"
    companies.write_text("[companies.north]\n[companies.south]\n")
    monkeypatch.setenv("FIELDBOOKS_HOME", str(tmp_path))
    monkeypatch.setenv("FIELDBOOKS_COMPANIES_FILE", str(companies))
    settings = load_company("south", connection=False).settings
    settings.home.mkdir(parents=True)
    return settings


def _mark(settings, source: str, stream: str, realm: str = "") -> str | None:
    with connect(settings.warehouse_url) as wh:
        return get_watermark(wh, source, stream, realm)


def _set(settings, source: str, stream: str, value: str, realm: str = "") -> None:
    with connect(settings.warehouse_url) as wh:
        ensure_state(wh)
        set_watermark(wh, source, stream, value, realm)


def _raw_invoices(settings) -> int:
    with connect(settings.warehouse_url) as wh:
        return wh.scalar("select count(*) from raw_ops.invoices")


def test_extract_ops_rereads_the_streams_its_runs_resync_moved_back(settings):
    for table in ("invoices", "customers"):
        _set(settings, "ops", table, FUTURE)
    # without the request nothing past the watermark is read
    plain = run_step("default", "extract_ops", "run-2")
    assert plain["rows"]["invoices"] == 0 and "watermarks_reset" not in plain

    resync = {"entities": ["invoices"], "since": None}
    got = run_step("default", "extract_ops", "run-3", resync=resync, companies=["default"])

    assert got["watermarks_reset"] == {"invoices": "from the beginning"}
    assert got["rows"]["invoices"] == 200  # read again, in full
    assert got["rows"]["customers"] == 0  # not chosen: its watermark stayed
    assert _mark(settings, "ops", "customers") == FUTURE
    assert _mark(settings, "ops", "invoices") < "2100"  # the newest source row's stamp
    assert _raw_invoices(settings) == 200


def test_a_since_with_a_time_zone_moves_the_watermark_to_that_instant_in_utc(settings):
    _set(settings, "ops", "invoices", FUTURE)
    resync = {"entities": ["invoices"], "since": "2000-01-01T00:00:00+02:00"}
    got = run_step("default", "extract_ops", "run-2", resync=resync)
    assert got["watermarks_reset"] == {"invoices": "1999-12-31T22:00:00"}
    assert got["rows"]["invoices"] == 200


def test_a_retried_extract_ops_applies_the_reset_again_without_duplicating_rows(settings):
    resync = {"entities": ["invoices"], "since": None}
    for run in ("try-1", "try-2"):
        _set(settings, "ops", "invoices", FUTURE)
        got = run_step("default", "extract_ops", run, resync=resync)
        assert got["rows"]["invoices"] == 200, run
    assert _raw_invoices(settings) == 200


def test_the_other_steps_ignore_the_resync_request(settings, monkeypatch):
    """Only extract_ops resets: a later step of the same run (or its retry) must not move
    the watermark the extract has just advanced."""
    from fieldbooks import pipeline

    monkeypatch.setattr(pipeline, "step_validate_raw", lambda s, run_id: {"ran": run_id})
    after_extract = _mark(settings, "ops", "invoices")
    got = run_step("default", "validate_raw", "run-2", resync={"entities": [], "since": None})
    assert got == {"ran": "run-2"}
    assert _mark(settings, "ops", "invoices") == after_extract


def test_the_quickbooks_stream_is_the_realms_change_data_capture_watermark(env):
    s = load_company("default", connection=False).settings
    realm = s.qbo.realm_id
    _set(s, "qbo", "cdc", "2026-03-01T00:00:00", realm)
    done = apply_resync("default", {"entities": ["quickbooks"], "since": "2026-02-01"}, None, s)
    assert done == {"quickbooks": "2026-02-01T00:00:00"}
    assert _mark(s, "qbo", "cdc", realm) == "2026-02-01T00:00:00"
    apply_resync("default", {"entities": ["quickbooks"], "since": None}, None, s)
    assert _mark(s, "qbo", "cdc", realm) is None  # listed in full next: finds its deletes


def test_a_watermark_is_never_moved_forward(env):
    """`since` after the watermark: the changes in between are not read yet, so it stays."""
    s = load_company("default", connection=False).settings
    _set(s, "ops", "invoices", "2026-03-01T00:00:00")
    done = reset_watermarks("default", ["invoices", "customers"], "2026-04-01T00:00:00Z", s)
    assert _mark(s, "ops", "invoices") == "2026-03-01T00:00:00"
    assert _mark(s, "ops", "customers") is None  # never read: read in full, not from April
    assert done == {
        "invoices": "kept at 2026-03-01T00:00:00",
        "customers": "never read: read in full",
    }


def test_a_company_outside_the_runs_companies_is_not_reset(south):
    _set(south, "ops", "invoices", "2026-03-01T00:00:00")
    resync = {"entities": ["invoices"], "since": None}
    assert apply_resync("south", resync, ["north"], south) is None
    assert _mark(south, "ops", "invoices") == "2026-03-01T00:00:00"
    assert apply_resync("south", None, ["south"], south) is None  # no request: a plain sync
    assert _mark(south, "ops", "invoices") == "2026-03-01T00:00:00"


@pytest.mark.parametrize(
    ("resync", "message"),
    [
        ({"entities": ["invoice"], "since": None}, "no entity ['invoice']; choose from"),
        ({"entities": "invoices", "since": None}, "must be a list of names"),
        ({"entity": ["invoices"], "since": None}, 'resync must be {"entities"'),
        ({"entities": [], "since": "last tuesday"}, "is not an ISO date-time"),
        (["invoices"], 'resync must be {"entities"'),
    ],
    ids=["unknown_entity", "entities_not_a_list", "misspelt_key", "bad_since", "not_a_dict"],
)
def test_a_hand_written_resync_that_is_wrong_fails_before_anything_moves(settings, resync, message):
    _set(settings, "ops", "invoices", FUTURE)
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        run_step("default", "extract_ops", "run-2", resync=resync)
    if "entity" in message:
        assert "invoices" in str(err.value) and "quickbooks" in str(err.value)
    assert _mark(settings, "ops", "invoices") == FUTURE


def test_the_resync_dags_request_is_checked_and_made_explicit():
    assert resync_request([], None) == {"entities": [], "since": None}
    assert resync_request(["invoices", "quickbooks"], "") == {
        "entities": ["invoices", "quickbooks"],
        "since": None,
    }
    with pytest.raises(ValueError, match="choose from"):
        resync_request(["quickbook"], None)


def _raise(settings, ops_id: str, kind: str = "validation") -> str:
    from fieldbooks.issues import Issue, raise_issue

    with connect(settings.warehouse_url) as wh:
        ensure_state(wh)
        issue = Issue(settings.qbo.realm_id, "invoice", ops_id, kind, "why", "what to do")
        return raise_issue(wh, issue, "run-0")


def _status(settings, issue_id: str) -> str:
    with connect(settings.warehouse_url) as wh:
        return wh.scalar(
            "select status from fieldbooks.sync_issues where issue_id = %s", (issue_id,)
        )


def test_extract_ops_puts_the_runs_chosen_issues_back_in_line_first(settings):
    """fieldbooks_retry_issues' request: the chosen issues (by id, or every open one of a
    kind) turn retrying in extract_ops, before it reads; the others stay open."""
    by_id, by_kind, other = (
        _raise(settings, "7"),
        _raise(settings, "8", "raw_contract"),
        _raise(settings, "9"),
    )
    retry = {"issue_ids": [by_id], "kinds": ["raw_contract"]}
    result = run_step("default", "extract_ops", "run-2", retry=retry)
    assert sorted(result["issues_retrying"]) == sorted([by_id, by_kind])
    assert [_status(settings, i) for i in (by_id, by_kind, other)] == [
        "retrying",
        "retrying",
        "open",
    ]
    # applied again (a retried extract_ops): nothing more changes
    again = run_step("default", "extract_ops", "run-2", retry=retry)
    assert again["issues_retrying"] == []
    # the other steps, and runs without a request, leave issues alone
    assert "issues_retrying" not in run_step("default", "extract_ops", "run-3")
    assert _status(settings, other) == "open"


def test_a_company_outside_the_runs_companies_retries_nothing(south):
    issue = _raise(south, "7")
    assert apply_retry("south", {"issue_ids": [issue], "kinds": []}, ["north"], south) is None
    assert _status(south, issue) == "open"
    assert apply_retry("south", {"issue_ids": [issue], "kinds": []}, ["south"], south) == [issue]
    assert _status(south, issue) == "retrying"


@pytest.mark.parametrize(
    ("retry", "message"),
    [
        ({"issue_ids": [], "kinds": []}, "give issue_ids or kinds"),
        ({"issue_ids": "abc", "kinds": []}, "retry issue_ids must be a list"),
        ({"ids": ["abc"]}, 'retry must be {"issue_ids"'),
        ("abc", 'retry must be {"issue_ids"'),
    ],
    ids=["nothing_chosen", "ids_not_a_list", "misspelt_key", "not_a_dict"],
)
def test_a_hand_written_retry_that_is_wrong_fails_before_anything_changes(settings, retry, message):
    issue = _raise(settings, "7")
    with pytest.raises(ValueError, match=re.escape(message)):
        run_step("default", "extract_ops", "run-2", retry=retry)
    assert _status(settings, issue) == "open"


def test_the_retry_dags_request_is_checked_and_made_explicit():
    assert retry_request([12, "ab"], None) == {"issue_ids": ["12", "ab"], "kinds": []}
    assert retry_request(None, ["validation"]) == {"issue_ids": [], "kinds": ["validation"]}
