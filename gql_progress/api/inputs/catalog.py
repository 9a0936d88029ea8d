from __future__ import annotations

import strawberry

from gql_progress.api.types.enums import LessonKind, UserRole

_PARTIAL = "Omit to leave unchanged."


@strawberry.input(description="A new user.")
class CreateUserInput:
    external_id: str = strawberry.field(description="The platform's id for the user (unique).")
    email: str = strawberry.field(description="Email address (unique regardless of case).")
    name: str = strawberry.field(description="Display name.")
    role: UserRole = strawberry.field(default=UserRole.LEARNER, description="Defaults to LEARNER.")


@strawberry.input(description="Changes to a user.")
class UpdateUserInput:
    id: strawberry.ID = strawberry.field(description="The user.")
    external_id: str | None = strawberry.field(default=strawberry.UNSET, description=_PARTIAL)
    email: str | None = strawberry.field(default=strawberry.UNSET, description=_PARTIAL)
    name: str | None = strawberry.field(default=strawberry.UNSET, description=_PARTIAL)
    role: UserRole | None = strawberry.field(default=strawberry.UNSET, description=_PARTIAL)


@strawberry.input(description="A new course.")
class CreateCourseInput:
    slug: str = strawberry.field(description="Unique lower-case words joined by hyphens.")
    title: str = strawberry.field(description="Title.")
    product_id: str | None = strawberry.field(default=None, description="The platform's product id (unique).")
    description: str = strawberry.field(default="", description="Description.")
    expected_completion_days: int | None = strawberry.field(
        default=None, description="Days a learner is expected to need (1–36500)."
    )
    requires_sequential_progress: bool = strawberry.field(
        default=False, description="Whether lessons are meant to be completed in order."
    )
    certificate_enabled: bool = strawberry.field(
        default=False, description="Whether completing the course earns a certificate."
    )
    keep_completion_on_change: bool = strawberry.field(
        default=True,
        description="Whether earned completions survive changes to the course's requirements.",
    )
    video_completion_threshold: float | None = strawberry.field(
        default=None,
        description=(
            "Percent (0 < x ≤ 100) of a video lesson's durationSeconds that, once reached by "
            "videoPositionSeconds, completes the lesson. Null: videos complete only when told."
        ),
    )


@strawberry.input(description="Changes to a course.")
class UpdateCourseInput:
    id: strawberry.ID = strawberry.field(description="The course.")
    slug: str | None = strawberry.field(default=strawberry.UNSET, description=_PARTIAL)
    title: str | None = strawberry.field(default=strawberry.UNSET, description=_PARTIAL)
    product_id: str | None = strawberry.field(
        default=strawberry.UNSET, description="Null removes it. " + _PARTIAL
    )
    description: str | None = strawberry.field(default=strawberry.UNSET, description=_PARTIAL)
    expected_completion_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="Null removes it. " + _PARTIAL
    )
    requires_sequential_progress: bool | None = strawberry.field(
        default=strawberry.UNSET, description=_PARTIAL
    )
    certificate_enabled: bool | None = strawberry.field(default=strawberry.UNSET, description=_PARTIAL)
    keep_completion_on_change: bool | None = strawberry.field(default=strawberry.UNSET, description=_PARTIAL)
    video_completion_threshold: float | None = strawberry.field(
        default=strawberry.UNSET, description="Null turns automatic video completion off. " + _PARTIAL
    )


@strawberry.input(description="A new lesson at the end of a course, or at a free position.")
class AddLessonInput:
    course_id: strawberry.ID = strawberry.field(description="The course.")
    title: str = strawberry.field(description="Title.")
    kind: LessonKind = strawberry.field(description="What the lesson holds.")
    external_id: str | None = strawberry.field(
        default=None, description="The platform's own id for the lesson (unique among lessons)."
    )
    position: int | None = strawberry.field(
        default=None, description="A free position; defaults to after the last lesson."
    )
    duration_seconds: int | None = strawberry.field(default=None, description="Length in seconds.")
    is_required: bool = strawberry.field(
        default=True, description="Whether it counts toward completing the course."
    )
    pass_score: float | None = strawberry.field(
        default=None,
        description="For quizzes: a quizScore at or above it (0–100) passes and completes the lesson.",
    )


@strawberry.input(description="Changes to a lesson.")
class UpdateLessonInput:
    id: strawberry.ID = strawberry.field(description="The lesson.")
    title: str | None = strawberry.field(default=strawberry.UNSET, description=_PARTIAL)
    external_id: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="The platform's own id for the lesson (unique among lessons); null removes it. "
        + _PARTIAL,
    )
    kind: LessonKind | None = strawberry.field(default=strawberry.UNSET, description=_PARTIAL)
    position: int | None = strawberry.field(
        default=strawberry.UNSET, description="A position not used by another lesson. " + _PARTIAL
    )
    duration_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Null removes it. " + _PARTIAL
    )
    is_required: bool | None = strawberry.field(default=strawberry.UNSET, description=_PARTIAL)
    pass_score: float | None = strawberry.field(
        default=strawberry.UNSET, description="Null removes it. " + _PARTIAL
    )
