from __future__ import annotations

import asyncio
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
from gql_progress.api.selection import selects_any
from gql_progress.api.subjects import subject_user
from gql_progress.api.types.course_learner_status import CourseLearnerStatus
from gql_progress.api.types.course_summary import CourseSummary
from gql_progress.api.types.node import Node
from gql_progress.db.rows import CourseRow
from gql_progress.domain.ids import encode_id

if TYPE_CHECKING:
    from gql_progress.api.types.enrollment import Enrollment
    from gql_progress.api.types.learner_progress import LearnerProgress
    from gql_progress.api.types.lesson import Lesson
    from gql_progress.api.types.user import User

USER_ID_HELP = (
    "Whose progress to show: defaults to the user this course was reached for (the caller, or "
    "the user named higher up). Admins may name any user; others only themselves."
)


@strawberry.type(description="A course: an ordered list of lessons a learner can be enrolled in.")
class Course(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    slug: str = strawberry.field(description="Unique, URL-friendly name, e.g. intro-to-sql.")
    product_id: str | None = strawberry.field(
        description="The platform's product id for this course (unique), if it has one."
    )
    title: str = strawberry.field(description="Title.")
    description: str = strawberry.field(description="Description (may be empty).")
    expected_completion_days: int | None = strawberry.field(
        description="How many days a learner is expected to need, if known."
    )
    requires_sequential_progress: bool = strawberry.field(
        description=(
            "Whether lessons must be completed in order: completing one while an earlier required "
            "lesson is incomplete is refused with SequenceError (see Lesson.locked)."
        )
    )
    certificate_enabled: bool = strawberry.field(
        description="Whether completing the course earns a certificate."
    )
    keep_completion_on_change: bool = strawberry.field(
        description=(
            "When the course's requirements change (a required lesson added, a lesson made "
            "required), learners who already completed it stay COMPLETED. Off: their enrollment "
            "returns to ACTIVE until they meet the new requirements."
        )
    )
    video_completion_threshold: float | None = strawberry.field(
        description=(
            "Percent of a video lesson's durationSeconds that, once reached by videoPositionSeconds, "
            "completes the lesson as if completed: true had been sent; null: off."
        )
    )
    created_at: datetime = strawberry.field(description="When the course was created.")
    updated_at: datetime = strawberry.field(description="When the course last changed.")
    pk: strawberry.Private[int]
    subject_user_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: CourseRow, *, subject_user_id: int) -> Course:
        return cls(
            id=strawberry.ID(encode_id("Course", row.id)),
            slug=row.slug,
            product_id=row.product_id,
            title=row.title,
            description=row.description,
            expected_completion_days=row.expected_completion_days,
            requires_sequential_progress=row.requires_sequential_progress,
            certificate_enabled=row.certificate_enabled,
            keep_completion_on_change=row.keep_completion_on_change,
            video_completion_threshold=row.video_completion_threshold,
            created_at=row.created_at,
            updated_at=row.updated_at,
            pk=row.id,
            subject_user_id=subject_user_id,
        )

    @strawberry.field(
        description="The course's current lessons (removed ones left out), ordered by position."
    )
    async def lessons(
        self, info: Info
    ) -> list[Annotated[Lesson, strawberry.lazy("gql_progress.api.types.lesson")]]:
        from gql_progress.api.types.lesson import Lesson

        loaders = info.context.loaders
        records = None
        if selects_any(info, ("progress", "progressStatus")):
            # Both batches in flight at once; every lesson then answers from memory.
            rows, records = await asyncio.gather(
                loaders.lessons_by_course.load(self.pk),
                loaders.progress_by_user_course.load((self.subject_user_id, self.pk)),
            )
        else:
            rows = await loaders.lessons_by_course.load(self.pk)
        return [Lesson.from_row(row, subject_user_id=self.subject_user_id, records=records) for row in rows]

    @strawberry.field(
        description=(
            "The course's current lessons (removed ones left out) by position, a page at a time. "
            "Cursors are positions: after a reorder, a cursor continues after the same position."
        )
    )
    async def lessons_connection(
        self,
        info: Info,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[Annotated[Lesson, strawberry.lazy("gql_progress.api.types.lesson")]]:
        from gql_progress.api.queries.lesson_listing import lessons_connection

        return await lessons_connection(
            info, self.pk, self.subject_user_id, PageArguments(first, after, last, before)
        )

    @strawberry.field(description="The user's summary of this course (zeros when nothing is recorded).")
    async def summary(
        self,
        info: Info,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=USER_ID_HELP)] = None,
    ) -> CourseSummary:
        user = subject_user(info, self.subject_user_id, user_id)
        summary = await info.context.loaders.summary(user, self.pk)
        return CourseSummary.from_domain(summary)

    @strawberry.field(description="The user's enrollment in this course; null when not enrolled.")
    async def enrollment(
        self,
        info: Info,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=USER_ID_HELP)] = None,
    ) -> Annotated[Enrollment, strawberry.lazy("gql_progress.api.types.enrollment")] | None:
        from gql_progress.api.types.enrollment import Enrollment

        user = subject_user(info, self.subject_user_id, user_id)
        row = await info.context.loaders.enrollment_by_user_course.load((user, self.pk))
        return None if row is None else Enrollment.from_row(row)

    @strawberry.field(
        description=(
            "The course's learners (its enrollments, oldest first) with their summary, for admins "
            "and the course's instructors. Anyone else gets an empty page, as for a course without "
            "learners."
        )
    )
    async def learners(
        self,
        info: Info,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
        status: Annotated[
            CourseLearnerStatus | None, strawberry.argument(description="Only learners in this state.")
        ] = None,
    ) -> Connection[Annotated[LearnerProgress, strawberry.lazy("gql_progress.api.types.learner_progress")]]:
        from gql_progress.api.queries.instructors import course_learners

        return await course_learners(info, self.pk, status, PageArguments(first, after, last, before))

    @strawberry.field(
        description=(
            "Who teaches the course (assignInstructor), by user id, for admins and the course's "
            "instructors; anyone else gets an empty page."
        )
    )
    async def instructors(
        self,
        info: Info,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[Annotated[User, strawberry.lazy("gql_progress.api.types.user")]]:
        from gql_progress.api.queries.instructors import course_instructors

        return await course_instructors(info, self.pk, PageArguments(first, after, last, before))


async def course_by_pk(info: Info, pk: int, *, subject_user_id: int) -> Course:
    """The course a row names by foreign key (such rows go with their course, so it exists),
    its progress fields ``subject_user_id``'s."""
    row = await info.context.loaders.course_by_id.load(pk)
    assert row is not None
    return Course.from_row(row, subject_user_id=subject_user_id)
