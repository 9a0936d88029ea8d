"""Read replicas (issue 19): a real streaming replica of a primary this test owns.

The replica's replay is paused (``pg_wal_replay_pause()``) to tell the two servers apart: a write
made on the primary is then on the primary only, so a query that does not show it was answered
by the replica, and one that shows it by the primary. Each replica also counts the reads it
answered (``Replica.reads``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from gql_progress.db import migrate
from gql_progress.db.engine import Database
from gql_progress.db.replicas import Replica, ReplicaSet
from tests.apps import GENEROUS_LIMITS, client_for, running_app
from tests.pg_cluster import SMALL, Cluster, own_cluster, own_replica
from tests.servers import free_port
from tests.support import Api, SeededCourse, SeededUser

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

PAGE = """
query ReplicaPage($slug: String!) {
  course(slug: $slug) { title lessons { progress { videoPositionSeconds completedAt } } }
}
"""
# A directive keeps a document off the compiled path (api/compiled): the resolvers answer it,
# reading through Database.read().
STATUS = """
query ReplicaStatus($lessonIds: [ID!]!) {
  completionStatus(lessonIds: $lessonIds) @skip(if: false) { lessonId completed }
}
"""
HEARTBEAT = """
mutation ReplicaBeat($input: UpsertProgressInput!) {
  upsertProgress(input: $input) {
    __typename
    ... on UpsertProgressSuccess { progress { videoPositionSeconds } }
    ... on Error { code message }
  }
}
"""
BULK = """
mutation ReplicaBulk($input: BulkSetCompletionInput!) {
  bulkSetCompletion(input: $input) {
    __typename
    ... on BulkSetCompletionSuccess { succeeded summaries { completedLessons } }
    ... on Error { code message }
  }
}
"""
CREATE_KEY = """
mutation ReplicaCreateKey($user: UserRefInput!, $label: String!) {
  createApiKey(user: $user, label: $label) {
    __typename
    ... on CreateApiKeyPayload { secret apiKey { id } }
    ... on Error { code message }
  }
}
"""
REVOKE_KEY = """
mutation ReplicaRevokeKey($id: ID!) {
  revokeApiKey(id: $id) {
    __typename
    ... on ApiKeyPayload { apiKey { revoked } }
    ... on Error { code message }
  }
}
"""
ORIGINAL = "Before the rename"
RENAMED = "After the rename"


@dataclass
class Pair:
    primary: Cluster
    replica: Cluster
    database: str

    @property
    def primary_url(self) -> str:
        return self.primary.url(self.database)

    @property
    def replica_url(self) -> str:
        return self.replica.url(self.database)


@pytest.fixture(scope="module")
async def pair() -> AsyncIterator[Pair]:
    async with own_cluster(SMALL) as primary:
        url = await primary.create_database("replicated")
        db = Database(url)
        try:
            await migrate.upgrade(db)
        finally:
            await db.dispose()
        async with own_replica(primary) as replica:
            yield Pair(primary, replica, "replicated")


async def _one(url: str, sql: str, *arguments: Any) -> Any:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return await conn.fetchval(sql, *arguments)
    finally:
        await conn.close()


async def _until(condition: Callable[[], Awaitable[bool]], what: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def _caught_up(pair: Pair) -> None:
    """The replica has replayed everything the primary has written (replay running)."""
    target = await _one(pair.primary_url, "SELECT pg_current_wal_lsn()::text")

    async def replayed() -> bool:
        return bool(
            await _one(pair.replica_url, "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", target)
        )

    await _until(replayed, "the replica to replay the primary's WAL")


async def _pause(pair: Pair) -> None:
    await _one(pair.replica_url, "SELECT pg_wal_replay_pause()")

    async def paused() -> bool:
        return bool(await _one(pair.replica_url, "SELECT pg_get_wal_replay_pause_state() = 'paused'"))

    await _until(paused, "replay to pause")


async def _resume(pair: Pair) -> None:
    await _one(pair.replica_url, "SELECT pg_wal_replay_resume()")


async def _rename(pair: Pair, course: SeededCourse, title: str) -> None:
    """A write on the primary that no caller of the app made (no read-your-writes note)."""
    await _one(pair.primary_url, "UPDATE courses SET title = $1 WHERE id = $2 RETURNING id", title, course.pk)


def _last_read_from(caplog: pytest.LogCaptureFixture) -> object:
    """The ``reads`` field of the last access record: where that request read."""
    record = [record for record in caplog.records if record.name == "gql_progress.access"][-1]
    return getattr(record, "reads", None)


@dataclass
class World:
    api: Api
    replicas: ReplicaSet
    replica: Replica
    course: SeededCourse
    a: SeededUser
    b: SeededUser
    c: SeededUser

    async def page(self, user: SeededUser) -> dict[str, Any]:
        data = await self.api.data(PAGE, {"slug": self.course.slug}, key=user.key)
        course: dict[str, Any] = data["course"]
        return course

    async def title_and_reader(self, user: SeededUser) -> tuple[str, str]:
        """The course title ``user`` reads, and which server answered: "replica" or "primary"."""
        before = self.replica.reads
        title = (await self.page(user))["title"]
        return title, "replica" if self.replica.reads > before else "primary"


@asynccontextmanager
async def world(pair: Pair, **settings: Any) -> AsyncIterator[World]:
    """The app on the pair (its replica checked every ``check``), a course of 3 lessons and three
    enrolled learners, all replayed by the replica."""
    options = {
        "db_replica_urls": pair.replica_url,
        "db_pool_size": 4,
        **GENEROUS_LIMITS,
        **settings,
    }
    async with running_app(pair.primary_url, **options) as app, client_for(app) as api:
        replicas = app.state.db.replicas
        assert replicas is not None
        course = await api.course(3, title=ORIGINAL)
        learners = [await api.user() for _ in range(3)]
        for learner in learners:
            await api.enroll(learner, course)
        await _caught_up(pair)
        await replicas.check()
        [replica] = replicas.replicas
        assert replica.usable, replica.problem
        yield World(api, replicas, replica, course, *learners)


async def test_queries_read_the_replica_and_a_callers_reads_after_its_own_writes_see_them(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gql_progress.access")
    # Checked often, with a lag bound far beyond the test: the paused replica stays usable.
    async with world(pair, db_replica_check_seconds=0.05, db_replica_max_lag_seconds=60) as w:
        await _pause(pair)
        try:
            await _rename(pair, w.course, RENAMED)
            # Nobody called through the app wrote: every query reads the replica, which has not
            # replayed the rename. Compiled (course page) and resolver-path reads alike.
            for learner in (w.a, w.b, w.c):
                assert await w.title_and_reader(learner) == (ORIGINAL, "replica")
            # The access log says where each request read.
            assert _last_read_from(caplog) == w.replica.name
            before, compiled = w.replica.reads, w.api.app.state.compiled.answered
            status = await w.api.data(STATUS, {"lessonIds": w.course.lesson_ids}, key=w.a.key)
            assert [s["completed"] for s in status["completionStatus"]] == [False] * 3
            assert w.replica.reads > before
            assert w.api.app.state.compiled.answered == compiled  # the resolvers answered

            # a's heartbeat: a's next reads see it (the primary), b's still read the replica.
            beat = {"input": {"lessonId": w.course.lesson_ids[0], "videoPositionSeconds": 240}}
            answer = await w.api.data(HEARTBEAT, beat, key=w.a.key)
            assert answer["upsertProgress"]["progress"]["videoPositionSeconds"] == 240
            assert _last_read_from(caplog) == "primary"
            page = await w.page(w.a)
            assert page["title"] == RENAMED
            assert page["lessons"][0]["progress"]["videoPositionSeconds"] == 240
            assert await w.title_and_reader(w.b) == (ORIGINAL, "replica")

            # The same through an Idempotency-Key (one transaction around the request).
            beat = {"input": {"lessonId": w.course.lesson_ids[1], "videoPositionSeconds": 120}}
            response = await w.api.client.post(
                "/graphql",
                json={"query": HEARTBEAT, "variables": beat},
                headers={"Authorization": f"Bearer {w.c.key}", "Idempotency-Key": "replicas-1"},
            )
            assert response.status_code == 200, response.text
            assert (await w.page(w.c))["lessons"][1]["progress"]["videoPositionSeconds"] == 120

            # b's bulk completion: the mutation's own answer (read after its writes) shows them,
            # and so do b's next reads, compiled or not.
            bulk = {"input": {"lessonIds": w.course.lesson_ids[:2], "completed": True}}
            result = (await w.api.data(BULK, bulk, key=w.b.key))["bulkSetCompletion"]
            assert result["succeeded"] == 2
            assert result["summaries"][0]["completedLessons"] == 2
            status = await w.api.data(STATUS, {"lessonIds": w.course.lesson_ids}, key=w.b.key)
            assert [s["completed"] for s in status["completionStatus"]] == [True, True, False]
            page = await w.page(w.b)
            assert page["title"] == RENAMED
            assert [lesson["progress"]["completedAt"] is not None for lesson in page["lessons"][:2]] == [
                True
            ] * 2
            # Still: a caller that wrote nothing reads the replica, where none of it is yet.
            admin = await w.api.admin()  # seeded through the domain layer, not by a request
            assert (await w.api.data(PAGE, {"slug": w.course.slug}, key=admin.key))["course"][
                "title"
            ] == ORIGINAL
        finally:
            await _resume(pair)

        # Once the replica has replayed a's heartbeat (a check or two later), a reads it again.
        async def a_reads_the_replica() -> bool:
            return await w.title_and_reader(w.a) == (RENAMED, "replica")

        await _until(a_reads_the_replica, "a's reads to return to the replica")
        assert (await w.page(w.a))["lessons"][0]["progress"]["videoPositionSeconds"] == 240


async def test_keys_are_checked_on_the_primary_whatever_the_replica_has_replayed(pair: Pair) -> None:
    # The credential cache on, as in production: a revocation must outdate it all the same.
    options = {
        "db_replica_check_seconds": 0.05,
        "db_replica_max_lag_seconds": 60,
        "api_key_cache_seconds": 30,
    }
    async with world(pair, **options) as w:
        admin = await w.api.admin()
        await _caught_up(pair)
        await _pause(pair)
        try:
            created = await w.api.data(
                CREATE_KEY, {"user": {"email": w.c.email}, "label": "new"}, key=admin.key
            )
            secret = created["createApiKey"]["secret"]
            # A key the replica has never seen works at once (and its query reads the replica).
            assert await w.api.data(PAGE, {"slug": w.course.slug}, key=secret)
            revoked = await w.api.data(
                REVOKE_KEY, {"id": created["createApiKey"]["apiKey"]["id"]}, key=admin.key
            )
            assert revoked["revokeApiKey"]["apiKey"]["revoked"] is True
            # Revoked on the primary only: refused all the same.
            refused = await w.api.post(PAGE, {"slug": w.course.slug}, key=secret)
            assert refused.status_code == 401
        finally:
            await _resume(pair)


async def test_each_read_after_a_write_sees_it_while_the_replica_streams(pair: Pair) -> None:
    # No pause: the replica is milliseconds behind, the race read-your-writes exists for.
    async with world(pair, db_replica_check_seconds=0.05, db_replica_max_lag_seconds=60) as w:
        for position in range(1, 41):
            lesson = position % 3
            beat = {"input": {"lessonId": w.course.lesson_ids[lesson], "videoPositionSeconds": position}}
            await w.api.data(HEARTBEAT, beat, key=w.a.key)
            page = await w.page(w.a)
            assert page["lessons"][lesson]["progress"]["videoPositionSeconds"] == position
            if position % 10 == 0:
                # Once a check has seen the replica replay it, a's reads go back to the replica,
                # and find the write there.
                async def from_the_replica(lesson: int = lesson, position: int = position) -> bool:
                    before = w.replica.reads
                    page = await w.page(w.a)
                    assert page["lessons"][lesson]["progress"]["videoPositionSeconds"] == position
                    return w.replica.reads > before

                await _until(from_the_replica, "a's reads to return to the replica")


async def test_a_replica_lagging_beyond_the_bound_is_skipped_until_it_catches_up(pair: Pair) -> None:
    async with world(pair, db_replica_check_seconds=0.05, db_replica_max_lag_seconds=0.5) as w:
        await _pause(pair)
        try:
            await _rename(pair, w.course, RENAMED)

            async def skipped() -> bool:
                return not w.replica.usable

            # The rename is WAL the replica lacks: past 0.5 s it is too far behind.
            await _until(skipped, "the lagging replica to be skipped", within=15)
            assert w.replica.problem is not None
            assert "behind the primary" in w.replica.problem
            assert await w.title_and_reader(w.c) == (RENAMED, "primary")
        finally:
            await _resume(pair)

        async def usable() -> bool:
            return w.replica.usable

        await _until(usable, "the replica to catch up")
        assert await w.title_and_reader(w.c) == (RENAMED, "replica")


async def test_reads_fail_over_to_the_primary_when_the_replica_stops(pair: Pair) -> None:
    # Checked only at start-up here: the reads themselves must notice that the replica is gone.
    async with world(pair, db_replica_check_seconds=30, db_replica_max_lag_seconds=60) as w:
        await _rename(pair, w.course, RENAMED)
        await _caught_up(pair)
        assert await w.title_and_reader(w.a) == (RENAMED, "replica")
        before = await w.api.data(STATUS, {"lessonIds": w.course.lesson_ids}, key=w.a.key)
        assert (await w.api.client.get("/readyz")).json()["replicas"] == {w.replica.name: "usable"}
        metrics = (await w.api.client.get("/metrics")).text
        assert f'gql_progress_db_replica_usable{{replica="{w.replica.name}"}} 1.0' in metrics

        await pair.replica.stop_fast()
        try:
            # A resolver-path read (Database.read()) finds the replica gone when it connects.
            assert w.replica.usable  # as the last check left it
            status = await w.api.data(STATUS, {"lessonIds": w.course.lesson_ids}, key=w.a.key)
            assert status == before
            assert not w.replica.usable
            # A compiled read (Database.read_value()) too, when a request was routed to the
            # replica before anything noticed (as the last check left it, again).
            w.replica.usable = True
            assert await w.title_and_reader(w.b) == (RENAMED, "primary")
            assert not w.replica.usable
            # Concurrent requests, with the replica known to be gone: all on the primary.
            pages = await asyncio.gather(*(w.page(learner) for learner in (w.a, w.b, w.c)))
            assert {page["title"] for page in pages} == {RENAMED}
            beat = {"input": {"lessonId": w.course.lesson_ids[2], "videoPositionSeconds": 30}}
            assert (await w.api.data(HEARTBEAT, beat, key=w.a.key))["upsertProgress"]["progress"]
            # Ready all the same (the primary answers), saying what is wrong with the replica.
            ready = await w.api.client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["replicas"][w.replica.name] == w.replica.problem
            metrics = (await w.api.client.get("/metrics")).text
            assert f'gql_progress_db_replica_usable{{replica="{w.replica.name}"}} 0.0' in metrics
        finally:
            await pair.replica.start()

        # Back once a check reaches it and it has replayed what it missed.
        await _caught_up(pair)
        await w.replicas.check()
        assert w.replica.usable, w.replica.problem
        assert await w.title_and_reader(w.c) == (RENAMED, "replica")


async def test_a_replica_that_is_down_or_not_in_recovery_is_skipped_from_the_start(
    pg_database_url: str,
) -> None:
    # Neither stops the server: one refuses connections (nothing listens on its port), the other
    # is a primary (the shared server's maintenance database), as a promoted replica would be.
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    base, _, _ = pg_database_url.rpartition("/")
    not_following = f"{base}/postgres"
    options = {"db_replica_urls": f"{down},{not_following}", "db_pool_size": 2, **GENEROUS_LIMITS}
    async with running_app(pg_database_url, **options) as app, client_for(app) as api:
        replicas = app.state.db.replicas
        assert [replica.usable for replica in replicas.replicas] == [False, False]
        problems = [replica.problem for replica in replicas.replicas]
        assert "refused" in problems[0].lower()
        assert "not in recovery" in problems[1]
        ready = await api.client.get("/readyz")
        assert ready.status_code == 200
        assert list(ready.json()["replicas"].values()) == problems

        learner = await api.user()
        course = await api.course(1)
        await api.enroll(learner, course)
        page = await api.data(PAGE, {"slug": course.slug}, key=learner.key)
        assert page["course"]["lessons"] == [{"progress": None}]
        assert [replica.reads for replica in replicas.replicas] == [0, 0]


async def test_reads_leave_a_replica_that_stops_answering_for_the_primary_after_the_connect_timeout(
    pg_database_url: str,
) -> None:
    # A host that vanished without a word: the port takes the connection, nothing ever answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/gone"
        # Checked only at start-up (which gives up after the 2 s connect timeout).
        options = {
            "db_replica_urls": url,
            "db_replica_check_seconds": 30,
            "db_replica_max_lag_seconds": 60,
            "db_pool_size": 2,
            **GENEROUS_LIMITS,
        }
        async with running_app(pg_database_url, **options) as app, client_for(app) as api:
            [replica] = app.state.db.replicas.replicas
            assert not replica.usable
            learner = await api.user()
            course = await api.course(1)
            await api.enroll(learner, course)
            for document, variables in (
                (PAGE, {"slug": course.slug}),
                (STATUS, {"lessonIds": course.lesson_ids}),
            ):
                # As if the replica had answered the last check: the request is routed to it.
                replica.usable, replica.replay_lsn = True, 0
                started = time.monotonic()
                assert await api.data(document, variables, key=learner.key)
                assert time.monotonic() - started < 10
                assert not replica.usable
                assert replica.reads == 0
