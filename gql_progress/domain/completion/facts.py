"""What the completion engine counts: a course's lessons and one user's records in it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.models import Lesson, LessonProgress


@dataclass
class CourseFacts:
    lessons: list[Any] = field(default_factory=list)  # rows with id, position, is_required
    records: list[Any] = field(default_factory=list)  # rows with lesson_id, completed, …


async def course_facts(
    conn: AsyncConnection, user_id: int, course_ids: Iterable[int]
) -> dict[int, CourseFacts]:
    """Each course's current lessons with the user's record on each, in one statement."""
    wanted = sorted(set(course_ids))
    facts = {course_id: CourseFacts() for course_id in wanted}
    if not wanted:
        return facts
    for row in await conn.execute(_COURSE_FACTS, {"user_id": user_id, "course_ids": wanted}):
        facts[row.course_id].lessons.append(row)
        if row.lesson_id is not None:
            facts[row.course_id].records.append(row)
    return facts


# Built once, not per write: building a statement cost more CPU than SQLAlchemy's cached compile.
_COURSE_FACTS = (
    select(
        Lesson.course_id,
        Lesson.id,
        Lesson.position,
        Lesson.is_required,
        LessonProgress.lesson_id,
        LessonProgress.completed,
        LessonProgress.time_spent_minutes,
        LessonProgress.active_seconds,
        LessonProgress.last_accessed_at,
    )
    .outerjoin(
        LessonProgress,
        (LessonProgress.lesson_id == Lesson.id)
        & (LessonProgress.user_id == bindparam("user_id", type_=Integer())),
    )
    .where(Lesson.course_id.in_(bindparam("course_ids", expanding=True)), Lesson.removed_at.is_(None))
)
