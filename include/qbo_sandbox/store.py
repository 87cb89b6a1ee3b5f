"""SQLite state of the emulator: companies, objects of every entity, tokens, request ids, log.

One generic `objects` table holds every entity as a JSON body keyed by (realm, entity, id),
so a new entity needs rules in `entities.py`, not a new table. One connection is shared
by all threads behind a re-entrant lock; `transaction()` nests with savepoints.
"""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from qbo_sandbox import jsonio

SCHEMA = """
CREATE TABLE IF NOT EXISTS realms (
    realm_id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    demo INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    realm_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    id TEXT NOT NULL,
    sync_token INTEGER NOT NULL,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL,
    PRIMARY KEY (realm_id, entity, id)
);
CREATE INDEX IF NOT EXISTS objects_by_update ON objects (realm_id, entity, update_time);
CREATE TABLE IF NOT EXISTS sequences (
    realm_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (realm_id, name)
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    realm_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    redirect_uri TEXT
);
CREATE TABLE IF NOT EXISTS request_ids (
    realm_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (realm_id, request_id)
);
CREATE TABLE IF NOT EXISTS request_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    realm_id TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    entity TEXT,
    operation TEXT,
    request_id TEXT,
    status INTEGER NOT NULL,
    fault_code TEXT,
    replayed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass
class Record:
    """One stored object: its bookkeeping columns and its JSON body."""

    realm_id: str
    entity: str
    id: str
    sync_token: int
    create_time: int
    update_time: int
    deleted: bool
    body: dict[str, Any]


class Store:
    """Thread-safe access to the emulator's SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            self._conn.executescript(SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """Hold the lock and run in a transaction; an inner call becomes a savepoint."""
        with self._lock:
            depth = self._depth
            name = f"sp{depth}"
            self._conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if depth == 0:
                    self._conn.execute("ROLLBACK")
                else:
                    self._conn.execute(f"ROLLBACK TO {name}")
                    self._conn.execute(f"RELEASE {name}")
                raise
            self._depth -= 1
            self._conn.execute("COMMIT" if depth == 0 else f"RELEASE {name}")

    def _execute(self, sql: str, params: tuple = ()) -> int:
        """Run one statement under the lock; returns the number of rows changed."""
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    def _fetch(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        """Run one query under the lock and fetch all its rows before letting go."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _fetch_one(self, sql: str, params: tuple = ()) -> sqlite3.Row | None:
        """Run one query under the lock and fetch its first row."""
        rows = self._fetch(sql, params)
        return rows[0] if rows else None

    # settings ---------------------------------------------------------------
    def get_setting(self, key: str) -> str | None:
        """Read a persisted setting."""
        row = self._fetch_one("SELECT value FROM settings WHERE key = ?", (key,))
        return None if row is None else row["value"]

    def set_setting(self, key: str, value: str) -> None:
        """Persist a setting."""
        self._execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # realms -----------------------------------------------------------------
    def add_realm(self, realm_id: str, created_at: int, demo: bool) -> None:
        """Register a company."""
        self._execute(
            "INSERT INTO realms (realm_id, created_at, demo) VALUES (?, ?, ?)",
            (realm_id, created_at, int(demo)),
        )

    def realm_exists(self, realm_id: str) -> bool:
        """Whether the company exists."""
        row = self._fetch_one("SELECT 1 FROM realms WHERE realm_id = ?", (realm_id,))
        return row is not None

    def list_realms(self) -> list[dict[str, Any]]:
        """All companies, oldest first."""
        rows = self._fetch("SELECT * FROM realms ORDER BY created_at, realm_id")
        return [{"realm_id": r["realm_id"], "demo": bool(r["demo"])} for r in rows]

    # sequences --------------------------------------------------------------
    def next_value(self, realm_id: str, name: str, start: int = 1) -> int:
        """Take the next number of a per-realm sequence."""
        with self.transaction():
            row = self._fetch_one(
                "SELECT value FROM sequences WHERE realm_id = ? AND name = ?", (realm_id, name)
            )
            value = start if row is None else row["value"] + 1
            self._execute(
                "INSERT INTO sequences (realm_id, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT (realm_id, name) DO UPDATE SET value = excluded.value",
                (realm_id, name, value),
            )
        return value

    # objects ----------------------------------------------------------------
    def get_object(self, realm_id: str, entity: str, object_id: str) -> Record | None:
        """One object, deleted or not."""
        row = self._fetch_one(
            "SELECT * FROM objects WHERE realm_id = ? AND entity = ? AND id = ?",
            (realm_id, entity, str(object_id)),
        )
        return None if row is None else _record(row)

    def list_objects(
        self,
        realm_id: str,
        entity: str,
        include_deleted: bool = False,
        updated_since: int | None = None,
    ) -> list[Record]:
        """Objects of one entity ordered by numeric Id."""
        sql = "SELECT * FROM objects WHERE realm_id = ? AND entity = ?"
        params: list[Any] = [realm_id, entity]
        if not include_deleted:
            sql += " AND deleted = 0"
        if updated_since is not None:
            sql += " AND update_time >= ?"
            params.append(updated_since)
        sql += " ORDER BY CAST(id AS INTEGER), id"
        return [_record(row) for row in self._fetch(sql, tuple(params))]

    def insert_object(
        self, realm_id: str, entity: str, body: dict[str, Any], now: int, object_id: str | None
    ) -> Record:
        """Store a new object; its Id comes from the realm's sequence unless given."""
        with self.transaction():
            if object_id is None:
                object_id = str(self.next_value(realm_id, f"id:{entity}"))
            record = Record(realm_id, entity, object_id, 0, now, now, False, body)
            self._execute(
                "INSERT INTO objects (realm_id, entity, id, sync_token, create_time, "
                "update_time, deleted, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (realm_id, entity, object_id, 0, now, now, 0, jsonio.dumps(body)),
            )
        return record

    def save_object(self, record: Record) -> None:
        """Write back a changed object (sync token, times, deleted flag and body)."""
        self._execute(
            "UPDATE objects SET sync_token = ?, update_time = ?, deleted = ?, body = ? "
            "WHERE realm_id = ? AND entity = ? AND id = ?",
            (
                record.sync_token,
                record.update_time,
                int(record.deleted),
                jsonio.dumps(record.body),
                record.realm_id,
                record.entity,
                record.id,
            ),
        )

    # tokens -----------------------------------------------------------------
    def put_token(
        self,
        token: str,
        kind: str,
        realm_id: str,
        client_id: str,
        issued_at: int,
        expires_at: int,
        redirect_uri: str | None = None,
    ) -> None:
        """Store (or re-arm) a token."""
        self._execute(
            "INSERT INTO tokens (token, kind, realm_id, client_id, issued_at, expires_at, "
            "revoked, redirect_uri) VALUES (?, ?, ?, ?, ?, ?, 0, ?) "
            "ON CONFLICT (token) DO UPDATE SET kind = excluded.kind, realm_id = excluded.realm_id, "
            "client_id = excluded.client_id, issued_at = excluded.issued_at, "
            "expires_at = excluded.expires_at, revoked = 0, redirect_uri = excluded.redirect_uri",
            (token, kind, realm_id, client_id, issued_at, expires_at, redirect_uri),
        )

    def get_token(self, token: str) -> dict[str, Any] | None:
        """A token row, or None."""
        row = self._fetch_one("SELECT * FROM tokens WHERE token = ?", (token,))
        return None if row is None else dict(row)

    def update_token(self, token: str, expires_at: int, revoked: bool) -> None:
        """Change a token's expiry or revoke it."""
        self._execute(
            "UPDATE tokens SET expires_at = ?, revoked = ? WHERE token = ?",
            (expires_at, int(revoked), token),
        )

    # request ids ------------------------------------------------------------
    def get_request_id(self, realm_id: str, request_id: str, not_before: int) -> tuple | None:
        """The remembered (status, body) of a request id still within its lifetime."""
        row = self._fetch_one(
            "SELECT status, body FROM request_ids WHERE realm_id = ? AND request_id = ? "
            "AND created_at >= ?",
            (realm_id, request_id, not_before),
        )
        return None if row is None else (row["status"], row["body"])

    def put_request_id(
        self,
        realm_id: str,
        request_id: str,
        created_at: int,
        status: int,
        body: str,
        forget_before: int,
    ) -> None:
        """Remember the answer given to a request id, forgetting ids past their lifetime."""
        with self.transaction():
            self._execute(
                "DELETE FROM request_ids WHERE realm_id = ? AND created_at < ?",
                (realm_id, forget_before),
            )
            self._execute(
                "INSERT INTO request_ids (realm_id, request_id, created_at, status, body) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (realm_id, request_id) DO UPDATE SET "
                "created_at = excluded.created_at, status = excluded.status, body = excluded.body",
                (realm_id, request_id, created_at, status, body),
            )

    # request log ------------------------------------------------------------
    def log_request(self, entry: dict[str, Any]) -> None:
        """Append one line to the request log."""
        self._execute(
            "INSERT INTO request_log (at, realm_id, method, path, entity, operation, "
            "request_id, status, fault_code, replayed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry["time"],
                entry.get("realm_id"),
                entry["method"],
                entry["path"],
                entry.get("entity"),
                entry.get("operation"),
                entry.get("request_id"),
                entry["status"],
                entry.get("fault_code"),
                int(bool(entry.get("replayed"))),
            ),
        )

    def read_log(self, realm_id: str) -> list[dict[str, Any]]:
        """The request log of one company, oldest first."""
        rows = self._fetch("SELECT * FROM request_log WHERE realm_id = ? ORDER BY seq", (realm_id,))
        return [
            {
                "seq": r["seq"],
                "time": r["at"],
                "realm_id": r["realm_id"],
                "method": r["method"],
                "path": r["path"],
                "entity": r["entity"],
                "operation": r["operation"],
                "request_id": r["request_id"],
                "status": r["status"],
                "fault_code": r["fault_code"],
                "replayed": bool(r["replayed"]),
            }
            for r in rows
        ]

    def clear_log(self, realm_id: str) -> int:
        """Forget the request log of one company; returns how many lines went."""
        return self._execute("DELETE FROM request_log WHERE realm_id = ?", (realm_id,))


def _record(row: sqlite3.Row) -> Record:
    """Build a Record from a row of `objects`."""
    return Record(
        realm_id=row["realm_id"],
        entity=row["entity"],
        id=row["id"],
        sync_token=row["sync_token"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        deleted=bool(row["deleted"]),
        body=jsonio.loads(row["body"]),
    )
