from __future__ import annotations

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
from gql_progress.api.types.enums import UserRole
from gql_progress.api.types.node import Node
from gql_progress.api.types.progress import Progress
from gql_progress.api.visibility import owners_list, owns_or_admin
from gql_progress.db.rows import UserRow
from gql_progress.domain.ids import encode_id

if TYPE_CHECKING:
    from gql_progress.api.types.course import Course
    from gql_progress.api.types.enrollment import Enrollment
    from gql_progress.api.types.study_plan import StudyPlan
    from gql_progress.api.types.study_plan_instance import StudyPlanInstance


@strawberry.type(
    description=(
        "A person on the platform: a learner, an instructor or an admin. The user's own lists "
        "(enrollments, progress, study plans, taught courses) are shown to the user and to admins; "
        "to anyone else who reaches the user (a course's instructors, a learner seeing who granted "
        "a completion) they answer empty."
    )
)
class User(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    external_id: str = strawberry.field(description="The id the platform created the user with (unique).")
    email: str = strawberry.field(description="Email address, unique regardless of case (stored lower-case).")
    name: str = strawberry.field(description="Display name.")
    role: UserRole = strawberry.field(description="What the user may do.")
    created_at: datetime = strawberry.field(description="When the user was created.")
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: UserRow) -> User:
        return cls(
            id=strawberry.ID(encode_id("User", row.id)),
            external_id=row.external_id,
            email=row.email,
            name=row.name,
            role=UserRole(row.role),
            created_at=row.created_at,
            pk=row.id,
        )

    @strawberry.field(
        description="The user's enrollments, oldest first (all of them at once).",
        deprecation_reason="Use enrollmentsConnection, which pages.",
    )
    async def enrollments(
        self, info: Info
    ) -> list[Annotated[Enrollment, strawberry.lazy("gql_progress.api.types.enrollment")]]:
        from gql_progress.api.types.enrollment import Enrollment

        if not owns_or_admin(info, self.pk):
            return []
        rows = await info.context.loaders.enrollments_by_user.load(self.pk)
        return [Enrollment.from_row(row) for row in rows]

    @strawberry.field(description="The user's enrollments, a page at a time, oldest enrollment first.")
    async def enrollments_connection(
        self,
        info: Info,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[Annotated[Enrollment, strawberry.lazy("gql_progress.api.types.enrollment")]]:
        from gql_progress.api.queries.enrollment_listing import enrollments_connection

        paging = PageArguments(first, after, last, before)
        return await owners_list(info, self.pk, paging, enrollments_connection)

    @strawberry.field(description="The user's progress records, in the order they were created.")
    async def progress(
        self,
        info: Info,
        course_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only records of this course's lessons."),
        ] = None,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[Progress]:
        from gql_progress.api.queries.progress_listing import user_progress_connection

        paging = PageArguments(first, after, last, before)
        return await owners_list(
            info,
            self.pk,
            paging,
            lambda i, user, page: user_progress_connection(i, user, course_id, page),
        )

    @strawberry.field(description="The user's study plans, oldest first, a page at a time.")
    async def study_plans(
        self,
        info: Info,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[Annotated[StudyPlan, strawberry.lazy("gql_progress.api.types.study_plan")]]:
        from gql_progress.api.queries.study_plan_listing import plans_of_user

        paging = PageArguments(first, after, last, before)
        return await owners_list(info, self.pk, paging, plans_of_user)

    @strawberry.field(
        description="The instances of study plans the user started, oldest first, a page at a time."
    )
    async def study_plan_instances(
        self,
        info: Info,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[
        Annotated[StudyPlanInstance, strawberry.lazy("gql_progress.api.types.study_plan_instance")]
    ]:
        from gql_progress.api.queries.study_plan_listing import instances_of_user

        paging = PageArguments(first, after, last, before)
        return await owners_list(info, self.pk, paging, instances_of_user)

    @strawberry.field(
        description=(
            "The courses the user is assigned to teach, by course id, a page at a time (empty "
            "for others than the user and admins). An assignment gives access to a course's "
            "learners only while the user's role is INSTRUCTOR."
        )
    )
    async def taught_courses(
        self,
        info: Info,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[Annotated[Course, strawberry.lazy("gql_progress.api.types.course")]]:
        from gql_progress.api.queries.instructors import taught_courses

        paging = PageArguments(first, after, last, before)
        return await owners_list(info, self.pk, paging, taught_courses)


async def user_by_pk(info: Info, pk: int) -> User:
    """The user a row names by foreign key: such rows go with their user, so it exists."""
    row = await info.context.loaders.user_by_id.load(pk)
    assert row is not None
    return User.from_row(row)
