"""A batch of parsed rows into a temporary table of the import's transaction, where the set-based
statements of loads.py check and resolve it before writing ours.

PostgreSQL: COPY (asyncpg's copy_records_to_table, the binary protocol) into a table dropped at
commit. SQLite: a multi-row INSERT into a temporary table made afresh for each batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Boolean, Column, Float, Integer, MetaData, Table, Text, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.types import UTCDateTime
from gql_progress.transfer.columns import Kind

_TYPES: dict[str, Any] = {
    "integer": Integer,
    "number": Float,
    "boolean": Boolean,
    "timestamp": UTCDateTime,
}
# What each kind's rows resolve to (our ids), filled in by loads.py.
_RESOLVED = {
    "lessons": ("course_id",),
    "enrollments": ("user_id", "course_id"),
    "progress": ("user_id", "lesson_id", "course_id"),
}


@cache
def staging_table(kind: Kind) -> Table:
    """``import_<kind>``: the line, every column of the kind, then the resolved ids."""
    columns = [Column("line", Integer, nullable=False)]
    columns += [Column(c.name, _TYPES.get(c.type, Text)) for c in kind.columns]
    columns += [Column(name, Integer) for name in _RESOLVED.get(kind.name, ())]
    return Table(
        f"import_{kind.name}",
        MetaData(),
        *columns,
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )


async def stage(conn: AsyncConnection, kind: Kind, rows: Sequence[tuple[Any, ...]]) -> Table:
    """Put ``rows`` (``(line, value of each column…)``, then any resolved ids) into the kind's
    staging table, in the transaction of ``conn``, and return the table."""
    table = staging_table(kind)
    # Rows resolved before staging (transfer/resolving.py) carry the resolved ids too.
    width = len(rows[0]) if rows else len(kind.columns) + 1
    names = [c.name for c in table.columns][:width]
    # A dry run's batches are savepoints of one transaction, where the last one's table is
    # still there (ON COMMIT DROP waits for the commit).
    await conn.execute(text(f"DROP TABLE IF EXISTS {table.name}"))
    if conn.dialect.name == "postgresql":
        # SQLAlchemy's statement above began the transaction, which the COPY joins.
        await conn.run_sync(table.create)
        raw = await conn.get_raw_connection()
        asyncpg_connection: Any = raw.driver_connection
        await asyncpg_connection.copy_records_to_table(table.name, records=rows, columns=names)
    else:
        await conn.run_sync(table.create)
        if rows:
            await conn.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
    return table
