"""PostgreSQL restarts under steady load (issue 6, Faults): a real server process keeps serving
heartbeats and course pages while the test restarts the cluster it owns with `pg_ctl restart -m
fast`. Requests fail only while the database is away, every failure is masked (HTTP 503, a
stable code, a generic message, nothing from the driver), and every request after the restart
succeeds: the pool drops the connections the restart closed instead of handing them out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from gql_progress.auth import issue_api_key
from gql_progress.db import migrate
from gql_progress.db.engine import Database
from gql_progress.db.faults import SERVICE_BUSY, SERVICE_UNAVAILABLE
from gql_progress.db.models import LessonProgress
from gql_progress.domain import catalog
from gql_progress.domain.ids import encode_id
from gql_progress.edge.app import create_app
from gql_progress.settings import load_settings
from tests.pg_cluster import Cluster, own_cluster
from tests.servers import graphql_body, serve

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

HEARTBEAT = """
mutation Beat($input: UpsertProgressInput!) {
  upsertProgress(input: $input) {
    __typename
    ... on UpsertProgressSuccess { progress { videoPositionSeconds } }
    ... on Error { code message }
  }
}
"""
COURSE_PAGE = """
query Page($slug: String!) {
  course(slug: $slug) { title lessons { title progress { videoPositionSeconds } } }
}
"""
# What a client may see of a database fault: the codes and messages of gql_progress.db.faults.
MASKED = {SERVICE_UNAVAILABLE.code: SERVICE_UNAVAILABLE.message, SERVICE_BUSY.code: SERVICE_BUSY.message}
# Words that would mean the driver's or the server's internals reached the client.
LEAKS = ("asyncpg", "sqlalchemy", "Traceback", "terminating", "administrator", "Errno", "refused", "socket")


@dataclass
class Outcome:
    started: float
    ended: float
    status: int | None  # None: no HTTP answer at all
    body: Any
    text: str

    @property
    def ok(self) -> bool:
        return self.status == 200 and not (isinstance(self.body, dict) and self.body.get("errors"))


async def _seed(url: str) -> tuple[str, str, list[str]]:
    """A learner's key, a course slug, the course's lesson ids (the learner is enrolled)."""
    db = Database(url)
    try:
        await migrate.upgrade(db)
        learner = await catalog.create_user(
            db, {"external_id": "r-1", "email": "r1@example.com", "name": "R"}
        )
        key = (await issue_api_key(db, learner.id)).secret
        course = await catalog.create_course(db, {"slug": "restart", "title": "Restart"})
        lessons = [
            await catalog.add_lesson(
                db, course.id, {"title": f"L{i}", "kind": "VIDEO", "duration_seconds": 600}
            )
            for i in range(3)
        ]
        await catalog.enroll(db, learner.id, course.id)
    finally:
        await db.dispose()
    return key, "restart", [encode_id("Lesson", lesson.id) for lesson in lessons]


async def _until(condition: Callable[[], bool], what: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
async def cluster() -> AsyncIterator[Cluster]:
    async with own_cluster() as owned:
        yield owned


async def test_a_postgresql_restart_fails_requests_only_in_its_window_masked_and_then_all_succeed(
    cluster: Cluster,
) -> None:
    url = await cluster.create_database("under_load")
    key, slug, lesson_ids = await _seed(url)
    outcomes: list[Outcome] = []
    stop = asyncio.Event()
    last_position: dict[str, int] = {}

    async def client(n: int, base: str) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base, timeout=15, headers=headers) as http:
            i = 0
            while not stop.is_set():
                i += 1
                lesson = lesson_ids[n % len(lesson_ids)]
                if i % 2:
                    position = n * 100_000 + i
                    body = graphql_body(
                        HEARTBEAT, {"input": {"lessonId": lesson, "videoPositionSeconds": position}}
                    )
                else:
                    body = graphql_body(COURSE_PAGE, {"slug": slug})
                started = time.monotonic()
                try:
                    response = await http.post("/graphql", json=body)
                except httpx.TransportError as exc:
                    outcomes.append(Outcome(started, time.monotonic(), None, None, repr(exc)))
                    continue
                try:
                    parsed = response.json()
                except ValueError:
                    parsed = None
                outcome = Outcome(started, time.monotonic(), response.status_code, parsed, response.text)
                outcomes.append(outcome)
                if outcome.ok and i % 2:
                    last_position[lesson] = position

    async with serve(url, {"GQL_PROGRESS_DB_POOL_SIZE": "4"}) as server:
        clients = [asyncio.create_task(client(n, server.base)) for n in range(3)]
        # Steady load first; counted, not timed, so a busy machine cannot shorten a phase.
        await _until(lambda: sum(o.ok for o in outcomes) >= 9, "load before the restart")
        window_start = time.monotonic()
        await cluster.restart_fast()
        window_end = time.monotonic()
        await _until(lambda: sum(o.started > window_end for o in outcomes) >= 30, "load after it")
        stop.set()
        await asyncio.gather(*clients)
        server_log = server.log()
        assert server.process.returncode is None, server_log

    failures = [o for o in outcomes if not o.ok]
    during = [o for o in outcomes if o.started <= window_end and o.ended >= window_start]
    after = [o for o in outcomes if o.started > window_end]
    print(
        f"{len(outcomes)} requests, {len(during)} during the {window_end - window_start:.2f} s "
        f"restart, {len(failures)} failed, {len(after)} after it"
    )
    assert during, "no request overlapped the restart: the load did not cover it"
    # Failures only while the database was away.
    assert all(o.started <= window_end and o.ended >= window_start for o in failures), [
        (round(o.started - window_start, 3), round(o.ended - window_end, 3), o.text) for o in failures
    ]
    # Afterwards every request succeeds (no dead pooled connection is handed out).
    assert all(o.ok for o in after), [o.text for o in after if not o.ok][:3]
    # Every failure is an answer, masked, with a stable code.
    for failure in failures:
        assert failure.status == 503, failure.text
        [error] = failure.body["errors"]
        code = error["extensions"]["code"]
        assert error["message"] == MASKED[code], failure.text
        assert error["extensions"]["requestId"]
        assert not any(word.lower() in failure.text.lower() for word in LEAKS), failure.text
    if failures:
        # The server kept what it masked, for its operators.
        assert "SERVICE_UNAVAILABLE" in server_log or "SERVICE_BUSY" in server_log

    # The heartbeats answered as written are the rows the database holds.
    db = Database(url)
    try:
        async with db.read() as conn:
            rows = (
                await conn.execute(select(LessonProgress.lesson_id, LessonProgress.video_position_seconds))
            ).all()
    finally:
        await db.dispose()
    held = {encode_id("Lesson", row.lesson_id): row.video_position_seconds for row in rows}
    assert held == last_position


@pytest.mark.parametrize("compiled_reads", [False, True], ids=["engine-pool", "direct-pool"])
async def test_the_first_request_after_a_restart_of_an_idle_server_succeeds(
    cluster: Cluster, compiled_reads: bool
) -> None:
    # No request is in flight during the restart, so no error tells SQLAlchemy the pooled
    # connections died: only the check at checkout keeps them from being handed out. With
    # compiled reads, the key lookup and the page go on asyncpg's pool instead (db/direct.py).
    url = await cluster.create_database(f"idle_{int(compiled_reads)}")
    key, slug, _ = await _seed(url)
    app = create_app(
        load_settings(
            database_url=url,
            webhooks_enabled=False,
            live_updates_enabled=False,
            compiled_reads=compiled_reads,
            db_pool_size=3 if not compiled_reads else 6,  # the direct pool takes half
        )
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {key}"},
        ) as http,
    ):
        page = graphql_body(COURSE_PAGE, {"slug": slug})
        # Three connections in the pool, each used once.
        first = await asyncio.gather(*(http.post("/graphql", json=page) for _ in range(3)))
        assert [r.status_code for r in first] == [200, 200, 200]
        if compiled_reads:
            assert app.state.compiled.answered == 3
        else:
            assert app.state.db.engine.pool.checkedin() == 3

        await cluster.restart_fast()

        responses = [await http.post("/graphql", json=page) for _ in range(4)]
        assert [r.status_code for r in responses] == [200] * 4, responses[0].text
        assert all("errors" not in r.json() for r in responses)


async def test_a_server_stopping_while_the_database_is_away_still_shuts_down_cleanly(
    cluster: Cluster,
) -> None:
    url = await cluster.create_database("stopping")
    key, _, _ = await _seed(url)
    app = create_app(load_settings(database_url=url, webhooks_enabled=False, live_updates_enabled=False))
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as http:
                # A key used since the last flush: its lastUsedAt is written at shutdown.
                response = await http.post(
                    "/graphql", json=graphql_body("{ me { id } }"), headers={"Authorization": f"Bearer {key}"}
                )
                assert response.status_code == 200
            await cluster.stop_fast()
    finally:
        if not (cluster.data / "postmaster.pid").exists():
            await cluster.start()
