"""Read replicas: which one may answer a query now, and where a caller's reads go after its writes.

- **Checks.** Every ``check_seconds`` each process samples the primary's WAL position and each
  replica's replay position (``pg_last_wal_replay_lsn()``), on one connection per server of its
  own: a request pool that is busy must not make a replica look dead, and a request never waits
  for a check. Between checks, routing reads what the last check found.
- **Lag.** A sample says "the primary had written up to here at time t". A replica that has not
  replayed up to a sample taken at t lacks WAL at least ``now - t`` old; its lag is that, for the
  oldest such sample (0 when it has them all). It is skipped while that exceeds
  ``max_lag_seconds``, while it cannot be reached, and while it is not in recovery (promoted: it
  no longer follows this primary). Measured against the primary's WAL rather than replay
  timestamps, an idle primary does not make a replica look late
  (``now() - pg_last_xact_replay_timestamp()`` grows while nothing is written).
- **Read-your-writes.** A commit made for a caller (the authenticated user) notes the time it
  returned; no statement is added to the write. The first sample taken after that time holds a
  position at or past the commit, so the caller's queries go to a replica only once its replay
  position has reached that sample, and to the primary until then: one to two check intervals
  after each write. The note is this process's: a request of the same caller answered by another
  process may read a replica that has not replayed the write yet, within ``max_lag_seconds``.
- **Failover.** A read that cannot reach its replica (connect refused, connection lost) runs on
  the primary instead (db/engine.py), and the replica is skipped until a check reaches it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from gql_progress.db.direct import DirectPool
from gql_progress.db.faults import describe

logger = logging.getLogger("gql_progress.replicas")

# The primary's positions: where the next record goes (a commit that returned is before it: the
# read-your-writes target) and what it has written (what a replica can have: the lag's measure;
# the insert position of an idle primary may sit past a page header no replica ever replays).
PRIMARY_SAMPLE = "SELECT pg_current_wal_insert_lsn()::text, pg_current_wal_lsn()::text"
REPLICA_SAMPLE = "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text"
NOT_CHECKED = "not checked yet"


def parse_lsn(text: str) -> int:
    """PostgreSQL's ``X/Y`` log sequence number as one integer (its byte position)."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def server_name(url: str) -> str:
    """host:port/database of a URL, for logs (never its password)."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


@dataclass(frozen=True)
class ReplicaSettings:
    urls: tuple[str, ...]
    max_lag_seconds: float
    check_seconds: float

    @property
    def check_timeout(self) -> float:
        """How long a check's answer, or a new connection to a replica, may take: the interval,
        but at least half a second (a loaded server is not dead for one slow answer) and at
        most two (a request waits that long for a replica that stopped answering)."""
        return min(2.0, max(0.5, self.check_seconds))


@dataclass(frozen=True, slots=True)
class Sample:
    """The primary's positions at ``at`` (monotonic seconds, taken before the query was sent)."""

    at: float
    inserted: int
    written: int


class Replica:
    """One replica: its pools for reads, and what the last check found."""

    def __init__(self, dsn: str, engine: AsyncEngine, direct: DirectPool | None) -> None:
        self.dsn = dsn  # asyncpg's form (postgresql://…), for the check connection
        self.name = server_name(dsn)
        # Autocommit, as the primary's readers: no BEGIN/ROLLBACK round trips.
        self.engine = engine
        self.read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.direct = direct
        # Reads this replica answered (connections handed out and compiled statements).
        self.reads = 0
        self.usable = False
        self.replay_lsn: int | None = None
        self.lag_seconds: float | None = None
        self.problem: str | None = NOT_CHECKED
        self._check_connection: asyncpg.Connection | None = None

    async def replayed(self, check_timeout: float) -> int | None:
        """Its replay position; None when it is not in recovery. Raises when it does not answer."""
        try:
            if self._check_connection is None or self._check_connection.is_closed():
                self._check_connection = await asyncpg.connect(self.dsn, timeout=check_timeout)
            row = await self._check_connection.fetchrow(REPLICA_SAMPLE, timeout=check_timeout)
        except BaseException:
            self._forget_check_connection()
            raise
        assert row is not None
        in_recovery, replayed = row
        return parse_lsn(replayed) if in_recovery and replayed is not None else None

    def _forget_check_connection(self) -> None:
        connection, self._check_connection = self._check_connection, None
        if connection is not None:
            connection.terminate()

    async def dispose(self) -> None:
        self._forget_check_connection()
        if self.direct is not None:
            await self.direct.close()
        await self.engine.dispose()


class ReplicaSet:
    def __init__(
        self,
        primary_dsn: str,
        replicas: Sequence[Replica],
        settings: ReplicaSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replicas = tuple(replicas)
        self.settings = settings
        self._primary_dsn = primary_dsn
        self._primary_connection: asyncpg.Connection | None = None
        self._clock = clock
        self._samples: deque[Sample] = deque()
        # The last commit this process made for each caller, when it returned (monotonic).
        self._commits: dict[int, float] = {}
        # Past this age a commit is on every replica that is not skipped: the first sample after
        # it is older than the lag bound, even when checks run late by an interval.
        self._commit_memory = settings.max_lag_seconds + 3 * settings.check_seconds
        self._turn = itertools.count()
        self._task: asyncio.Task[None] | None = None
        # One check at a time: each holds one connection per server, which runs one statement
        # at a time (a check() from outside, as the tests make, would meet the periodic one).
        self._checking = asyncio.Lock()

    # --- routing (per request, no I/O) ---------------------------------------------------------

    def committed(self, caller: int) -> None:
        """A write transaction made for ``caller`` has committed on the primary."""
        self._commits[caller] = self._clock()

    def choose(self, caller: int | None) -> Replica | None:
        """The replica for a query of ``caller`` (None: no caller), or None for the primary."""
        required = 0
        if caller is not None:
            committed_at = self._commits.get(caller)
            if committed_at is not None and self._clock() - committed_at < self._commit_memory:
                sample = self._sample_after(committed_at)
                if sample is None:
                    return None  # no check has seen the primary since that commit
                required = sample.inserted
        usable = [
            replica
            for replica in self.replicas
            if replica.usable and replica.replay_lsn is not None and replica.replay_lsn >= required
        ]
        if not usable:
            return None
        return usable[next(self._turn) % len(usable)]

    def unreachable(self, replica: Replica, error: BaseException) -> None:
        """A read could not reach ``replica``: skip it until a check reaches it again."""
        if replica.usable:
            logger.warning("replica %s unreachable, reads go elsewhere: %s", replica.name, describe(error))
        replica.usable = False
        replica.problem = describe(error)

    def _sample_after(self, moment: float) -> Sample | None:
        for sample in self._samples:
            if sample.at > moment:  # sent after the commit returned
                return sample
        return None

    # --- checks ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check once (so that the first requests may use the replicas), then every interval."""
        await self.check()
        self._task = asyncio.create_task(self._run(), name="gql_progress.replica_checks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        connection, self._primary_connection = self._primary_connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 1)

    async def dispose(self) -> None:
        await self.stop()
        for replica in self.replicas:
            await replica.dispose()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.check_seconds)
            try:
                await self.check()
            except Exception:  # the next interval tries again; the replicas keep their state
                logger.exception("replica check failed")

    async def check(self) -> None:
        """Sample the primary, then judge every replica against the samples."""
        async with self._checking:
            now = self._clock()
            await self._sample_primary(now)
            await asyncio.gather(*(self._check_replica(replica) for replica in self.replicas))
            self._forget_old(now)

    async def _sample_primary(self, now: float) -> None:
        try:
            inserted, written = await self.primary_positions()
        except Exception as error:
            # Without new samples the replicas are judged against the older ones: reads keep
            # going to them while the primary is away (and its writes with it).
            logger.warning("replica check: the primary did not answer: %s", describe(error))
            return
        self._samples.append(Sample(now, inserted, written))

    async def primary_positions(self) -> tuple[int, int]:
        """The primary's WAL insert and write positions. Raises when it does not answer."""
        timeout = self.settings.check_timeout
        try:
            if self._primary_connection is None or self._primary_connection.is_closed():
                self._primary_connection = await asyncpg.connect(self._primary_dsn, timeout=timeout)
            row = await self._primary_connection.fetchrow(PRIMARY_SAMPLE, timeout=timeout)
        except BaseException:
            connection, self._primary_connection = self._primary_connection, None
            if connection is not None:
                connection.terminate()
            raise
        assert row is not None
        return parse_lsn(row[0]), parse_lsn(row[1])

    async def _check_replica(self, replica: Replica) -> None:
        try:
            replayed = await replica.replayed(self.settings.check_timeout)
        except Exception as error:
            self._judge(replica, None, describe(error))
            return
        if replayed is None:
            self._judge(replica, None, "not in recovery: it does not follow the primary (promoted?)")
            return
        lag = self._lag(replayed, self._clock())
        too_late = lag > self.settings.max_lag_seconds
        self._judge(replica, replayed, f"{lag:.1f} s behind the primary" if too_late else None)
        replica.lag_seconds = lag

    def _judge(self, replica: Replica, replayed: int | None, problem: str | None) -> None:
        usable = problem is None
        if usable != replica.usable or (not usable and replica.problem == NOT_CHECKED):
            if usable:
                logger.info("replica %s answers reads", replica.name)
            else:
                logger.warning("replica %s skipped: %s", replica.name, problem)
        replica.usable = usable
        replica.problem = problem
        replica.replay_lsn = replayed
        replica.lag_seconds = None

    def _lag(self, replay_lsn: int, now: float) -> float:
        """At least how long ago the primary had written WAL this replica has not replayed."""
        for sample in self._samples:
            if sample.written > replay_lsn:
                return now - sample.at
        return 0.0

    def _forget_old(self, now: float) -> None:
        # Samples: those a replica within the lag bound could still lack, and always the newest.
        horizon = now - self._commit_memory
        while len(self._samples) > 1 and self._samples[1].at <= horizon:
            self._samples.popleft()
        # Commits old enough to be on every replica that is not skipped: a few seconds of writes.
        stale = [caller for caller, at in self._commits.items() if now - at >= self._commit_memory]
        for caller in stale:
            del self._commits[caller]
