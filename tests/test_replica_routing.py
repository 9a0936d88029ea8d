"""How db/replicas.py judges replicas and routes a caller's queries, on a clock the test moves:
no server and no I/O (tests/test_replicas.py runs a real replica)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from gql_progress.db.replicas import Replica, ReplicaSet, ReplicaSettings, parse_lsn

CHECK = 1.0
MAX_LAG = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Scripted(Replica):
    """A replica whose replay position the test sets (None: it does not answer; -1: promoted)."""

    def __init__(self, host: str) -> None:
        engine = create_async_engine(f"postgresql+asyncpg://u@{host}/db")  # never connects
        super().__init__(f"postgresql://u@{host}/db", engine, None)
        self.position: int | None = 0

    async def replayed(self, check_timeout: float) -> int | None:
        if self.position is None:
            raise ConnectionRefusedError(111, "Connection refused")
        return None if self.position < 0 else self.position


class ScriptedSet(ReplicaSet):
    """The primary's position is ``written`` (and as far inserted)."""

    def __init__(self, replicas: list[Scripted], clock: Clock) -> None:
        super().__init__(
            "postgresql://u@primary/db", replicas, ReplicaSettings(("x",), MAX_LAG, CHECK), clock
        )
        self.written = 0

    async def primary_positions(self) -> tuple[int, int]:
        return self.written, self.written


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def _checked(replicas: ScriptedSet, clock: Clock, seconds: float = CHECK) -> None:
    clock.now += seconds
    await replicas.check()


def test_lsn_text_is_the_byte_position() -> None:
    assert parse_lsn("0/0") == 0
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848


async def test_no_replica_is_used_before_a_check_has_reached_it(clock: Clock) -> None:
    replicas = ScriptedSet([Scripted("r1")], clock)

    assert replicas.choose(None) is None
    await replicas.check()
    assert replicas.choose(None) is replicas.replicas[0]


async def test_queries_take_turns_on_the_usable_replicas(clock: Clock) -> None:
    r1, r2 = Scripted("r1"), Scripted("r2")
    replicas = ScriptedSet([r1, r2], clock)
    await replicas.check()

    assert {replicas.choose(None) for _ in range(4)} == {r1, r2}


async def test_a_replica_is_skipped_once_it_lacks_wal_older_than_the_bound_and_back_when_it_has_it(
    clock: Clock,
) -> None:
    replica = Scripted("r1")
    replicas = ScriptedSet([replica], clock)
    await replicas.check()
    replicas.written = 1000  # the primary writes; the replica replays nothing more
    # The first sample the replica lacks is 0 s old at the next check, then 1 s… 5 s: within.
    for _ in range(int(MAX_LAG / CHECK) + 1):
        await _checked(replicas, clock)
        assert replica.usable, replica.problem
    await _checked(replicas, clock)
    assert not replica.usable
    assert replica.problem == "6.0 s behind the primary"
    assert replicas.choose(None) is None

    replica.position = 1000
    await _checked(replicas, clock)
    assert replica.usable
    assert replica.lag_seconds == 0.0


async def test_an_idle_primary_does_not_make_a_replica_look_late(clock: Clock) -> None:
    replica = Scripted("r1")
    replicas = ScriptedSet([replica], clock)
    replicas.written = replica.position = 500
    for _ in range(30):
        await _checked(replicas, clock)
    assert replica.usable
    assert replica.lag_seconds == 0.0


async def test_an_unreachable_or_promoted_replica_is_skipped(clock: Clock) -> None:
    down, promoted, fine = Scripted("down"), Scripted("promoted"), Scripted("fine")
    replicas = ScriptedSet([down, promoted, fine], clock)
    down.position = None
    promoted.position = -1

    await replicas.check()

    assert (down.usable, promoted.usable, fine.usable) == (False, False, True)
    assert down.problem is not None
    assert "Connection refused" in down.problem
    assert promoted.problem is not None
    assert "not in recovery" in promoted.problem
    assert {replicas.choose(None) for _ in range(3)} == {fine}


async def test_a_read_that_found_the_replica_gone_skips_it_until_a_check_reaches_it(clock: Clock) -> None:
    replica = Scripted("r1")
    replicas = ScriptedSet([replica], clock)
    await replicas.check()

    replicas.unreachable(replica, ConnectionResetError(104, "Connection reset by peer"))
    assert replicas.choose(None) is None
    await _checked(replicas, clock)
    assert replicas.choose(None) is replica


async def test_a_callers_queries_go_to_the_primary_until_a_replica_has_replayed_its_commit(
    clock: Clock,
) -> None:
    replica = Scripted("r1")
    replicas = ScriptedSet([replica], clock)
    await replicas.check()
    writer, other = 7, 8

    replicas.written = 100
    clock.now += 0.1
    replicas.committed(writer)
    # No check has seen the primary since the commit: nobody can tell a replica has it.
    assert replicas.choose(writer) is None
    assert replicas.choose(other) is replica
    await _checked(replicas, clock)  # samples 100; the replica is at 0
    assert replicas.choose(writer) is None
    replica.position = 99
    await _checked(replicas, clock)
    assert replicas.choose(writer) is None
    replica.position = 100
    await _checked(replicas, clock)
    assert replicas.choose(writer) is replica


async def test_a_commit_older_than_the_bound_no_longer_holds_its_caller_on_the_primary(clock: Clock) -> None:
    replica = Scripted("r1")
    replicas = ScriptedSet([replica], clock)
    replicas.committed(7)
    await _checked(replicas, clock)
    assert replicas.choose(7) is replica  # the sample after the commit is at 0: replayed

    replicas.written = 100
    replicas.committed(7)
    for _ in range(int(MAX_LAG / CHECK) + 3):
        assert replicas.choose(7) is None
        await _checked(replicas, clock)
    # The note is dropped: by now a replica lacking the commit is past the lag bound, skipped.
    assert replicas._commits == {}
    assert not replica.usable
    assert replicas.choose(7) is None
