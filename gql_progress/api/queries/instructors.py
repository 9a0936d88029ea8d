"""Instructors' views: learnerProgress, Course.learners, Course.instructors, User.taughtCourses.

Who may see a course's learners is decided once, in domain/teaching.py, through this request's
CourseAccessLoader; a refused caller gets what a course without learners gives.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from sqlalchemy import Select, select

from gql_progress.api.context import Info
from gql_progress.api.inputs.bundles import UserRefInput, user_ref
from gql_progress.api.inputs.instructors import CourseRefInput, course_ref
from gql_progress.api.loaders.child_rows import ChildRows, no_filter
from gql_progress.api.nested_pages import nested_connection
from gql_progress.api.pagination import Connection, PageArguments
from gql_progress.api.raises import raises
from gql_progress.api.subjects import caller_identity
from gql_progress.api.types.course import Course
from gql_progress.api.types.course_learner_status import CourseLearnerStatus
from gql_progress.api.types.learner_progress import LearnerProgress, LearnerProgressResult
from gql_progress.api.types.user import User
from gql_progress.api.visibility import empty_connection
from gql_progress.db.models import Course as CourseModel
from gql_progress.db.models import CourseInstructor, Enrollment, EnrollmentStatus, Lesson, LessonProgress
from gql_progress.db.models import User as UserModel
from gql_progress.db.rows import CourseRow, EnrollmentRow, UserRow, columns
from gql_progress.domain.errors import InvalidInput, NotFound, ProblemList
from gql_progress.domain.teaching import learner_in_course


def _enrollments(status: CourseLearnerStatus | None) -> Select[Any]:
    """Enrollments of every course, only those in ``status`` when given."""
    query = select(*columns(EnrollmentRow))
    if status is CourseLearnerStatus.COMPLETED:
        return query.where(Enrollment.status == EnrollmentStatus.COMPLETED)
    if status is not None:
        query = query.where(Enrollment.status == EnrollmentStatus.ACTIVE)
    if status is CourseLearnerStatus.NOT_STARTED:
        started = (
            select(LessonProgress.id)
            .join(Lesson, Lesson.id == LessonProgress.lesson_id)
            .where(
                LessonProgress.user_id == Enrollment.user_id,
                Lesson.course_id == Enrollment.course_id,
                Lesson.removed_at.is_(None),
            )
            .exists()
        )
        query = query.where(~started)
    return query


# A course's enrollments, oldest first (by id, unique within the course); the filter is `status`.
LEARNERS_OF_COURSE = ChildRows(
    row=EnrollmentRow, query=_enrollments, parent=Enrollment.course_id, key=Enrollment.id
)

# A course's instructors by user id.
INSTRUCTORS_OF_COURSE = ChildRows(
    row=UserRow,
    query=no_filter(
        select(*columns(UserRow)).join(CourseInstructor, CourseInstructor.user_id == UserModel.id)
    ),
    parent=CourseInstructor.course_id,
    key=UserModel.id,
)

# The courses a user is assigned to teach, by course id.
COURSES_TAUGHT_BY = ChildRows(
    row=CourseRow,
    query=no_filter(
        select(*columns(CourseRow)).join(CourseInstructor, CourseInstructor.course_id == CourseModel.id)
    ),
    parent=CourseInstructor.user_id,
    key=CourseModel.id,
)


async def _may_see_learners(info: Info, course_id: int) -> bool:
    viewer = info.context.viewer
    return await info.context.loaders.course_access(viewer).load(course_id)


async def course_learners(
    info: Info, course_id: int, status: CourseLearnerStatus | None, paging: PageArguments
) -> Connection[LearnerProgress]:
    if not await _may_see_learners(info, course_id):
        return empty_connection(info, paging)
    return await nested_connection(
        info, LEARNERS_OF_COURSE, course_id, paging, LearnerProgress.from_enrollment, status
    )


async def course_instructors(info: Info, course_id: int, paging: PageArguments) -> Connection[User]:
    if not await _may_see_learners(info, course_id):
        return empty_connection(info, paging)
    return await nested_connection(info, INSTRUCTORS_OF_COURSE, course_id, paging, User.from_row)


async def taught_courses(info: Info, user_id: int, paging: PageArguments) -> Connection[Course]:
    return await nested_connection(
        info,
        COURSES_TAUGHT_BY,
        user_id,
        paging,
        lambda row: Course.from_row(row, subject_user_id=user_id),
    )


@strawberry.type
class InstructorQueries:
    @strawberry.field(
        description=(
            "One learner's summary and per-lesson progress in one course, asked with the "
            "platform's identifiers. For admins, the course's instructors, and learners asking "
            "about themselves; anyone else gets NOT_FOUND exactly as for a course that does not "
            "exist. A user who is not enrolled in the course (or does not exist) is NOT_FOUND too."
        )
    )
    @raises(InvalidInput, NotFound)
    async def learner_progress(
        self,
        info: Info,
        learner: Annotated[UserRefInput, strawberry.argument(description="The learner.")],
        course: Annotated[CourseRefInput, strawberry.argument(description="The course.")],
    ) -> LearnerProgressResult:
        problems = ProblemList()
        learner_key = user_ref(problems, learner, ("learner",))
        course_key = course_ref(problems, course, ("course",))
        learner_key = problems.read_or_raise(learner_key)
        course_key = problems.read_or_raise(course_key)
        found = await learner_in_course(
            info.context.db, info.context.viewer, await caller_identity(info), learner_key, course_key
        )
        info.context.loaders.course_by_id.prime(found.course.id, found.course)
        return LearnerProgress.from_enrollment(found.enrollment)
