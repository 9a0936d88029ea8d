from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.types.course_summary import CourseSummary
from gql_progress.api.types.enrollment import Enrollment
from gql_progress.api.types.enums import EnrollmentStatus
from gql_progress.api.types.errors import NotFoundError, ValidationError
from gql_progress.db.rows import EnrollmentRow

if TYPE_CHECKING:
    from gql_progress.api.types.course import Course
    from gql_progress.api.types.lesson import Lesson
    from gql_progress.api.types.user import User


@strawberry.type(
    description=(
        "One learner's standing in one course, as the course's instructors and admins see it "
        "(learnerProgress, Course.learners). Everything here is about this course only; the "
        "learner's other courses are not reachable from it."
    )
)
class LearnerProgress:
    status: EnrollmentStatus = strawberry.field(description="The enrollment's status.")
    enrolled_at: datetime = strawberry.field(description="When the learner was enrolled.")
    completed_at: datetime | None = strawberry.field(
        description="When the enrollment became COMPLETED; null while ACTIVE."
    )
    enrollment: Enrollment = strawberry.field(description="The learner's enrollment in the course.")
    user_id: strawberry.Private[int]
    course_id: strawberry.Private[int]

    @classmethod
    def from_enrollment(cls, row: EnrollmentRow) -> LearnerProgress:
        enrollment = Enrollment.from_row(row)
        return cls(
            status=enrollment.status,
            enrolled_at=enrollment.enrolled_at,
            completed_at=enrollment.completed_at,
            enrollment=enrollment,
            user_id=row.user_id,
            course_id=row.course_id,
        )

    @strawberry.field(
        description=(
            "The learner. Their own lists (enrollments, progress, study plans) answer empty unless "
            "you are them or an admin."
        )
    )
    async def user(self, info: Info) -> Annotated[User, strawberry.lazy("gql_progress.api.types.user")]:
        from gql_progress.api.types.user import user_by_pk

        return await user_by_pk(info, self.user_id)

    @strawberry.field(description="The course; its nested progress fields are this learner's.")
    async def course(self, info: Info) -> Annotated[Course, strawberry.lazy("gql_progress.api.types.course")]:
        from gql_progress.api.types.course import course_by_pk

        return await course_by_pk(info, self.course_id, subject_user_id=self.user_id)

    @strawberry.field(description="The learner's summary of the course (completion percentage and counts).")
    async def summary(self, info: Info) -> CourseSummary:
        summary = await info.context.loaders.summary(self.user_id, self.course_id)
        return CourseSummary.from_domain(summary)

    @strawberry.field(
        description=(
            "When the learner last wrote progress in this course: the latest lastAccessedAt of "
            "their records on its current lessons; null when there is none."
        )
    )
    async def last_accessed_at(self, info: Info) -> datetime | None:
        summary = await info.context.loaders.summary(self.user_id, self.course_id)
        return summary.last_accessed_at

    @strawberry.field(
        description=(
            "The course's current lessons in order, each with this learner's progressStatus and "
            "progress (null where nothing was recorded)."
        )
    )
    async def lessons(
        self, info: Info
    ) -> list[Annotated[Lesson, strawberry.lazy("gql_progress.api.types.lesson")]]:
        from gql_progress.api.types.lesson import Lesson

        loaders = info.context.loaders
        rows, records = await asyncio.gather(
            loaders.lessons_by_course.load(self.course_id),
            loaders.progress_by_user_course.load((self.user_id, self.course_id)),
        )
        return [Lesson.from_row(row, subject_user_id=self.user_id, records=records) for row in rows]


LearnerProgressResult = Annotated[
    LearnerProgress | NotFoundError | ValidationError,
    strawberry.union(
        "LearnerProgressResult",
        description=(
            "The learner's progress, or NOT_FOUND: the course does not exist or you may not see "
            "its learners (the two answer alike), or the user is not its learner."
        ),
    ),
]
