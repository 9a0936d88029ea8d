"""Database failures that mean "not now, retry" rather than a bug.

Two kinds, each with a stable code and a generic message (clients never see the driver's text):

- SERVICE_BUSY: every pooled connection stayed in use for the pool timeout
  (GQL_PROGRESS_DB_POOL_TIMEOUT_SECONDS), SQLite's busy timeout ran out, or PostgreSQL has no
  connection slot left. Nothing was written: the request never got a connection, or its
  transaction was refused before it began.
- SERVICE_UNAVAILABLE: the database cannot be reached, or the connection was lost (a restart, a
  failover, an administrator ending sessions). A write whose connection was lost before it
  committed is rolled back by the database.

The GraphQL error policy (api/error_policy.py) and, for failures before GraphQL runs (the key
lookup), gql_progress.edge.unavailable turn these into errors with ``extensions.code``; a request that
failed as a whole is answered with HTTP 503 and ``Retry-After``.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# What a client should wait before retrying; the pool timeout already spaced the attempt.
RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class DatabaseFault:
    code: str
    message: str


SERVICE_BUSY = DatabaseFault("SERVICE_BUSY", "The service is busy; retry shortly.")
SERVICE_UNAVAILABLE = DatabaseFault(
    "SERVICE_UNAVAILABLE", "The service is temporarily unavailable; retry shortly."
)
FAULT_CODES = frozenset({SERVICE_BUSY.code, SERVICE_UNAVAILABLE.code})

# PostgreSQL SQLSTATEs: class 08 is "connection exception"; 57P01-57P03 are an administrator's
# or a crash's shutdown and "the database system is starting up / shutting down".
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
_BUSY_SQLSTATES = frozenset({"53300"})  # too_many_connections
# What connecting to a server that is down (or restarting) raises, unwrapped by SQLAlchemy.
_CONNECT_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EHOSTUNREACH, errno.ENETUNREACH}
)
_SQLITE_BUSY = ("database is locked", "database is busy")


def database_fault(exc: BaseException) -> DatabaseFault | None:
    """The fault ``exc`` is, or None when it is something else (a bug: masked as internal)."""
    for link in _chain(exc):
        if isinstance(link, PoolTimeoutError):
            return SERVICE_BUSY
        if isinstance(link, DisconnectionError):
            return SERVICE_UNAVAILABLE
        if isinstance(link, DBAPIError) and link.connection_invalidated:
            return SERVICE_UNAVAILABLE
        sqlstate = getattr(link, "sqlstate", None)
        if isinstance(sqlstate, str):
            if sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES:
                return SERVICE_UNAVAILABLE
            if sqlstate in _BUSY_SQLSTATES:
                return SERVICE_BUSY
        if isinstance(link, ConnectionError) or (isinstance(link, OSError) and link.errno in _CONNECT_ERRNOS):
            return SERVICE_UNAVAILABLE
        if type(link).__name__ == "OperationalError" and str(link).startswith(_SQLITE_BUSY):
            return SERVICE_BUSY  # sqlite3's, once busy_timeout ran out
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver's error SQLAlchemy wraps, and their causes (a few links at most)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending and len(seen) < 10:
        link = pending.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        orig = getattr(link, "orig", None)
        for nxt in (orig, link.__cause__, link.__context__):
            if isinstance(nxt, BaseException):
                pending.append(nxt)


def describe(exc: BaseException) -> str:
    """One line for the server's log (the client gets only the fault's message)."""
    text = str(getattr(exc, "orig", None) or exc).splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
