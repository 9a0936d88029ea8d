"""asyncpg's own pool, for the statements the hot paths send on the driver directly.

A compiled read (api/compiled) is one statement whose result is the response body: SQLAlchemy's
checkout, events and result wrapping cost more CPU than asyncpg's own round trip (about 0.1 ms a
request, bench/RESULTS.md ladder step 12), so those statements skip it. Everything else keeps
the engine's pool (db/engine.py).

The pool is created at first use and opens connections as they are needed, up to half of
``GQL_PROGRESS_DB_POOL_SIZE`` (the engine's pool has the other half): a process holds at most
that many connections for requests, plus its listener. A connection returned to it is not reset
(no ``RESET ALL`` round trip per request): these statements are single statements in their
implicit transactions (read-only SELECTs, and writes that are one statement: Database.write_alone)
that leave no session state behind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from gql_progress.db.faults import SERVICE_UNAVAILABLE, database_fault


class DirectPoolTimeout(PoolTimeoutError):
    """Every direct connection stayed in use for the pool timeout (SERVICE_BUSY, db/faults.py)."""


class ConnectionLost(ConnectionError):
    """The server closed the connection while or before a statement ran (SERVICE_UNAVAILABLE)."""


class ConnectTimeout(ConnectionError):
    """Opening a connection took longer than the connect timeout: the server does not answer
    (SERVICE_UNAVAILABLE; a replica's reads go to the primary)."""


def _unless_lost(connection: asyncpg.Connection, error: BaseException) -> BaseException:
    """What to raise for ``error``: a ConnectionLost when the server ended ``connection`` (a
    restart, a failover, an administrator), which is SERVICE_UNAVAILABLE (db/faults.py).

    The server's end can reach an idle pooled connection between two requests: the next one
    then gets it half-closed, and asyncpg reports that as an internal client error ("another
    operation is in progress") before sending anything. And a FATAL error can reach the caller
    before the socket's end does: the connection is closed here, so the pool, which does not
    reset these connections (``_keep_session``), never hands it to another request."""
    if connection.is_closed():
        return ConnectionLost("the server closed the connection")
    if database_fault(error) is SERVICE_UNAVAILABLE:
        connection.terminate()
    return error


async def _keep_session(_connection: Any) -> None:
    """The pool's reset: nothing to undo (see the module's docstring)."""


class DirectPool:
    def __init__(
        self,
        dsn: str,
        *,
        max_size: int,
        timeout_seconds: float,
        prepared_statements: bool,
        connect_timeout: float = 60.0,  # asyncpg's default
    ) -> None:
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._max_size = max_size
        self._timeout = timeout_seconds
        # Without server-side prepared statements (a transaction-pooling PgBouncer), asyncpg must
        # not cache any: each statement is prepared unnamed and used at once.
        self._statement_cache_size = 256 if prepared_statements else 0
        self._pool: asyncpg.Pool | None = None
        self._creating = asyncio.Lock()

    @property
    def max_size(self) -> int:
        return self._max_size

    @property
    def in_use(self) -> int:
        """Connections handed out now (for /metrics)."""
        pool = self._pool
        return 0 if pool is None else pool.get_size() - pool.get_idle_size()

    async def fetchval(self, sql: str, *arguments: Any) -> Any:
        return await self._on_connection(lambda connection: connection.fetchval(sql, *arguments))

    async def fetch(self, sql: str, *arguments: Any) -> list[asyncpg.Record]:
        """The rows of one statement, in its implicit transaction (a write alone commits with it)."""
        rows: list[asyncpg.Record] = await self._on_connection(
            lambda connection: connection.fetch(sql, *arguments)
        )
        return rows

    async def _on_connection(self, statement: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
        """``statement`` on a connection of the pool, which goes back to it after (or is closed,
        when the server ended it: ``_unless_lost``)."""
        pool, connection = await self._acquire()
        try:
            return await statement(connection)
        except Exception as error:
            raised = _unless_lost(connection, error)
            if raised is error:
                raise
            raise raised from error
        finally:
            await pool.release(connection)

    async def _acquire(self) -> tuple[asyncpg.Pool, asyncpg.Connection]:
        pool = self._pool or await self._created()
        started = time.monotonic()
        try:
            return pool, await pool.acquire(timeout=self._timeout)
        except TimeoutError:
            # asyncpg raises the same error when opening a connection timed out inside acquire:
            # told apart by when (a replica's connect timeout is shorter than the pool's).
            if time.monotonic() - started < self._timeout:
                raise ConnectTimeout("the server did not answer in time") from None
            raise DirectPoolTimeout("no direct connection became free in time") from None

    async def _created(self) -> asyncpg.Pool:
        async with self._creating:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=0,
                    max_size=self._max_size,
                    statement_cache_size=self._statement_cache_size,
                    reset=_keep_session,
                    timeout=self._connect_timeout,
                )
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
