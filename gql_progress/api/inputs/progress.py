from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from gql_progress.api.inputs.lessons import LESSON_ID_DEPRECATION, LESSON_IDS_DEPRECATION, LessonRefInput

_PARTIAL = "Omit to leave unchanged."


@strawberry.input(
    description=(
        "Progress to record for one lesson. Only the fields you send change; null clears the "
        "nullable ones (notes, quizScore, quizPassed, metadata)."
    )
)
class UpsertProgressInput:
    lesson: LessonRefInput | None = strawberry.field(
        default=None,
        description="The lesson, by its global id or the platform's externalId (or send lessonId).",
    )
    lesson_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The lesson's global id; give this or lesson, not both.",
        deprecation_reason=LESSON_ID_DEPRECATION,
    )
    user_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Whose progress: defaults to the caller; admins may name any user.",
    )
    instance_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The study plan instance the learner works through. It must be that learner's and "
            "its plan must hold the lesson; the record written is the same one per (user, "
            "lesson) either way, so it shows in every instance."
        ),
    )
    completed: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Mark completed (sets completedAt, percentage 100) or not (clears completedAt; the "
            "percentage stays 100 unless progressPercentage is sent with it). " + _PARTIAL
        ),
    )
    progress_percentage: float | None = strawberry.field(
        default=strawberry.UNSET, description="0–100; reported as 100 while completed. " + _PARTIAL
    )
    video_position_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Video position, ≥ 0. " + _PARTIAL
    )
    last_position_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Resume position, ≥ 0. " + _PARTIAL
    )
    quiz_score: float | None = strawberry.field(
        default=strawberry.UNSET, description="0–100, or null to clear. " + _PARTIAL
    )
    quiz_attempts: int | None = strawberry.field(
        default=strawberry.UNSET, description="Attempts so far, ≥ 0. " + _PARTIAL
    )
    quiz_passed: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Whether the quiz was passed, or null. " + _PARTIAL
    )
    time_spent_minutes: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Total minutes spent (a total, not an increment). " + _PARTIAL,
    )
    notes: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Up to 10,000 characters, or null to clear. " + _PARTIAL,
    )
    is_bookmarked: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Bookmark the lesson. " + _PARTIAL
    )
    metadata: JSON | None = strawberry.field(
        default=strawberry.UNSET,
        description="A JSON object up to 16 KiB, replacing the stored one; null clears it. " + _PARTIAL,
    )


@strawberry.input(description="Complete or un-complete many lessons in one call.")
class BulkSetCompletionInput:
    lessons: list[LessonRefInput] | None = strawberry.field(
        default=None,
        description=(
            "Up to 500 lessons, by global id or the platform's externalId; each gets its own "
            "result (or send lessonIds)."
        ),
    )
    lesson_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Up to 500 lesson ids; each gets its own result. Give this or lessons, not both.",
        deprecation_reason=LESSON_IDS_DEPRECATION,
    )
    completed: bool = strawberry.field(description="True to complete, false to un-complete.")
    user_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Whose progress: defaults to the caller; admins may name any user.",
    )
