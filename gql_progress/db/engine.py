"""The database handle: one async engine, read and write transactions, a statement counter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
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


@dataclass
class WriteScope:
    """What one write transaction carries besides its statements (see gql_progress.live.notify).

    ``live_channel``: where its live notifications go, or None when live updates are off.
    ``committed``: notifications to hand to ``Database.on_committed`` once it committed (SQLite,
    which has no NOTIFY); dropped with the transaction when it rolls back.
    """

    live_channel: str | None
    committed: list[str] = field(default_factory=list)


_SCOPE_KEY = "gql_progress.write_scope"


def write_scope(conn: AsyncConnection) -> WriteScope | None:
    """The scope of the write transaction ``conn`` is in; None outside Database.write()."""
    scope = conn.info.get(_SCOPE_KEY)
    return scope if isinstance(scope, WriteScope) else None


class Database:
    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        sqlite_busy_timeout_ms: int = 30_000,
        live_channel: str | None = None,
    ):
        self.url = with_async_driver(url)
        # Live updates: writes notify this channel (PostgreSQL NOTIFY, or on SQLite the
        # on_committed callback of this process); None sends nothing.
        self.live_channel = live_channel
        self.on_committed: Callable[[Sequence[str]], None] | None = None
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
        scope = WriteScope(self.live_channel)
        async with self._write_engine.begin() as conn:
            # conn.info belongs to the pooled connection and outlives this transaction.
            conn.info[_SCOPE_KEY] = scope
            try:
                yield conn
            finally:
                del conn.info[_SCOPE_KEY]
        # Reached only once the commit succeeded: a rolled-back write announces nothing.
        if scope.committed and self.on_committed is not None:
            self.on_committed(scope.committed)

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
