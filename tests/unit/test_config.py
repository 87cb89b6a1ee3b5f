"""Settings read from the environment: conflict policies reach dbt checked and whole."""

from __future__ import annotations

import json

import pytest

from fieldbooks.config import load_settings, parse_conflict_policies
from fieldbooks.transform import dbt_vars


def test_conflict_policies_parse_per_entity():
    assert parse_conflict_policies(" customer = flag , invoice=ops_wins,", "X") == {
        "customer": "flag",
        "invoice": "ops_wins",
    }
    assert parse_conflict_policies("", "X") == {}


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("customer=latest", "ops_wins, quickbooks_wins, newest_wins, flag"),
        ("payments=flag", "entities: customer, invoice"),
        ("invoice=quickbooks_wins", "an invoice belongs to operations; use ops_wins or flag"),
    ],
)
def test_a_wrong_policy_is_named_with_what_would_do(value, named):
    with pytest.raises(ValueError, match="FIELDBOOKS_CONFLICT_POLICIES") as err:
        parse_conflict_policies(value, "FIELDBOOKS_CONFLICT_POLICIES")
    assert named in str(err.value)


def test_dbt_gets_overrides_apart_from_the_project_defaults(tmp_path):
    plain = load_settings({"FIELDBOOKS_HOME": str(tmp_path)})
    assert dbt_vars(plain) == {"realm_id": plain.qbo.realm_id}
    flagged = load_settings(
        {"FIELDBOOKS_HOME": str(tmp_path), "FIELDBOOKS_CONFLICT_POLICIES": "customer=flag"}
    )
    # one JSON object on the command line; dbt_project.yml keeps the other entities' policy
    assert json.loads(json.dumps(dbt_vars(flagged)))["conflict_policy_overrides"] == {
        "customer": "flag"
    }
