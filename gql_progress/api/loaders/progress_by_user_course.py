from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.models import Lesson, LessonProgress
from gql_progress.domain.completion.statements import PROGRESS_COLUMNS

Key = tuple[int, int]  # (user id, course id)
Result = dict[int, Row[Any]]  # the user's records in the course, by lesson id


# Built once (see lessons_by_course.py).
_RECORDS = (
    select(*PROGRESS_COLUMNS, Lesson.course_id)
    .join(Lesson, Lesson.id == LessonProgress.lesson_id)
    .where(
        LessonProgress.user_id.in_(bindparam("users", expanding=True)),
        Lesson.course_id.in_(bindparam("courses", expanding=True)),
        Lesson.removed_at.is_(None),
    )
)


class ProgressByUserCourseLoader(BatchLoader[Key, Result]):
    """A course page's progress in one batch: every lesson reads its record from here."""

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        by_key: dict[Key, Result] = {key: {} for key in keys}
        async with self.db.read() as conn:
            users = sorted({u for u, _ in keys})
            rows = await conn.execute(_RECORDS, {"users": users, "courses": sorted({c for _, c in keys})})
            for row in rows:
                records = by_key.get((row.user_id, row.course_id))
                if records is not None:
                    records[row.lesson_id] = row  # type: ignore[assignment]  # wider Row arity
        return [by_key[key] for key in keys]
