"""courseAnalytics' types. Every figure is defined in docs/analytics.md; the descriptions say the same.

The course-level figures and the per-lesson rows are one SQL statement each, run only when a
field that needs them is selected, and once however many such fields are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.types.course import Course
from gql_progress.api.types.lesson import Lesson
from gql_progress.db.engine import Database
from gql_progress.db.rows import CourseRow
from gql_progress.domain import analytics
from gql_progress.domain.errors import FieldProblem, InvalidInput

T = TypeVar("T")

MAX_HARDEST_LIMIT = 100

# Shared wording, so the schema and docs/analytics.md say the same thing.
COHORT = (
    "The cohort is the course's enrollments whose enrolledAt lies in [from, to) (every enrollment "
    "when from and to are omitted)."
)
RATE = "A fraction in [0, 1] rounded to 4 decimals"
WINDOW_FROM = "Start of the window, inclusive (with a UTC offset); omitted: unbounded."
WINDOW_TO = "End of the window, exclusive (with a UTC offset); omitted: unbounded."


class Once(Generic[T]):
    """An awaitable computed at most once, however many resolvers ask for it concurrently."""

    def __init__(self, compute: Callable[[], Awaitable[T]]) -> None:
        self._compute = compute
        self._task: asyncio.Future[T] | None = None

    async def get(self) -> T:
        if self._task is None:
            self._task = asyncio.ensure_future(self._compute())
        return await self._task


async def _scope_of(db: Database, course_id: int) -> analytics.Scope:
    async with db.read() as conn:
        lessons = await analytics.course_lessons(conn, course_id)
    return analytics.Scope(course_id, tuple(row.id for row in lessons))


def _asked(bound: Any) -> datetime | None:
    # The resolvers' windows hold the datetimes asked (SQL bounds are the compiled reads').
    assert bound is None or isinstance(bound, datetime)
    return bound


@strawberry.type(description="How the cohort did on one lesson of the course.")
class LessonAnalytics:
    lesson: Lesson = strawberry.field(description="The lesson (a current lesson of the course).")
    started: int = strawberry.field(
        description="Learners of the cohort with any progress record on the lesson (completed ones included)."
    )
    completed: int = strawberry.field(description="Learners of the cohort who completed the lesson.")
    completion_rate: float | None = strawberry.field(
        description=f"completed / the cohort's size (enrolledLearners). {RATE}; null for an empty cohort."
    )
    average_time_spent_minutes: float | None = strawberry.field(
        description=(
            "Mean timeSpentMinutes over the learners who started the lesson, rounded to 2 decimals; "
            "null when nobody started it."
        )
    )
    average_active_seconds: float | None = strawberry.field(
        description=(
            "Mean activeSeconds (time measured by the server) over the learners who started the "
            "lesson, rounded to 2 decimals; null when nobody started it."
        )
    )
    average_watched_ratio: float | None = strawberry.field(
        description=(
            "VIDEO lessons with a durationSeconds above 0: the mean over the learners who started it "
            f"of videoPositionSeconds / durationSeconds, each capped at 1. {RATE}; null for other "
            "lessons and when nobody started it."
        )
    )
    average_quiz_score: float | None = strawberry.field(
        description=(
            "QUIZ lessons: the mean quizScore (0–100) over the cohort's records that have one, rounded "
            "to 2 decimals; null for other lessons and when no score was recorded."
        )
    )
    quiz_pass_rate: float | None = strawberry.field(
        description=(
            "QUIZ lessons: records with quizPassed true / records with a quizPassed verdict (true or "
            f"false). {RATE}; null for other lessons and when there is no verdict."
        )
    )

    @classmethod
    def from_domain(cls, stats: analytics.LessonStats, viewer_id: int) -> LessonAnalytics:
        return cls(
            lesson=Lesson.from_row(stats.lesson, subject_user_id=viewer_id),
            started=stats.started,
            completed=stats.completed,
            completion_rate=stats.completion_rate,
            average_time_spent_minutes=stats.average_time_spent_minutes,
            average_active_seconds=stats.average_active_seconds,
            average_watched_ratio=stats.average_watched_ratio,
            average_quiz_score=stats.average_quiz_score,
            quiz_pass_rate=stats.quiz_pass_rate,
        )


@strawberry.type(
    description=(
        "One step of the drop-off funnel: the learners of the cohort who reached a lesson, i.e. "
        "whose furthest lesson with any progress record is this one or a later one."
    )
)
class DropOffStep:
    lesson: Lesson = strawberry.field(description="The lesson.")
    reached: int = strawberry.field(
        description="Learners who reached the lesson; never more than at the step before."
    )
    reached_rate: float | None = strawberry.field(
        description=f"reached / the cohort's size. {RATE}; null for an empty cohort."
    )
    lost: int = strawberry.field(
        description="The step before's reached (the cohort's size for the first lesson) minus this one's."
    )
    drop_off_rate: float | None = strawberry.field(
        description=f"lost / the step before's reached. {RATE}; null when the step before had nobody."
    )

    @classmethod
    def from_domain(cls, step: analytics.FunnelStep, viewer_id: int) -> DropOffStep:
        return cls(
            lesson=Lesson.from_row(step.lesson, subject_user_id=viewer_id),
            reached=step.reached,
            reached_rate=step.reached_rate,
            lost=step.lost,
            drop_off_rate=step.drop_off_rate,
        )


@strawberry.type(description="A lesson ranked by how few of the learners who started it completed it.")
class LessonDifficulty:
    lesson: Lesson = strawberry.field(description="The lesson.")
    started: int = strawberry.field(description="Learners of the cohort who started the lesson (the sample).")
    completed: int = strawberry.field(description="Of those, the learners who completed it.")
    completion_rate_among_started: float = strawberry.field(description=f"completed / started. {RATE}.")

    @classmethod
    def from_domain(cls, stats: analytics.LessonStats, viewer_id: int) -> LessonDifficulty:
        rate = stats.completion_rate_among_started
        assert rate is not None  # only lessons with a sample are ranked
        return cls(
            lesson=Lesson.from_row(stats.lesson, subject_user_id=viewer_id),
            started=stats.started,
            completed=stats.completed,
            completion_rate_among_started=rate,
        )


@strawberry.type(
    description=(
        f"A course's learning analytics over a window [from, to). {COHORT} Counts are 0 and "
        "ratios null when there is nothing to count (see docs/analytics.md)."
    )
)
class CourseAnalytics:
    course: Course = strawberry.field(description="The course analysed.")
    from_: datetime | None = strawberry.field(
        name="from", description="The window's start as asked; null: unbounded."
    )
    to: datetime | None = strawberry.field(description="The window's end as asked; null: unbounded.")
    course_pk: strawberry.Private[int]
    viewer_id: strawberry.Private[int]
    min_sample: strawberry.Private[int]
    totals_once: strawberry.Private[Once[analytics.Totals]]
    lessons_once: strawberry.Private[Once[list[analytics.LessonStats]]]

    @classmethod
    def build(cls, info: Info, course: CourseRow, window: analytics.Window) -> CourseAnalytics:
        db = info.context.db
        # The course's lessons first: the two statements below ask for their records by id.
        lesson_rows: Once[analytics.Scope] = Once(lambda: _scope_of(db, course.id))

        async def totals() -> analytics.Totals:
            scope = await lesson_rows.get()
            async with db.read() as conn:
                return await analytics.totals(conn, scope, window)

        async def lessons() -> list[analytics.LessonStats]:
            scope = await lesson_rows.get()
            async with db.read() as conn:
                return await analytics.lesson_stats(conn, scope, window)

        viewer_id = info.context.viewer.user_id
        return cls(
            course=Course.from_row(course, subject_user_id=viewer_id),
            from_=_asked(window.start),
            to=_asked(window.end),
            course_pk=course.id,
            viewer_id=viewer_id,
            min_sample=info.context.settings.analytics_min_sample,
            totals_once=Once(totals),
            lessons_once=Once(lessons),
        )

    @strawberry.field(description=f"Enrollments in the cohort. {COHORT}")
    async def enrolled_learners(self) -> int:
        return (await self.totals_once.get()).enrollments

    @strawberry.field(
        description=(
            "Learners with a progress write in the window: a record on a current lesson of the course "
            "whose updatedAt or lastAccessedAt lies in [from, to), whenever they enrolled. A record "
            "keeps only its latest write, so a past window cannot see activity overwritten since."
        )
    )
    async def active_learners(self) -> int:
        return (await self.totals_once.get()).active_learners

    @strawberry.field(description="Enrollments of the cohort that are COMPLETED now.")
    async def completed_learners(self) -> int:
        return (await self.totals_once.get()).completed_enrollments

    @strawberry.field(description=f"completedLearners / enrolledLearners. {RATE}; null for an empty cohort.")
    async def completion_rate(self) -> float | None:
        return (await self.totals_once.get()).completion_rate

    @strawberry.field(
        description=(
            "The mean over the cohort's enrollments of each learner's completion percentage (the "
            "summary's: completed required lessons / required lessons × 100, every current lesson "
            "when none is required, 0 for a course without lessons), unrounded per learner; 0–100 "
            "rounded to 2 decimals; null for an empty cohort."
        )
    )
    async def average_completion_percentage(self) -> float | None:
        return (await self.totals_once.get()).average_completion_percentage

    @strawberry.field(
        description=(
            "The median of completedAt − enrolledAt in days over the cohort's COMPLETED enrollments, "
            "linearly interpolated between closest ranks (as PostgreSQL's percentile_cont), rounded "
            "to 2 decimals; null when none completed."
        )
    )
    async def median_time_to_completion_days(self) -> float | None:
        return (await self.totals_once.get()).median_time_to_completion_days

    @strawberry.field(
        description="The 90th percentile of the same durations, by the same method; null when none completed."
    )
    async def p90_time_to_completion_days(self) -> float | None:
        return (await self.totals_once.get()).p90_time_to_completion_days

    @strawberry.field(
        description=(
            "Active time measured by the server (Progress.activeSeconds) summed over the cohort's "
            "records on current lessons of the course, in seconds."
        )
    )
    async def total_active_seconds(self) -> int:
        return (await self.totals_once.get()).total_active_seconds

    @strawberry.field(
        description=(
            "totalActiveSeconds / enrolledLearners (a learner without records counts 0), rounded "
            "to 2 decimals; null for an empty cohort."
        )
    )
    async def average_active_seconds(self) -> float | None:
        return (await self.totals_once.get()).average_active_seconds

    @strawberry.field(
        description=(
            "Lessons completed in the window: records on current lessons of the course whose "
            "completedAt lies in [from, to), whoever the learner (a lesson completed and later "
            "un-completed no longer counts)."
        )
    )
    async def lessons_completed(self) -> int:
        return (await self.totals_once.get()).lessons_completed

    @strawberry.field(
        description="Enrollments of the course whose completedAt lies in [from, to), whenever they enrolled."
    )
    async def courses_completed(self) -> int:
        return (await self.totals_once.get()).courses_completed

    @strawberry.field(description="Every current lesson of the course, in order, with the cohort's figures.")
    async def lessons(self) -> list[LessonAnalytics]:
        return [LessonAnalytics.from_domain(s, self.viewer_id) for s in await self.lessons_once.get()]

    @strawberry.field(
        description=(
            "The drop-off funnel over the lessons in order: how many of the cohort reached each "
            "lesson and the share lost at each step. Non-increasing from step to step."
        )
    )
    async def drop_off(self) -> list[DropOffStep]:
        return [
            DropOffStep.from_domain(s, self.viewer_id)
            for s in analytics.funnel(await self.lessons_once.get())
        ]

    @strawberry.field(
        description=(
            "Lessons ranked by the lowest completed / started among the cohort's learners who started "
            "them; ties: more starters first, then course order. Only lessons started by at least the "
            "minimum sample (GQL_PROGRESS_ANALYTICS_MIN_SAMPLE, or minSampleSize when larger) are ranked."
        )
    )
    async def hardest_lessons(
        self,
        limit: Annotated[
            int, strawberry.argument(description=f"How many lessons to return, 1 to {MAX_HARDEST_LIMIT}.")
        ] = 5,
        min_sample_size: Annotated[
            int | None,
            strawberry.argument(
                description=(
                    "Raise the minimum number of starters a lesson needs to be ranked; a value below "
                    "the server's GQL_PROGRESS_ANALYTICS_MIN_SAMPLE is ignored."
                )
            ),
        ] = None,
    ) -> list[LessonDifficulty]:
        problems = []
        if not 1 <= limit <= MAX_HARDEST_LIMIT:
            problems.append(FieldProblem(("limit",), f"must be between 1 and {MAX_HARDEST_LIMIT}"))
        if min_sample_size is not None and min_sample_size < 1:
            problems.append(FieldProblem(("minSampleSize",), "must be at least 1"))
        if problems:
            raise InvalidInput(problems)
        min_sample = max(self.min_sample, min_sample_size or 0)
        ranked = analytics.hardest(await self.lessons_once.get(), limit=limit, min_sample=min_sample)
        return [LessonDifficulty.from_domain(s, self.viewer_id) for s in ranked]
