"""platformAnalytics' types (admins). Definitions in docs/analytics.md, as for courseAnalytics."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from gql_progress.api.types.analytics import RATE
from gql_progress.domain import analytics

PLATFORM_COHORT = "The cohort is every enrollment, of any course, whose enrolledAt lies in [from, to)."


@strawberry.type(description="One UTC day of the platform's activity (a day with nothing has zeros).")
class DailyActivity:
    date: date = strawberry.field(description="The UTC calendar date.")
    active_learners: int = strawberry.field(
        description=(
            "Learners with a progress record (on a current lesson) whose updatedAt or lastAccessedAt "
            "falls on this date within the window. A record keeps only its latest write."
        )
    )
    lessons_completed: int = strawberry.field(
        description="Records on current lessons whose completedAt falls on this date within the window."
    )
    courses_completed: int = strawberry.field(
        description="Enrollments whose completedAt falls on this date within the window."
    )

    @classmethod
    def from_domain(cls, day: analytics.DailyActivity) -> DailyActivity:
        return cls(
            date=day.day,
            active_learners=day.active_learners,
            lessons_completed=day.lessons_completed,
            courses_completed=day.courses_completed,
        )


@strawberry.type(
    description=(
        "The whole platform's learning analytics over a window [from, to): the course figures "
        f"across every course, and a daily series. {PLATFORM_COHORT}"
    )
)
class PlatformAnalytics:
    from_: datetime = strawberry.field(name="from", description="The window's start (inclusive).")
    to: datetime = strawberry.field(description="The window's end (exclusive).")
    courses: int = strawberry.field(description="Courses in the catalog now.")
    enrollments: int = strawberry.field(description=f"Enrollments in the cohort. {PLATFORM_COHORT}")
    enrolled_learners: int = strawberry.field(
        description="Distinct learners with an enrollment in the cohort."
    )
    completed_enrollments: int = strawberry.field(
        description="Enrollments of the cohort that are COMPLETED now."
    )
    completion_rate: float | None = strawberry.field(
        description=f"completedEnrollments / enrollments. {RATE}; null for an empty cohort."
    )
    average_completion_percentage: float | None = strawberry.field(
        description=(
            "The mean over the cohort's enrollments of each one's completion percentage in its course "
            "(as CourseAnalytics.averageCompletionPercentage); 0–100 rounded to 2 decimals; null for an "
            "empty cohort."
        )
    )
    median_time_to_completion_days: float | None = strawberry.field(
        description=(
            "The median of completedAt − enrolledAt in days over the cohort's COMPLETED enrollments, "
            "linearly interpolated between closest ranks, rounded to 2 decimals; null when none completed."
        )
    )
    p90_time_to_completion_days: float | None = strawberry.field(
        description="The 90th percentile of the same durations, by the same method; null when none completed."
    )
    total_active_seconds: int = strawberry.field(
        description=(
            "Active time measured by the server (Progress.activeSeconds) summed over the cohort's "
            "records on current lessons, in seconds."
        )
    )
    average_active_seconds: float | None = strawberry.field(
        description=(
            "totalActiveSeconds / enrollments (an enrollment without records counts 0), rounded to 2 "
            "decimals; null for an empty cohort."
        )
    )
    active_learners: int = strawberry.field(
        description=(
            "Learners with a progress record on a current lesson whose updatedAt or lastAccessedAt lies "
            "in [from, to). Not the sum of the daily figures: a learner active on several days counts once."
        )
    )
    lessons_completed: int = strawberry.field(
        description=(
            "Records on current lessons whose completedAt lies in [from, to) (the daily figures' sum)."
        )
    )
    courses_completed: int = strawberry.field(
        description="Enrollments whose completedAt lies in [from, to) (the daily figures' sum)."
    )
    daily: list[DailyActivity] = strawberry.field(
        description=(
            "One entry per UTC date the window touches, oldest first, zero-filled: from the date of "
            "`from` to the date of the last instant before `to`."
        )
    )
