from __future__ import annotations

from typing import Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.raises import raises
from gql_progress.api.types.enrollment import Enrollment
from gql_progress.api.types.errors import ForbiddenError, NotFoundError, ValidationError
from gql_progress.domain import catalog
from gql_progress.domain.errors import Forbidden, InvalidInput, NotFound
from gql_progress.domain.ids import decode_id


@strawberry.type(description="The enrollment, new or existing.")
class EnrollPayload:
    enrollment: Enrollment = strawberry.field(description="The user's enrollment in the course.")
    created: bool = strawberry.field(
        description="False when the user was already enrolled (the first enrollment is kept)."
    )


EnrollResult = Annotated[
    EnrollPayload | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("EnrollResult", description="The enrollment, or why there is none."),
]


@strawberry.type
class EnrollmentMutations:
    @strawberry.mutation(
        description="Enroll a user in a course (admin). Enrolling again returns the existing enrollment."
    )
    @raises(InvalidInput, NotFound, Forbidden)
    async def enroll(
        self,
        info: Info,
        course_id: Annotated[strawberry.ID, strawberry.argument(description="The course.")],
        user_id: Annotated[strawberry.ID, strawberry.argument(description="The user to enroll.")],
    ) -> EnrollResult:
        info.context.viewer.require_admin()
        course_pk = decode_id(course_id, "Course", ("courseId",))
        user_pk = decode_id(user_id, "User", ("userId",))
        row, created = await catalog.enroll(info.context.db, user_pk, course_pk)
        return EnrollPayload(enrollment=Enrollment.from_row(row), created=created)
