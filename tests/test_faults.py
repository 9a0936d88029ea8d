"""Faults (issue 6): SQLite under concurrent writers, and a full connection pool.

- SQLite: WAL, a busy timeout, and write transactions that take the write lock when they begin;
  4 concurrent writers × 250 upserts, through two real server processes sharing one file, end
  with every write answered and applied and no "database is locked". Without the busy timeout
  the same kind of load collides (the test would notice), and that collision is masked too.
- A full pool (GQL_PROGRESS_DB_POOL_SIZE=1, one request held on a row lock or SQLite's write
  lock): the requests behind it fail fast (GQL_PROGRESS_DB_POOL_TIMEOUT_SECONDS) with HTTP 503,
  Retry-After and SERVICE_BUSY, write nothing, and once the lock goes the held request finishes,
  every connection is back in the pool and the next requests succeed.

PostgreSQL restarts: test_faults_pg_restart.py. SIGTERM with mutations in flight: test_shutdown.py.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.applications import Starlette

from gql_progress.api.error_policy import is_unavailable
from gql_progress.auth import issue_api_key
from gql_progress.db.engine import Database
from gql_progress.db.faults import SERVICE_BUSY, database_fault
from gql_progress.db.models import Enrollment, EnrollmentStatus, LessonProgress
from gql_progress.domain import catalog
from gql_progress.domain.ids import encode_id
from gql_progress.edge.app import create_app
from gql_progress.settings import load_settings
from tests.servers import GENEROUS_RATE, graphql_body, serve_many
from tests.support import Api, SeededCourse, SeededUser

UPSERT = """
mutation Upsert($input: UpsertProgressInput!) {
  upsertProgress(input: $input) {
    __typename
    ... on UpsertProgressSuccess { progress { completed videoPositionSeconds } }
    ... on Error { code message }
  }
}
"""
ME = "{ me { id } }"
VERIFY = 'query { verifyCertificate(code: "no-such-code") { courseTitle } }'
# Words that would mean SQLAlchemy's or the driver's text reached the client.
LEAKS = ("QueuePool", "TimeoutError", "sqlalchemy", "sqlite3", "asyncpg", "locked", "Traceback", "timed out")


def _sqlite_path(url: str) -> Path:
    return Path(url.split(":///", 1)[1])


# --- SQLite under concurrent writers --------------------------------------------------------------


async def test_sqlite_connections_use_wal_a_busy_timeout_and_writers_lock_when_they_begin(
    sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "db.sqlite"
    shutil.copyfile(sqlite_template, path)
    db = Database(f"sqlite:///{path}", sqlite_busy_timeout_ms=1234)
    try:
        async with db.read() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 1234
        async with db.write():
            # The write transaction has run no statement yet and already holds the write lock:
            # another writer cannot begin (it would wait; with no timeout it is refused at once).
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                    other.execute("BEGIN IMMEDIATE")
                # Readers are not blocked by the writer (WAL).
                assert other.execute("SELECT count(*) FROM users").fetchone() is not None
            finally:
                other.close()
    finally:
        await db.dispose()


async def _learners_in_one_course(db: Database, learners: int, lessons: int) -> tuple[list[str], list[str]]:
    """Keys of ``learners`` learners enrolled in one course of ``lessons`` lessons, and the
    lessons' ids."""
    course = await catalog.create_course(db, {"slug": "busy", "title": "Busy"})
    lesson_ids = [
        encode_id(
            "Lesson",
            (
                await catalog.add_lesson(
                    db, course.id, {"title": f"L{i}", "kind": "VIDEO", "duration_seconds": 600}
                )
            ).id,
        )
        for i in range(lessons)
    ]
    keys = []
    for n in range(learners):
        user = await catalog.create_user(
            db, {"external_id": f"w-{n}", "email": f"w{n}@example.com", "name": f"W{n}"}
        )
        await catalog.enroll(db, user.id, course.id)
        keys.append((await issue_api_key(db, user.id)).secret)
    return keys, lesson_ids


def _writes(lesson_ids: list[str], count: int) -> list[dict[str, Any]]:
    """One writer's upserts: video heartbeats, and at times a completion or un-completion (those
    also lock the enrollment and write events), ending with every lesson completed."""
    writes = []
    for k in range(count):
        write: dict[str, Any] = {"lessonId": lesson_ids[k % len(lesson_ids)], "videoPositionSeconds": k}
        if k % 50 >= 50 - len(lesson_ids) or k >= count - len(lesson_ids):
            write["completed"] = True
        elif k % 50 == 20:
            write["completed"] = False
        writes.append(write)
    return writes


async def _write_all(
    post: Callable[[dict[str, Any]], Awaitable[httpx.Response]], writes: list[dict[str, Any]]
) -> list[str]:
    """Send the writes one after the other; the problems seen (empty when all succeeded)."""
    problems = []
    for write in writes:
        response = await post(graphql_body(UPSERT, {"input": write}))
        if response.status_code != 200 or "UpsertProgressSuccess" not in response.text:
            problems.append(f"{response.status_code} {response.text}")
    return problems


@pytest.mark.slow
async def test_4_concurrent_writers_of_250_upserts_via_two_server_processes_never_see_a_locked_database(
    sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "shared.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    db = Database(url)
    try:
        keys, lesson_ids = await _learners_in_one_course(db, learners=4, lessons=5)
    finally:
        await db.dispose()
    writes = [_writes(lesson_ids, 250) for _ in keys]

    async with serve_many(url, 2) as (first, second):
        bases = [first.base, first.base, second.base, second.base]

        async def writer(key: str, base: str, mine: list[dict[str, Any]]) -> list[str]:
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
                return await _write_all(lambda body: http.post("/graphql", json=body), mine)

        problems = await asyncio.gather(*map(writer, keys, bases, writes))
        logs = first.log() + second.log()

    assert [p[:3] for p in problems] == [[], [], [], []]
    assert "database is locked" not in logs
    # Every write was applied: each record holds its writer's last values, each course is done.
    db = Database(url)
    try:
        async with db.read() as conn:
            rows = (
                await conn.execute(
                    select(
                        LessonProgress.user_id,
                        LessonProgress.lesson_id,
                        LessonProgress.completed,
                        LessonProgress.video_position_seconds,
                    )
                )
            ).all()
            statuses = (await conn.execute(select(Enrollment.status))).scalars().all()
    finally:
        await db.dispose()
    assert len(rows) == len(keys) * len(lesson_ids)
    expected_last = {write["lessonId"]: write["videoPositionSeconds"] for write in writes[0]}
    for row in rows:
        assert row.completed
        assert row.video_position_seconds == expected_last[encode_id("Lesson", row.lesson_id)]
    assert statuses == [EnrollmentStatus.COMPLETED] * len(keys)


async def test_without_a_busy_timeout_the_same_writers_collide_and_are_told_service_busy(
    sqlite_template: Path, tmp_path: Path
) -> None:
    # The control for the test above: its load does contend for the write lock. Without a busy
    # timeout a writer that finds the lock taken fails at once, answered as SERVICE_BUSY.
    path = tmp_path / "contended.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    async with _app(url, sqlite_busy_timeout_ms=0) as app:
        keys, lesson_ids = await _learners_in_one_course(app.state.db, learners=4, lessons=5)
        async with _client(app) as http:

            async def writer(key: str) -> list[httpx.Response]:
                headers = {"Authorization": f"Bearer {key}"}
                return [
                    await http.post("/graphql", json=graphql_body(UPSERT, {"input": write}), headers=headers)
                    for write in _writes(lesson_ids, 60)
                ]

            responses = [r for rs in await asyncio.gather(*map(writer, keys)) for r in rs]
    refused = [r for r in responses if r.status_code != 200]
    assert refused, "no writer ever found the lock taken: the load does not contend"
    for response in refused:
        _assert_masked_busy(response)


# --- a full pool ------------------------------------------------------------------------------------


@asynccontextmanager
async def _app(url: str, **settings: Any) -> AsyncIterator[Starlette]:
    app = create_app(
        load_settings(
            database_url=url,
            webhooks_enabled=False,
            api_key_touch_interval_seconds=3600,
            rate_limit_learner=GENEROUS_RATE,
            rate_limit_admin=GENEROUS_RATE,
            # Each request looks its key up: the tests exhaust the pool at that lookup too.
            api_key_cache_seconds=0,
            **settings,
        )
    )
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def _client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


@asynccontextmanager
async def _write_lock_held(db: Database, user_pk: int) -> AsyncIterator[Callable[[], Awaitable[bool]]]:
    """Hold what a completion of ``user_pk`` must wait for, from a connection of the test's own:
    the user's enrollment rows (PostgreSQL, FOR UPDATE) or the database's write lock (SQLite).
    Yields "is a writer of ``db`` waiting for it?"."""
    url = db.url
    if db.is_sqlite:
        holder = sqlite3.connect(_sqlite_path(url), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        # SQLite cannot tell who waits for its lock; the app's writer waits in its BEGIN
        # IMMEDIATE, so seeing that statement sent is seeing it wait.
        began: list[str] = []

        def on_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.startswith("BEGIN IMMEDIATE"):
                began.append(statement)

        async def waiting_in_begin() -> bool:
            return bool(began)

        event.listen(db.engine.sync_engine, "before_cursor_execute", on_execute)
        try:
            yield waiting_in_begin
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", on_execute)
            holder.execute("ROLLBACK")
            holder.close()
        return
    url = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("BEGIN")
        await conn.execute("SELECT id FROM enrollments WHERE user_id = $1 FOR UPDATE", user_pk)

        async def waiting() -> bool:
            count = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return bool(count)

        yield waiting
        await conn.execute("ROLLBACK")
    finally:
        await conn.close()


def _assert_masked_busy(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert not any((body["data"] or {}).values())  # null, or each top-level field null
    [error] = body["errors"]
    assert error["message"] == SERVICE_BUSY.message
    assert error["extensions"]["code"] == SERVICE_BUSY.code
    # The id the server logged the cause under, also in the response header.
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    assert not any(word.lower() in response.text.lower() for word in LEAKS), response.text


async def _until(condition: Callable[[], Awaitable[bool]], what: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.02)


@pytest.mark.postgres_only
async def test_compiled_reads_and_the_rest_share_the_pool_size(pg_database_url: str) -> None:
    # Two pools of the full size per process ran PostgreSQL out of connection slots under load.
    async with _app(pg_database_url, db_pool_size=10) as app:
        assert app.state.db.engine.pool.size() + app.state.db.direct.max_size == 10
    async with _app(pg_database_url, db_pool_size=10, compiled_reads=False) as app:
        assert app.state.db.engine.pool.size() == 10  # no compiled reads: the engine has all


COURSE_TITLES = "query($slug: String!) { course(slug: $slug) { title lessons { title } } }"


@pytest.mark.postgres_only
async def test_a_full_direct_pool_refuses_compiled_reads_fast_with_service_busy(pg_database_url: str) -> None:
    one_connection = {"db_pool_size": 1, "db_pool_timeout_seconds": 0.2}
    async with _app(pg_database_url, **one_connection) as app, _client(app) as http:
        api = Api(client=http, db=app.state.db, app=app)
        learner, newcomer = await api.user(), await api.user()
        course = await api.course(lessons=2)
        await api.enroll(learner, course)
        page = {"slug": course.slug}
        assert (await api.data(COURSE_TITLES, page, key=learner.key))["course"]["title"]
        assert app.state.compiled.answered == 1  # the compiled path, on the direct pool

        locker = await asyncpg.connect(pg_database_url)
        try:
            await locker.execute("BEGIN")
            await locker.execute("LOCK TABLE courses IN ACCESS EXCLUSIVE MODE")
            # Takes the direct pool's one connection and waits on the lock with it.
            held = asyncio.create_task(api.post(COURSE_TITLES, page, key=learner.key))

            async def waiting() -> bool:
                count = await locker.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                return bool(count)

            await _until(waiting, "the first read holds the only direct connection")
            started = time.monotonic()
            behind = await api.post(COURSE_TITLES, page, key=learner.key)
            # A key this process has not seen yet is looked up on the direct pool too.
            unseen_key = await api.post(ME, key=newcomer.key)
            # A heartbeat's one statement goes alone on the direct pool too (Database.write_alone).
            heartbeat = {"lessonId": course.lesson_ids[0], "videoPositionSeconds": 30}
            refused = await api.post(UPSERT, {"input": heartbeat}, key=learner.key)
            elapsed = time.monotonic() - started
            assert not held.done()
            await locker.execute("ROLLBACK")
        finally:
            await locker.close()

        assert elapsed < 3, elapsed  # the pool timeout, not the lock's duration
        _assert_masked_busy(behind)
        _assert_masked_busy(unseen_key)
        _assert_masked_busy(refused)
        assert app.state.db.alone_committed == 0  # the refused heartbeat wrote nothing
        assert (await asyncio.wait_for(held, 30)).json()["data"]["course"]["title"]
        assert (await api.data(COURSE_TITLES, page, key=learner.key))["course"]["title"]


async def test_a_full_pool_refuses_the_requests_behind_it_fast_with_service_busy_and_is_whole_after(
    database_url: str,
) -> None:
    async with _app(database_url, db_pool_size=1, db_pool_timeout_seconds=0.2) as app, _client(app) as http:
        api = Api(client=http, db=app.state.db, app=app)
        learner: SeededUser = await api.user()
        course: SeededCourse = await api.course(lessons=2)
        await api.enroll(learner, course)
        pool = app.state.db.engine.pool
        completing = {"lessonId": course.lesson_ids[0], "completed": True}
        refused_heartbeat = {"lessonId": course.lesson_ids[1], "videoPositionSeconds": 30}

        async with _write_lock_held(app.state.db, learner.pk) as app_is_waiting:
            # This request gets the pool's one connection and waits on the lock with it.
            held = asyncio.create_task(api.post(UPSERT, {"input": completing}, key=learner.key))

            async def stuck() -> bool:
                return pool.checkedout() == 1 and not held.done() and await app_is_waiting()

            await _until(stuck, "the first request holds the only connection")

            started = time.monotonic()
            # The key lookup, compiled reads and a heartbeat that is one statement go on the
            # direct pool (db/direct.py), which is not this one: a full direct pool refuses
            # them (the test above). A write that takes a transaction needs this pool.
            behind = list(
                await asyncio.gather(
                    api.post(VERIFY),  # public: refused inside GraphQL, in the resolver
                    api.post(UPSERT, {"input": {**refused_heartbeat, "completed": True}}, key=learner.key),
                )
            )
            elapsed = time.monotonic() - started
            heartbeat = await api.post(UPSERT, {"input": refused_heartbeat}, key=learner.key)
            if app.state.db.writes_alone:
                assert heartbeat.json()["data"]["upsertProgress"]["__typename"] == "UpsertProgressSuccess"
            else:
                behind.append(heartbeat)  # SQLite: every statement takes this pool
            assert not held.done()

        # Fast: the pool timeout (0.2 s), not the lock's duration or the busy timeout (30 s).
        assert elapsed < 3, elapsed
        for response in behind:
            _assert_masked_busy(response)

        # The held request finishes once the lock goes, and every connection is back.
        first = await asyncio.wait_for(held, 30)
        assert first.json()["data"]["upsertProgress"]["progress"]["completed"] is True
        assert pool.checkedout() == 0
        for _ in range(3):
            assert (await api.data(ME, key=learner.key))["me"]["id"] == learner.id
            done = await api.data(
                UPSERT, {"input": refused_heartbeat | {"videoPositionSeconds": 31}}, key=learner.key
            )
            assert done["upsertProgress"]["__typename"] == "UpsertProgressSuccess"
        assert pool.checkedout() == 0

        # The refused heartbeat wrote nothing: the record holds the later one's value.
        async with app.state.db.read() as conn:
            positions = dict(
                (
                    await conn.execute(text("SELECT lesson_id, video_position_seconds FROM lesson_progress"))
                ).all()
            )
        assert positions == {course.lesson_pks[0]: 0, course.lesson_pks[1]: 31}


def test_the_pool_timeout_and_shutdown_grace_settings_have_small_defaults_and_are_validated(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings()
    assert settings.db_pool_timeout_seconds == 5.0
    assert settings.shutdown_grace_seconds == 10
    monkeypatch.setenv("GQL_PROGRESS_DB_POOL_TIMEOUT_SECONDS", "0.2")
    monkeypatch.setenv("GQL_PROGRESS_SHUTDOWN_GRACE_SECONDS", "3")
    assert load_settings().db_pool_timeout_seconds == 0.2
    assert load_settings().shutdown_grace_seconds == 3
    for name, bad in [("DB_POOL_TIMEOUT_SECONDS", "0"), ("SHUTDOWN_GRACE_SECONDS", "-1")]:
        monkeypatch.setenv(f"GQL_PROGRESS_{name}", bad)
        with pytest.raises(Exception, match=f"GQL_PROGRESS_{name}"):
            load_settings()
        monkeypatch.delenv(f"GQL_PROGRESS_{name}")


# --- what counts as a fault -----------------------------------------------------------------------


def _raised_from(cause: BaseException, exc: BaseException) -> BaseException:
    try:
        raise exc from cause
    except BaseException as raised:
        return raised


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (PoolTimeoutError("QueuePool limit of size 1 overflow 0 reached"), "SERVICE_BUSY"),
        (
            OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked")),
            "SERVICE_BUSY",
        ),
        (ConnectionRefusedError(111, "Connect call failed"), "SERVICE_UNAVAILABLE"),
        (DisconnectionError("the server closed this pooled connection"), "SERVICE_UNAVAILABLE"),
        (DBAPIError("SELECT 1", {}, Exception("closed"), connection_invalidated=True), "SERVICE_UNAVAILABLE"),
        (
            _raised_from(asyncpg.exceptions.AdminShutdownError("terminating"), RuntimeError()),
            "SERVICE_UNAVAILABLE",
        ),
        (
            asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
            "SERVICE_UNAVAILABLE",
        ),
        (asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients"), "SERVICE_BUSY"),
        # A bug stays a bug (masked as INTERNAL_SERVER_ERROR, with its traceback in the log).
        (RuntimeError("boom"), None),
        (OperationalError("SELECT x", {}, sqlite3.OperationalError("no such column: x")), None),
        (asyncpg.exceptions.UndefinedColumnError("column x does not exist"), None),
    ],
)
def test_only_a_busy_or_unreachable_database_is_a_fault(exc: BaseException, code: str | None) -> None:
    fault = database_fault(exc)
    assert (fault.code if fault else None) == code


@pytest.mark.parametrize(
    ("response", "unavailable"),
    [
        ({"data": None, "errors": [{"extensions": {"code": "SERVICE_BUSY"}}]}, True),
        (
            {"data": {"a": None, "b": None}, "errors": [{"extensions": {"code": "SERVICE_UNAVAILABLE"}}] * 2},
            True,
        ),
        # Some data was answered: 200 with the error beside it.
        ({"data": {"a": 1, "b": None}, "errors": [{"extensions": {"code": "SERVICE_BUSY"}}]}, False),
        # Another failure too: not the database's alone.
        (
            {
                "data": None,
                "errors": [{"extensions": {"code": "SERVICE_BUSY"}}, {"extensions": {"code": "X"}}],
            },
            False,
        ),
        ({"data": {"a": 1}}, False),
    ],
)
def test_a_response_is_a_503_only_when_it_failed_as_a_whole_for_a_database_fault(
    response: dict[str, Any], unavailable: bool
) -> None:
    assert is_unavailable(response) is unavailable
