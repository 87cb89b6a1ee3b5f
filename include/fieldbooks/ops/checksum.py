"""A digest of the operations DB's content, the same on SQLite and PostgreSQL.

Every table is read in id order through the schema's types (Decimal at the column's
scale, naive datetimes, booleans), each value written in one canonical text form, and
hashed. Two databases with the same rows give the same digest whatever their backend.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Engine, select

from fieldbooks.ops import schema

CHUNK_ROWS = 10_000


def _text(value: object) -> str:
    """One value's canonical text; None is distinct from every string."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date | int | Decimal | str):
        return str(value)
    raise TypeError(f"no canonical text for {value!r}")


def table_checksums(engine: Engine) -> dict[str, str]:
    """The sha256 of every operations table's rows, by table name."""
    digests: dict[str, str] = {}
    with engine.connect() as conn:
        for table in schema.SYNCED_TABLES:
            digest = hashlib.sha256()
            result = conn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(
                select(table).order_by(table.c.id)
            )
            for chunk in result.partitions(CHUNK_ROWS):
                for row in chunk:
                    # length-prefixed, so no value can run into the next
                    for value in row:
                        text = _text(value)
                        digest.update(f"{len(text)}:{text}".encode())
                    digest.update(b"\n")
            digests[table.name] = digest.hexdigest()
    return digests


def database_checksum(engine: Engine) -> str:
    """One digest of every operations table."""
    combined = hashlib.sha256()
    for name, digest in table_checksums(engine).items():
        combined.update(f"{name}={digest}\n".encode())
    return combined.hexdigest()
