from __future__ import annotations

from typing import Annotated, Any

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.inputs.given import given_columns
from gql_progress.api.inputs.study_plans import CreateStudyPlanInput, UpdateStudyPlanInput
from gql_progress.api.raises import raises
from gql_progress.api.subjects import requested_subject
from gql_progress.api.types.errors import ForbiddenError, NotFoundError, ValidationError
from gql_progress.api.types.study_plan import StudyPlan
from gql_progress.api.types.study_plan_instance import StudyPlanInstance
from gql_progress.domain import study_plans
from gql_progress.domain.errors import Forbidden, InvalidInput, NotFound, ProblemList
from gql_progress.domain.ids import decode_id, decode_into


@strawberry.type(description="The study plan as saved.")
class StudyPlanPayload:
    study_plan: StudyPlan = strawberry.field(description="The plan after the change.")


@strawberry.type(description="The instance just started.")
class StudyPlanInstancePayload:
    study_plan_instance: StudyPlanInstance = strawberry.field(description="The new instance.")


StudyPlanResult = Annotated[
    StudyPlanPayload | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("StudyPlanResult", description="The saved study plan, or why nothing was saved."),
]
StartStudyPlanInstanceResult = Annotated[
    StudyPlanInstancePayload | ValidationError | NotFoundError,
    strawberry.union(
        "StartStudyPlanInstanceResult", description="The new instance, or why none was started."
    ),
]


def _plan_values(problems: ProblemList, input: CreateStudyPlanInput | UpdateStudyPlanInput) -> dict[str, Any]:
    """The sent fields as the domain takes them; malformed lesson ids noted as problems."""
    values = given_columns(input, ("title", "lesson_ids"))
    if values.get("lesson_ids") is not None:
        values["lesson_ids"] = [
            decode_into(problems, raw, "Lesson", ("lessonIds", str(index)))
            for index, raw in enumerate(values["lesson_ids"])
        ]
    return values


@strawberry.type
class StudyPlanMutations:
    @strawberry.mutation(
        description=(
            "Create a study plan: a title and an ordered list of lessons from any courses. "
            "Every bad field is reported at once."
        )
    )
    @raises(InvalidInput, NotFound, Forbidden)
    async def create_study_plan(
        self,
        info: Info,
        input: Annotated[CreateStudyPlanInput, strawberry.argument(description="What to write.")],
    ) -> StudyPlanResult:
        owner = requested_subject(info, input.user_id)
        problems = ProblemList()
        values = _plan_values(problems, input)
        row = await study_plans.create_plan(info.context.db, user_id=owner, values=values, problems=problems)
        return StudyPlanPayload(study_plan=StudyPlan.from_row(row))

    @strawberry.mutation(
        description=(
            "Change a study plan's title and/or replace its ordered lessons. Another learner's "
            "plan is NOT_FOUND, as one that does not exist."
        )
    )
    @raises(InvalidInput, NotFound, Forbidden)
    async def update_study_plan(
        self,
        info: Info,
        input: Annotated[UpdateStudyPlanInput, strawberry.argument(description="What to write.")],
    ) -> StudyPlanResult:
        problems = ProblemList()
        plan_pk = decode_into(problems, input.id, "StudyPlan", ("id",))
        values = _plan_values(problems, input)
        if plan_pk is None:
            # No plan to update: still report the other fields' problems with the id's.
            study_plans.validate_plan(problems, values)
            problems.raise_if_any()
        assert plan_pk is not None
        row = await study_plans.update_plan(info.context.db, info.context.viewer, plan_pk, values, problems)
        return StudyPlanPayload(study_plan=StudyPlan.from_row(row))

    @strawberry.mutation(
        description=(
            "Start a new instance of a study plan; it belongs to the plan's owner, who may hold "
            "several instances of one plan. Another learner's plan is NOT_FOUND."
        )
    )
    @raises(InvalidInput, NotFound)
    async def start_study_plan_instance(
        self,
        info: Info,
        plan_id: Annotated[strawberry.ID, strawberry.argument(description="The study plan.")],
    ) -> StartStudyPlanInstanceResult:
        plan_pk = decode_id(plan_id, "StudyPlan", ("planId",))
        row = await study_plans.start_instance(info.context.db, info.context.viewer, plan_pk)
        return StudyPlanInstancePayload(study_plan_instance=StudyPlanInstance.from_row(row))
