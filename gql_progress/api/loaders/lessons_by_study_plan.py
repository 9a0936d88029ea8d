from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.models import Lesson, StudyPlanLesson
from gql_progress.db.rows import LessonRow, columns, make
from gql_progress.domain.study_plan_progress import PlanLesson

Key = int  # study plan id
Result = list[PlanLesson]  # the plan's current lessons in plan order


class LessonsByStudyPlanLoader(BatchLoader[Key, Result]):
    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        by_plan: dict[int, list[PlanLesson]] = {k: [] for k in keys}
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(StudyPlanLesson.study_plan_id, StudyPlanLesson.position, *columns(LessonRow))
                .join(StudyPlanLesson, StudyPlanLesson.lesson_id == Lesson.id)
                # Removed from its course: no longer part of any plan either (as in summaries).
                .where(StudyPlanLesson.study_plan_id.in_(keys), Lesson.removed_at.is_(None))
                .order_by(StudyPlanLesson.study_plan_id, StudyPlanLesson.position)
            )
            for plan_id, position, *lesson in rows:
                by_plan[plan_id].append(PlanLesson(position, make(LessonRow, lesson)))
        return [by_plan[k] for k in keys]
