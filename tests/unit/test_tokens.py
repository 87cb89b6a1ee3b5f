"""The token stores' bookkeeping: formats, expiry, choosing and keying the store."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from fieldbooks.qbo.tokens import (
    FileTokenStore,
    PostgresTokenStore,
    StoredToken,
    fernet_from_env,
    open_token_store,
    token_from_answer,
    tokens_expiring,
)


def test_file_store_round_trip_is_private_and_keeps_expiry(tmp_path):
    store = FileTokenStore(tmp_path / "qbo_tokens.json")
    expires = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    store.put(StoredToken("111", "rt-one", expires))
    store.put(StoredToken("222", "rt-two", None))

    assert store.get("111").refresh_token == "rt-one"
    assert store.get("111").expires_at == expires
    assert store.get("222").expires_at is None
    assert store.get("333") is None
    assert os.stat(store.path).st_mode & 0o777 == 0o600
    with store.locked("111") as slot:
        assert slot.current.refresh_token == "rt-one"
        slot.save(StoredToken("111", "rt-three", expires))
        assert slot.current.refresh_token == "rt-three"
    assert {t.realm_id: t.refresh_token for t in store.all()} == {
        "111": "rt-three",
        "222": "rt-two",
    }


def test_file_store_reads_the_format_before_expiry_was_recorded(tmp_path):
    path = tmp_path / "qbo_tokens.json"
    path.write_text(json.dumps({"9130350000000001": "rt-old-format"}))
    token = FileTokenStore(path).get("9130350000000001")
    assert token.refresh_token == "rt-old-format"
    assert token.expires_at is None


def test_the_token_is_not_in_its_repr_or_description():
    token = StoredToken("111", "rt-secret-value", None)
    assert "rt-secret-value" not in repr(token)
    assert "rt-secret-value" not in json.dumps(token.describe())


def test_expiry_from_the_token_answer():
    token = token_from_answer("111", "rt", 100 * 86400)
    left = token.expires_at - datetime.now(UTC)
    assert timedelta(days=99, hours=23) < left <= timedelta(days=100)
    assert token_from_answer("111", "rt", None).expires_at is None


def test_tokens_expiring_lists_only_those_within_the_window(tmp_path):
    now = datetime(2026, 11, 22, tzinfo=UTC)
    store = FileTokenStore(tmp_path / "t.json")
    store.put(StoredToken("soon", "a", now + timedelta(days=3)))
    store.put(StoredToken("later", "b", now + timedelta(days=60)))
    store.put(StoredToken("edge", "c", now + timedelta(days=14)))
    store.put(StoredToken("unknown", "d", None))
    assert [t.realm_id for t in tokens_expiring(store, now=now)] == ["soon", "edge"]
    within = tokens_expiring(store, within=timedelta(days=90), now=now)
    assert [t.realm_id for t in within] == ["soon", "edge", "later"]


def test_open_token_store_picks_the_configured_store(tmp_path):
    default = tmp_path / "qbo_tokens.json"
    assert open_token_store(default, env={}).path == default
    other = open_token_store(default, env={"FIELDBOOKS_TOKEN_STORE_URL": "file:///srv/t.json"})
    assert str(other.path) == "/srv/t.json"
    key = Fernet.generate_key().decode()
    pg = open_token_store(
        default,
        env={
            "FIELDBOOKS_TOKEN_STORE_URL": "postgresql+psycopg://u:pw@db:5432/x",
            "FIELDBOOKS_TOKEN_KEY": key,
        },
    )
    assert isinstance(pg, PostgresTokenStore)
    assert pg.url == "postgresql://u:pw@db:5432/x"
    assert "pw" not in pg.description
    with pytest.raises(ValueError, match="FIELDBOOKS_TOKEN_KEY"):
        open_token_store(default, env={"FIELDBOOKS_TOKEN_STORE_URL": "postgresql://db/x"})
    with pytest.raises(ValueError, match="postgresql://"):
        open_token_store(default, env={"FIELDBOOKS_TOKEN_STORE_URL": "redis://x"})


def test_fernet_key_from_fieldbooks_or_airflow_with_rotation():
    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed = Fernet(old).encrypt(b"rt")
    # Airflow's key list: the first encrypts, every one decrypts
    multi = fernet_from_env({"AIRFLOW__CORE__FERNET_KEY": f"{new.decode()},{old.decode()}"})
    assert multi.decrypt(sealed) == b"rt"
    assert Fernet(new).decrypt(multi.encrypt(b"x")) == b"x"
    own = fernet_from_env(
        {"FIELDBOOKS_TOKEN_KEY": old.decode(), "AIRFLOW__CORE__FERNET_KEY": new.decode()}
    )
    assert own.decrypt(sealed) == b"rt"
