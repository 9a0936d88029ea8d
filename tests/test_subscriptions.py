"""Live updates: GraphQL subscriptions over WebSocket (graphql-transport-ws), through the app.

Writes go through HTTP as clients send them; updates come back over the app's WebSocket route
(tests.ws drives its ASGI interface in this event loop). Tests taking ``api`` run on SQLite
(notices handed over after the commit) and on PostgreSQL (NOTIFY, delivered to the app's
LISTEN connection). The last tests run real server processes.

"Nothing else arrived" is never waited for: a later write's update must be the next message.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from gql_progress.auth import issue_api_key
from gql_progress.db.engine import Database
from gql_progress.db.types import utcnow
from gql_progress.demo import seed_demo
from gql_progress.domain import catalog
from gql_progress.domain.completion.notices import write_progress
from gql_progress.domain.completion.statements import upsert_statement
from gql_progress.edge.app import create_app
from gql_progress.settings import load_settings
from tests.servers import serve_many
from tests.support import Api, SeededCourse, SeededUser
from tests.ws import (
    AsgiWebSocket,
    Closed,
    JsonSocket,
    NetworkWebSocket,
    init,
    next_data,
    next_message,
    next_of_each,
    subscribe,
    subscribed,
    until,
)

REPO = Path(__file__).resolve().parent.parent

PROGRESS_UPDATED = """
subscription Progress($courseId: ID!, $userId: ID) {
  progressUpdated(courseId: $courseId, userId: $userId) {
    progress { id status completed videoPositionSeconds user { id } lesson { id } }
    summary { completedLessons totalLessons }
  }
}
"""

COURSE_COMPLETED = """
subscription Completed($courseId: ID!) {
  courseCompleted(courseId: $courseId) {
    completedAt
    user { id }
    enrollment { id status completedAt course { id } }
  }
}
"""

UPSERT = """
mutation Upsert($input: UpsertProgressInput!) {
  upsertProgress(input: $input) {
    __typename
    ... on Error { code message }
    ... on UpsertProgressSuccess { progress { id } }
  }
}
"""

BULK = """
mutation Bulk($ids: [ID!]!, $completed: Boolean!) {
  bulkSetCompletion(input: {lessonIds: $ids, completed: $completed}) { __typename ... on Error { code } }
}
"""


# --- helpers -------------------------------------------------------------------------------------


@asynccontextmanager
async def connected(app: Starlette, key: str) -> AsyncIterator[AsgiWebSocket]:
    async with AsgiWebSocket(app) as ws:
        ack = await init(ws, {"Authorization": f"Bearer {key}"})
        assert ack == {"type": "connection_ack"}
        yield ws


async def heartbeat(api: Api, user: SeededUser, lesson_id: str, video: int, **extra: Any) -> str:
    data = await api.data(
        UPSERT, {"input": {"lessonId": lesson_id, "videoPositionSeconds": video, **extra}}, key=user.key
    )
    typename: str = data["upsertProgress"]["__typename"]
    return typename


async def complete(api: Api, user: SeededUser, lesson_ids: list[str]) -> None:
    data = await api.data(BULK, {"ids": lesson_ids, "completed": True}, key=user.key)
    assert data["bulkSetCompletion"]["__typename"] == "BulkSetCompletionSuccess"


async def enrolled(api: Api, lessons: int = 3, **course_values: Any) -> tuple[SeededUser, SeededCourse]:
    learner = await api.user()
    course = await api.course(lessons=lessons, **course_values)
    await api.enroll(learner, course)
    return learner, course


def error_codes(message: dict[str, Any]) -> list[str]:
    """The codes of an operation's `error` message (refused before streaming started)."""
    assert message["type"] == "error", message
    return [error["extensions"]["code"] for error in message["payload"]]


# --- connecting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        lambda key: None,
        lambda key: {},
        lambda key: {"Authorization": "Bearer gqlp_not-a-real-key"},
        lambda key: {"Authorization": f"Basic {key}"},
        lambda key: {"apiKey": key[:-1]},
    ],
    ids=["no-payload", "no-key", "bad-key", "not-bearer", "truncated-key"],
)
async def test_connection_init_without_a_valid_key_is_closed_with_4403(
    api: Api, payload: Callable[[str], dict[str, Any] | None]
) -> None:
    learner = await api.user()

    async with AsgiWebSocket(api.app) as ws:
        with pytest.raises(Closed) as closed:
            await init(ws, payload(learner.key))

    assert closed.value.code == 4403


async def test_connection_init_accepts_the_key_as_authorization_or_as_api_key(api: Api) -> None:
    learner = await api.user()

    async with AsgiWebSocket(api.app) as ws:
        assert ws.subprotocol == "graphql-transport-ws"
        assert await init(ws, {"authorization": f"bearer {learner.key}"}) == {"type": "connection_ack"}
    async with AsgiWebSocket(api.app) as ws:
        assert await init(ws, {"apiKey": learner.key}) == {"type": "connection_ack"}


async def test_subscribing_before_connection_init_is_closed_with_4401(api: Api) -> None:
    _, course = await enrolled(api)

    async with AsgiWebSocket(api.app) as ws:
        await subscribe(ws, "1", PROGRESS_UPDATED, {"courseId": course.id})
        with pytest.raises(Closed) as closed:
            await ws.receive_json()

    assert closed.value.code == 4401


async def test_the_legacy_graphql_ws_protocol_is_not_spoken(api: Api) -> None:
    async with AsgiWebSocket(api.app, subprotocols=("graphql-ws",)) as ws:
        with pytest.raises(Closed) as closed:
            await ws.receive_json()

    assert closed.value.code == 4406


async def test_queries_and_mutations_over_the_websocket_are_refused(api: Api) -> None:
    learner, course = await enrolled(api)
    mutation = UPSERT
    variables = {"input": {"lessonId": course.lesson_ids[0], "videoPositionSeconds": 5}}

    async with connected(api.app, learner.key) as ws:
        await subscribe(ws, "q", "{ me { id } }")
        assert error_codes(await next_message(ws, "q")) == ["OPERATION_NOT_ALLOWED"]
        await subscribe(ws, "m", mutation, variables)
        assert error_codes(await next_message(ws, "m")) == ["OPERATION_NOT_ALLOWED"]

    # …and the refused mutation wrote nothing.
    data = await api.data(
        "query($id: ID!) { lesson(id: $id) { progress { id } } }",
        {"id": course.lesson_ids[0]},
        key=learner.key,
    )
    assert data["lesson"]["progress"] is None


async def test_a_subscription_sent_over_http_is_told_to_use_the_websocket(api: Api) -> None:
    learner, course = await enrolled(api)

    body = await api.gql(COURSE_COMPLETED, {"courseId": course.id}, key=learner.key)

    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["WEBSOCKET_REQUIRED"]


# --- progressUpdated -----------------------------------------------------------------------------


async def test_learner_receives_the_heartbeat_they_send_over_http(api: Api) -> None:
    learner, course = await enrolled(api)

    async with connected(api.app, learner.key) as ws:
        await subscribe(ws, "1", PROGRESS_UPDATED, {"courseId": course.id})
        await subscribed(api, 1)
        assert await heartbeat(api, learner, course.lesson_ids[1], 42) == "UpsertProgressSuccess"

        update = (await next_data(ws, "1"))["progressUpdated"]

    progress = update["progress"]
    assert progress["videoPositionSeconds"] == 42
    assert progress["status"] == "IN_PROGRESS"
    assert progress["user"]["id"] == learner.id
    assert progress["lesson"]["id"] == course.lesson_ids[1]
    assert update["summary"] == {"completedLessons": 0, "totalLessons": 3}
    await until(lambda: api.app.state.live.broker.subscriber_count == 0, "the subscription is gone")


async def test_each_record_a_bulk_completion_writes_is_an_update_read_after_the_write(api: Api) -> None:
    learner, course = await enrolled(api)

    async with connected(api.app, learner.key) as ws:
        await subscribe(ws, "1", PROGRESS_UPDATED, {"courseId": course.id})
        await subscribed(api, 1)
        await complete(api, learner, course.lesson_ids[:2])

        updates = [(await next_data(ws, "1"))["progressUpdated"] for _ in range(2)]

    assert sorted(u["progress"]["lesson"]["id"] for u in updates) == sorted(course.lesson_ids[:2])
    assert all(u["progress"]["completed"] for u in updates)
    # Read when sent, after the whole write committed.
    assert [u["summary"]["completedLessons"] for u in updates] == [2, 2]


async def test_updates_of_other_courses_and_other_learners_are_not_sent(api: Api) -> None:
    learner, course = await enrolled(api)
    other_course = await api.course(lessons=1)
    await api.enroll(learner, other_course)
    classmate = await api.user()
    await api.enroll(classmate, course)

    async with connected(api.app, learner.key) as ws:
        await subscribe(ws, "1", PROGRESS_UPDATED, {"courseId": course.id})
        await subscribed(api, 1)
        await heartbeat(api, learner, other_course.lesson_ids[0], 1)
        await heartbeat(api, classmate, course.lesson_ids[0], 2)
        await heartbeat(api, learner, course.lesson_ids[0], 3)

        update = (await next_data(ws, "1"))["progressUpdated"]

    assert update["progress"]["videoPositionSeconds"] == 3


async def test_a_learner_following_another_user_is_refused_with_forbidden_whoever_it_is(api: Api) -> None:
    learner, course = await enrolled(api)
    classmate = await api.user()
    await api.enroll(classmate, course)
    nobody = "VXNlcjo5OTk5OTk="  # User:999999

    async with connected(api.app, learner.key) as ws:
        for op_id, user_id in (("a", classmate.id), ("b", nobody)):
            await subscribe(ws, op_id, PROGRESS_UPDATED, {"courseId": course.id, "userId": user_id})
            message = await next_message(ws, op_id)
            assert error_codes(message) == ["FORBIDDEN"]
            assert message["payload"][0]["message"] == "You may not act for another user"
        assert api.app.state.live.broker.subscriber_count == 0


async def test_unknown_courses_and_malformed_ids_are_refused(api: Api) -> None:
    learner = await api.user()

    async with connected(api.app, learner.key) as ws:
        await subscribe(ws, "a", PROGRESS_UPDATED, {"courseId": "Q291cnNlOjk5OTk5OQ=="})  # Course:999999
        assert error_codes(await next_message(ws, "a")) == ["NOT_FOUND"]
        await subscribe(ws, "b", COURSE_COMPLETED, {"courseId": "nonsense"})
        assert error_codes(await next_message(ws, "b")) == ["VALIDATION_FAILED"]


async def test_an_admin_follows_any_learners_progress(api: Api) -> None:
    admin = await api.admin()
    learner, course = await enrolled(api)

    async with connected(api.app, admin.key) as ws:
        await subscribe(ws, "1", PROGRESS_UPDATED, {"courseId": course.id, "userId": learner.id})
        await subscribed(api, 1)
        await heartbeat(api, learner, course.lesson_ids[0], 7)

        update = (await next_data(ws, "1"))["progressUpdated"]

    assert update["progress"]["user"]["id"] == learner.id
    assert update["progress"]["videoPositionSeconds"] == 7


async def test_refused_and_rolled_back_writes_send_nothing(api: Api) -> None:
    learner, course = await enrolled(api)
    unenrolled = await api.course(lessons=1)

    async with connected(api.app, learner.key) as ws:
        await subscribe(ws, "1", PROGRESS_UPDATED, {"courseId": course.id})
        await subscribe(ws, "2", PROGRESS_UPDATED, {"courseId": unenrolled.id})
        await subscribed(api, 2)
        await heartbeat(api, learner, course.lesson_ids[0], 5)
        assert (await next_data(ws, "1"))["progressUpdated"]["progress"]["videoPositionSeconds"] == 5

        # Refused: NOT_ENROLLED.
        assert await heartbeat(api, learner, unenrolled.lesson_ids[0], 6) == "NotEnrolledError"
        # Written, announced inside the transaction, then rolled back: were it sent, the record
        # (still at 5) would be read and sent before the write below.
        with pytest.raises(RuntimeError):
            await _write_then_roll_back(api.db, learner.pk, course.lesson_pks[0], video=11)
        await api.enroll(learner, unenrolled)
        await heartbeat(api, learner, unenrolled.lesson_ids[0], 8)
        await heartbeat(api, learner, course.lesson_ids[0], 9)

        messages = await next_of_each(ws, {"1", "2"})

    videos = {
        op: m["payload"]["data"]["progressUpdated"]["progress"]["videoPositionSeconds"]
        for op, m in messages.items()
    }
    assert videos == {"1": 9, "2": 8}


async def _write_then_roll_back(db: Database, user_id: int, lesson_id: int, video: int) -> None:
    async with db.write() as conn:
        row = {"user_id": user_id, "lesson_id": lesson_id, "video_position_seconds": video}
        upsert = upsert_statement(conn, [row], frozenset({"video_position_seconds"}), utcnow())
        await write_progress(conn, upsert.statement, upsert.params)
        raise RuntimeError("roll back")


async def test_a_subscriber_that_stops_reading_is_ended_with_an_error_not_buffered(database_url: str) -> None:
    app = create_app(load_settings(database_url=database_url, webhooks_enabled=False, live_queue_size=2))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            api = Api(client=client, db=app.state.db, app=app)
            learner, course = await enrolled(api, lessons=4)
            async with connected(app, learner.key) as ws:
                await subscribe(ws, "1", PROGRESS_UPDATED, {"courseId": course.id})
                await subscribed(api, 1)
                ws.reading.clear()  # the client stops reading: the server's sends block
                await heartbeat(api, learner, course.lesson_ids[0], 1)
                await until(lambda: ws.blocked_sends == 1, "the first update is being sent")
                # Different records, so nothing coalesces: 2 fit in the queue, the third does not.
                for video in range(2, 6):
                    await heartbeat(api, learner, course.lesson_ids[video % 4], video)
                await until(lambda: app.state.live.broker.overflows == 1, "the subscriber is ended")
                ws.reading.set()

                messages = [await next_message(ws, "1") for _ in range(3)]

            assert messages[0]["type"] == "next"
            assert messages[0]["payload"]["data"]["progressUpdated"]["progress"]["videoPositionSeconds"] == 1
            assert messages[1]["type"] == "next"
            assert [e["extensions"]["code"] for e in messages[1]["payload"]["errors"]] == [
                "SUBSCRIBER_TOO_SLOW"
            ]
            assert messages[2] == {"id": "1", "type": "complete"}
            assert app.state.live.broker.subscriber_count == 0


async def test_websocket_is_refused_when_live_updates_are_off(database_url: str) -> None:
    app = create_app(
        load_settings(database_url=database_url, webhooks_enabled=False, live_updates_enabled=False)
    )
    async with app.router.lifespan_context(app):
        with pytest.raises(Closed) as closed:
            async with AsgiWebSocket(app):
                pass

    assert closed.value.code == 4404


def _readme_browser_subscription() -> tuple[str, dict[str, Any]]:
    """The document and variables of the README's browser example."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"```html\n(.*?)```", text, flags=re.S)
    assert block is not None
    query = re.search(r"query: `(.*?)`", block.group(1), flags=re.S)
    course_id = re.search(r'variables: \{ courseId: "(.*?)" \}', block.group(1))
    assert query is not None
    assert course_id is not None
    return query.group(1), {"courseId": course_id.group(1)}


async def test_the_readme_browser_example_receives_the_readme_heartbeat(api: Api) -> None:
    keys = await seed_demo(api.db)
    document, variables = _readme_browser_subscription()
    heartbeat_example = {"lessonId": "TGVzc29uOjQ=", "videoPositionSeconds": 240}  # as in the README

    async with connected(api.app, keys.learner.secret) as ws:
        await subscribe(ws, "1", document, variables)
        await subscribed(api, 1)
        upserted = await api.data(UPSERT, {"input": heartbeat_example}, key=keys.learner.secret)
        assert upserted["upsertProgress"]["__typename"] == "UpsertProgressSuccess"

        update = (await next_data(ws, "1"))["progressUpdated"]

    assert update["progress"]["lesson"]["id"] == heartbeat_example["lessonId"]
    assert update["progress"]["videoPositionSeconds"] == 240


# --- courseCompleted -----------------------------------------------------------------------------


async def test_course_completed_fires_once_when_the_last_lesson_is_completed(api: Api) -> None:
    learner, course = await enrolled(api, lessons=3)
    sentinel_learner = await api.user()
    await api.enroll(sentinel_learner, course)
    admin = await api.admin()

    async with connected(api.app, admin.key) as ws:
        await subscribe(ws, "c", COURSE_COMPLETED, {"courseId": course.id})
        await subscribed(api, 1)
        await heartbeat(api, learner, course.lesson_ids[0], 30)
        await complete(api, learner, course.lesson_ids[:2])
        await api.data(
            UPSERT, {"input": {"lessonId": course.lesson_ids[2], "completed": True}}, key=learner.key
        )
        # Neither heartbeats nor completing an already completed lesson complete it again.
        await heartbeat(api, learner, course.lesson_ids[2], 31)
        await complete(api, learner, course.lesson_ids)
        await complete(api, sentinel_learner, course.lesson_ids)

        first = (await next_data(ws, "c"))["courseCompleted"]
        second = (await next_data(ws, "c"))["courseCompleted"]

    assert first["user"]["id"] == learner.id
    assert first["enrollment"]["status"] == "COMPLETED"
    assert first["enrollment"]["course"]["id"] == course.id
    assert first["completedAt"] == first["enrollment"]["completedAt"]
    assert second["user"]["id"] == sentinel_learner.id


async def test_a_heartbeat_that_completes_the_last_lesson_by_the_video_threshold_completes_the_course(
    api: Api,
) -> None:
    learner, course = await enrolled(api, lessons=2, video_completion_threshold=90)
    await complete(api, learner, course.lesson_ids[:1])

    async with connected(api.app, learner.key) as ws:
        await subscribe(ws, "c", COURSE_COMPLETED, {"courseId": course.id})
        await subscribed(api, 1)
        await heartbeat(api, learner, course.lesson_ids[1], 599)  # of 600 s

        completion = (await next_data(ws, "c"))["courseCompleted"]

    assert completion["user"]["id"] == learner.id


async def test_learners_receive_only_their_own_completions(api: Api) -> None:
    learner, course = await enrolled(api, lessons=1)
    classmate = await api.user()
    await api.enroll(classmate, course)

    async with connected(api.app, learner.key) as ws:
        await subscribe(ws, "c", COURSE_COMPLETED, {"courseId": course.id})
        await subscribed(api, 1)
        await complete(api, classmate, course.lesson_ids)
        await complete(api, learner, course.lesson_ids)

        completion = (await next_data(ws, "c"))["courseCompleted"]

    assert completion["user"]["id"] == learner.id


async def test_a_write_that_completes_one_course_announces_only_that_course(api: Api) -> None:
    learner, finished = await enrolled(api, lessons=1)
    unfinished = await api.course(lessons=2)
    await api.enroll(learner, unfinished)

    async with connected(api.app, learner.key) as ws:
        await subscribe(ws, "c", COURSE_COMPLETED, {"courseId": unfinished.id})
        await subscribed(api, 1)
        # One transaction: `finished` completes; `unfinished` only gets a lesson completed.
        await complete(api, learner, [finished.lesson_ids[0], unfinished.lesson_ids[0]])
        await complete(api, learner, unfinished.lesson_ids[1:])

        completion = (await next_data(ws, "c"))["courseCompleted"]

    assert completion["enrollment"]["course"]["id"] == unfinished.id
    assert completion["enrollment"]["status"] == "COMPLETED"


async def test_completions_from_a_course_change_are_sent(api: Api) -> None:
    """An enrollment completed by removing the lesson it missed (reevaluate_course) counts too."""
    learner, course = await enrolled(api, lessons=2)
    await complete(api, learner, course.lesson_ids[:1])
    admin = await api.admin()

    async with connected(api.app, admin.key) as ws:
        await subscribe(ws, "c", COURSE_COMPLETED, {"courseId": course.id})
        await subscribed(api, 1)
        removed = await api.data(
            "mutation($id: ID!) { removeLesson(id: $id) { __typename } }",
            {"id": course.lesson_ids[1]},
            key=admin.key,
        )
        assert "Error" not in removed["removeLesson"]["__typename"]

        completion = (await next_data(ws, "c"))["courseCompleted"]

    assert completion["user"]["id"] == learner.id
    assert completion["enrollment"]["status"] == "COMPLETED"


# --- PostgreSQL: LISTEN/NOTIFY across connections and processes -----------------------------------


async def _backend_listening(url: str) -> int | None:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        pid: int | None = await conn.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
        return pid
    finally:
        await conn.close()


async def test_a_lost_listen_connection_ends_subscriptions_and_listening_resumes(
    pg_api: Api, pg_database_url: str
) -> None:
    learner, course = await enrolled(pg_api)
    broker = pg_api.app.state.live.broker

    async with connected(pg_api.app, learner.key) as ws:
        await subscribe(ws, "1", PROGRESS_UPDATED, {"courseId": course.id})
        await subscribed(pg_api, 1)
        pid = await _backend_listening(pg_database_url)
        assert pid is not None
        admin = await asyncpg.connect(pg_database_url.replace("+asyncpg", ""))
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()

        message = await next_message(ws, "1")
        assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == ["LIVE_UPDATES_INTERRUPTED"]
        assert await next_message(ws, "1") == {"id": "1", "type": "complete"}

        await until(lambda: broker.available, "the listener reconnected")
        await subscribe(ws, "2", PROGRESS_UPDATED, {"courseId": course.id})
        await subscribed(pg_api, 1)
        await heartbeat(pg_api, learner, course.lesson_ids[0], 12)
        assert (await next_data(ws, "2"))["progressUpdated"]["progress"]["videoPositionSeconds"] == 12


async def _receive_while_writing(ws: JsonSocket, op_id: str, write: Callable[[], Any]) -> dict[str, Any]:
    """Write until the subscription's first update arrives: another process cannot be asked
    whether the subscription is registered yet."""
    for _ in range(40):
        await write()
        try:
            return await next_data(ws, op_id, within=0.25)
        except TimeoutError:
            continue
    raise AssertionError("no update arrived")


async def test_a_write_through_one_server_process_reaches_a_subscriber_of_another(
    pg_database_url: str,
) -> None:
    await a_write_through_one_process_reaches_a_subscriber_of_another(pg_database_url)


async def a_write_through_one_process_reaches_a_subscriber_of_another(
    database_url: str, env: Mapping[str, str] | None = None
) -> None:
    """Seeded at ``database_url``, served by two processes with ``env`` over serve_many's
    (tests/test_pgbouncer.py runs them through a transaction pooler)."""
    db = Database(database_url)
    try:
        learner = await catalog.create_user(
            db, {"external_id": "x-1", "email": "x1@example.com", "name": "L"}
        )
        key = (await issue_api_key(db, learner.id)).secret
        course = await catalog.create_course(db, {"slug": "two-processes", "title": "Two processes"})
        lesson = await catalog.add_lesson(
            db, course.id, {"title": "Only", "kind": "VIDEO", "duration_seconds": 600}
        )
        await catalog.enroll(db, learner.id, course.id)
    finally:
        await db.dispose()
    course_id = _encode("Course", course.id)
    lesson_id = _encode("Lesson", lesson.id)

    async with serve_many(database_url, 2, env) as (first, second):
        ws_url = first.base.replace("http", "ws") + "/graphql"
        async with NetworkWebSocket(ws_url) as ws, httpx.AsyncClient(base_url=second.base) as client:
            assert await init(ws, {"Authorization": f"Bearer {key}"}) == {"type": "connection_ack"}
            await subscribe(ws, "p", PROGRESS_UPDATED, {"courseId": course_id})
            await subscribe(ws, "c", COURSE_COMPLETED, {"courseId": course_id})
            headers = {"Authorization": f"Bearer {key}"}

            async def post(input: dict[str, Any]) -> None:
                response = await client.post(
                    "/graphql", json={"query": UPSERT, "variables": {"input": input}}, headers=headers
                )
                assert response.json()["data"]["upsertProgress"]["__typename"] == "UpsertProgressSuccess"

            update = await _receive_while_writing(
                ws, "p", lambda: post({"lessonId": lesson_id, "videoPositionSeconds": 77})
            )
            assert update["progressUpdated"]["progress"]["videoPositionSeconds"] == 77
            # Heartbeats that raced the registration may still be queued: skip to the completion's.
            await post({"lessonId": lesson_id, "completed": True})
            completion = (await next_data(ws, "c", skip_others=True))["courseCompleted"]
            assert completion["enrollment"]["status"] == "COMPLETED"


def _encode(type_name: str, pk: int) -> str:
    from gql_progress.domain.ids import encode_id

    return encode_id(type_name, pk)
