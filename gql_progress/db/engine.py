"""The database handle: one async engine, read and write transactions, a statement counter."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gql_progress.db.direct import DirectPool
from gql_progress.db.driver_statement import driver_statement
from gql_progress.db.faults import SERVICE_UNAVAILABLE, database_fault
from gql_progress.db.listener import asyncpg_dsn
from gql_progress.db.notifier import BatchNotifier
from gql_progress.db.read_route import ReadRoute, read_route
from gql_progress.db.replicas import Replica, ReplicaSet, ReplicaSettings
from gql_progress.db.write_alone import NeedsTransaction, is_refusal
from gql_progress.settings import with_async_driver
from gql_progress.tracing import OFF, Tracing


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
            self.record()

    def record(self) -> None:
        """One statement sent, including those sent on the driver directly (compiled reads)."""
        self.count += 1
        tally = request_statements.get()
        if tally is not None:
            tally.count += 1


class StatementTally:
    """The statements of one request (its access-log record and /metrics read the count)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


# Set per HTTP request by gql_progress.edge.observability. A mutable tally rather than a number: the
# DataLoader batches of a request run in tasks holding a copy of its context, and their
# statements must land in the same tally.
request_statements: ContextVar[StatementTally | None] = ContextVar("request_statements", default=None)


@dataclass
class WriteScope:
    """What one write transaction carries besides its statements (see gql_progress.domain.completion.notices).

    ``live_channel``: where its live notifications go, or None when live updates are off.
    ``committed``: notifications to announce once it committed (``Database.announce``); dropped
    with the transaction (or the SAVEPOINT) that rolls back.
    """

    live_channel: str | None
    committed: list[str] = field(default_factory=list)
    # Set by Database.note_credentials_changed(): the commit bumps Database.credentials_epoch.
    credentials_changed: bool = False


_SCOPE_KEY = "gql_progress.write_scope"


def write_scope(conn: AsyncConnection) -> WriteScope | None:
    """The scope of the write transaction ``conn`` is in; None outside Database.write()."""
    scope = conn.info.get(_SCOPE_KEY)
    return scope if isinstance(scope, WriteScope) else None


class _TaskLock:
    """A lock that the task holding it may take again: a write block that reads, or a write that
    nests another write, runs on in the same task; other tasks (DataLoader batches) wait. So a
    write block must never wait for another task that uses the database (a DataLoader): domain
    code passes its connection down instead, as it does everywhere."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            yield
            return
        async with self._lock:
            self._owner = task
            try:
                yield
            finally:
                self._owner = None


@dataclass
class Transaction:
    """The handle of Database.transaction(): ``db``, the database as seen from inside it (its
    read() and write() join it), its connection, and ``rollback_only`` to end it with a
    rollback instead of a commit."""

    connection: AsyncConnection
    scope: WriteScope
    db: Database = field(init=False)
    lock: _TaskLock = field(default_factory=_TaskLock)
    rollback_only: bool = False


_UNROUTED: AbstractContextManager[None] = nullcontext()

# What a hot standby answers when replaying the primary's WAL had to cancel a query (a row it
# read was vacuumed away on the primary): serialization_failure. Retried on the primary.
RECOVERY_CONFLICT = "40001"


class Database:
    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        pool_timeout_seconds: float = 30.0,
        sqlite_busy_timeout_ms: int = 30_000,
        live_channel: str | None = None,
        prepared_statements: bool = True,
        direct_reads: bool = False,
        replicas: ReplicaSettings | None = None,
        tracing: Tracing = OFF,
    ):
        self.url = with_async_driver(url)
        # Spans for the statements sent on asyncpg directly (the engine's are traced by events).
        self.tracing = tracing
        # Set on the handle Database.transaction() gives (``transaction.db``): what it joins.
        self._joined: Transaction | None = None
        # Live updates: committed writes announce their notices on this channel; None sends
        # nothing. On PostgreSQL they go out with NOTIFY in batches (``notifier``, set up
        # here so that the handles transaction() gives share it); where ``on_committed`` is
        # set (SQLite, which has no NOTIFY: this process's own broker) they go there instead.
        self.live_channel = live_channel
        self.on_committed: Callable[[Sequence[str]], None] | None = None
        self.is_sqlite = self.url.startswith("sqlite")
        self.notifier = None if self.is_sqlite else BatchNotifier(asyncpg_dsn(self.url))
        self.statements = StatementCounter()
        self._direct: DirectPool | None = None
        # Writes sent alone (write_alone): committed, or refused for a transaction (tests read them).
        self.alone_committed = 0
        self.alone_refused = 0
        # Bumped when a write that revoked a key (or changed a user) commits in this process:
        # credentials cached before then are looked up again (auth/credential_cache.py).
        self.credentials_epoch = 0
        # Awaited after such a commit, before the write block returns (the credential cache
        # waits there until the other processes have been told).
        self.on_credentials_committed: Callable[[], Awaitable[None]] | None = None
        # A fixed pool: overflow connections are closed when returned, so under load the
        # server kept opening new PostgreSQL sessions (bench: ~0.15 per request). A request
        # that finds it empty waits pool_timeout_seconds, then fails with SERVICE_BUSY
        # (gql_progress.db.faults) rather than queue without end.
        # ``direct_reads`` (compiled reads on PostgreSQL, db/direct.py): asyncpg's pool for them
        # takes half of pool_size and the engine's pool the rest, so that a process never holds
        # more than pool_size connections for requests (the bench's first run with two full
        # pools per worker ran PostgreSQL out of connection slots).
        direct = direct_reads and not self.url.startswith("sqlite")
        direct_size = max(1, pool_size // 2) if direct else 0
        engine_size = max(1, pool_size - direct_size)
        pool = {"pool_size": engine_size, "max_overflow": 0, "pool_timeout": pool_timeout_seconds}
        if self.is_sqlite:
            self.engine = create_async_engine(
                self.url,
                connect_args={"timeout": sqlite_busy_timeout_ms / 1000},
                hide_parameters=True,  # as for PostgreSQL (_postgres_engine)
                **pool,
            )
            _configure_sqlite(self.engine, sqlite_busy_timeout_ms)
        else:
            self.engine = _postgres_engine(self.url, pool, prepared_statements)
        if direct:
            self._direct = DirectPool(
                asyncpg_dsn(self.url),
                max_size=max(1, direct_size),
                timeout_seconds=pool_timeout_seconds,
                prepared_statements=prepared_statements,
            )
        self.replicas = (
            self._replica_set(replicas, pool, direct_size, pool_timeout_seconds, prepared_statements)
            if replicas is not None and replicas.urls and not self.is_sqlite
            else None
        )
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

    def _replica_set(
        self,
        settings: ReplicaSettings,
        pool: dict[str, Any],
        direct_size: int,
        pool_timeout_seconds: float,
        prepared_statements: bool,
    ) -> ReplicaSet:
        """Read replicas (db/replicas.py), each with pools of the same sizes as the primary's.
        Connecting to one gives up after the check timeout, so that a replica that vanished
        without a word (no RST) costs a request that long at most before it reads the primary."""
        members = []
        for replica_url in settings.urls:
            url = with_async_driver(replica_url)
            engine = _postgres_engine(url, pool, prepared_statements, connect_timeout=settings.check_timeout)
            event.listen(engine.sync_engine, "before_cursor_execute", self.statements._on_execute)
            direct = (
                DirectPool(
                    asyncpg_dsn(url),
                    max_size=direct_size,
                    timeout_seconds=pool_timeout_seconds,
                    prepared_statements=prepared_statements,
                    connect_timeout=settings.check_timeout,
                )
                if direct_size
                else None
            )
            members.append(Replica(asyncpg_dsn(url), engine, direct))
        return ReplicaSet(asyncpg_dsn(self.url), members, settings)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; each statement sees committed data (and, inside
        ``transaction()``, that transaction's own writes). In a request routed to a replica
        (``routed()``), that replica's, unless it cannot be reached: then the primary's."""
        joined = self._joined
        if joined is not None:
            # One connection runs one statement at a time: concurrent batches take turns.
            async with joined.lock.hold():
                yield joined.connection
            return
        route = read_route.get()
        replica = route.replica if route is not None else None
        if route is not None and replica is not None:
            conn = replica.read_engine.connect()
            try:
                await conn.start()
            except Exception as error:
                if not _unreachable(error):
                    raise  # busy (its pool's timeout): as the primary's pool would answer
                self._replica_failed(route, replica, error)
            else:
                replica.reads += 1
                try:
                    yield conn
                except Exception as error:
                    # Lost mid-statement: this request fails (503, retried), the next ones skip it.
                    if _unreachable(error):
                        self._replica_failed(route, replica, error)
                    raise
                finally:
                    await conn.close()
                return
        async with self._read_engine.connect() as conn:
            yield conn

    async def read_value(self, sql: str, *arguments: Any) -> Any:
        """One read-only statement on asyncpg directly (compiled reads, db/direct.py): on the
        request's replica, or the primary when there is none or it fails. Being one statement
        that writes nothing, it is sent again to the primary even when the replica failed after
        receiving it (connection lost, or cancelled by a conflict with recovery)."""
        route = read_route.get()
        replica = route.replica if route is not None else None
        if route is not None and replica is not None and replica.direct is not None:
            try:
                value = await replica.direct.fetchval(sql, *arguments)
            except Exception as error:
                if _unreachable(error):
                    self._replica_failed(route, replica, error)
                elif getattr(error, "sqlstate", None) == RECOVERY_CONFLICT:
                    route.replica = None
                else:
                    raise
            else:
                replica.reads += 1
                return value
        return await self.direct.fetchval(sql, *arguments)

    @property
    def reads_alone(self) -> bool:
        """Whether ``read_alone`` may run here: PostgreSQL with the direct pool, and not inside
        ``transaction()`` (whose reads must see its own writes, on its connection)."""
        return self._direct is not None and self._joined is None

    async def read_alone(self, statement: Any, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """One read-only SELECT declared in SQLAlchemy, sent on asyncpg directly (compiled once
        by db/driver_statement.py, its rows decoded as SQLAlchemy decodes them): for a statement
        every request may send, where the engine's checkout and result wrapping would cost more
        than the round trip. On the primary; the request's replica route is not taken, as for
        a credential check that runs before the route is chosen."""
        compiled = driver_statement(statement, self.engine.dialect)
        with self.tracing.direct_statement(compiled.sql):
            records = await self.direct.fetch(compiled.sql, *compiled.arguments(params))
        self.statements.record()
        return [compiled.row(record) for record in records]

    def _replica_failed(self, route: ReadRoute, replica: Replica, error: BaseException) -> None:
        # The rest of the request reads the primary too: a response never goes back to an
        # older position than one it already read.
        route.replica = None
        if self.replicas is not None:
            self.replicas.unreachable(replica, error)

    def routed(self, caller: int | None, *, query: bool) -> AbstractContextManager[ReadRoute | None]:
        """The reads of the request run in this block: a query's on a replica that has the
        caller's last commit, if there is one (db/replicas.py); anything else's on the
        primary. ``caller``'s commits in the block are noted for its later queries. Gives the
        route (its replica is None once the primary answers), or None without replicas."""
        if self.replicas is None:
            return _UNROUTED  # nothing per request without replicas
        return self._routed(ReadRoute(caller, self.replicas.choose(caller) if query else None))

    @contextmanager
    def _routed(self, route: ReadRoute) -> Iterator[ReadRoute]:
        token = read_route.set(route)
        try:
            yield route
        finally:
            read_route.reset(token)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Inside ``transaction()`` it is a SAVEPOINT of that transaction instead: released when the
        block ends, rolled back to if it raises, so a typed error still leaves nothing written
        and a retry loop around it (deadlocks) retries just its part.
        """
        joined = self._joined
        if joined is not None:
            async with joined.lock.hold():
                announced = len(joined.scope.committed)
                try:
                    async with joined.connection.begin_nested():
                        yield joined.connection
                except BaseException:
                    del joined.scope.committed[announced:]  # the notices of the undone part
                    raise
            return
        scope = WriteScope(self.live_channel)
        async with self._write_engine.begin() as conn:
            # conn.info belongs to the pooled connection and outlives this transaction. Held
            # here: once the connection is lost (a database restart) conn.info itself raises,
            # which would hide the disconnect from the error policy (gql_progress.db.faults).
            info = conn.info
            info[_SCOPE_KEY] = scope
            try:
                yield conn
            finally:
                info.pop(_SCOPE_KEY, None)
        # Reached only once the commit succeeded: a rolled-back write announces nothing.
        self._committed(scope)
        await self._settle_credentials(scope)

    @property
    def writes_alone(self) -> bool:
        """Whether ``write_alone`` may run here: PostgreSQL with the direct pool, and not inside
        ``transaction()`` (whose writes are its SAVEPOINTs, on its connection)."""
        return self._direct is not None and self._joined is None

    async def write_alone(self, statement: Any, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """A write that is this one statement (INSERT/UPDATE … RETURNING), on asyncpg directly in
        its implicit transaction: one round trip where ``write()`` takes three, and none of
        SQLAlchemy's execution layer (db/driver_statement.py compiles the statement once).
        Returns the rows, decoded as SQLAlchemy decodes them. Raises NeedsTransaction when the
        statement refused to commit alone (db/write_alone.py): then nothing was written."""
        compiled = driver_statement(statement, self.engine.dialect)
        arguments = compiled.arguments(params)
        self.statements.record()
        try:
            with self.tracing.direct_statement(compiled.sql):
                records = await self.direct.fetch(compiled.sql, *arguments)
        except Exception as error:
            if is_refusal(error):
                self.alone_refused += 1
                raise NeedsTransaction from error
            raise
        self.alone_committed += 1
        # Committed: what write() does after its commit (a replica route notes the caller);
        # the caller announces the notices it derives from the rows.
        self._committed(WriteScope(self.live_channel))
        return [compiled.row(record) for record in records]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One write transaction, explicit: the reads and writes of ``transaction.db`` (the
        handle a request inside it is given, see gql_progress/edge/idempotency.py) join it until
        the block ends, each write() a SAVEPOINT of it; this Database's own stay outside it.
        Committed then, unless ``rollback_only`` was set or the block raised. SQLite takes the
        write lock at once, so nothing outside may write until it ends: what runs inside must
        use ``transaction.db``.
        """
        if self._joined is not None:
            raise RuntimeError("transaction() inside a transaction: use the one you are in")
        scope = WriteScope(self.live_channel)
        async with self._write_engine.connect() as conn, conn.begin() as begun:
            info = conn.info  # held, as in write(): a lost connection's conn.info raises
            info[_SCOPE_KEY] = scope
            transaction = Transaction(conn, scope)
            transaction.db = self._joining(transaction)
            try:
                yield transaction
            finally:
                info.pop(_SCOPE_KEY, None)
            if transaction.rollback_only:
                await begun.rollback()
                return
        self._committed(scope)
        await self._settle_credentials(scope)

    def _joining(self, transaction: Transaction) -> Database:
        """This database as seen from inside ``transaction``: the same engines, pools and
        settings (a shallow copy), its read() and write() joining the transaction."""
        joined = copy.copy(self)
        joined._joined = transaction
        return joined

    def note_credentials_changed(self, conn: AsyncConnection) -> None:
        """The write transaction of ``conn`` revokes or changes a credential: once it commits,
        nothing cached from before is used again in this process."""
        scope = write_scope(conn)
        if scope is None:
            raise RuntimeError("note_credentials_changed() outside a write transaction")
        scope.credentials_changed = True

    def _committed(self, scope: WriteScope) -> None:
        if self.replicas is not None:
            route = read_route.get()
            if route is not None and route.caller is not None:
                self.replicas.committed(route.caller)
        if scope.credentials_changed:
            self.credentials_epoch += 1
        self.announce(scope.committed)

    def announce(self, notices: Sequence[str]) -> None:
        """Hand the live notices of a write that committed to whoever delivers them; never waits."""
        if not notices:
            return
        if self.on_committed is not None:
            self.on_committed(notices)
        elif self.live_channel is not None and self.notifier is not None:
            self.notifier.offer(self.live_channel, notices)

    async def _settle_credentials(self, scope: WriteScope) -> None:
        if scope.credentials_changed and self.on_credentials_committed is not None:
            await self.on_credentials_committed()

    async def notify(self, channel: str, payload: str) -> None:
        """NOTIFY ``channel`` in a write transaction of the pool, as the credential triggers'
        notices go."""
        async with self.write() as conn:
            await conn.execute(select(func.pg_notify(channel, payload)))

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    @property
    def direct_pool(self) -> DirectPool | None:
        """asyncpg's pool for compiled reads; None on SQLite or without ``direct_reads``."""
        return self._direct

    @property
    def direct(self) -> DirectPool:
        """The direct pool, where it must exist (the compiled reads run only where it does)."""
        if self._direct is None:
            raise RuntimeError("no direct pool: SQLite, or compiled reads turned off")
        return self._direct

    async def dispose(self) -> None:
        if self.notifier is not None:
            await self.notifier.close()  # what committed is still announced
        if self.replicas is not None:
            await self.replicas.dispose()
        if self._direct is not None:
            await self._direct.close()
        await self.engine.dispose()


def _unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the server is away: refused, lost, or no answer to a connect
    within its timeout (Python's TimeoutError; a full pool raises SQLAlchemy's, which is busy)."""
    return database_fault(error) is SERVICE_UNAVAILABLE or isinstance(error, TimeoutError)


def _postgres_engine(
    url: str, pool: dict[str, Any], prepared_statements: bool, connect_timeout: float | None = None
) -> AsyncEngine:
    # hide_parameters: a failed statement's message (logged with its traceback) must not
    # carry the values it bound: notes, key hashes, anything a learner wrote.
    # Without prepared statements (a transaction-pooling PgBouncer hands each transaction
    # another server connection, where a statement prepared earlier does not exist),
    # neither asyncpg nor SQLAlchemy's asyncpg adapter may cache one. Each statement is then
    # prepared unnamed, and asyncpg sends its Parse with a Flush, not a Sync: the pooler keeps
    # the session until the Bind/Execute/Sync that follows, so the statement runs where it was
    # parsed (asyncpg 0.32; tests/test_pgbouncer.py).
    connect_args: dict[str, Any] = (
        {} if prepared_statements else {"statement_cache_size": 0, "prepared_statement_cache_size": 0}
    )
    if connect_timeout is not None:
        connect_args["timeout"] = connect_timeout
    engine = create_async_engine(url, hide_parameters=True, connect_args=connect_args, **pool)
    discard_closed_connections(engine)
    return engine


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


def discard_closed_connections(engine: AsyncEngine) -> None:
    """Never hand out a pooled connection the server has already closed.

    When PostgreSQL restarts, or an administrator or idle timeout ends a session, asyncpg sees
    the socket close while the connection sits in the pool. Checking that flag at checkout
    costs no round trip (unlike pool_pre_ping's SELECT per checkout), and raising
    DisconnectionError makes the pool replace the connection, so the first request after a
    restart succeeds instead of failing on a dead connection.
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        is_closed = getattr(driver, "is_closed", None)
        if is_closed is not None and is_closed():
            raise DisconnectionError("the server closed this pooled connection")


def is_deadlock(exc: BaseException) -> bool:
    """Whether PostgreSQL aborted the transaction to break a deadlock (SQLSTATE 40P01): ``exc``
    as SQLAlchemy wraps the driver's error, or asyncpg's own (``write_alone``)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return getattr(orig, "sqlstate", None) == "40P01" or "deadlock detected" in str(orig)
