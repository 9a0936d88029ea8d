"""The database handle: one async engine, read and write transactions, a statement counter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gql_progress.settings import with_async_driver


class StatementCounter:
    """Counts SQL statements sent to the database (tests and the benchmark read it).

    Transaction control is not counted: asyncpg sends BEGIN outside the cursor (never seen
    here) while SQLite's goes through it, and both databases must count alike.
    """

    def __init__(self) -> None:
        self.count = 0

    def reset(self) -> None:
        self.count = 0

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith("BEGIN"):
            self.count += 1


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, sqlite_busy_timeout_ms: int = 30_000):
        self.url = with_async_driver(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.statements = StatementCounter()
        if self.is_sqlite:
            self.engine = create_async_engine(
                self.url, connect_args={"timeout": sqlite_busy_timeout_ms / 1000}
            )
            _configure_sqlite(self.engine, sqlite_busy_timeout_ms)
        else:
            # A fixed pool: overflow connections are closed when returned, so under load the
            # server kept opening new PostgreSQL sessions (bench: ~0.15 per request).
            self.engine = create_async_engine(self.url, pool_size=pool_size, max_overflow=0)
        # Writers on SQLite take the write lock when they begin. A deferred transaction that
        # reads first and then writes cannot wait for the lock (SQLite answers "database is
        # locked" at once to avoid a deadlock); an immediate one waits up to busy_timeout.
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        # Readers run in autocommit: each SELECT sees committed data, which is all read()
        # promises, and no BEGIN/ROLLBACK round trips are paid per connection checkout.
        self._read_engine = (
            self.engine.execution_options(sqlite_begin="NONE")
            if self.is_sqlite
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        event.listen(self.engine.sync_engine, "before_cursor_execute", self.statements._on_execute)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; each statement sees committed data."""
        async with self._read_engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        async with self._write_engine.begin() as conn:
            yield conn

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers go on while one writer writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode != "NONE":
            conn.exec_driver_sql(f"BEGIN {mode}")


def is_deadlock(exc: DBAPIError) -> bool:
    """Whether PostgreSQL aborted the transaction to break a deadlock (SQLSTATE 40P01)."""
    return getattr(exc.orig, "sqlstate", None) == "40P01" or "deadlock detected" in str(exc.orig)
