"""Study plans and their instances, by id or as a user's list."""

from __future__ import annotations

from typing import Annotated

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
from gql_progress.api.queries.study_plan_listing import plans_of_user
from gql_progress.api.subjects import requested_subject
from gql_progress.api.types.study_plan import StudyPlan
from gql_progress.api.types.study_plan_instance import StudyPlanInstance
from gql_progress.domain.ids import decode_id

USER_ID = "Whose plans: defaults to the caller. Admins may name any user; others only themselves."


async def visible_study_plan(info: Info, pk: int) -> StudyPlan | None:
    """The plan, or None when it does not exist or belongs to someone the caller may not see.

    The two cases answer alike, so an id reveals nothing of other learners' plans.
    """
    row = await info.context.loaders.study_plan_by_id.load(pk)
    return (
        StudyPlan.from_row(row) if row is not None and info.context.viewer.can_access(row.user_id) else None
    )


async def visible_study_plan_instance(info: Info, pk: int) -> StudyPlanInstance | None:
    """The instance, or None as for visible_study_plan."""
    row = await info.context.loaders.study_plan_instance_by_id.load(pk)
    if row is None or not info.context.viewer.can_access(row.user_id):
        return None
    return StudyPlanInstance.from_row(row)


@strawberry.type
class StudyPlanQueries:
    @strawberry.field(
        description=(
            "A study plan by id; null when there is none or it is another learner's "
            "(the two are indistinguishable)."
        )
    )
    async def study_plan(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Global id.")]
    ) -> StudyPlan | None:
        return await visible_study_plan(info, decode_id(id, "StudyPlan", ("id",)))

    @strawberry.field(
        description=(
            "A study plan instance by id; null when there is none or it is another learner's "
            "(the two are indistinguishable)."
        )
    )
    async def study_plan_instance(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Global id.")]
    ) -> StudyPlanInstance | None:
        return await visible_study_plan_instance(info, decode_id(id, "StudyPlanInstance", ("id",)))

    @strawberry.field(description="The caller's (or userId's, for admins) study plans, oldest first.")
    async def study_plans(
        self,
        info: Info,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=USER_ID)] = None,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[StudyPlan]:
        return await plans_of_user(
            info, requested_subject(info, user_id), PageArguments(first, after, last, before)
        )
