"""courseAnalytics (a course's admins and instructors) and platformAnalytics (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from sqlalchemy import func, select

from gql_progress.api.context import Info
from gql_progress.api.inputs.instructors import CourseRefInput, course_ref
from gql_progress.api.types.analytics import WINDOW_FROM, WINDOW_TO, CourseAnalytics
from gql_progress.api.types.analytics_platform import DailyActivity, PlatformAnalytics
from gql_progress.db.models import Course as CourseModel
from gql_progress.domain import analytics
from gql_progress.domain.errors import NotFound, ProblemList
from gql_progress.domain.teaching import find_course, may_see_course_learners


@strawberry.type
class AnalyticsQueries:
    @strawberry.field(
        description=(
            "A course's learning analytics over the window [from, to) (see docs/analytics.md), for "
            "admins and the course's instructors. Null when the course does not exist or the caller "
            "may not see its analytics (learners never may): the two answers are the same."
        )
    )
    async def course_analytics(
        self,
        info: Info,
        course: Annotated[CourseRefInput, strawberry.argument(description="The course.")],
        from_: Annotated[datetime | None, strawberry.argument(name="from", description=WINDOW_FROM)] = None,
        to: Annotated[datetime | None, strawberry.argument(description=WINDOW_TO)] = None,
    ) -> CourseAnalytics | None:
        problems = ProblemList()
        ref = course_ref(problems, course, ("course",))
        ref = problems.read_or_raise(ref)
        window = analytics.window(from_, to)
        viewer = info.context.viewer
        async with info.context.db.read() as conn:
            try:
                row = await find_course(conn, ref)
            except NotFound:
                return None
            # The one rule (domain/teaching.py): admins, and instructors for the courses they teach.
            if not await may_see_course_learners(conn, viewer, row.id):
                return None
        return CourseAnalytics.build(info, row, window)

    @strawberry.field(
        description=(
            "The whole platform's learning analytics over the window [from, to) with a daily series "
            "(admin). The window may span at most GQL_PROGRESS_ANALYTICS_MAX_WINDOW_DAYS days "
            "(366 by default); a longer one is refused with VALIDATION_FAILED."
        )
    )
    async def platform_analytics(
        self,
        info: Info,
        from_: Annotated[
            datetime,
            strawberry.argument(
                name="from", description="Start of the window, inclusive (with a UTC offset)."
            ),
        ],
        to: Annotated[
            datetime, strawberry.argument(description="End of the window, exclusive (with a UTC offset).")
        ],
    ) -> PlatformAnalytics:
        info.context.viewer.require_admin()
        window = analytics.window(from_, to, max_days=info.context.settings.analytics_max_window_days)
        async with info.context.db.read() as conn:
            totals = await analytics.totals(conn, analytics.Scope(), window)
            days = await analytics.daily(conn, window)
            courses = int(await conn.scalar(select(func.count()).select_from(CourseModel)) or 0)
        return PlatformAnalytics(
            from_=from_,
            to=to,
            courses=courses,
            enrollments=totals.enrollments,
            enrolled_learners=totals.enrolled_learners,
            completed_enrollments=totals.completed_enrollments,
            completion_rate=totals.completion_rate,
            average_completion_percentage=totals.average_completion_percentage,
            median_time_to_completion_days=totals.median_time_to_completion_days,
            p90_time_to_completion_days=totals.p90_time_to_completion_days,
            total_active_seconds=totals.total_active_seconds,
            average_active_seconds=totals.average_active_seconds,
            active_learners=totals.active_learners,
            lessons_completed=totals.lessons_completed,
            courses_completed=totals.courses_completed,
            daily=[DailyActivity.from_domain(day) for day in days],
        )
