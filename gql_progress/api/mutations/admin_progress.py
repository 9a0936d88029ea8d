from __future__ import annotations

from typing import Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.inputs.lessons import LESSON_IDS_DEPRECATION, LessonRefInput, requested_lessons
from gql_progress.api.mutations.progress import BulkSetCompletionSuccess, bulk_success
from gql_progress.api.raises import raises
from gql_progress.api.types.course_summary import CourseSummary
from gql_progress.api.types.enrollment import Enrollment
from gql_progress.api.types.errors import (
    ForbiddenError,
    NotEnrolledError,
    NotFoundError,
    ValidationError,
)
from gql_progress.domain.completion import admin as admin_progress
from gql_progress.domain.errors import Forbidden, InvalidInput, NotEnrolled, NotFound, ProblemList
from gql_progress.domain.ids import decode_into


@strawberry.input(description="Whose progress in which course to clear, and why.")
class ResetProgressInput:
    user_id: strawberry.ID = strawberry.field(description="The learner.")
    course_id: strawberry.ID = strawberry.field(description="The course.")
    reason: str = strawberry.field(
        description="Why (kept on the PROGRESS_RESET event; up to 1000 characters)."
    )


@strawberry.input(description="Lessons to complete on a learner's behalf, and why.")
class GrantCompletionInput:
    user_id: strawberry.ID = strawberry.field(description="The learner.")
    lessons: list[LessonRefInput] | None = strawberry.field(
        default=None,
        description=(
            "Lessons to complete (up to 500), by global id or the platform's externalId (or send lessonIds)."
        ),
    )
    lesson_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Lessons to complete (up to 500). Give this or lessons, not both.",
        deprecation_reason=LESSON_IDS_DEPRECATION,
    )
    reason: str = strawberry.field(
        description="Why: kept on each record (grantReason) and COMPLETION_GRANTED event; up to 1000 chars."
    )


@strawberry.type(description="The learner's enrollment after the reset, still enrolled and ACTIVE.")
class ResetProgressPayload:
    enrollment: Enrollment = strawberry.field(description="The enrollment, back to ACTIVE.")
    cleared_records: int = strawberry.field(description="How many progress records were deleted.")

    @strawberry.field(description="The learner's summary of the course after the reset.")
    async def summary(self, info: Info) -> CourseSummary:
        summary = await info.context.loaders.summary(self.enrollment.user_id, self.enrollment.course_id)
        return CourseSummary.from_domain(summary)


ResetProgressResult = Annotated[
    ResetProgressPayload | ValidationError | NotFoundError | NotEnrolledError | ForbiddenError,
    strawberry.union("ResetProgressResult", description="The reset enrollment, or why nothing changed."),
]
GrantCompletionResult = Annotated[
    BulkSetCompletionSuccess | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union(
        "GrantCompletionResult",
        description="Per-lesson outcomes as in bulkSetCompletion, or why the whole call was refused.",
    ),
]


@strawberry.type
class AdminProgressMutations:
    @strawberry.mutation(
        description=(
            "Clear a learner's progress in a course (admin): their records on its current lessons "
            "are deleted, the enrollment goes back to ACTIVE, they stay enrolled, a certificate "
            "already issued is kept, and a PROGRESS_RESET event records the reason."
        )
    )
    @raises(InvalidInput, NotFound, NotEnrolled, Forbidden)
    async def reset_progress(
        self,
        info: Info,
        input: Annotated[ResetProgressInput, strawberry.argument(description="What to reset.")],
    ) -> ResetProgressResult:
        info.context.viewer.require_admin()
        problems = ProblemList()
        user_pk = decode_into(problems, input.user_id, "User", ("userId",))
        course_pk = decode_into(problems, input.course_id, "Course", ("courseId",))
        user_pk = problems.read_or_raise(user_pk)
        course_pk = problems.read_or_raise(course_pk)
        result = await admin_progress.reset_progress(
            info.context.db,
            actor_user_id=info.context.viewer.user_id,
            user_id=user_pk,
            course_id=course_pk,
            reason=input.reason,
        )
        return ResetProgressPayload(
            enrollment=Enrollment.from_row(result.enrollment), cleared_records=result.cleared_records
        )

    @strawberry.mutation(
        description=(
            "Complete lessons on a learner's behalf (admin). Each record remembers who granted it "
            "and why (Progress.grantedBy, grantReason); lessons the learner completed already keep "
            "their completedAt and story. The completion rules then run as for any completion "
            "(enrollment, certificate, events, plus a COMPLETION_GRANTED event per new completion); "
            "a sequential course's order does not bind an admin."
        )
    )
    @raises(InvalidInput, NotFound, Forbidden)
    async def grant_completion(
        self,
        info: Info,
        input: Annotated[GrantCompletionInput, strawberry.argument(description="What to grant.")],
    ) -> GrantCompletionResult:
        info.context.viewer.require_admin()
        problems = ProblemList()
        user_pk = decode_into(problems, input.user_id, "User", ("userId",))
        requested = requested_lessons(problems, input.lesson_ids, input.lessons)
        user_pk = problems.read_or_raise(user_pk)
        result = await admin_progress.grant_completion(
            info.context.db,
            actor_user_id=info.context.viewer.user_id,
            user_id=user_pk,
            requested=requested,
            reason=input.reason,
        )
        return bulk_success(result, user_pk)
