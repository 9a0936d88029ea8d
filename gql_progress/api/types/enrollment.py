from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.types.course_summary import CourseSummary
from gql_progress.api.types.enums import EnrollmentStatus
from gql_progress.api.types.node import Node
from gql_progress.db.rows import EnrollmentRow
from gql_progress.domain.ids import encode_id

if TYPE_CHECKING:
    from gql_progress.api.types.certificate import Certificate
    from gql_progress.api.types.course import Course
    from gql_progress.api.types.user import User


@strawberry.type(description="A user's enrollment in a course; required to record progress there.")
class Enrollment(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    enrolled_at: datetime = strawberry.field(description="When the user was enrolled.")
    status: EnrollmentStatus = strawberry.field(
        description=(
            "COMPLETED once every required lesson is completed; back to ACTIVE if one is un-completed."
        )
    )
    completed_at: datetime | None = strawberry.field(
        description="When the enrollment became COMPLETED; null while ACTIVE."
    )
    user_id: strawberry.Private[int]
    course_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: EnrollmentRow) -> Enrollment:
        return cls(
            id=strawberry.ID(encode_id("Enrollment", row.id)),
            enrolled_at=row.enrolled_at,
            status=EnrollmentStatus(row.status),
            completed_at=row.completed_at,
            user_id=row.user_id,
            course_id=row.course_id,
        )

    @strawberry.field(description="The enrolled user.")
    async def user(self, info: Info) -> Annotated[User, strawberry.lazy("gql_progress.api.types.user")]:
        from gql_progress.api.types.user import user_by_pk

        return await user_by_pk(info, self.user_id)

    @strawberry.field(description="The course; its nested progress fields are this user's.")
    async def course(self, info: Info) -> Annotated[Course, strawberry.lazy("gql_progress.api.types.course")]:
        from gql_progress.api.types.course import course_by_pk

        return await course_by_pk(info, self.course_id, subject_user_id=self.user_id)

    @strawberry.field(description="The user's summary of this course.")
    async def summary(self, info: Info) -> CourseSummary:
        summary = await info.context.loaders.summary(self.user_id, self.course_id)
        return CourseSummary.from_domain(summary)

    @strawberry.field(description="The certificate for this course; null until one is issued.")
    async def certificate(
        self, info: Info
    ) -> Annotated[Certificate, strawberry.lazy("gql_progress.api.types.certificate")] | None:
        from gql_progress.api.types.certificate import Certificate

        row = await info.context.loaders.certificate_by_user_course.load((self.user_id, self.course_id))
        return None if row is None else Certificate.from_row(row)
