from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.models import Lesson, LessonProgress
from gql_progress.db.rows import ProgressRow, columns

Key = tuple[int, int]  # (user id, course id)
Result = dict[int, ProgressRow]  # the user's records in the course, by lesson id


# Built once (see lessons_by_course.py).
_RECORDS = (
    select(Lesson.course_id, *columns(ProgressRow))
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
            for course_id, *columns_of_record in rows:
                record = ProgressRow._make(columns_of_record)
                records = by_key.get((record.user_id, course_id))
                if records is not None:
                    records[record.lesson_id] = record
        return [by_key[key] for key in keys]
