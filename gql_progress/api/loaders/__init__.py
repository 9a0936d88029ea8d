"""DataLoaders: created per request, one per access path, each batch one SQL statement."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from sqlalchemy.sql.elements import KeyedColumnElement

from gql_progress.api.loaders.by_id import ById
from gql_progress.api.loaders.by_key import RowByKeyLoader
from gql_progress.api.loaders.by_user_course import RowByUserCourseLoader
from gql_progress.api.loaders.child_counts import ChildCountsLoader
from gql_progress.api.loaders.child_pages import ChildPagesLoader
from gql_progress.api.loaders.child_rows import ChildRows
from gql_progress.api.loaders.course_access import CourseAccessLoader
from gql_progress.api.loaders.enrollments_by_user import EnrollmentsByUserLoader
from gql_progress.api.loaders.items_by_bundle import ItemsByBundleLoader
from gql_progress.api.loaders.lessons_by_course import LessonsByCourseLoader
from gql_progress.api.loaders.lessons_by_study_plan import LessonsByStudyPlanLoader
from gql_progress.api.loaders.progress_by_user_course import ProgressByUserCourseLoader
from gql_progress.api.loaders.progress_by_user_lesson import ProgressByUserLessonLoader
from gql_progress.api.loaders.summary_by_user_course import SummaryByUserCourseLoader
from gql_progress.db.engine import Database
from gql_progress.db.rows import (
    BundleRow,
    CertificateRow,
    CourseRow,
    EnrollmentRow,
    LessonRow,
    ProductRow,
    ProgressRow,
    RowT,
    StudyPlanInstanceRow,
    StudyPlanRow,
    UserRow,
)
from gql_progress.domain.completion.summary import CourseSummary
from gql_progress.domain.viewer import Viewer


class Loaders:
    """One request's (or one subscription's) DataLoaders, each made on first use: a request
    touches a few of them, and making all of them up front cost every request ~20 DataLoader
    constructions (bench/RESULTS.md, ladder step 14)."""

    # Rows by primary key, one line per table (by_id.py): each a RowByIdLoader, made on first use.
    user_by_id = ById(UserRow)
    course_by_id = ById(CourseRow)
    lesson_by_id = ById(LessonRow)
    enrollment_by_id = ById(EnrollmentRow)
    progress_by_id = ById(ProgressRow)
    study_plan_by_id = ById(StudyPlanRow)
    study_plan_instance_by_id = ById(StudyPlanInstanceRow)
    bundle_by_id = ById(BundleRow)
    product_by_id = ById(ProductRow)
    certificate_by_id = ById(CertificateRow)

    def __init__(self, db: Database) -> None:
        self.db = db
        # Nested connections (api/nested_pages.py): a pair of loaders per ChildRows, made when
        # the request first pages it, so a new nested connection needs no field here.
        self._child_pages: dict[ChildRows[Any, Any], ChildPagesLoader[Any]] = {}
        self._child_counts: dict[ChildRows[Any, Any], ChildCountsLoader] = {}
        # Who may see which courses' learners (domain/teaching.py): per viewer, since a
        # WebSocket context learns its viewer after its loaders were made.
        self._course_access: dict[Viewer, CourseAccessLoader] = {}
        self._by_key: dict[tuple[type, KeyedColumnElement[Any]], RowByKeyLoader[Any]] = {}

    @cached_property
    def lessons_by_course(self) -> LessonsByCourseLoader:
        return LessonsByCourseLoader(self.db)

    @cached_property
    def progress_by_user_lesson(self) -> ProgressByUserLessonLoader:
        return ProgressByUserLessonLoader(self.db)

    @cached_property
    def progress_by_user_course(self) -> ProgressByUserCourseLoader:
        return ProgressByUserCourseLoader(self.db)

    @cached_property
    def enrollment_by_user_course(self) -> RowByUserCourseLoader[EnrollmentRow]:
        return RowByUserCourseLoader(self.db, EnrollmentRow)

    @cached_property
    def enrollments_by_user(self) -> EnrollmentsByUserLoader:
        return EnrollmentsByUserLoader(self.db)

    @cached_property
    def lessons_by_study_plan(self) -> LessonsByStudyPlanLoader:
        return LessonsByStudyPlanLoader(self.db)

    @cached_property
    def items_by_bundle(self) -> ItemsByBundleLoader:
        return ItemsByBundleLoader(self.db)

    @cached_property
    def certificate_by_user_course(self) -> RowByUserCourseLoader[CertificateRow]:
        return RowByUserCourseLoader(self.db, CertificateRow)

    @cached_property
    def summary_by_user_course(self) -> SummaryByUserCourseLoader:
        return SummaryByUserCourseLoader(self.db, self.lessons_by_course, self.progress_by_user_course)

    async def summary(self, user_id: int, course_id: int) -> CourseSummary:
        return await self.summary_by_user_course.load((user_id, course_id))

    def child_pages(self, rows: ChildRows[Any, RowT]) -> ChildPagesLoader[RowT]:
        loader = self._child_pages.get(rows)
        if loader is None:
            loader = self._child_pages[rows] = ChildPagesLoader(self.db, rows)
        return loader

    def child_counts(self, rows: ChildRows[Any, Any]) -> ChildCountsLoader:
        loader = self._child_counts.get(rows)
        if loader is None:
            loader = self._child_counts[rows] = ChildCountsLoader(self.db, rows)
        return loader

    # Rows by a unique column other than the id (federation's entity keys, api/federation.py):
    # one loader per column, made when the request first asks by it.
    def row_by_key(self, row_class: type[RowT], column: KeyedColumnElement[Any]) -> RowByKeyLoader[RowT]:
        loader = self._by_key.get((row_class, column))
        if loader is None:
            loader = self._by_key[row_class, column] = RowByKeyLoader(self.db, row_class, column)
        return loader

    def course_access(self, viewer: Viewer) -> CourseAccessLoader:
        loader = self._course_access.get(viewer)
        if loader is None:
            loader = self._course_access[viewer] = CourseAccessLoader(self.db, viewer)
        return loader
