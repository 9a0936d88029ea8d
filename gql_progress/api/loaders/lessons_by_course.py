from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.models import Lesson
from gql_progress.db.rows import LessonRow, columns

Key = int  # course id
Result = list[LessonRow]  # the course's current lessons by position


# Built once, as every hot path's statement is: building a SELECT costs more CPU than
# PostgreSQL needs to run this one (bench/RESULTS.md, ladder step 6).
_LESSONS = (
    select(*columns(LessonRow))
    .where(Lesson.course_id.in_(bindparam("keys", expanding=True)), Lesson.removed_at.is_(None))
    .order_by(Lesson.course_id, Lesson.position)
)


class LessonsByCourseLoader(BatchLoader[Key, Result]):
    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        by_course: dict[int, list[LessonRow]] = {k: [] for k in keys}
        async with self.db.read() as conn:
            rows = await conn.execute(_LESSONS, {"keys": list(keys)})
            for row in map(LessonRow._make, rows):
                by_course[row.course_id].append(row)
        return [by_course[k] for k in keys]
