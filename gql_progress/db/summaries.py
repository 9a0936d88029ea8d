"""Per-(learner, course) aggregates of lessons and progress, in one statement for any number of pairs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Integer, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.models import Lesson, LessonProgress
from gql_progress.domain.summary import CourseCounts

UserCourse = tuple[int, int]


def _count_if(condition: Any) -> Any:
    # sum(CASE …) rather than count(*) FILTER: the same SQL on both databases.
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).cast(Integer)


async def course_counts(conn: AsyncConnection, pairs: Iterable[UserCourse]) -> dict[UserCourse, CourseCounts]:
    wanted = set(pairs)
    if not wanted:
        return {}
    user_ids = sorted({u for u, _ in wanted})
    course_ids = sorted({c for _, c in wanted})

    lesson_totals = (
        select(
            Lesson.course_id,
            func.count().label("total"),
            _count_if(Lesson.is_required).label("required"),
        )
        .where(Lesson.course_id.in_(course_ids))
        .group_by(Lesson.course_id)
        .subquery()
    )
    progress_totals = (
        select(
            LessonProgress.user_id,
            Lesson.course_id,
            _count_if(LessonProgress.completed).label("completed"),
            _count_if(and_(LessonProgress.completed, Lesson.is_required)).label("completed_required"),
            _count_if(~LessonProgress.completed).label("in_progress"),
            func.coalesce(func.sum(LessonProgress.time_spent_minutes), 0).label("time_spent"),
            func.max(LessonProgress.last_accessed_at).label("last_accessed_at"),
        )
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(LessonProgress.user_id.in_(user_ids), Lesson.course_id.in_(course_ids))
        .group_by(LessonProgress.user_id, Lesson.course_id)
        .subquery()
    )
    # Lesson totals per course, with each user's progress totals joined on; a pair with no
    # progress gets the course totals and zeros.
    statement = select(
        lesson_totals.c.course_id,
        lesson_totals.c.total,
        lesson_totals.c.required,
        progress_totals.c.user_id,
        progress_totals.c.completed,
        progress_totals.c.completed_required,
        progress_totals.c.in_progress,
        progress_totals.c.time_spent,
        progress_totals.c.last_accessed_at,
    ).select_from(
        lesson_totals.outerjoin(progress_totals, progress_totals.c.course_id == lesson_totals.c.course_id)
    )
    totals: dict[int, tuple[int, int]] = {}
    by_pair: dict[UserCourse, CourseCounts] = {}
    for row in (await conn.execute(statement)).all():
        totals[row.course_id] = (row.total, row.required)
        if row.user_id is not None and (row.user_id, row.course_id) in wanted:
            by_pair[(row.user_id, row.course_id)] = CourseCounts(
                user_id=row.user_id,
                course_id=row.course_id,
                total_lessons=row.total,
                required_lessons=row.required,
                completed_lessons=row.completed,
                completed_required_lessons=row.completed_required,
                in_progress_lessons=row.in_progress,
                total_time_spent_minutes=int(row.time_spent),
                last_accessed_at=row.last_accessed_at,
            )
    for user_id, course_id in wanted - by_pair.keys():
        total, required = totals.get(course_id, (0, 0))
        by_pair[(user_id, course_id)] = CourseCounts(
            user_id=user_id, course_id=course_id, total_lessons=total, required_lessons=required
        )
    return by_pair
