"""SQLite state of the emulator: companies, objects of every entity, tokens, request ids, log.

One generic `objects` table holds every entity as a JSON body keyed by (realm, entity, id),
so a new entity needs rules in `entities.py`, not a new table. A few columns are derived
from the body by the entity rules (`indexer`) so hot checks stay indexed lookups: the
unique name or DocNumber, the customer or vendor a document belongs to, the parent of a
list object and a document's open amount.

One connection is shared by all threads behind a re-entrant lock; `transaction()` nests
with savepoints. Object changes made inside a transaction are handed to `on_commit` (the
webhook dispatcher) only when the outermost transaction commits.
"""

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from qbo_sandbox import jsonio

SCHEMA_VERSION = 2
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
# Columns added after the first release; `_migrate` adds them to older files.
ADDED_COLUMNS = {
    "objects": (
        ("unique_key", "TEXT"),
        ("party_id", "TEXT"),
        ("parent_id", "TEXT"),
        ("open_amount", "TEXT"),
    ),
    "request_log": (("injected", "TEXT"),),
}
INDEXES = """
CREATE INDEX IF NOT EXISTS objects_by_unique_key ON objects (realm_id, unique_key);
CREATE INDEX IF NOT EXISTS objects_by_party ON objects (realm_id, party_id, entity);
CREATE INDEX IF NOT EXISTS objects_by_parent ON objects (realm_id, entity, parent_id);
"""
# Request-log lines are written in batches; reading the log flushes first.
LOG_FLUSH_AT = 200


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


@dataclass(frozen=True)
class Index:
    """Columns derived from an object's body by its entity's rules."""

    unique_key: str | None = None
    party_id: str | None = None
    parent_id: str | None = None
    open_amount: Decimal | None = None


@dataclass(frozen=True)
class Change:
    """One committed change of one object (what a webhook reports)."""

    realm_id: str
    entity: str
    id: str
    operation: str  # Create, Update, Delete, Void
    update_time: int


Indexer = Callable[[str, dict[str, Any]], Index]
NO_INDEX = Index()


def no_index(entity: str, body: dict[str, Any]) -> Index:
    """The indexer of a store nobody gave rules to."""
    return NO_INDEX


class Store:
    """Thread-safe access to the emulator's SQLite file (or `:memory:`)."""

    def __init__(self, path: str, indexer: Indexer = no_index) -> None:
        self.path = path
        self.indexer = indexer
        self.on_commit: Callable[[list[Change]], None] | None = None
        self._lock = threading.RLock()
        self._depth = 0
        self._changes: list[list[Change]] = []
        self._quiet = 0
        self._log_buffer: list[tuple] = []
        self._tokens: dict[str, dict[str, Any] | None] = {}
        # Bumped on every object write or rollback; read-time aggregates cache against it.
        self.generation = 0
        self._derived: dict[tuple[str, str], tuple[int, Any]] = {}
        # Encoded renderings of objects, keyed by what they depend on (operations.read).
        self.rendered: dict[tuple, str] = {}
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            self._conn.executescript(SCHEMA)
            self._migrate()

    def _migrate(self) -> None:
        """Add the columns and indexes later versions need; re-derive index columns."""
        for table, columns in ADDED_COLUMNS.items():
            present = {row["name"] for row in self._conn.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns:
                if name not in present:
                    self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
        self._conn.executescript(INDEXES)

    def reindex(self) -> int:
        """Re-derive the index columns of every object (after the indexer changed)."""
        with self.transaction():
            rows = self._fetch("SELECT realm_id, entity, id, body FROM objects")
            for row in rows:
                index = self.indexer(row["entity"], jsonio.loads(row["body"]))
                self._execute(
                    "UPDATE objects SET unique_key = ?, party_id = ?, parent_id = ?, "
                    "open_amount = ? WHERE realm_id = ? AND entity = ? AND id = ?",
                    (*_index_values(index), row["realm_id"], row["entity"], row["id"]),
                )
            self.set_setting("schema_version", str(SCHEMA_VERSION))
        return len(rows)

    def needs_reindex(self) -> bool:
        """Whether the file was written by an older version without index columns."""
        return self.get_setting("schema_version") != str(SCHEMA_VERSION)

    def close(self) -> None:
        """Write pending log lines and close the connection."""
        with self._lock:
            self._flush_log()
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """Hold the lock and run in a transaction; an inner call becomes a savepoint."""
        with self._lock:
            depth = self._depth
            name = f"sp{depth}"
            self._conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {name}")
            self._depth += 1
            self._changes.append([])
            try:
                yield self
            except BaseException:
                self._depth -= 1
                self._changes.pop()
                self.generation += 1
                if depth == 0:
                    self._conn.execute("ROLLBACK")
                else:
                    self._conn.execute(f"ROLLBACK TO {name}")
                    self._conn.execute(f"RELEASE {name}")
                raise
            self._depth -= 1
            changes = self._changes.pop()
            if depth == 0:
                if self._log_buffer:
                    self._write_log_buffer()
                self._conn.execute("COMMIT")
                if changes and self.on_commit is not None:
                    self.on_commit(changes)
            else:
                self._conn.execute(f"RELEASE {name}")
                self._changes[-1].extend(changes)

    @contextmanager
    def reading(self) -> Iterator["Store"]:
        """Hold the lock for a read-only unit of work (no transaction to begin or commit:
        every write holds the same lock, so what is read is consistent)."""
        with self._lock:
            yield self

    def derived(self, realm_id: str, key: str, compute: Callable[[], Any]) -> Any:
        """A read-time aggregate of a company, recomputed only after objects changed."""
        with self._lock:
            cached = self._derived.get((realm_id, key))
            if cached is not None and cached[0] == self.generation:
                return cached[1]
            generation = self.generation
            value = compute()
            if generation == self.generation:
                self._derived[(realm_id, key)] = (generation, value)
            return value

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Changes made inside are not reported to `on_commit` (fixtures, bookkeeping)."""
        with self._lock:
            self._quiet += 1
            try:
                yield
            finally:
                self._quiet -= 1

    def _note(self, change: Change) -> None:
        """Remember a change for `on_commit` unless quiet."""
        if self._quiet:
            return
        if self._changes:
            self._changes[-1].append(change)
        elif self.on_commit is not None:
            self.on_commit([change])

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
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

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

    def realm_is_demo(self, realm_id: str) -> bool:
        """Whether the company was made from the demo fixture."""
        row = self._fetch_one("SELECT demo FROM realms WHERE realm_id = ?", (realm_id,))
        return bool(row and row["demo"])

    def list_realms(self) -> list[dict[str, Any]]:
        """All companies, oldest first."""
        rows = self._fetch("SELECT * FROM realms ORDER BY created_at, realm_id")
        return [{"realm_id": r["realm_id"], "demo": bool(r["demo"])} for r in rows]

    def wipe_realm(self, realm_id: str) -> None:
        """Forget a company's objects, numbering, request ids and log (tokens stay)."""
        with self.transaction():
            self._flush_log()
            for table in ("objects", "sequences", "request_ids", "request_log"):
                self._execute(f"DELETE FROM {table} WHERE realm_id = ?", (realm_id,))
            self.generation += 1
            self.rendered.clear()

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

    def get_stamp(self, realm_id: str, entity: str, object_id: str) -> tuple | None:
        """(sync_token, create_time, update_time, deleted) of an object, body unread."""
        row = self._fetch_one(
            "SELECT sync_token, create_time, update_time, deleted FROM objects "
            "WHERE realm_id = ? AND entity = ? AND id = ?",
            (realm_id, entity, str(object_id)),
        )
        return None if row is None else tuple(row)

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

    def find_unique(self, realm_id: str, unique_key: str) -> list[tuple[str, str]]:
        """(entity, id) of the live objects holding a unique name or number."""
        rows = self._fetch(
            "SELECT entity, id FROM objects WHERE realm_id = ? AND unique_key = ? AND deleted = 0",
            (realm_id, unique_key),
        )
        return [(row["entity"], row["id"]) for row in rows]

    def party_objects(
        self, realm_id: str, party_ids: list[str], entities: tuple[str, ...]
    ) -> list[Record]:
        """Live documents of these entities that belong to these customers or vendors."""
        if not party_ids:
            return []
        marks = ",".join("?" * len(party_ids))
        kinds = ",".join("?" * len(entities))
        rows = self._fetch(
            f"SELECT * FROM objects WHERE realm_id = ? AND party_id IN ({marks}) "
            f"AND entity IN ({kinds}) AND deleted = 0 ORDER BY CAST(id AS INTEGER), id",
            (realm_id, *party_ids, *entities),
        )
        return [_record(row) for row in rows]

    def open_amounts(
        self, realm_id: str, party_ids: list[str], entities: tuple[str, ...]
    ) -> Decimal:
        """Sum of the open amounts of these parties' live documents."""
        if not party_ids:
            return Decimal("0.00")
        marks = ",".join("?" * len(party_ids))
        kinds = ",".join("?" * len(entities))
        rows = self._fetch(
            f"SELECT open_amount FROM objects WHERE realm_id = ? AND party_id IN ({marks}) "
            f"AND entity IN ({kinds}) AND deleted = 0 AND open_amount IS NOT NULL",
            (realm_id, *party_ids, *entities),
        )
        return sum((Decimal(row["open_amount"]) for row in rows), Decimal("0.00"))

    def descendants(self, realm_id: str, entity: str, object_id: str) -> list[str]:
        """Ids of every object below this one in its ParentRef tree."""
        rows = self._fetch(
            "WITH RECURSIVE tree(id) AS (SELECT id FROM objects WHERE realm_id = ? "
            "AND entity = ? AND parent_id = ? UNION SELECT o.id FROM objects o JOIN tree "
            "ON o.parent_id = tree.id WHERE o.realm_id = ? AND o.entity = ?) SELECT id FROM tree",
            (realm_id, entity, object_id, realm_id, entity),
        )
        return [row["id"] for row in rows]

    def insert_object(
        self, realm_id: str, entity: str, body: dict[str, Any], now: int, object_id: str | None
    ) -> Record:
        """Store a new object; its Id comes from the realm's sequence unless given."""
        with self.transaction():
            if object_id is None:
                object_id = str(self.next_value(realm_id, f"id:{entity}"))
            record = Record(realm_id, entity, object_id, 0, now, now, False, body)
            self.generation += 1
            self._execute(
                "INSERT INTO objects (realm_id, entity, id, sync_token, create_time, "
                "update_time, deleted, body, unique_key, party_id, parent_id, open_amount) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    realm_id,
                    entity,
                    object_id,
                    0,
                    now,
                    now,
                    0,
                    jsonio.dumps(body),
                    *_index_values(self.indexer(entity, body)),
                ),
            )
            self._note(Change(realm_id, entity, object_id, "Create", now))
        return record

    def save_object(self, record: Record, event: str | None = "Update") -> None:
        """Write back a changed object; `event` is what a webhook reports (None: nothing)."""
        with self._lock:
            self.generation += 1
            self._execute(
                "UPDATE objects SET sync_token = ?, update_time = ?, deleted = ?, body = ?, "
                "unique_key = ?, party_id = ?, parent_id = ?, open_amount = ? "
                "WHERE realm_id = ? AND entity = ? AND id = ?",
                (
                    record.sync_token,
                    record.update_time,
                    int(record.deleted),
                    jsonio.dumps(record.body),
                    *_index_values(self.indexer(record.entity, record.body)),
                    record.realm_id,
                    record.entity,
                    record.id,
                ),
            )
            if event is not None:
                self._note(
                    Change(record.realm_id, record.entity, record.id, event, record.update_time)
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
        with self._lock:
            self._tokens.pop(token, None)
            self._execute(
                "INSERT INTO tokens (token, kind, realm_id, client_id, issued_at, expires_at, "
                "revoked, redirect_uri) VALUES (?, ?, ?, ?, ?, ?, 0, ?) "
                "ON CONFLICT (token) DO UPDATE SET kind = excluded.kind, "
                "realm_id = excluded.realm_id, client_id = excluded.client_id, "
                "issued_at = excluded.issued_at, expires_at = excluded.expires_at, revoked = 0, "
                "redirect_uri = excluded.redirect_uri",
                (token, kind, realm_id, client_id, issued_at, expires_at, redirect_uri),
            )

    def get_token(self, token: str) -> dict[str, Any] | None:
        """A token row, or None (cached: every API call looks its bearer token up)."""
        with self._lock:
            if token in self._tokens:
                row = self._tokens[token]
                return None if row is None else dict(row)
            found = self._fetch_one("SELECT * FROM tokens WHERE token = ?", (token,))
            row = None if found is None else dict(found)
            if len(self._tokens) > 10_000:
                self._tokens.clear()
            self._tokens[token] = row
            return None if row is None else dict(row)

    def update_token(self, token: str, expires_at: int, revoked: bool) -> None:
        """Change a token's expiry or revoke it."""
        with self._lock:
            self._tokens.pop(token, None)
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
        """Append one line to the request log (buffered; reads flush it)."""
        line = (
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
            entry.get("injected"),
        )
        with self._lock:
            self._log_buffer.append(line)
            if len(self._log_buffer) >= LOG_FLUSH_AT and self._depth == 0:
                self._flush_log()

    def _flush_log(self) -> None:
        """Write buffered log lines in one transaction."""
        with self._lock:
            if not self._log_buffer:
                return
            if self._depth:
                self._write_log_buffer()
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._write_log_buffer()
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _write_log_buffer(self) -> None:
        """Insert the buffered lines inside the current transaction."""
        lines, self._log_buffer = self._log_buffer, []
        self._conn.executemany(
            "INSERT INTO request_log (at, realm_id, method, path, entity, operation, "
            "request_id, status, fault_code, replayed, injected) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            lines,
        )

    def read_log(self, realm_id: str) -> list[dict[str, Any]]:
        """The request log of one company, oldest first."""
        self._flush_log()
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
                "injected": r["injected"],
            }
            for r in rows
        ]

    def clear_log(self, realm_id: str) -> int:
        """Forget the request log of one company; returns how many lines went."""
        self._flush_log()
        return self._execute("DELETE FROM request_log WHERE realm_id = ?", (realm_id,))


def _index_values(index: Index) -> tuple:
    """The index columns as SQL parameters."""
    amount = index.open_amount
    return (
        index.unique_key,
        index.party_id,
        index.parent_id,
        None if amount is None else jsonio.decimal_text(amount),
    )


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
