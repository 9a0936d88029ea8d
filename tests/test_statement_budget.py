"""Statements per request for the benchmarked operations (issue 3's budget), counted, not timed.

The documents are the benchmark's own (bench/operations.py), so the budget guarded here is the
one `make bench` reports.
"""

from __future__ import annotations

from bench.operations import BULK_COMPLETION, COURSE_PAGE, DASHBOARD, HEARTBEAT
from tests.support import Api, SeededCourse, SeededUser


async def _enrolled(api: Api, lessons: int) -> tuple[SeededUser, SeededCourse]:
    learner = await api.user()
    course = await api.course(lessons=lessons)
    await api.enroll(learner, course)
    half = course.lesson_ids[: lessons // 2]
    await api.data(BULK_COMPLETION, {"ids": half, "completed": True}, key=learner.key)
    return learner, course


async def test_course_page_costs_at_most_4_statements_for_50_and_for_200_lessons(api: Api) -> None:
    short_learner, short = await _enrolled(api, 50)
    long_learner, long = await _enrolled(api, 200)

    q1 = await api.statements(COURSE_PAGE, {"slug": short.slug}, key=short_learner.key)
    q2 = await api.statements(COURSE_PAGE, {"slug": long.slug}, key=long_learner.key)

    assert q1 == q2
    assert q1 <= 4  # key, course, lessons, the learner's records in the course


async def test_heartbeat_costs_at_most_2_statements(api: Api) -> None:
    learner, course = await _enrolled(api, 50)
    variables = {"lessonId": course.lesson_ids[-1], "video": 95, "last": 95, "minutes": 3}

    # Counted with live updates on: the write announces itself to subscribers once committed
    # (on PostgreSQL the process's notifier sends a batch of notices with NOTIFY on its own
    # connection, outside any request, so no request counts it; tests/test_live_batches.py
    # counts those).
    assert api.db.live_channel is not None
    # key, then one INSERT … SELECT … ON CONFLICT
    assert await api.statements(HEARTBEAT, variables, key=learner.key) <= 2
    # …and the counted request really wrote (a refusal would be cheaper).
    written = await api.data(HEARTBEAT, {**variables, "video": 96}, key=learner.key)
    assert written["upsertProgress"]["__typename"] == "UpsertProgressSuccess"


async def test_bulk_completion_of_50_lessons_costs_at_most_7_statements(api: Api) -> None:
    learner, course = await _enrolled(api, 50)
    other = await api.course(lessons=50)
    await api.enroll(learner, other)
    await api.statements(BULK_COMPLETION, {"ids": other.lesson_ids, "completed": False}, key=learner.key)

    api.db.statements.reset()
    data = await api.data(BULK_COMPLETION, {"ids": course.lesson_ids, "completed": True}, key=learner.key)
    count = api.db.statements.count

    assert data["bulkSetCompletion"]["failed"] == 0
    # key, lessons, enrollment lock, upsert, course facts, enrollment update, the event log
    # (their live notices are sent after the commit, by the notifier)
    assert count <= 7


async def test_dashboard_costs_at_most_4_statements(api: Api) -> None:
    learner, _ = await _enrolled(api, 10)
    for _ in range(3):
        await api.enroll(learner, await api.course(lessons=4))

    # key (with the caller's user row), enrollments, courses, and the summaries as one aggregate:
    # no lesson or progress rows are loaded to count them
    assert await api.statements(DASHBOARD, {}, key=learner.key) <= 4
