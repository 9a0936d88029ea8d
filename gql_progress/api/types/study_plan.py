from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.pagination import (
    AfterArgument,
    BeforeArgument,
    Connection,
    FirstArgument,
    LastArgument,
    PageArguments,
)
from gql_progress.api.types.lesson import Lesson
from gql_progress.api.types.node import Node
from gql_progress.api.types.study_plan_instance import StudyPlanInstance
from gql_progress.db.rows import StudyPlanRow
from gql_progress.domain.ids import encode_id

if TYPE_CHECKING:
    from gql_progress.api.types.user import User


@strawberry.type(
    description=(
        "A learner's own ordered list of lessons, from any courses. Work through it by starting "
        "instances; progress stays the learner's one record per lesson, shared by every instance."
    )
)
class StudyPlan(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    title: str = strawberry.field(description="Title.")
    created_at: datetime = strawberry.field(description="When the plan was created.")
    updated_at: datetime = strawberry.field(description="When the plan's title or lessons last changed.")
    pk: strawberry.Private[int]
    owner_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: StudyPlanRow) -> StudyPlan:
        return cls(
            id=strawberry.ID(encode_id("StudyPlan", row.id)),
            title=row.title,
            created_at=row.created_at,
            updated_at=row.updated_at,
            pk=row.id,
            owner_id=row.user_id,
        )

    @strawberry.field(description="The learner the plan belongs to.")
    async def owner(self, info: Info) -> Annotated[User, strawberry.lazy("gql_progress.api.types.user")]:
        from gql_progress.api.types.user import user_by_pk

        return await user_by_pk(info, self.owner_id)

    @strawberry.field(
        description=(
            "The plan's lessons in plan order; lessons removed from their course are left out. "
            "Their progress fields are the owner's."
        )
    )
    async def lessons(self, info: Info) -> list[Lesson]:
        lessons = await info.context.loaders.lessons_by_study_plan.load(self.pk)
        return [Lesson.from_row(lesson, subject_user_id=self.owner_id) for _, lesson in lessons]

    @strawberry.field(description="The instances started of this plan, oldest first, a page at a time.")
    async def instances(
        self,
        info: Info,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[StudyPlanInstance]:
        from gql_progress.api.queries.study_plan_listing import instances_of_plan

        return await instances_of_plan(info, self.pk, PageArguments(first, after, last, before))
