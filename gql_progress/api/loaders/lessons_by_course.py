from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.models import Lesson

Key = int  # course id
Result = list[Row[Any]]  # the course's current lessons by position


# Built once, as every hot path's statement is: building a SELECT costs more CPU than
# PostgreSQL needs to run this one (bench/RESULTS.md, ladder step 6).
_LESSONS = (
    select(*Lesson.__table__.c)
    .where(Lesson.course_id.in_(bindparam("keys", expanding=True)), Lesson.removed_at.is_(None))
    .order_by(Lesson.course_id, Lesson.position)
)


class LessonsByCourseLoader(BatchLoader[Key, Result]):
    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        by_course: dict[int, list[Row[Any]]] = {k: [] for k in keys}
        async with self.db.read() as conn:
            rows = await conn.execute(_LESSONS, {"keys": list(keys)})
            for row in rows:
                by_course[row.course_id].append(row)
        return [by_course[k] for k in keys]
