"""DataLoaders: created per request, one per access path, each batch one SQL statement."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.sql.elements import KeyedColumnElement

from gql_progress.api.loaders.bundle_by_id import BundleByIdLoader
from gql_progress.api.loaders.by_key import RowByKeyLoader
from gql_progress.api.loaders.certificate_by_id import CertificateByIdLoader
from gql_progress.api.loaders.certificate_by_user_course import CertificateByUserCourseLoader
from gql_progress.api.loaders.child_counts import ChildCountsLoader
from gql_progress.api.loaders.child_pages import ChildPagesLoader
from gql_progress.api.loaders.child_rows import ChildRows
from gql_progress.api.loaders.course_access import CourseAccessLoader
from gql_progress.api.loaders.course_by_id import CourseByIdLoader
from gql_progress.api.loaders.enrollment_by_id import EnrollmentByIdLoader
from gql_progress.api.loaders.enrollment_by_user_course import EnrollmentByUserCourseLoader
from gql_progress.api.loaders.enrollments_by_user import EnrollmentsByUserLoader
from gql_progress.api.loaders.items_by_bundle import ItemsByBundleLoader
from gql_progress.api.loaders.lesson_by_id import LessonByIdLoader
from gql_progress.api.loaders.lessons_by_course import LessonsByCourseLoader
from gql_progress.api.loaders.lessons_by_study_plan import LessonsByStudyPlanLoader
from gql_progress.api.loaders.product_by_id import ProductByIdLoader
from gql_progress.api.loaders.progress_by_id import ProgressByIdLoader
from gql_progress.api.loaders.progress_by_user_course import ProgressByUserCourseLoader
from gql_progress.api.loaders.progress_by_user_lesson import ProgressByUserLessonLoader
from gql_progress.api.loaders.study_plan_by_id import StudyPlanByIdLoader
from gql_progress.api.loaders.study_plan_instance_by_id import StudyPlanInstanceByIdLoader
from gql_progress.api.loaders.summary_by_user_course import SummaryByUserCourseLoader
from gql_progress.api.loaders.user_by_id import UserByIdLoader
from gql_progress.db.engine import Database
from gql_progress.domain.summary import CourseSummary
from gql_progress.domain.viewer import Viewer


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
    study_plan_by_id: StudyPlanByIdLoader = field(init=False)
    study_plan_instance_by_id: StudyPlanInstanceByIdLoader = field(init=False)
    lessons_by_study_plan: LessonsByStudyPlanLoader = field(init=False)
    bundle_by_id: BundleByIdLoader = field(init=False)
    product_by_id: ProductByIdLoader = field(init=False)
    items_by_bundle: ItemsByBundleLoader = field(init=False)
    certificate_by_id: CertificateByIdLoader = field(init=False)
    certificate_by_user_course: CertificateByUserCourseLoader = field(init=False)
    summary_by_user_course: SummaryByUserCourseLoader = field(init=False)

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
        self.study_plan_by_id = StudyPlanByIdLoader(self.db)
        self.study_plan_instance_by_id = StudyPlanInstanceByIdLoader(self.db)
        self.lessons_by_study_plan = LessonsByStudyPlanLoader(self.db)
        self.bundle_by_id = BundleByIdLoader(self.db)
        self.product_by_id = ProductByIdLoader(self.db)
        self.items_by_bundle = ItemsByBundleLoader(self.db)
        self.certificate_by_id = CertificateByIdLoader(self.db)
        self.certificate_by_user_course = CertificateByUserCourseLoader(self.db)
        self.summary_by_user_course = SummaryByUserCourseLoader(
            self.db, self.lessons_by_course, self.progress_by_user_course
        )

    async def summary(self, user_id: int, course_id: int) -> CourseSummary:
        return await self.summary_by_user_course.load((user_id, course_id))

    # Nested connections (api/nested_pages.py): a pair of loaders per ChildRows, made when the
    # request first pages it, so a new nested connection needs no field here.
    _child_pages: dict[ChildRows[Any], ChildPagesLoader] = field(init=False, default_factory=dict)
    _child_counts: dict[ChildRows[Any], ChildCountsLoader] = field(init=False, default_factory=dict)

    def child_pages(self, rows: ChildRows[Any]) -> ChildPagesLoader:
        loader = self._child_pages.get(rows)
        if loader is None:
            loader = self._child_pages[rows] = ChildPagesLoader(self.db, rows)
        return loader

    def child_counts(self, rows: ChildRows[Any]) -> ChildCountsLoader:
        loader = self._child_counts.get(rows)
        if loader is None:
            loader = self._child_counts[rows] = ChildCountsLoader(self.db, rows)
        return loader

    # Rows by a unique column other than the id (federation's entity keys, api/federation.py):
    # one loader per column, made when the request first asks by it.
    _by_key: dict[KeyedColumnElement[Any], RowByKeyLoader] = field(init=False, default_factory=dict)

    def row_by_key(self, column: KeyedColumnElement[Any]) -> RowByKeyLoader:
        loader = self._by_key.get(column)
        if loader is None:
            loader = self._by_key[column] = RowByKeyLoader(self.db, column)
        return loader

    # Who may see which courses' learners (domain/teaching.py): per viewer, since a WebSocket
    # context learns its viewer after its loaders were made.
    _course_access: dict[Viewer, CourseAccessLoader] = field(init=False, default_factory=dict)

    def course_access(self, viewer: Viewer) -> CourseAccessLoader:
        loader = self._course_access.get(viewer)
        if loader is None:
            loader = self._course_access[viewer] = CourseAccessLoader(self.db, viewer)
        return loader
