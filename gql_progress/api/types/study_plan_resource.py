from __future__ import annotations

from datetime import datetime

import strawberry

from gql_progress.api.types.lesson import Lesson
from gql_progress.domain.study_plan_progress import Resource


@strawberry.type(description="One lesson of a study plan instance with the learner's completion of it.")
class StudyPlanResource:
    position: int = strawberry.field(
        description="Order within the plan, from 0 (a lesson removed from its course leaves a gap)."
    )
    lesson: Lesson = strawberry.field(description="The lesson; its progress fields are the learner's.")
    completed: bool = strawberry.field(
        description="Whether the learner completed the lesson, through this instance or anywhere else."
    )
    completed_at: datetime | None = strawberry.field(
        description="When the learner completed the lesson; null while it is not completed."
    )

    @classmethod
    def from_domain(cls, resource: Resource, *, user_id: int) -> StudyPlanResource:
        return cls(
            position=resource.position,
            lesson=Lesson.from_row(resource.lesson, subject_user_id=user_id),
            completed=resource.completed,
            completed_at=resource.completed_at,
        )
