"""The completion rule of domain/completion/summary.py: summarize, and the counts in Python and SQL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, delete, insert, update

from gql_progress.api.loaders import Loaders
from gql_progress.db.engine import Database
from gql_progress.db.models import MAX_MINUTES, Lesson, LessonProgress
from gql_progress.domain.completion.facts import course_facts
from gql_progress.domain.completion.summary import (
    CourseCounts,
    CourseSummary,
    completion_percentage_sql,
    count_course,
    counted_lessons_sql,
    is_complete_sql,
    summarize,
)
from tests.support import Api

# Lesson positions go up to 1_000_000 (catalog._validate_lesson), so a course can hold that many.
MAX_LESSONS = 1_000_001


def _counts(
    *, total: int, required: int = 0, completed: int = 0, completed_required: int = 0
) -> CourseCounts:
    return CourseCounts(
        user_id=1,
        course_id=2,
        total_lessons=total,
        required_lessons=required,
        completed_lessons=completed,
        completed_required_lessons=completed_required,
    )


@st.composite
def consistent_counts(draw: st.DrawFn, max_lessons: int = MAX_LESSONS) -> CourseCounts:
    """completed_required ≤ required ≤ total, completed ≤ total, completed_required ≤ completed."""
    total = draw(st.integers(0, max_lessons))
    required = draw(st.integers(0, total))
    completed_required = draw(st.integers(0, required))
    # Completed lessons that are not required come from the non-required ones.
    completed = completed_required + draw(st.integers(0, total - required))
    return _counts(total=total, required=required, completed=completed, completed_required=completed_required)


def test_only_required_lessons_count_when_some_are_required() -> None:
    # 4 of 5 lessons required; the learner did 2 required and the optional one.
    summary = summarize(_counts(total=5, required=4, completed=3, completed_required=2))

    assert summary.completion_percentage == 50.0
    assert not summary.is_complete


def test_course_is_complete_when_every_required_lesson_is_done_even_if_optional_ones_are_not() -> None:
    summary = summarize(_counts(total=5, required=4, completed=4, completed_required=4))

    assert summary.completion_percentage == 100.0
    assert summary.is_complete


def test_optional_lessons_alone_do_not_advance_completion() -> None:
    summary = summarize(_counts(total=5, required=4, completed=1, completed_required=0))

    assert summary.completion_percentage == 0.0
    assert not summary.is_complete


def test_every_lesson_counts_when_none_is_required() -> None:
    partial = summarize(_counts(total=4, completed=1))
    done = summarize(_counts(total=4, completed=4))

    assert partial.completion_percentage == 25.0
    assert not partial.is_complete
    assert done.completion_percentage == 100.0
    assert done.is_complete


def test_course_without_lessons_is_0_percent_and_never_complete() -> None:
    summary = summarize(_counts(total=0))

    assert summary.completion_percentage == 0.0
    assert not summary.is_complete


@pytest.mark.parametrize(
    ("done", "needed", "expected"),
    [(1, 3, 33.33), (2, 3, 66.67), (1, 6, 16.67), (1, 7, 14.29), (0, 3, 0.0), (3, 3, 100.0)],
)
def test_percentage_is_rounded_to_2_decimals(done: int, needed: int, expected: float) -> None:
    summary = summarize(_counts(total=needed, required=needed, completed=done, completed_required=done))

    assert summary.completion_percentage == expected


def test_summary_carries_the_counts_through() -> None:
    counts = CourseCounts(
        user_id=7,
        course_id=9,
        total_lessons=6,
        required_lessons=5,
        completed_lessons=3,
        completed_required_lessons=2,
        in_progress_lessons=1,
        total_time_spent_minutes=42,
    )

    summary = summarize(counts)

    assert (summary.user_id, summary.course_id) == (7, 9)
    assert (summary.total_lessons, summary.required_lessons) == (6, 5)
    assert (summary.completed_lessons, summary.completed_required_lessons) == (3, 2)
    assert (summary.in_progress_lessons, summary.total_time_spent_minutes) == (1, 42)
    assert summary.last_accessed_at is None


@given(consistent_counts())
def test_percentage_is_always_between_0_and_100(counts: CourseCounts) -> None:
    summary = summarize(counts)

    assert 0.0 <= summary.completion_percentage <= 100.0
    if counts.total_lessons == 0:
        assert summary.completion_percentage == 0.0
        assert not summary.is_complete


@given(consistent_counts())
@example(_counts(total=20_000, required=20_000, completed=19_999, completed_required=19_999))
@example(_counts(total=40_000, completed=39_999))
@example(_counts(total=19_999, required=19_999, completed=19_998, completed_required=19_998))
def test_is_complete_iff_percentage_is_100(counts: CourseCounts) -> None:
    summary = summarize(counts)

    if counts.total_lessons > 0:
        assert summary.is_complete == (summary.completion_percentage == 100.0)


# The rule in Python and in SQL (count_course and count_courses) on the same rows: random lessons
# (required or not, removed or current) and random records of two learners, on both databases.
USERS = 2
LESSONS_PER_COURSE = (4, 4, 3, 0)  # the last course never has a lesson
RANDOM_SETS = 40

_lesson_state = st.tuples(st.booleans(), st.booleans())  # (is_required, removed)
_record = st.none() | st.tuples(
    st.booleans(),  # completed
    st.integers(0, MAX_MINUTES),  # time_spent_minutes
    st.integers(0, 10**7),  # active_seconds
    st.none() | st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)),
)


@dataclass(frozen=True)
class _World:
    user_ids: list[int]
    course_ids: list[int]
    lesson_ids: list[int]  # every course's, in course order


async def _world(api: Api) -> _World:
    users = [await api.user() for _ in range(USERS)]
    courses = [await api.course(lessons=n) for n in LESSONS_PER_COURSE]
    return _World(
        [u.pk for u in users], [c.pk for c in courses], [pk for c in courses for pk in c.lesson_pks]
    )


async def _store(db: Database, world: _World, lessons: list[Any], records: list[Any]) -> None:
    removed = datetime(2024, 1, 1, tzinfo=UTC)
    async with db.write() as conn:
        await conn.execute(
            update(Lesson).where(Lesson.id == bindparam("lesson")),
            [
                {"lesson": pk, "is_required": required, "removed_at": removed if gone else None}
                for pk, (required, gone) in zip(world.lesson_ids, lessons, strict=True)
            ],
        )
        await conn.execute(delete(LessonProgress))
        rows = [
            {
                "user_id": user_id,
                "lesson_id": lesson_id,
                "completed": record[0],
                "completed_at": removed if record[0] else None,
                "time_spent_minutes": record[1],
                "active_seconds": record[2],
                "last_accessed_at": record[3],
            }
            for (user_id, lesson_id), record in zip(
                [(u, pk) for u in world.user_ids for pk in world.lesson_ids], records, strict=True
            )
            if record is not None
        ]
        if rows:
            await conn.execute(insert(LessonProgress), rows)


async def _summaries_both_ways(api: Api, world: _World) -> tuple[list[CourseSummary], list[CourseSummary]]:
    """(in SQL, in memory) through the request's loader, with the statements each way cost."""
    pairs = [(u, c) for u in world.user_ids for c in world.course_ids]

    in_sql = Loaders(api.db)
    api.db.statements.reset()
    from_sql = await in_sql.summary_by_user_course.load_many(pairs)
    assert api.db.statements.count == 1  # the aggregate, for every pair

    in_memory = Loaders(api.db)
    await asyncio.gather(
        in_memory.lessons_by_course.load_many(world.course_ids),
        in_memory.progress_by_user_course.load_many(pairs),
    )
    api.db.statements.reset()
    from_memory = await in_memory.summary_by_user_course.load_many(pairs)
    assert api.db.statements.count == 0  # counted from the rows the request had loaded

    # The write path (domain/completion/enrollment.py) counts the rows of course_facts in Python too.
    async with api.db.read() as conn:
        for user_id in world.user_ids:
            facts = await course_facts(conn, user_id, world.course_ids)
            for course_id, f in facts.items():
                written = summarize(count_course(user_id, course_id, f.lessons, f.records))
                assert written == from_sql[pairs.index((user_id, course_id))]
    return from_sql, from_memory


async def test_sql_and_python_counts_agree_on_random_lessons_and_records(api: Api) -> None:
    world = await _world(api)
    loop = asyncio.get_running_loop()
    records = USERS * len(world.lesson_ids)

    @settings(
        max_examples=RANDOM_SETS,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        lessons=st.lists(_lesson_state, min_size=len(world.lesson_ids), max_size=len(world.lesson_ids)),
        records=st.lists(_record, min_size=records, max_size=records),
    )
    @example(lessons=[(True, False)] * len(world.lesson_ids), records=[(True, 1, 1, None)] * records)
    @example(lessons=[(False, True)] * len(world.lesson_ids), records=[(False, 0, 0, None)] * records)
    def agree(lessons: list[Any], records: list[Any]) -> None:
        async def check() -> None:
            await _store(api.db, world, lessons, records)
            from_sql, from_memory = await _summaries_both_ways(api, world)
            assert from_sql == from_memory

        asyncio.run_coroutine_threadsafe(check(), loop).result(timeout=60)

    # Hypothesis drives from a worker thread; the database is used on the test's event loop.
    await asyncio.to_thread(agree)


# --- the SQL twins the compiled reads use (domain/completion/summary.py, api/compiled) ----------------


@pytest.mark.postgres_only
async def test_the_sql_twins_of_counted_lessons_percentage_and_is_complete_agree_with_python(
    pg_database_url: str,
) -> None:
    """counted_lessons_sql, completion_percentage_sql and is_complete_sql evaluated by PostgreSQL
    on many random consistent counts (ties such as 1 of 32 included) equal summarize()."""
    cases = st.lists(consistent_counts(max_lessons=2_000), min_size=200, max_size=200)
    db = Database(pg_database_url, pool_size=1)
    loop = asyncio.get_running_loop()
    try:

        @settings(max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
        @given(cases)
        @example([_counts(total=32, completed=1), _counts(total=20_000, completed=19_999)] * 100)
        def check(batch: list[CourseCounts]) -> None:
            asyncio.run_coroutine_threadsafe(_compare(db, batch), loop).result(timeout=60)

        # Hypothesis drives from a worker thread; the database is used on the test's event loop.
        await asyncio.to_thread(check)
    finally:
        await db.dispose()


async def _compare(db: Database, batch: list[CourseCounts]) -> None:
    done, needed = counted_lessons_sql("c.total", "c.required", "c.completed", "c.completed_required")
    rows = ", ".join(
        f"({c.total_lessons}, {c.required_lessons}, {c.completed_lessons}, {c.completed_required_lessons})"
        for c in batch
    )
    sql = (
        f"SELECT {completion_percentage_sql(done, needed)}, {is_complete_sql(done, needed)} "
        f"FROM (VALUES {rows}) AS c(total, required, completed, completed_required)"
    )
    async with db.read() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        answers = await driver.fetch(sql)
    for counts, (percentage, complete) in zip(batch, answers, strict=True):
        expected = summarize(counts)
        assert (percentage, complete) == (expected.completion_percentage, expected.is_complete), counts
