from __future__ import annotations

from typing import Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.inputs.catalog import (
    AddLessonInput,
    CreateCourseInput,
    CreateUserInput,
    UpdateCourseInput,
    UpdateLessonInput,
    UpdateUserInput,
)
from gql_progress.api.inputs.given import given_columns
from gql_progress.api.raises import raises
from gql_progress.api.types.course import Course
from gql_progress.api.types.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ValidationError,
)
from gql_progress.api.types.lesson import Lesson
from gql_progress.api.types.user import User
from gql_progress.domain import catalog
from gql_progress.domain.catalog import COURSE_COLUMNS, LESSON_COLUMNS, USER_COLUMNS
from gql_progress.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, ProblemList
from gql_progress.domain.ids import decode_id, decode_into


@strawberry.type(description="The user as saved.")
class UserPayload:
    user: User = strawberry.field(description="The user after the change.")


@strawberry.type(description="The course as saved.")
class CoursePayload:
    course: Course = strawberry.field(description="The course after the change.")


@strawberry.type(description="The lesson as saved.")
class LessonPayload:
    lesson: Lesson = strawberry.field(description="The lesson after the change.")


_FAILURES = ValidationError | ConflictError | NotFoundError | ForbiddenError
UserResult = Annotated[
    UserPayload | _FAILURES,
    strawberry.union("UserResult", description="The saved user, or why nothing was saved."),
]
CourseResult = Annotated[
    CoursePayload | _FAILURES,
    strawberry.union("CourseResult", description="The saved course, or why nothing was saved."),
]
LessonResult = Annotated[
    LessonPayload | _FAILURES,
    strawberry.union("LessonResult", description="The saved lesson, or why nothing was saved."),
]


@strawberry.type
class CatalogMutations:
    @strawberry.mutation(description="Create a user (admin).")
    @raises(InvalidInput, Conflict, NotFound, Forbidden)
    async def create_user(
        self, info: Info, input: Annotated[CreateUserInput, strawberry.argument(description="What to write.")]
    ) -> UserResult:
        info.context.viewer.require_admin()
        row = await catalog.create_user(info.context.db, given_columns(input, USER_COLUMNS))
        return UserPayload(user=User.from_row(row))

    @strawberry.mutation(description="Change a user's fields (admin).")
    @raises(InvalidInput, Conflict, NotFound, Forbidden)
    async def update_user(
        self, info: Info, input: Annotated[UpdateUserInput, strawberry.argument(description="What to write.")]
    ) -> UserResult:
        info.context.viewer.require_admin()
        user_pk = decode_id(input.id, "User", ("id",))
        row = await catalog.update_user(info.context.db, user_pk, given_columns(input, USER_COLUMNS))
        return UserPayload(user=User.from_row(row))

    @strawberry.mutation(description="Create a course (admin).")
    @raises(InvalidInput, Conflict, NotFound, Forbidden)
    async def create_course(
        self,
        info: Info,
        input: Annotated[CreateCourseInput, strawberry.argument(description="What to write.")],
    ) -> CourseResult:
        info.context.viewer.require_admin()
        row = await catalog.create_course(info.context.db, given_columns(input, COURSE_COLUMNS))
        return CoursePayload(course=Course.from_row(row, subject_user_id=info.context.viewer.user_id))

    @strawberry.mutation(description="Change a course's fields (admin).")
    @raises(InvalidInput, Conflict, NotFound, Forbidden)
    async def update_course(
        self,
        info: Info,
        input: Annotated[UpdateCourseInput, strawberry.argument(description="What to write.")],
    ) -> CourseResult:
        info.context.viewer.require_admin()
        course_pk = decode_id(input.id, "Course", ("id",))
        row = await catalog.update_course(info.context.db, course_pk, given_columns(input, COURSE_COLUMNS))
        return CoursePayload(course=Course.from_row(row, subject_user_id=info.context.viewer.user_id))

    @strawberry.mutation(description="Add a lesson to a course (admin).")
    @raises(InvalidInput, Conflict, NotFound, Forbidden)
    async def add_lesson(
        self, info: Info, input: Annotated[AddLessonInput, strawberry.argument(description="What to write.")]
    ) -> LessonResult:
        info.context.viewer.require_admin()
        course_pk = decode_id(input.course_id, "Course", ("courseId",))
        row = await catalog.add_lesson(info.context.db, course_pk, given_columns(input, LESSON_COLUMNS))
        return LessonPayload(lesson=Lesson.from_row(row, subject_user_id=info.context.viewer.user_id))

    @strawberry.mutation(description="Change a lesson's fields (admin).")
    @raises(InvalidInput, Conflict, NotFound, Forbidden)
    async def update_lesson(
        self,
        info: Info,
        input: Annotated[UpdateLessonInput, strawberry.argument(description="What to write.")],
    ) -> LessonResult:
        info.context.viewer.require_admin()
        lesson_pk = decode_id(input.id, "Lesson", ("id",))
        row = await catalog.update_lesson(info.context.db, lesson_pk, given_columns(input, LESSON_COLUMNS))
        return LessonPayload(lesson=Lesson.from_row(row, subject_user_id=info.context.viewer.user_id))

    @strawberry.mutation(
        description=(
            "Remove a lesson from its course (admin). Learners' records on it are kept but no "
            "longer count; every enrollment of the course is re-evaluated in the same transaction."
        )
    )
    @raises(InvalidInput, Conflict, NotFound, Forbidden)
    async def remove_lesson(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The lesson to remove.")],
    ) -> LessonResult:
        info.context.viewer.require_admin()
        lesson_pk = decode_id(id, "Lesson", ("id",))
        row = await catalog.remove_lesson(info.context.db, lesson_pk)
        return LessonPayload(lesson=Lesson.from_row(row, subject_user_id=info.context.viewer.user_id))

    @strawberry.mutation(
        description=(
            "Put a course's lessons in a new order (admin): positions become 0..n-1 in the "
            "order given. The list must hold each of the course's current lessons exactly once."
        )
    )
    @raises(InvalidInput, Conflict, NotFound, Forbidden)
    async def reorder_lessons(
        self,
        info: Info,
        course_id: Annotated[strawberry.ID, strawberry.argument(description="The course.")],
        lesson_ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description="All of the course's current lessons, in their new order."),
        ],
    ) -> CourseResult:
        info.context.viewer.require_admin()
        problems = ProblemList()
        course_pk = decode_into(problems, course_id, "Course", ("courseId",))
        lesson_pks = [decode_into(problems, raw, "Lesson", ("lessonIds",)) for raw in lesson_ids]
        course_pk = problems.read_or_raise(course_pk)
        row = await catalog.reorder_lessons(
            info.context.db, course_pk, [pk for pk in lesson_pks if pk is not None]
        )
        return CoursePayload(course=Course.from_row(row, subject_user_id=info.context.viewer.user_id))
