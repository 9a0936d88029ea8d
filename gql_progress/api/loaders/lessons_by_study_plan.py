from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.models import Lesson, StudyPlanLesson

Key = int  # study plan id
# The plan's current lessons in plan order: the lesson's columns plus plan_position.
Result = list[Row[Any]]

_COLUMNS: tuple[ColumnElement[Any], ...] = (
    *Lesson.__table__.c,
    StudyPlanLesson.__table__.c.study_plan_id,
    StudyPlanLesson.__table__.c.position.label("plan_position"),
)


class LessonsByStudyPlanLoader(BatchLoader[Key, Result]):
    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        by_plan: dict[int, list[Row[Any]]] = {k: [] for k in keys}
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(*_COLUMNS)
                .join(StudyPlanLesson, StudyPlanLesson.lesson_id == Lesson.id)
                # Removed from its course: no longer part of any plan either (as in summaries).
                .where(StudyPlanLesson.study_plan_id.in_(keys), Lesson.removed_at.is_(None))
                .order_by(StudyPlanLesson.study_plan_id, StudyPlanLesson.position)
            )
            for row in rows:
                by_plan[row.study_plan_id].append(row)
        return [by_plan[k] for k in keys]
