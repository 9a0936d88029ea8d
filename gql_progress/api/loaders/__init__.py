"""DataLoaders: created per request, one per access path, each batch one SQL statement."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from gql_progress.api.loaders.course_by_id import CourseByIdLoader
from gql_progress.api.loaders.enrollment_by_id import EnrollmentByIdLoader
from gql_progress.api.loaders.enrollment_by_user_course import EnrollmentByUserCourseLoader
from gql_progress.api.loaders.enrollments_by_user import EnrollmentsByUserLoader
from gql_progress.api.loaders.lesson_by_id import LessonByIdLoader
from gql_progress.api.loaders.lessons_by_course import LessonsByCourseLoader
from gql_progress.api.loaders.progress_by_id import ProgressByIdLoader
from gql_progress.api.loaders.progress_by_user_course import ProgressByUserCourseLoader
from gql_progress.api.loaders.progress_by_user_lesson import ProgressByUserLessonLoader
from gql_progress.api.loaders.user_by_id import UserByIdLoader
from gql_progress.db.engine import Database
from gql_progress.domain.summary import CourseSummary, count_course, summarize


@dataclass
class Loaders:
    db: Database
    user_by_id: UserByIdLoader = field(init=False)
    course_by_id: CourseByIdLoader = field(init=False)
    lesson_by_id: LessonByIdLoader = field(init=False)
    lessons_by_course: LessonsByCourseLoader = field(init=False)
    progress_by_user_lesson: ProgressByUserLessonLoader = field(init=False)
    progress_by_user_course: ProgressByUserCourseLoader = field(init=False)
    enrollment_by_user_course: EnrollmentByUserCourseLoader = field(init=False)
    enrollments_by_user: EnrollmentsByUserLoader = field(init=False)
    enrollment_by_id: EnrollmentByIdLoader = field(init=False)
    progress_by_id: ProgressByIdLoader = field(init=False)

    def __post_init__(self) -> None:
        self.user_by_id = UserByIdLoader(self.db)
        self.course_by_id = CourseByIdLoader(self.db)
        self.lesson_by_id = LessonByIdLoader(self.db)
        self.lessons_by_course = LessonsByCourseLoader(self.db)
        self.progress_by_user_lesson = ProgressByUserLessonLoader(self.db)
        self.progress_by_user_course = ProgressByUserCourseLoader(self.db)
        self.enrollment_by_user_course = EnrollmentByUserCourseLoader(self.db)
        self.enrollments_by_user = EnrollmentsByUserLoader(self.db)
        self.enrollment_by_id = EnrollmentByIdLoader(self.db)
        self.progress_by_id = ProgressByIdLoader(self.db)

    async def summary(self, user_id: int, course_id: int) -> CourseSummary:
        """From the same batches a course page loads anyway: no extra statement for it."""
        lessons, records = await asyncio.gather(
            self.lessons_by_course.load(course_id),
            self.progress_by_user_course.load((user_id, course_id)),
        )
        return summarize(count_course(user_id, course_id, lessons, records.values()))
