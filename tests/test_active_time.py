"""Active time measured by the server (domain/completion/active_time.py), over HTTP on SQLite and
PostgreSQL: the window's edges, replays, writes that are not heartbeats, concurrent tabs, and the
sums the summary and the analytics show.

Time is moved by the database's clock, never by sleeping: a test sets a record's stored clock
(``activity_clock``, Unix seconds) back by as many seconds as it wants to have passed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from gql_progress.domain.completion.active_time import database_clock
from tests.apps import GENEROUS_LIMITS, api_with
from tests.support import Api, SeededCourse, SeededUser

WINDOW = 5  # seconds; small, so that the edges are a few seconds apart

UPSERT = """
mutation Upsert($input: UpsertProgressInput!) {
  upsertProgress(input: $input) {
    __typename
    ... on UpsertProgressSuccess {
      progress { activeSeconds timeSpentMinutes completed }
      summary { totalActiveSeconds totalTimeSpentMinutes }
    }
    ... on Error { code message }
  }
}
"""

BULK = """
mutation Bulk($ids: [ID!]!, $completed: Boolean!) {
  bulkSetCompletion(input: {lessonIds: $ids, completed: $completed}) {
    __typename
    ... on BulkSetCompletionSuccess { succeeded results { progress { activeSeconds } } }
  }
}
"""

GRANT = """
mutation Grant($userId: ID!, $lessonIds: [ID!]!) {
  grantCompletion(input: {userId: $userId, lessonIds: $lessonIds, reason: "offline exam"}) {
    __typename
  }
}
"""

COURSE_PAGE = """
query ActiveCoursePage($slug: String!) {
  course(slug: $slug) {
    summary { totalActiveSeconds totalTimeSpentMinutes }
    lessons { progress { activeSeconds timeSpentMinutes } }
  }
}
"""

DASHBOARD = """
query ActiveDashboard {
  me { enrollments { summary { totalActiveSeconds } } }
}
"""


@pytest.fixture
async def small_window(database_url: str) -> AsyncIterator[Api]:
    async with api_with(database_url, active_time_window_seconds=WINDOW, **GENEROUS_LIMITS) as api:
        yield api


async def _learner_in(api: Api, lessons: int = 2) -> tuple[SeededUser, SeededCourse]:
    learner = await api.user()
    course = await api.course(lessons=lessons)
    await api.enroll(learner, course)
    return learner, course


async def upsert(api: Api, learner: SeededUser, lesson: str, **fields: Any) -> dict[str, Any]:
    data = await api.data(UPSERT, {"input": {"lessonId": lesson, **fields}}, key=learner.key)
    result: dict[str, Any] = data["upsertProgress"]
    assert result["__typename"] == "UpsertProgressSuccess", result
    return result


async def active(api: Api, learner: SeededUser, lesson: str, **fields: Any) -> int:
    """A heartbeat's activeSeconds, as the mutation answers it."""
    seconds: int = (await upsert(api, learner, lesson, **fields))["progress"]["activeSeconds"]
    return seconds


async def stored(
    api: Api, learner: SeededUser, course: SeededCourse, index: int = 0
) -> tuple[int, int | None]:
    """(active_seconds, activity_clock) of the record, read from the table."""
    async with api.db.read() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT active_seconds, activity_clock FROM lesson_progress"
                    " WHERE user_id = :u AND lesson_id = :l"
                ),
                {"u": learner.pk, "l": course.lesson_pks[index]},
            )
        ).one()
    return int(row.active_seconds), None if row.activity_clock is None else int(row.activity_clock)


async def db_now(api: Api) -> int:
    async with api.db.read() as conn:
        return int((await conn.execute(select(database_clock(conn.dialect.name)))).scalar_one())


async def set_clock(
    api: Api,
    learner: SeededUser,
    course: SeededCourse,
    clock: int,
    index: int = 0,
    active_seconds: int | None = None,
) -> None:
    """As if the record's last counted write had happened at ``clock`` (database seconds), with
    ``active_seconds`` counted so far when given."""
    async with api.db.write() as conn:
        await conn.execute(
            text(
                "UPDATE lesson_progress SET activity_clock = :c,"
                " active_seconds = COALESCE(:a, active_seconds)"
                " WHERE user_id = :u AND lesson_id = :l"
            ),
            {"c": clock, "a": active_seconds, "u": learner.pk, "l": course.lesson_pks[index]},
        )


async def added_after_gap(api: Api, learner: SeededUser, course: SeededCourse, gap: int) -> int:
    """What one heartbeat adds after exactly ``gap`` seconds of the database's clock.

    The stored clock is set ``gap`` seconds before the clock read just now; when a second boundary
    passed before the heartbeat ran (its clock differs from the one read), the gap was not exactly
    ``gap`` and the attempt is made again, from the total as it was before the first attempt (a
    missed attempt may have counted a second more, which must not stay in the sum).
    """
    lesson = course.lesson_ids[0]
    before, _ = await stored(api, learner, course)
    for _ in range(10):
        now = await db_now(api)
        await set_clock(api, learner, course, now - gap, active_seconds=before)
        after = await active(api, learner, lesson, videoPositionSeconds=1)
        _, clock = await stored(api, learner, course)
        if clock == now:
            return after - before
    raise AssertionError("the database's clock kept crossing second boundaries")


async def test_a_gap_up_to_the_window_counts_in_full_and_a_longer_one_counts_nothing(
    small_window: Api,
) -> None:
    api = small_window
    learner, course = await _learner_in(api)
    lesson = course.lesson_ids[0]

    assert await active(api, learner, lesson, videoPositionSeconds=1) == 0  # the first write
    assert (await stored(api, learner, course))[1] is not None  # …starts the clock

    assert await added_after_gap(api, learner, course, 3) == 3
    assert await added_after_gap(api, learner, course, WINDOW) == WINDOW  # exactly the window
    assert await added_after_gap(api, learner, course, WINDOW + 1) == 0  # just past it
    assert await added_after_gap(api, learner, course, 3600) == 0  # a closed laptop

    # A long gap moves the clock on: the next heartbeat counts from the late one.
    total, clock = await stored(api, learner, course)
    assert clock == await db_now(api) or clock == await db_now(api) - 1
    assert total == 3 + WINDOW


async def test_a_clock_behind_the_stored_one_adds_nothing_and_never_moves_it_back(small_window: Api) -> None:
    api = small_window
    learner, course = await _learner_in(api)
    lesson = course.lesson_ids[0]
    await active(api, learner, lesson, videoPositionSeconds=1)
    future = await db_now(api) + 2

    await set_clock(api, learner, course, future)  # a later write already counted (a lock waiter)
    assert await active(api, learner, lesson, videoPositionSeconds=2) == 0

    assert await stored(api, learner, course) == (0, future)


async def test_the_clients_minutes_stay_as_sent_beside_the_measured_seconds(small_window: Api) -> None:
    api = small_window
    learner, course = await _learner_in(api)
    lesson = course.lesson_ids[0]
    await upsert(api, learner, lesson, timeSpentMinutes=5)
    await set_clock(api, learner, course, await db_now(api) - 2)

    # A client claiming 600 minutes changes its claim, not the measure.
    result = await upsert(api, learner, lesson, timeSpentMinutes=600)

    assert result["progress"]["timeSpentMinutes"] == 600
    assert 2 <= result["progress"]["activeSeconds"] <= 3
    assert result["summary"]["totalTimeSpentMinutes"] == 600
    assert result["summary"]["totalActiveSeconds"] == result["progress"]["activeSeconds"]


async def test_a_repeated_request_adds_only_the_time_that_passed(small_window: Api) -> None:
    api = small_window
    learner, course = await _learner_in(api)
    lesson = course.lesson_ids[0]
    await active(api, learner, lesson, videoPositionSeconds=1)

    # The same heartbeat sent ten times at once adds at most the second that may tick meanwhile.
    for _ in range(10):
        await active(api, learner, lesson, videoPositionSeconds=1)

    assert (await stored(api, learner, course))[0] <= 1


async def test_an_idempotency_key_replay_returns_the_stored_answer_and_adds_nothing(
    small_window: Api,
) -> None:
    api = small_window
    learner, course = await _learner_in(api)
    lesson = course.lesson_ids[0]
    await active(api, learner, lesson, videoPositionSeconds=1)
    await set_clock(api, learner, course, await db_now(api) - 3)
    body = {"query": UPSERT, "variables": {"input": {"lessonId": lesson, "videoPositionSeconds": 2}}}
    headers = {"Authorization": f"Bearer {learner.key}", "Idempotency-Key": f"hb-{uuid.uuid4()}"}

    first = await api.client.post("/graphql", json=body, headers=headers)
    written = await stored(api, learner, course)
    # Had the replay run, these 4 seconds would count.
    await set_clock(api, learner, course, await db_now(api) - 4)
    again = await api.client.post("/graphql", json=body, headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    seconds = first.json()["data"]["upsertProgress"]["progress"]["activeSeconds"]
    assert 3 <= seconds <= 4
    assert (await stored(api, learner, course))[0] == written[0] == seconds


async def test_bulk_completion_and_grants_add_nothing_and_leave_the_clock_alone(small_window: Api) -> None:
    api = small_window
    admin = await api.admin()
    learner, course = await _learner_in(api, lessons=3)
    first, second, third = course.lesson_ids
    await active(api, learner, first, videoPositionSeconds=1)
    clock = await db_now(api) - 3
    await set_clock(api, learner, course, clock)

    bulk = await api.data(BULK, {"ids": [first, second], "completed": True}, key=learner.key)
    granted = await api.data(GRANT, {"userId": learner.id, "lessonIds": [first, third]}, key=admin.key)

    assert bulk["bulkSetCompletion"]["succeeded"] == 2
    assert [r["progress"]["activeSeconds"] for r in bulk["bulkSetCompletion"]["results"]] == [0, 0]
    assert granted["grantCompletion"]["__typename"] == "BulkSetCompletionSuccess"
    assert await stored(api, learner, course, 0) == (0, clock)
    # Records they created have no clock: the learner's first heartbeat there starts it.
    assert await stored(api, learner, course, 1) == (0, None)
    assert await stored(api, learner, course, 2) == (0, None)
    assert await active(api, learner, second, videoPositionSeconds=1) == 0

    # The heartbeat after them counts from the heartbeat before them.
    assert 3 <= await active(api, learner, first, videoPositionSeconds=2) <= 4


async def test_a_completion_sent_with_upsert_progress_is_a_heartbeat_too(small_window: Api) -> None:
    api = small_window
    learner, course = await _learner_in(api)
    lesson = course.lesson_ids[0]
    assert (await upsert(api, learner, lesson, completed=True))["progress"]["activeSeconds"] == 0
    await set_clock(api, learner, course, await db_now(api) - 4)

    result = await upsert(api, learner, lesson, completed=False, videoPositionSeconds=1)

    assert result["progress"]["completed"] is False
    assert 4 <= result["progress"]["activeSeconds"] <= 5


async def test_an_admin_relaying_a_learners_heartbeats_counts_for_the_learner(small_window: Api) -> None:
    api = small_window
    admin = await api.admin()
    learner, course = await _learner_in(api)
    lesson = course.lesson_ids[0]
    await active(api, learner, lesson, videoPositionSeconds=1)
    await set_clock(api, learner, course, await db_now(api) - 2)

    relayed = await api.data(
        UPSERT,
        {"input": {"lessonId": lesson, "userId": learner.id, "videoPositionSeconds": 5}},
        key=admin.key,
    )

    assert 2 <= relayed["upsertProgress"]["progress"]["activeSeconds"] <= 3


async def test_the_summary_sums_the_lessons_on_every_read_path(small_window: Api) -> None:
    api = small_window
    learner, course = await _learner_in(api, lessons=3)
    for index, gap in ((0, 2), (1, 4)):
        await active(api, learner, course.lesson_ids[index], videoPositionSeconds=1)
        await set_clock(api, learner, course, await db_now(api) - gap, index)
        await active(api, learner, course.lesson_ids[index], videoPositionSeconds=2)
    seconds = [(await stored(api, learner, course, index))[0] for index in (0, 1)]

    page = (await api.data(COURSE_PAGE, {"slug": course.slug}, key=learner.key))["course"]
    dashboard = await api.data(DASHBOARD, key=learner.key)

    assert [lesson["progress"] and lesson["progress"]["activeSeconds"] for lesson in page["lessons"]] == [
        *seconds,
        None,
    ]
    assert page["summary"]["totalActiveSeconds"] == sum(seconds) >= 6
    assert [e["summary"]["totalActiveSeconds"] for e in dashboard["me"]["enrollments"]] == [sum(seconds)]


# --- the rule against a model, on random gaps ----------------------------------------------------------


def added_by_rule(gap: int) -> int:
    """What docs/analytics.md says a write adds after ``gap`` seconds of the database's clock."""
    return gap if 0 <= gap <= WINDOW else 0


async def test_random_gaps_add_what_the_rule_says_and_the_clock_never_goes_back(small_window: Api) -> None:
    """Gaps around the window's edges and behind the stored clock, in random orders. The gap a
    write really saw is read back from the clock it stored (a second may tick meanwhile), so the
    model is exact whenever the write ran."""
    api = small_window
    learner, course = await _learner_in(api)
    lesson = course.lesson_ids[0]
    await active(api, learner, lesson, videoPositionSeconds=1)
    loop = asyncio.get_running_loop()
    edges = st.sampled_from([-WINDOW, -2, -1, 0, 1, WINDOW - 1, WINDOW, WINDOW + 1, WINDOW + 2, 10 * WINDOW])

    @settings(
        max_examples=15,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(gaps=st.lists(edges | st.integers(-3, 3 * WINDOW), min_size=1, max_size=6))
    def follows_the_rule(gaps: list[int]) -> None:
        async def check() -> None:
            expected, _ = await stored(api, learner, course)
            for gap in gaps:
                previous = await db_now(api) - gap
                await set_clock(api, learner, course, previous)
                await active(api, learner, lesson, videoPositionSeconds=2)
                total, clock = await stored(api, learner, course)
                assert clock is not None
                assert clock >= previous  # never moved back
                seen = clock - previous  # 0 when the stored clock was ahead and stayed
                expected += added_by_rule(seen) if gap >= 0 else 0
                assert total == expected, (gaps, gap, seen)

        asyncio.run_coroutine_threadsafe(check(), loop).result(timeout=60)

    # Hypothesis drives from a worker thread; the database is used on the test's event loop.
    await asyncio.to_thread(follows_the_rule)


# --- PostgreSQL: two tabs' heartbeats released together --------------------------------------------

ROUNDS = 10


async def released(barrier: asyncio.Barrier, request: Awaitable[int]) -> int:
    await barrier.wait()
    return await request


@pytest.mark.postgres_only
async def test_two_tabs_heartbeating_together_count_the_time_once(pg_api: Api) -> None:
    api = pg_api
    learner, course = await _learner_in(api)
    lesson = course.lesson_ids[0]
    await active(api, learner, lesson, videoPositionSeconds=1)

    for round_ in range(ROUNDS):
        before, _ = await stored(api, learner, course)
        await set_clock(api, learner, course, await db_now(api) - 10)
        barrier = asyncio.Barrier(2)

        tabs = await asyncio.gather(
            released(barrier, active(api, learner, lesson, videoPositionSeconds=round_)),
            released(barrier, active(api, learner, lesson, videoPositionSeconds=round_ + 1)),
        )

        after, _ = await stored(api, learner, course)
        # The row lock serialises them: one counts the 10 s, the other a gap of about 0.
        assert 10 <= after - before <= 11, (round_, before, tabs, after)
        assert max(tabs) == after, round_
        assert min(tabs) - before in range(0, 12), round_


# --- analytics: the engagement figures ----------------------------------------------------------------

ANALYTICS = """
query ActiveAnalytics($slug: String!, $from: DateTime!, $to: DateTime!) {
  courseAnalytics(course: {slug: $slug}) {
    enrolledLearners totalActiveSeconds averageActiveSeconds
    lessons { started averageActiveSeconds averageTimeSpentMinutes }
  }
  platformAnalytics(from: $from, to: $to) { enrollments totalActiveSeconds averageActiveSeconds }
}
"""


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def set_active(api: Api, learner: SeededUser, course: SeededCourse, index: int, seconds: int) -> None:
    async with api.db.write() as conn:
        await conn.execute(
            text("UPDATE lesson_progress SET active_seconds = :s WHERE user_id = :u AND lesson_id = :l"),
            {"s": seconds, "u": learner.pk, "l": course.lesson_pks[index]},
        )


async def test_analytics_sum_and_average_the_measured_seconds_beside_the_claimed_minutes(
    small_window: Api,
) -> None:
    api = small_window
    admin = await api.admin()
    course = await api.course(lessons=3)
    learners = [await api.user() for _ in range(3)]
    for one in learners:
        await api.enroll(one, course)
    # Learner 0: 100 s on lesson 0 and 20 s on lesson 1; learner 1: 50 s on lesson 0; learner 2
    # nothing at all (counts 0 in the per-enrollment average).
    for who, index, seconds, minutes in ((0, 0, 100, 9), (0, 1, 20, 1), (1, 0, 50, 3)):
        await upsert(api, learners[who], course.lesson_ids[index], timeSpentMinutes=minutes)
        await set_active(api, learners[who], course, index, seconds)
    window = {"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"}  # no enrollment in it

    data = await api.data(ANALYTICS, {"slug": course.slug, **window}, key=admin.key)
    today = datetime.now(UTC)
    around_now = {"from": iso(today - timedelta(days=1)), "to": iso(today + timedelta(days=1))}
    everything = await api.data(ANALYTICS, {"slug": course.slug, **around_now}, key=admin.key)

    assert data["courseAnalytics"]["enrolledLearners"] == 3
    assert data["courseAnalytics"]["totalActiveSeconds"] == 170
    assert data["courseAnalytics"]["averageActiveSeconds"] == 56.67  # 170 / 3
    assert data["courseAnalytics"]["lessons"] == [
        {"started": 2, "averageActiveSeconds": 75.0, "averageTimeSpentMinutes": 6.0},
        {"started": 1, "averageActiveSeconds": 20.0, "averageTimeSpentMinutes": 1.0},
        {"started": 0, "averageActiveSeconds": None, "averageTimeSpentMinutes": None},
    ]
    assert data["platformAnalytics"] == {
        "enrollments": 0,
        "totalActiveSeconds": 0,
        "averageActiveSeconds": None,
    }
    assert everything["platformAnalytics"] == {
        "enrollments": 3,
        "totalActiveSeconds": 170,
        "averageActiveSeconds": 56.67,
    }


@pytest.mark.postgres_only
async def test_two_tabs_first_heartbeats_together_make_one_record_with_no_time(pg_api: Api) -> None:
    api = pg_api
    course = await api.course(lessons=1)
    lesson = course.lesson_ids[0]

    for round_ in range(ROUNDS):
        learner = await api.user()
        await api.enroll(learner, course)
        await api.data("query { me { id } }", key=learner.key)  # the key warmed: both race the INSERT
        barrier = asyncio.Barrier(2)

        tabs = await asyncio.gather(
            released(barrier, active(api, learner, lesson, videoPositionSeconds=1)),
            released(barrier, active(api, learner, lesson, videoPositionSeconds=2)),
        )

        # One inserted; the other met the row and saw a gap of about 0 (at most a second's tick).
        assert max(tabs) <= 1, round_
        total, clock = await stored(api, learner, course)
        assert (total, clock is not None) == (max(tabs), True), round_
