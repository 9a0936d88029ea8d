"""Admins assign instructors to courses (who may then see those courses' learners)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.inputs.bundles import UserRefInput, user_ref
from gql_progress.api.inputs.instructors import CourseRefInput, course_ref
from gql_progress.api.raises import raises
from gql_progress.api.types.course import Course
from gql_progress.api.types.errors import ForbiddenError, NotFoundError, ValidationError
from gql_progress.api.types.user import User
from gql_progress.domain import teaching
from gql_progress.domain.errors import Forbidden, InvalidInput, NotFound, ProblemList
from gql_progress.domain.refs import UserRef
from gql_progress.domain.teaching import CourseRef


@strawberry.type(description="The instructor's assignment to the course, new or existing.")
class AssignInstructorPayload:
    course: Course = strawberry.field(description="The course.")
    user: User = strawberry.field(description="The instructor.")
    assigned_at: datetime = strawberry.field(description="When the user was (first) assigned.")
    created: bool = strawberry.field(
        description="False when the user already taught the course (the first assignment is kept)."
    )


@strawberry.type(description="The course and user, the user no longer among its instructors.")
class UnassignInstructorPayload:
    course: Course = strawberry.field(description="The course.")
    user: User = strawberry.field(description="The former instructor.")
    removed: bool = strawberry.field(description="False when the user did not teach the course.")


_FAILURES = ValidationError | NotFoundError | ForbiddenError
AssignInstructorResult = Annotated[
    AssignInstructorPayload | _FAILURES,
    strawberry.union("AssignInstructorResult", description="The assignment, or why there is none."),
]
UnassignInstructorResult = Annotated[
    UnassignInstructorPayload | _FAILURES,
    strawberry.union("UnassignInstructorResult", description="The removal, or why nothing changed."),
]

CourseArgument = Annotated[CourseRefInput, strawberry.argument(description="The course.")]
UserArgument = Annotated[UserRefInput, strawberry.argument(description="The user.")]


def _refs(info: Info, course: CourseRefInput, user: UserRefInput) -> tuple[CourseRef, UserRef]:
    # Admin first: a learner learns nothing from how their refs would have been read.
    info.context.viewer.require_admin()
    problems = ProblemList()
    course_key = course_ref(problems, course, ("course",))
    user_key = user_ref(problems, user, ("user",))
    course_key = problems.read_or_raise(course_key)
    user_key = problems.read_or_raise(user_key)
    return course_key, user_key


@strawberry.type
class InstructorMutations:
    @strawberry.mutation(
        description=(
            "Make a user an instructor of a course (admin): they then see its learners' progress "
            "(Course.learners, learnerProgress). The user's role must be INSTRUCTOR (admins see "
            "every course already), else VALIDATION_FAILED on `user`. Assigning again changes "
            "nothing and answers created: false."
        )
    )
    @raises(InvalidInput, NotFound, Forbidden)
    async def assign_instructor(
        self, info: Info, course: CourseArgument, user: UserArgument
    ) -> AssignInstructorResult:
        course_key, user_key = _refs(info, course, user)
        done = await teaching.assign_instructor(info.context.db, info.context.viewer, course_key, user_key)
        assert done.assigned_at is not None
        return AssignInstructorPayload(
            course=Course.from_row(done.course, subject_user_id=info.context.viewer.user_id),
            user=User.from_row(done.user),
            assigned_at=done.assigned_at,
            created=done.changed,
        )

    @strawberry.mutation(
        description=(
            "Remove a user from a course's instructors (admin), whatever their role now. Removing "
            "someone who does not teach the course changes nothing and answers removed: false."
        )
    )
    @raises(InvalidInput, NotFound, Forbidden)
    async def unassign_instructor(
        self, info: Info, course: CourseArgument, user: UserArgument
    ) -> UnassignInstructorResult:
        course_key, user_key = _refs(info, course, user)
        done = await teaching.unassign_instructor(info.context.db, info.context.viewer, course_key, user_key)
        return UnassignInstructorPayload(
            course=Course.from_row(done.course, subject_user_id=info.context.viewer.user_id),
            user=User.from_row(done.user),
            removed=done.changed,
        )
