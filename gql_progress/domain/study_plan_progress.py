"""What a study plan instance shows, and when progress may be recorded through one.

An instance stores nothing but who started which plan when: its resources, their completion
and its percentage are computed from the learner's one record per lesson, the same records
course summaries count. Lessons removed from their course are left out, as in courses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.models import StudyPlanInstance, StudyPlanLesson
from gql_progress.db.rows import LessonRow, ProgressRow
from gql_progress.domain.completion.summary import completion_percentage
from gql_progress.domain.errors import FieldProblem, InvalidInput, NotFound


class PlanLesson(NamedTuple):
    """One of a plan's current lessons and its place in the plan."""

    position: int
    lesson: LessonRow


@dataclass(frozen=True)
class Resource:
    """One lesson of the plan with the learner's standing on it."""

    position: int
    lesson: LessonRow
    completed_at: datetime | None

    @property
    def completed(self) -> bool:
        return self.completed_at is not None


@dataclass(frozen=True)
class InstanceProgress:
    resources: list[Resource]

    @property
    def completed(self) -> list[Resource]:
        return [resource for resource in self.resources if resource.completed]

    @property
    def completion_percentage(self) -> float:
        """Completed resources / resources × 100 (0 for an empty plan, 100 only when all are done)."""
        return completion_percentage(len(self.completed), len(self.resources))


def instance_progress(
    lessons: Sequence[PlanLesson], records: Sequence[ProgressRow | None]
) -> InstanceProgress:
    """``lessons``: the plan's current lessons in plan order; ``records``: the learner's record of
    each lesson, or None where there is none."""
    return InstanceProgress(
        resources=[
            Resource(
                position=position,
                lesson=lesson,
                completed_at=record.completed_at if record is not None and record.completed else None,
            )
            for (position, lesson), record in zip(lessons, records, strict=True)
        ]
    )


async def check_write_through_instance(
    conn: AsyncConnection, *, instance_id: int, user_id: int, lesson_id: int
) -> None:
    """Refuse, before anything is written, progress sent through an instance it cannot go through.

    The instance must exist, belong to ``user_id`` (the learner being written for) and its plan
    must hold the lesson. Runs in the write's own transaction.
    """
    # No lock on the plan: a lock row-writes the plan on every heartbeat sent through an
    # instance. Racing an updateStudyPlan can at worst record progress on a lesson that just
    # left the plan, which is the learner's own global record and harmless.
    statement = (
        select(StudyPlanInstance.user_id, StudyPlanLesson.id.label("plan_lesson_id"))
        .outerjoin(
            StudyPlanLesson,
            (StudyPlanLesson.study_plan_id == StudyPlanInstance.study_plan_id)
            & (StudyPlanLesson.lesson_id == lesson_id),
        )
        .where(StudyPlanInstance.id == instance_id)
    )
    row = (await conn.execute(statement)).first()
    # Another user's instance is answered exactly like one that does not exist (the IDOR rule):
    # the same code and message, and nothing said of its plan or lessons.
    if row is None or row.user_id != user_id:
        raise NotFound("study plan instance")
    if row.plan_lesson_id is None:
        raise InvalidInput(
            [FieldProblem(("lesson_id",), "is not a lesson of the study plan instance's plan")]
        )
