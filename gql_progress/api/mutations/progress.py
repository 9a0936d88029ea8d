from __future__ import annotations

from typing import Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.inputs.given import given_columns
from gql_progress.api.inputs.lessons import one_lesson, requested_lessons
from gql_progress.api.inputs.progress import BulkSetCompletionInput, UpsertProgressInput
from gql_progress.api.lesson_refs import lesson_pk as lesson_pk_of
from gql_progress.api.raises import raises
from gql_progress.api.subjects import requested_subject
from gql_progress.api.types.course_summary import CourseSummary
from gql_progress.api.types.errors import (
    ForbiddenError,
    ItemError,
    NotEnrolledError,
    NotFoundError,
    SequenceError,
    ValidationError,
)
from gql_progress.api.types.progress import Progress
from gql_progress.domain.completion.bulk import BulkResult, LessonOutcome, set_completion
from gql_progress.domain.completion.sequence import OutOfSequence
from gql_progress.domain.completion.summary import CourseSummary as DomainSummary
from gql_progress.domain.completion.upsert import WRITABLE_COLUMNS, upsert_progress, validate_changes
from gql_progress.domain.errors import Forbidden, InvalidInput, NotEnrolled, NotFound, ProblemList
from gql_progress.domain.ids import decode_into, encode_id


@strawberry.type(description="The record as written and the course summary it leads to.")
class UpsertProgressSuccess:
    progress: Progress = strawberry.field(description="The record after the write.")
    known_summary: strawberry.Private[DomainSummary | None]

    @strawberry.field(description="The user's summary of the lesson's course after the write.")
    async def summary(self, info: Info) -> CourseSummary:
        # Computed in the write when completion changed; otherwise only if a client asks.
        summary = self.known_summary
        if summary is None:
            lesson = await info.context.loaders.lesson_by_id.load(self.progress.lesson_id)
            assert lesson is not None
            summary = await info.context.loaders.summary(self.progress.user_id, lesson.course_id)
        return CourseSummary.from_domain(summary)


UpsertProgressResult = Annotated[
    UpsertProgressSuccess
    | ValidationError
    | NotFoundError
    | NotEnrolledError
    | ForbiddenError
    | SequenceError,
    strawberry.union("UpsertProgressResult", description="The written record, or why nothing was written."),
]


@strawberry.type(description="The outcome for one requested lesson.")
class LessonCompletionResult:
    lesson_id: strawberry.ID = strawberry.field(
        description=(
            "The id as it was requested; for a lesson requested by externalId, its global id "
            "(empty when the externalId names no lesson)."
        )
    )
    external_id: str | None = strawberry.field(
        description="The externalId the lesson was requested by; null when it was requested by id."
    )
    success: bool = strawberry.field(description="Whether the lesson now has the requested completion.")
    error: ItemError | None = strawberry.field(description="Why it failed; null on success.")
    user_pk: strawberry.Private[int]
    lesson_pk: strawberry.Private[int | None]

    @strawberry.field(description="The record after the write; null when the item failed.")
    async def progress(self, info: Info) -> Progress | None:
        if not self.success or self.lesson_pk is None:
            return None
        row = await info.context.loaders.progress_by_user_lesson.load((self.user_pk, self.lesson_pk))
        return None if row is None else Progress.from_row(row)


@strawberry.type(description="Per-lesson outcomes of a bulk completion, in request order.")
class BulkSetCompletionSuccess:
    results: list[LessonCompletionResult] = strawberry.field(
        description="One result per requested id, in the order they were sent."
    )
    succeeded: int = strawberry.field(description="How many items succeeded.")
    failed: int = strawberry.field(description="How many items failed.")
    summaries: list[CourseSummary] = strawberry.field(
        description="The user's summary of each course the call changed."
    )


BulkSetCompletionResult = Annotated[
    BulkSetCompletionSuccess | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union(
        "BulkSetCompletionResult",
        description="Per-item outcomes, or why the whole call was refused (nothing written).",
    ),
]


@strawberry.type
class ProgressMutations:
    @strawberry.mutation(
        description=(
            "Create or update the one record of (user, lesson). Fields not sent keep their values. "
            "Needs an enrollment in the lesson's course. completedAt is set when completed turns "
            "true, kept while it stays true, cleared when it turns false."
        )
    )
    @raises(InvalidInput, NotFound, NotEnrolled, Forbidden, OutOfSequence)
    async def upsert_progress(
        self,
        info: Info,
        input: Annotated[UpsertProgressInput, strawberry.argument(description="What to write.")],
    ) -> UpsertProgressResult:
        changes = given_columns(input, WRITABLE_COLUMNS)
        problems = ProblemList()
        lesson = one_lesson(problems, input.lesson_id, input.lesson)
        user_pk = decode_into(problems, input.user_id, "User", ("userId",))
        instance_pk = decode_into(problems, input.instance_id, "StudyPlanInstance", ("instanceId",))
        if problems.problems:
            # Report the fields' problems with the ids'; otherwise upsert_progress checks
            # them, once, on the heartbeat's hot path.
            problems.problems += validate_changes(changes).problems
            problems.raise_if_any()
        assert lesson is not None
        user_pk = info.context.viewer.subject(user_pk)
        lesson_pk = await lesson_pk_of(info, lesson)
        write = await upsert_progress(
            info.context.db,
            user_id=user_pk,
            lesson_id=lesson_pk,
            changes=changes,
            instance_id=instance_pk,
            actor_user_id=info.context.viewer.user_id,
            active_window=info.context.settings.active_time_window_seconds,
        )
        return UpsertProgressSuccess(progress=Progress.from_row(write.record), known_summary=write.summary)

    @strawberry.mutation(
        description=(
            "Complete or un-complete up to 500 lessons. Each id succeeds or fails on its own "
            "(INVALID_ID, NOT_FOUND, NOT_ENROLLED); missing records are created; the completedAt "
            "rules of upsertProgress apply."
        )
    )
    @raises(InvalidInput, NotFound, Forbidden)
    async def bulk_set_completion(
        self,
        info: Info,
        input: Annotated[BulkSetCompletionInput, strawberry.argument(description="What to write.")],
    ) -> BulkSetCompletionResult:
        problems = ProblemList()
        requested = requested_lessons(problems, input.lesson_ids, input.lessons)
        problems.raise_if_any()
        user_pk = requested_subject(info, input.user_id)
        result = await set_completion(
            info.context.db,
            user_id=user_pk,
            requested=requested,
            completed=input.completed,
            actor_user_id=info.context.viewer.user_id,
        )
        return bulk_success(result, user_pk)


def _requested_id(outcome: LessonOutcome) -> str:
    if outcome.external_id is None:
        return outcome.requested_id
    return "" if outcome.lesson_id is None else encode_id("Lesson", outcome.lesson_id)


def bulk_success(result: BulkResult, user_pk: int) -> BulkSetCompletionSuccess:
    """The per-lesson outcomes of a bulk write (bulkSetCompletion, grantCompletion)."""
    results = [
        LessonCompletionResult(
            lesson_id=strawberry.ID(_requested_id(outcome)),
            external_id=outcome.external_id,
            success=outcome.error is None,
            error=None
            if outcome.error is None
            else ItemError(code=outcome.error.code, message=outcome.error.message),
            user_pk=user_pk,
            lesson_pk=outcome.lesson_id,
        )
        for outcome in result.outcomes
    ]
    failed = sum(1 for r in results if not r.success)
    return BulkSetCompletionSuccess(
        results=results,
        succeeded=len(results) - failed,
        failed=failed,
        summaries=[CourseSummary.from_domain(s) for s in result.summaries.values()],
    )
