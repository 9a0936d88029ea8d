"""Live notices leave the write's transaction: each process sends its committed notices in
batches, one NOTIFY carrying many (db/notifier.py). Counted, never timed: the NOTIFYs are
counted by a LISTEN connection of the test's own, beside the app's.

Delivery of single writes through the app, on both databases, is in test_subscriptions.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from gql_progress.db.engine import Database
from gql_progress.db.listener import asyncpg_dsn
from gql_progress.db.notifier import MAX_PAYLOAD_BYTES, BatchNotifier, batches
from gql_progress.domain.completion.notices import (
    CourseCompleted,
    ProgressWritten,
    decode_batch,
    encode,
)
from gql_progress.domain.completion.upsert import upsert_progress
from tests.support import Api, SeededUser
from tests.test_subscriptions import PROGRESS_UPDATED, UPSERT, connected, enrolled
from tests.ws import JsonSocket, subscribe, subscribed, until

CHANNEL = "gql_progress_live"


@asynccontextmanager
async def heard(database_url: str, channel: str = CHANNEL) -> AsyncIterator[list[str]]:
    """Every payload NOTIFY carries on ``channel`` while the block runs, one per NOTIFY."""
    payloads: list[str] = []
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.add_listener(channel, lambda _conn, _pid, _channel, payload: payloads.append(payload))
        yield payloads
    finally:
        await conn.close()


def _notices(payloads: list[str]) -> list[ProgressWritten | CourseCompleted]:
    return [notice for payload in payloads for notice in decode_batch(payload)]


async def _next_update(ws: JsonSocket) -> tuple[str, dict[str, Any]]:
    """(operation id, progress record) of the socket's next message, which must be an update."""
    while True:
        message = await ws.receive_json()
        if message.get("type") == "ping":
            await ws.send_json({"type": "pong"})
            continue
        assert message["type"] == "next", message
        assert not message["payload"].get("errors"), message
        return message["id"], message["payload"]["data"]["progressUpdated"]["progress"]


async def test_concurrent_heartbeats_reach_every_subscriber_in_fewer_notifies_than_writes(
    pg_api: Api, pg_database_url: str
) -> None:
    lessons = 10
    learners = [await enrolled(pg_api, lessons=lessons) for _ in range(4)]
    notifier = pg_api.db.notifier
    assert notifier is not None
    before = notifier.notifies

    async def heartbeat(learner: SeededUser, lesson_id: str, video: int) -> str:
        variables = {"input": {"lessonId": lesson_id, "videoPositionSeconds": video}}
        data = await pg_api.data(UPSERT, variables, key=learner.key)
        assert data["upsertProgress"]["__typename"] == "UpsertProgressSuccess", data
        record_id: str = data["upsertProgress"]["progress"]["id"]
        return record_id

    async with heard(pg_database_url) as payloads, AsyncExitStack() as stack:
        sockets = []
        for learner, course in learners:
            ws = await stack.enter_async_context(connected(pg_api.app, learner.key))
            for op_id in ("a", "b"):  # two subscribers of the same updates
                await subscribe(ws, op_id, PROGRESS_UPDATED, {"courseId": course.id})
            sockets.append(ws)
        await subscribed(pg_api, 2 * len(learners))

        written = await asyncio.gather(
            *(
                heartbeat(learner, course.lesson_ids[lesson], lesson + 1)
                for lesson in range(lessons)
                for learner, course in learners
            )
        )
        await until(lambda: len(_notices(payloads)) == len(written), "every notice was heard")

        for index, ws in enumerate(sockets):
            received: dict[str, set[str]] = {"a": set(), "b": set()}
            for _ in range(2 * lessons):
                op_id, record = await _next_update(ws)
                received[op_id].add(record["id"])
            mine = set(written[index :: len(learners)])
            assert received == {"a": mine, "b": mine}

    assert len(payloads) < len(written)
    assert notifier.notifies - before == len(payloads)
    assert all(len(payload.encode()) <= MAX_PAYLOAD_BYTES for payload in payloads)


def _progress(n: int) -> str:
    return encode(ProgressWritten(user_id=n, course_id=7, record_id=10**12 + n))


async def test_a_batch_too_big_for_one_notify_is_split_below_postgresqls_limit(pg_database_url: str) -> None:
    notices = [_progress(n) for n in range(300)]  # ~20 kB in all
    db = Database(pg_database_url, live_channel=CHANNEL)
    try:
        async with heard(pg_database_url) as payloads:
            db.announce(notices)  # queued at once, before the notifier sends anything
            await until(lambda: len(_notices(payloads)) == len(notices), "every notice was heard")
    finally:
        await db.dispose()

    assert [encode(n) for n in _notices(payloads)] == notices  # in order, each once
    assert payloads == [payload for payload, _ in batches(notices)]
    assert len(payloads) > 1
    assert all(len(payload.encode()) <= MAX_PAYLOAD_BYTES for payload in payloads)


def test_batches_fill_each_payload_up_to_the_limit_and_send_a_lone_notice_as_itself() -> None:
    notices = [_progress(n) for n in range(40)]

    packed = batches(notices, limit=1000)

    assert [n for payload, _ in packed for n in map(encode, decode_batch(payload))] == notices
    start = 0
    for payload, count in packed[:-1]:
        start += count
        # Full: the next batch's first notice (and its comma) would not have fitted.
        assert count > 1
        assert len(payload) <= 1000 < len(payload) + 1 + len(notices[start])
    assert batches([notices[0]]) == [(notices[0], 1)]


async def test_postgresql_refuses_a_payload_one_byte_over_the_limit(pg_database_url: str) -> None:
    """The limit batches() packs to is PostgreSQL's (8000 bytes refused)."""
    async with heard(pg_database_url, "limit_check") as payloads:
        conn = await asyncpg.connect(asyncpg_dsn(pg_database_url))
        try:
            await conn.execute("SELECT pg_notify('limit_check', $1)", "x" * MAX_PAYLOAD_BYTES)
            with pytest.raises(asyncpg.InvalidParameterValueError, match="payload string too long"):
                await conn.execute("SELECT pg_notify('limit_check', $1)", "x" * (MAX_PAYLOAD_BYTES + 1))
        finally:
            await conn.close()
        await until(lambda: len(payloads) == 1, "the payload at the limit was heard")


async def test_a_notice_sent_alone_by_a_process_from_before_batching_reaches_subscribers(
    pg_api: Api, pg_database_url: str
) -> None:
    learner, course = await enrolled(pg_api)
    # Written by a handle that announces nothing: the only notice is the one sent below.
    quiet = Database(pg_database_url)
    try:
        await upsert_progress(
            quiet, user_id=learner.pk, lesson_id=course.lesson_pks[0], changes={"video_position_seconds": 33}
        )
    finally:
        await quiet.dispose()

    async with connected(pg_api.app, learner.key) as ws:
        await subscribe(ws, "1", PROGRESS_UPDATED, {"courseId": course.id})
        await subscribed(pg_api, 1)
        conn = await asyncpg.connect(asyncpg_dsn(pg_database_url))
        try:
            # Built as those processes built it, in their upsert's RETURNING clause.
            await conn.execute(
                """
                SELECT pg_notify($1, json_build_object('kind', 'progress', 'user', p.user_id,
                    'course', l.course_id, 'record', p.id)::text)
                FROM lesson_progress AS p JOIN lessons AS l ON l.id = p.lesson_id
                WHERE p.user_id = $2
                """,
                CHANNEL,
                learner.pk,
            )
        finally:
            await conn.close()

        op_id, record = await _next_update(ws)

    assert op_id == "1"
    assert record["videoPositionSeconds"] == 33
    assert record["lesson"]["id"] == course.lesson_ids[0]


def test_a_batch_decodes_to_its_notices_and_a_batch_with_a_stranger_in_it_to_none() -> None:
    progress = ProgressWritten(1, 2, 3)
    completed = CourseCompleted(1, 2, datetime(2026, 1, 2, tzinfo=UTC))
    batch = f"[{encode(progress)},{encode(completed)}]"

    assert decode_batch(batch) == [progress, completed]
    assert decode_batch(encode(progress)) == [progress]
    assert decode_batch(f'[{encode(progress)},{{"kind": "other"}}]') == []
    assert decode_batch("not json") == []


async def test_shutdown_sends_what_is_queued(pg_database_url: str) -> None:
    db = Database(pg_database_url, live_channel=CHANNEL)
    async with heard(pg_database_url) as payloads:
        db.announce([_progress(1), _progress(2)])
        await db.dispose()  # before the notifier ran: dispose sends them
        await until(lambda: len(payloads) == 1, "the batch was heard")

    assert _notices(payloads) == [ProgressWritten(1, 7, 10**12 + 1), ProgressWritten(2, 7, 10**12 + 2)]


async def test_a_notifier_that_cannot_reach_the_database_drops_instead_of_queueing_without_end() -> None:
    notifier = BatchNotifier("postgresql://postgres@127.0.0.1:1/nowhere", max_queued=3)

    notifier.offer(CHANNEL, [_progress(n) for n in range(5)])  # returns at once
    assert notifier.dropped == 2
    await notifier.close()

    assert (notifier.sent, notifier.dropped, notifier.notifies) == (0, 5, 0)
