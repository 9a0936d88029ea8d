from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.types.node import Node
from gql_progress.api.types.study_plan_resource import StudyPlanResource
from gql_progress.db.rows import StudyPlanInstanceRow
from gql_progress.domain.ids import encode_id
from gql_progress.domain.study_plan_progress import InstanceProgress, instance_progress

if TYPE_CHECKING:
    from gql_progress.api.types.study_plan import StudyPlan
    from gql_progress.api.types.user import User


@strawberry.type(
    description=(
        "One run through a study plan, by the plan's owner. It stores no progress of its own: "
        "a lesson completed anywhere (through any instance, the course page, a bulk completion) "
        "is completed in every instance."
    )
)
class StudyPlanInstance(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    started_at: datetime = strawberry.field(description="When the instance was started.")
    pk: strawberry.Private[int]
    plan_id: strawberry.Private[int]
    user_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: StudyPlanInstanceRow) -> StudyPlanInstance:
        return cls(
            id=strawberry.ID(encode_id("StudyPlanInstance", row.id)),
            started_at=row.started_at,
            pk=row.id,
            plan_id=row.study_plan_id,
            user_id=row.user_id,
        )

    @strawberry.field(description="The plan this instance runs through.")
    async def plan(
        self, info: Info
    ) -> Annotated[StudyPlan, strawberry.lazy("gql_progress.api.types.study_plan")]:
        from gql_progress.api.types.study_plan import StudyPlan

        row = await info.context.loaders.study_plan_by_id.load(self.plan_id)
        assert row is not None  # instances cascade with their plan
        return StudyPlan.from_row(row)

    @strawberry.field(description="The learner working through it (the plan's owner).")
    async def user(self, info: Info) -> Annotated[User, strawberry.lazy("gql_progress.api.types.user")]:
        from gql_progress.api.types.user import user_by_pk

        return await user_by_pk(info, self.user_id)

    @strawberry.field(
        description=(
            "The plan's lessons in plan order with the learner's completion of each; lessons "
            "removed from their course are left out."
        )
    )
    async def resources(self, info: Info) -> list[StudyPlanResource]:
        progress = await self._progress(info)
        return [StudyPlanResource.from_domain(r, user_id=self.user_id) for r in progress.resources]

    @strawberry.field(
        description="Global ids of the resources' lessons the learner completed, in plan order."
    )
    async def completed_resources(self, info: Info) -> list[strawberry.ID]:
        progress = await self._progress(info)
        return [strawberry.ID(encode_id("Lesson", r.lesson.id)) for r in progress.completed]

    @strawberry.field(
        description=(
            "Completed resources / resources × 100, rounded to 2 decimals; 100 only when every "
            "resource is completed, 0 for a plan without resources."
        )
    )
    async def completion_percentage(self, info: Info) -> float:
        return (await self._progress(info)).completion_percentage

    async def _progress(self, info: Info) -> InstanceProgress:
        # Batched across every instance of the request: one statement for the plans' lessons,
        # one for the learners' records, whatever the number of instances.
        loaders = info.context.loaders
        lessons = await loaders.lessons_by_study_plan.load(self.plan_id)
        records = await loaders.progress_by_user_lesson.load_many(
            [(self.user_id, lesson.id) for _, lesson in lessons]
        )
        return instance_progress(lessons, records)
