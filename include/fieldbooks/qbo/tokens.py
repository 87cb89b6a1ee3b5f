"""Where each company's QuickBooks refresh token lives, and the lock that serialises its refresh.

The refresh token rotates (QBO_FACTS.md, OAuth 2.0): once QuickBooks hands out a new value the
old one stops working, so two workers must never refresh one company at once, and the new
value must be stored (committed) before anything uses it. Two stores:

- `FileTokenStore` (the embedded default): a JSON file under $FIELDBOOKS_HOME, a `flock` per
  company; serialises the workers of one machine.
- `PostgresTokenStore` (`FIELDBOOKS_TOKEN_STORE_URL=postgresql://...`): a table keyed by realm,
  the token Fernet-encrypted, the refresh done under a PostgreSQL advisory lock per company;
  serialises workers on every machine that reaches the database.

Each refresh also records when the refresh token expires (`x_refresh_token_expires_in`), so
`tokens_expiring` can warn well before a person has to reconnect the company.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

STORE_URL_ENV = "FIELDBOOKS_TOKEN_STORE_URL"
KEY_ENVS = ("FIELDBOOKS_TOKEN_KEY", "AIRFLOW__CORE__FERNET_KEY")
TABLE = "fieldbooks_qbo_tokens"
# how long a worker waits for another one's refresh of the same company before giving up
LOCK_TIMEOUT_SECONDS = 120
EXPIRY_WARNING = timedelta(days=14)


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoredToken:
    """A company's current refresh token and when it stops working."""

    realm_id: str
    refresh_token: str = field(repr=False)
    expires_at: datetime | None = None
    updated_at: datetime = field(default_factory=utcnow)

    def describe(self) -> dict[str, str | None]:
        """What can be printed: everything but the token."""
        return {
            "realm_id": self.realm_id,
            "refresh_token_expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "updated_at": self.updated_at.isoformat(),
        }


def token_from_answer(realm_id: str, refresh_token: str, expires_in: Any) -> StoredToken:
    """The token to store from a token endpoint answer (expires_in: x_refresh_token_expires_in)."""
    now = utcnow()
    expires_at = now + timedelta(seconds=int(expires_in)) if expires_in not in (None, "") else None
    return StoredToken(realm_id, refresh_token, expires_at, now)


class LockedRealm:
    """One company's token while its lock is held; `save` stores durably before returning."""

    def __init__(self, current: StoredToken | None, save: Callable[[StoredToken], None]) -> None:
        self.current = current
        self._save = save

    def save(self, token: StoredToken) -> None:
        """Store the token (committed when this returns)."""
        self._save(token)
        self.current = token


class TokenStore(ABC):
    """Refresh tokens by realm, with a lock per realm that every worker respects."""

    @property
    @abstractmethod
    def description(self) -> str:
        """Where the tokens are, without secrets (for logs and the terminal)."""

    @abstractmethod
    def locked(self, realm_id: str) -> Any:
        """A context manager: hold the company's lock, yield a `LockedRealm`."""

    @abstractmethod
    def all(self) -> list[StoredToken]:
        """Every stored token (a snapshot, without taking the locks)."""

    def get(self, realm_id: str) -> StoredToken | None:
        """The stored token of one company (a snapshot)."""
        return next((t for t in self.all() if t.realm_id == realm_id), None)

    def put(self, token: StoredToken) -> None:
        """Store a token under the company's lock (e.g. after `fieldbooks connect`)."""
        with self.locked(token.realm_id) as slot:
            slot.save(token)


def tokens_expiring(
    store: TokenStore, within: timedelta = EXPIRY_WARNING, now: datetime | None = None
) -> list[StoredToken]:
    """Stored tokens whose refresh token stops working within `within` (soonest first)."""
    limit = (now or utcnow()) + within
    soon = [t for t in store.all() if t.expires_at is not None and t.expires_at <= limit]
    return sorted(soon, key=lambda t: t.expires_at or limit)


# ---------------------------------------------------------------- file store


def _parse_time(value: Any) -> datetime | None:
    """An ISO time from the file, or None."""
    return datetime.fromisoformat(value) if value else None


class FileTokenStore(TokenStore):
    """Tokens in one JSON file (mode 0600); a flock per company, one for writing the file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def description(self) -> str:
        return f"file {self.path}"

    def _lock_path(self, realm_id: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", realm_id)
        return self.path.with_name(f"{self.path.stem}.{safe}.lock")

    @contextmanager
    def _flock(self, path: Path) -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, StoredToken]:
        if not self.path.exists():
            return {}
        raw = json.loads(self.path.read_text() or "{}")
        tokens = {}
        for realm, value in raw.items():
            if isinstance(value, str):  # the format before expiry was recorded
                tokens[realm] = StoredToken(realm, value, None, utcnow())
            else:
                tokens[realm] = StoredToken(
                    realm,
                    value["refresh_token"],
                    _parse_time(value.get("expires_at")),
                    _parse_time(value.get("updated_at")) or utcnow(),
                )
        return tokens

    def _write(self, token: StoredToken) -> None:
        """Replace one company's entry: atomically, flushed to disk, readable by its owner only."""
        with self._flock(self.path.with_suffix(".lock")):
            tokens = self._read()
            tokens[token.realm_id] = token
            raw = {
                realm: {
                    "refresh_token": t.refresh_token,
                    "expires_at": t.expires_at.isoformat() if t.expires_at else None,
                    "updated_at": t.updated_at.isoformat(),
                }
                for realm, t in tokens.items()
            }
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(json.dumps(raw, indent=2))
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    @contextmanager
    def locked(self, realm_id: str) -> Iterator[LockedRealm]:
        with self._flock(self._lock_path(realm_id)):
            yield LockedRealm(self._read().get(realm_id), self._write)

    def all(self) -> list[StoredToken]:
        return list(self._read().values())


# ---------------------------------------------------------------- PostgreSQL store


def fernet_from_env(env: Mapping[str, str] | None = None) -> Any:
    """The Fernet (MultiFernet for a comma-separated list, first key encrypts) for tokens at rest."""
    from cryptography.fernet import Fernet, MultiFernet

    env = os.environ if env is None else env
    for name in KEY_ENVS:
        value = env.get(name, "").strip()
        if value:
            keys = [Fernet(k.strip().encode()) for k in value.split(",") if k.strip()]
            return MultiFernet(keys)
    raise ValueError(
        f"{STORE_URL_ENV} is a database: set FIELDBOOKS_TOKEN_KEY (or Airflow's "
        "AIRFLOW__CORE__FERNET_KEY) to a Fernet key so refresh tokens are encrypted at rest; "
        'make one with: python -c "from cryptography.fernet import Fernet; '
        'print(Fernet.generate_key().decode())"'
    )


def _psycopg_url(url: str) -> str:
    """A libpq URL from a SQLAlchemy-style one (postgresql+psycopg://...)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def _redacted(url: str) -> str:
    """The URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


class PostgresTokenStore(TokenStore):
    """Tokens in table fieldbooks_qbo_tokens, encrypted; an advisory lock per company.

    The lock is a session-level advisory lock keyed by the realm (it exists before the row
    does, and PostgreSQL drops it if the worker dies); each save commits on its own, so the
    rotated token is durable before the refresh returns.
    """

    def __init__(self, url: str, fernet: Any) -> None:
        self.url = _psycopg_url(url)
        self.fernet = fernet
        self._table_ready = False

    @property
    def description(self) -> str:
        return f"postgresql table {TABLE} at {_redacted(self.url)}"

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    def _ensure_table(self, conn: Any) -> None:
        if self._table_ready:
            return
        with conn.transaction():
            # two workers creating the table at once would collide on its type
            conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (TABLE,))
            conn.execute(
                f"""create table if not exists {TABLE} (
                      realm_id text primary key,
                      refresh_token bytea not null,
                      expires_at timestamptz,
                      updated_at timestamptz not null)"""
            )
        self._table_ready = True

    def _row(self, row: tuple) -> StoredToken:
        realm, secret, expires_at, updated_at = row
        return StoredToken(
            realm, self.fernet.decrypt(bytes(secret)).decode(), expires_at, updated_at
        )

    @contextmanager
    def locked(self, realm_id: str) -> Iterator[LockedRealm]:
        key = f"{TABLE}:{realm_id}"
        with self._connect() as conn:
            self._ensure_table(conn)
            conn.execute(f"set lock_timeout = '{LOCK_TIMEOUT_SECONDS}s'")
            conn.execute("select pg_advisory_lock(hashtextextended(%s, 0))", (key,))
            try:
                row = conn.execute(
                    f"select realm_id, refresh_token, expires_at, updated_at from {TABLE} "
                    "where realm_id = %s",
                    (realm_id,),
                ).fetchone()

                def save(token: StoredToken) -> None:
                    conn.execute(  # autocommit: durable when execute returns
                        f"""insert into {TABLE} (realm_id, refresh_token, expires_at, updated_at)
                            values (%s, %s, %s, %s)
                            on conflict (realm_id) do update set
                              refresh_token = excluded.refresh_token,
                              expires_at = excluded.expires_at,
                              updated_at = excluded.updated_at""",
                        (
                            token.realm_id,
                            self.fernet.encrypt(token.refresh_token.encode()),
                            token.expires_at,
                            token.updated_at,
                        ),
                    )

                yield LockedRealm(self._row(row) if row else None, save)
            finally:
                if not conn.closed and not conn.broken:
                    conn.execute("select pg_advisory_unlock(hashtextextended(%s, 0))", (key,))

    def all(self) -> list[StoredToken]:
        with self._connect() as conn:
            self._ensure_table(conn)
            rows = conn.execute(
                f"select realm_id, refresh_token, expires_at, updated_at from {TABLE} "
                "order by realm_id"
            ).fetchall()
        return [self._row(r) for r in rows]


def open_token_store(default_path: Path, env: Mapping[str, str] | None = None) -> TokenStore:
    """The configured store: FIELDBOOKS_TOKEN_STORE_URL (postgresql:// or file://), else the
    JSON file at `default_path` ($FIELDBOOKS_HOME/qbo_tokens.json)."""
    env = os.environ if env is None else env
    url = env.get(STORE_URL_ENV, "").strip()
    if not url:
        return FileTokenStore(default_path)
    scheme = urlsplit(url).scheme.split("+")[0]
    if scheme in ("postgresql", "postgres"):
        return PostgresTokenStore(url, fernet_from_env(env))
    if scheme == "file":
        return FileTokenStore(Path(urlsplit(url).path))
    raise ValueError(f"{STORE_URL_ENV}={url!r}: use postgresql://... or file:///path")
