"""What "complete" and "completion percentage" mean for a learner in a course: defined once here.

Progress is counted two ways, written side by side below and held to the same answers by a
property test (tests/test_summary.py): ``count_course`` over rows a request has in memory, and
``count_courses``, one SQL aggregate for many (user, course) pairs when it has not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, SQLColumnExpression, and_, bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.models import Lesson, LessonProgress


@dataclass(frozen=True)
class CourseCounts:
    """Aggregates of one learner's progress in one course (see count_course)."""

    user_id: int
    course_id: int
    total_lessons: int = 0
    required_lessons: int = 0
    completed_lessons: int = 0
    completed_required_lessons: int = 0
    in_progress_lessons: int = 0
    total_time_spent_minutes: int = 0
    total_active_seconds: int = 0
    last_accessed_at: datetime | None = None


@dataclass(frozen=True)
class CourseSummary:
    user_id: int
    course_id: int
    total_lessons: int
    completed_lessons: int
    in_progress_lessons: int
    required_lessons: int
    completed_required_lessons: int
    completion_percentage: float
    total_time_spent_minutes: int
    total_active_seconds: int
    last_accessed_at: datetime | None
    is_complete: bool


def count_course(
    user_id: int, course_id: int, lessons: Iterable[Any], records: Iterable[Any]
) -> CourseCounts:
    """Counts from the course's lessons (``id``, ``is_required``) and the user's records in it
    (``lesson_id``, ``completed``, ``time_spent_minutes``, ``active_seconds``, ``last_accessed_at``).

    The one place progress is counted: the API's reads and the completion engine both use it.
    """
    required = {lesson.id: lesson.is_required for lesson in lessons}
    completed = completed_required = in_progress = time_spent = active = 0
    last_accessed: datetime | None = None
    for record in records:
        if record.lesson_id not in required:
            continue
        if record.completed:
            completed += 1
            completed_required += required[record.lesson_id]
        else:
            in_progress += 1
        time_spent += record.time_spent_minutes
        active += record.active_seconds
        if record.last_accessed_at is not None and (
            last_accessed is None or record.last_accessed_at > last_accessed
        ):
            last_accessed = record.last_accessed_at
    return CourseCounts(
        user_id=user_id,
        course_id=course_id,
        total_lessons=len(required),
        required_lessons=sum(required.values()),
        completed_lessons=completed,
        completed_required_lessons=completed_required,
        in_progress_lessons=in_progress,
        total_time_spent_minutes=time_spent,
        total_active_seconds=active,
        last_accessed_at=last_accessed,
    )


def _count_if(condition: SQLColumnExpression[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


# count_course in SQL. What counts is the same: a course's current lessons (removed_at null), and
# the user's records on those lessons only. Each course's lessons are counted once and joined to
# each learner's aggregates over their records, so a pair costs no lesson rows of its own.
# Built once, as the loaders' statements are (api/loaders/lessons_by_course.py says why).
_COURSES: BindParameter[list[int]] = bindparam("courses", expanding=True)
_CURRENT_LESSONS = (
    select(
        Lesson.course_id,
        func.count().label("total"),
        _count_if(Lesson.is_required).label("required"),
    )
    .where(Lesson.course_id.in_(_COURSES), Lesson.removed_at.is_(None))
    .group_by(Lesson.course_id)
    .cte("current_lessons")
)
_RECORDS = (
    select(
        LessonProgress.user_id,
        Lesson.course_id,
        func.count().label("recorded"),
        _count_if(LessonProgress.completed).label("completed"),
        _count_if(and_(LessonProgress.completed, Lesson.is_required)).label("completed_required"),
        func.sum(LessonProgress.time_spent_minutes).label("time_spent"),
        func.sum(LessonProgress.active_seconds).label("active"),
        func.max(LessonProgress.last_accessed_at).label("last_accessed_at"),
    )
    .join(Lesson, Lesson.id == LessonProgress.lesson_id)
    .where(
        LessonProgress.user_id.in_(bindparam("users", expanding=True)),
        Lesson.course_id.in_(_COURSES),
        Lesson.removed_at.is_(None),
    )
    .group_by(LessonProgress.user_id, Lesson.course_id)
    .cte("learner_records")
)
# A course without records among these users comes back once, with a null user.
_COUNTS = select(
    _CURRENT_LESSONS.c.course_id,
    _CURRENT_LESSONS.c.total,
    _CURRENT_LESSONS.c.required,
    _RECORDS.c.user_id,
    _RECORDS.c.recorded,
    _RECORDS.c.completed,
    _RECORDS.c.completed_required,
    _RECORDS.c.time_spent,
    _RECORDS.c.active,
    _RECORDS.c.last_accessed_at,
).select_from(_CURRENT_LESSONS.outerjoin(_RECORDS, _RECORDS.c.course_id == _CURRENT_LESSONS.c.course_id))


async def count_courses(
    conn: AsyncConnection, pairs: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], CourseCounts]:
    """count_course for each (user id, course id) pair, in one statement; only the counts travel.

    Every pair gets an answer (zeros for a course without current lessons).
    """
    wanted = set(pairs)
    if not wanted:
        return {}
    lessons: dict[int, tuple[int, int]] = {}
    records: dict[tuple[int, int], Any] = {}
    parameters = {"users": sorted({u for u, _ in wanted}), "courses": sorted({c for _, c in wanted})}
    for row in await conn.execute(_COUNTS, parameters):
        lessons[row.course_id] = (int(row.total), int(row.required))
        if row.user_id is not None:
            records[(row.user_id, row.course_id)] = row
    counts = {}
    for user_id, course_id in wanted:
        total, required = lessons.get(course_id, (0, 0))
        found = records.get((user_id, course_id))
        if found is None:
            counts[(user_id, course_id)] = CourseCounts(user_id, course_id, total, required)
            continue
        counts[(user_id, course_id)] = CourseCounts(
            user_id=user_id,
            course_id=course_id,
            total_lessons=total,
            required_lessons=required,
            completed_lessons=int(found.completed),
            completed_required_lessons=int(found.completed_required),
            in_progress_lessons=int(found.recorded) - int(found.completed),
            total_time_spent_minutes=int(found.time_spent),
            total_active_seconds=int(found.active),
            last_accessed_at=found.last_accessed_at,
        )
    return counts


def counted_lessons(counts: CourseCounts) -> tuple[int, int]:
    """(done, needed): the lessons that count toward completing the course."""
    # A course that marks no lesson as required counts every lesson.
    if counts.required_lessons > 0:
        return counts.completed_required_lessons, counts.required_lessons
    return counts.completed_lessons, counts.total_lessons


def counted_lessons_sql(
    total: str, required: str, completed: str, completed_required: str
) -> tuple[str, str]:
    """counted_lessons in SQL, over the four counts' SQL expressions: (done, needed). The
    compiled reads (api/compiled) use it; tests/test_summary.py holds it to the Python."""
    return (
        f"(CASE WHEN {required} > 0 THEN {completed_required} ELSE {completed} END)",
        f"(CASE WHEN {required} > 0 THEN {required} ELSE {total} END)",
    )


def summarize(counts: CourseCounts) -> CourseSummary:
    done, needed = counted_lessons(counts)
    complete = needed > 0 and done >= needed
    return CourseSummary(
        user_id=counts.user_id,
        course_id=counts.course_id,
        total_lessons=counts.total_lessons,
        completed_lessons=counts.completed_lessons,
        in_progress_lessons=counts.in_progress_lessons,
        required_lessons=counts.required_lessons,
        completed_required_lessons=counts.completed_required_lessons,
        completion_percentage=completion_percentage(done, needed),
        total_time_spent_minutes=counts.total_time_spent_minutes,
        total_active_seconds=counts.total_active_seconds,
        last_accessed_at=counts.last_accessed_at,
        # A course without lessons is never complete: there is nothing to have finished.
        is_complete=complete,
    )


def completion_percentage(done: int, needed: int) -> float:
    """done / needed × 100 rounded to 2 decimals; 100 only when all are done, 0 when none is needed.

    Rounded half up in integers (hundredths of a percent), not with ``round()`` on a float: the
    same digits then come out of SQL (completion_percentage_sql), where a float's rounding
    differs (1 of 32 is 3.13 in both; Python's round(3.125, 2) alone says 3.12)."""
    if needed <= 0:
        return 0.0
    if done >= needed:
        return 100.0
    hundredths = (done * 20_000 + needed) // (2 * needed)
    # 100 means complete: rounding must never turn 19,999 of 20,000 into 100.
    return min(9_999, hundredths) / 100


def completion_percentage_sql(done: str, needed: str) -> str:
    """completion_percentage in SQL over two integer expressions, as a float8."""
    return (
        f"(CASE WHEN {needed} <= 0 THEN 0::float8 WHEN {done} >= {needed} THEN 100::float8 "
        f"ELSE least(9999, ({done}::bigint * 20000 + {needed}) / (2 * {needed}::bigint))::float8 / 100 END)"
    )


def is_complete_sql(done: str, needed: str) -> str:
    """summarize's is_complete in SQL: a course without lessons is never complete."""
    return f"({needed} > 0 AND {done} >= {needed})"
