"""Learning analytics: what a course's (or the whole platform's) learners did, set-based in SQL.

Every metric is defined in docs/analytics.md; this module is its one implementation. Each public
function is ONE statement however many lessons and learners there are: aggregates, window
functions and CTEs do the work in the database, and only a row per lesson (or per day) comes back.

Counts come back from SQL and ratios are divided here, so SQLite and PostgreSQL (whose integer,
numeric and float arithmetic differ) give the same numbers; percentiles are picked by rank in SQL
(the two or four values they need) and interpolated here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Date,
    Float,
    Numeric,
    Select,
    and_,
    any_,
    case,
    cast,
    distinct,
    extract,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.models import Enrollment, EnrollmentStatus, Lesson, LessonKind, LessonProgress
from gql_progress.domain.errors import FieldProblem, InvalidInput

# Rates are fractions in [0, 1] rounded to this many decimals; percentages (0–100, as every
# completionPercentage of the API), averages and day counts to PLACES.
RATE_PLACES = 4
PLACES = 2
SECONDS_PER_DAY = 86_400


# --- the window ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """[start, end): start inclusive, end exclusive; None is unbounded on that side.

    A bound may also be SQL (the compiled reads bind the window as parameters): a NULL one is
    unbounded, as None is.
    """

    start: datetime | ColumnElement[Any] | None = None
    end: datetime | ColumnElement[Any] | None = None

    def contains(self, column: Any) -> ColumnElement[bool]:
        conditions = []
        if self.start is not None:
            conditions.append(_unless_null(self.start, column >= self.start))
        if self.end is not None:
            conditions.append(_unless_null(self.end, column < self.end))
        return and_(true(), *conditions)

    def days(self) -> list[date]:
        """The UTC dates the window touches, in order (a bounded window only)."""
        assert isinstance(self.start, datetime)
        assert isinstance(self.end, datetime)
        if self.end <= self.start:
            return []
        first = self.start.astimezone(UTC).date()
        last = (self.end.astimezone(UTC) - timedelta(microseconds=1)).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _unless_null(bound: Any, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return or_(bound.is_(None), condition) if isinstance(bound, ColumnElement) else condition


def window(start: datetime | None, end: datetime | None, *, max_days: int | None = None) -> Window:
    """A checked window: aware datetimes, start ≤ end, and at most ``max_days`` long when given
    (a bounded window is then required)."""
    problems = []
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.utcoffset() is None:
            problems.append(FieldProblem((name,), "must include a UTC offset, e.g. 2026-01-01T00:00:00Z"))
    if problems:
        raise InvalidInput(problems)
    if start is not None and end is not None:
        if end < start:
            raise InvalidInput([FieldProblem(("to",), "must not be before from")])
        if max_days is not None and end - start > timedelta(days=max_days):
            raise InvalidInput([FieldProblem(("to",), f"the window may span at most {max_days} days")])
    elif max_days is not None:
        missing = [name for name, value in (("from", start), ("to", end)) if value is None]
        raise InvalidInput([FieldProblem((name,), "is required") for name in missing])
    return Window(start, end)


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """Course-level (or platform-level) figures; see docs/analytics.md for each definition."""

    enrollments: int
    enrolled_learners: int
    completed_enrollments: int
    active_learners: int
    lessons_completed: int
    courses_completed: int
    completion_rate: float | None
    average_completion_percentage: float | None
    median_time_to_completion_days: float | None
    p90_time_to_completion_days: float | None
    # Active time measured by the server (domain/completion/active_time.py) on current lessons
    total_active_seconds: int  # the cohort's records'
    average_active_seconds: float | None  # per enrollment of the cohort


@dataclass(frozen=True)
class LessonStats:
    lesson: Any  # the lesson's row (every column of lessons)
    enrolled: int  # the cohort's size, the denominator of completion_rate
    started: int
    completed: int
    reached: int
    average_time_spent_minutes: float | None
    average_active_seconds: float | None
    average_watched_ratio: float | None
    average_quiz_score: float | None
    quiz_pass_rate: float | None

    @property
    def completion_rate(self) -> float | None:
        return ratio(self.completed, self.enrolled)

    @property
    def completion_rate_among_started(self) -> float | None:
        return ratio(self.completed, self.started)


@dataclass(frozen=True)
class FunnelStep:
    lesson: Any
    reached: int
    reached_rate: float | None  # reached / enrolled
    lost: int  # previous step's reached (the cohort for the first lesson) minus this one's
    drop_off_rate: float | None  # lost / previous step's reached


@dataclass(frozen=True)
class DailyActivity:
    day: date
    active_learners: int
    lessons_completed: int
    courses_completed: int


def ratio(numerator: float, denominator: float, places: int = RATE_PLACES) -> float | None:
    """numerator / denominator rounded; None (no data) when the denominator is 0."""
    if not denominator:
        return None
    return round(numerator / denominator, places)


def _mean(total: Any, count: Any, places: int = PLACES) -> float | None:
    return ratio(float(total or 0), int(count or 0), places)


# --- the same figures in SQL (PostgreSQL), for the compiled reads ---------------------------------
# tests/test_analytics_twins.py evaluates each against its Python twin above on generated values.

# 2^52: a float8's mantissa bits, and the implicit leading bit of a normal one.
_MANTISSA = 2**52 - 1
_LEADING = 2**52


def rounded_sql(value: str, places: int) -> str:
    """Python's ``round(value, places)`` of a float8 (NULL stays NULL), exactly.

    PostgreSQL's own round() works on numeric, and a float8 becomes a numeric through 15
    significant digits: 0.125 and 0.00015 would round up where Python, which rounds the exact
    binary value half to even, gives 0.12 and 0.0001. So the float's bits are read
    (float8send), its exact value m·2^-s rounded half to even in numeric integers, and the digits
    parsed back as Python parses them (correctly rounded). One flat expression, ``value``
    repeated in it: a subquery is planned apart, and one per figure made planning the compiled
    courseAnalytics cost more than running it. Planning time grows with the copies of ``value``,
    so each part is written to need as few as it can (12; 31 before: ~10 ms of planning per
    courseAnalytics request on the bench document, bench/RESULTS.md).
    """
    x = f"({value})::float8"
    bits = f"('x' || encode(float8send({x}), 'hex'))::bit(64)::bigint"
    exponent = f"(({bits} >> 52) & 2047)"
    shift = f"(1075 - greatest({exponent}, 1))"  # |x| = m / 2^shift (a subnormal's exponent is 1)
    mantissa = f"(({bits} & {_MANTISSA}) + least({exponent}, 1) * {_LEADING})"
    scaled = f"({mantissa}::numeric * {10**places}::numeric)"
    unit = f"power(2::numeric, {shift})"
    whole = f"div({scaled}, {unit})"
    # Up when twice the rest passes the unit, or equals it and the whole is odd (half to even):
    # the rest is twice an integer and the unit even, so adding the whole's parity to it decides
    # both cases with one comparison.
    up = f"CASE WHEN 2 * mod({scaled}, {unit}) + mod({whole}, 2) > {unit} THEN 1 ELSE 0 END"
    sign = f"CASE WHEN {bits} < 0 THEN '-' ELSE '' END"
    return (
        f"(CASE WHEN {shift} <= 0 THEN {x} "
        f"ELSE ({sign} || ({whole} + {up})::text || 'e-{places}')::float8 END)"
    )


def ratio_sql(numerator: str, denominator: str, places: int = RATE_PLACES) -> str:
    """``ratio`` in SQL: NULL when the denominator is 0 (or NULL, as Python's ``not``)."""
    return (
        f"(CASE WHEN coalesce({denominator}, 0) = 0 THEN NULL "
        f"ELSE {rounded_sql(f'({numerator})::float8 / ({denominator})::float8', places)} END)"
    )


def mean_sql(total: str, count: str, places: int = PLACES) -> str:
    """``_mean`` in SQL: a NULL total counts 0."""
    return ratio_sql(f"coalesce({total}, 0)", count, places)


# --- shared pieces of SQL -----------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What is analysed: one course, with its current lessons' ids (read first, see
    ``course_lessons``), or every course (``Scope()``). The compiled reads name the course in
    SQL (``course_id`` an SQL expression): its lessons' ids are then an array read first."""

    course_id: int | ColumnElement[Any] | None = None
    lesson_ids: tuple[int, ...] = ()

    def lessons(self, column: Any) -> ColumnElement[bool]:
        """``column`` names one of the course's current lessons."""
        named: ColumnElement[bool]
        if isinstance(self.course_id, ColumnElement):
            # `= ANY(ARRAY(…))`, not `IN (SELECT …)`: the array is computed once (an InitPlan)
            # and the records read by one bitmap scan of ix_lesson_progress_lesson_id, each heap
            # page once (~1,300 buffers on the bench course); a semi-join read them lesson by
            # lesson (~48,000 buffers). Its estimate stays a guess, so the statements read the
            # records into materialised CTEs (Sources), which no join can misuse.
            ids = func.array(select(Lesson.id).where(_current_lessons(self.course_id)).scalar_subquery())
            named = column == any_(ids)
        else:
            named = column.in_(self.lesson_ids)
        return named


async def course_lessons(conn: AsyncConnection, course_id: int) -> list[Any]:
    """The course's current lessons in order (every column): one statement."""
    statement = select(*Lesson.__table__.c).where(_current_lessons(course_id)).order_by(Lesson.position)
    return list(await conn.execute(statement))


def _by_course(column: Any, scope: Scope) -> ColumnElement[bool]:
    return true() if scope.course_id is None else column == scope.course_id


def _current_lessons(course_id: int | ColumnElement[Any] | None) -> ColumnElement[bool]:
    # A removed lesson's records are kept for audit but count nowhere (as in summary.py).
    return and_(Lesson.removed_at.is_(None), true() if course_id is None else Lesson.course_id == course_id)


def _cohort_select(scope: Scope, window: Window, *columns: Any) -> Select[Any]:
    """The enrollments analysed: the course's (or all), enrolled within the window."""
    return select(*(columns or (Enrollment.user_id, Enrollment.course_id))).where(
        _by_course(Enrollment.course_id, scope), window.contains(Enrollment.enrolled_at)
    )


def _cohort(scope: Scope, window: Window) -> CTE:
    columns = (Enrollment.enrolled_at, Enrollment.completed_at, Enrollment.status)
    return _cohort_select(scope, window, Enrollment.user_id, Enrollment.course_id, *columns).cte("cohort")


def _records(scope: Scope) -> CTE:
    """Every record on a current lesson of the course (or of any course), with its lesson's facts.

    For one course the records are asked by the lessons' ids as values (`lesson_id IN (…)`):
    PostgreSQL then estimates them from its statistics and reads them through
    ix_lesson_progress_lesson_id. Asked through a join to lessons (or a subquery of their ids) it
    cannot, and chose a whole-table scan or nested loops over every enrollment's records
    (bench/RESULTS.md, "courseAnalytics").
    """
    statement = select(
        LessonProgress.user_id,
        LessonProgress.lesson_id,
        LessonProgress.completed,
        LessonProgress.completed_at,
        LessonProgress.updated_at,
        LessonProgress.last_accessed_at,
        LessonProgress.time_spent_minutes,
        LessonProgress.active_seconds,
        LessonProgress.video_position_seconds,
        LessonProgress.quiz_score,
        LessonProgress.quiz_passed,
        Lesson.course_id,
        Lesson.position,
        Lesson.is_required,
        Lesson.kind,
        Lesson.duration_seconds,
    ).join(Lesson, Lesson.id == LessonProgress.lesson_id)
    if scope.course_id is not None:
        return statement.where(scope.lessons(LessonProgress.lesson_id)).cte("records")
    # Every course: read where used rather than materialised (it would spill to disk).
    cte = statement.where(Lesson.removed_at.is_(None)).cte("records")
    return cte.prefix_with("NOT MATERIALIZED", dialect="postgresql")


@dataclass(frozen=True)
class Sources:
    """One course's cohort, its lessons' records and the cohort's records among them, as CTEs
    that ``totals_statement`` and ``lesson_stats_statement`` share when they are parts of one
    statement (``course_figures_statement``): each is then read once, and materialised, so
    every join over them is a hash join whatever PostgreSQL estimates (bench/RESULTS.md)."""

    cohort: CTE
    records: CTE
    cohort_records: CTE


def _sources(scope: Scope, window: Window, *, shared: bool = False) -> Sources:
    cohort = _cohort(scope, window)
    records = _records(scope)
    # One course: a learner is enrolled in it at most once (uq_enrollments_user_id_course_id),
    # so the join keeps each record of the cohort once.
    cohort_records = select(*records.c).join(cohort, cohort.c.user_id == records.c.user_id).cte("record")
    if shared:
        # Over the materialised records each reader hashes the cohort again, which costs less
        # than writing the joined rows to a second tuplestore (past work_mem: temp files) and
        # reading them back: 309 -> 255 ms median on the bench course (bench/RESULTS.md).
        cohort_records = cohort_records.prefix_with("NOT MATERIALIZED", dialect="postgresql")
    return Sources(cohort, records, cohort_records)


def _flag(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def _days_between(dialect: str, start: Any, end: Any) -> Any:
    """(end - start) in days, as a float, on either database."""
    if dialect == "postgresql":
        return cast(extract("epoch", end - start), Float) / float(SECONDS_PER_DAY)
    # SQLite keeps UTC timestamps as text; julianday() reads them as days.
    return func.julianday(end) - func.julianday(start)


def _utc_day(conn: AsyncConnection, column: Any) -> Any:
    """The UTC calendar date of a timestamp: a date on PostgreSQL, 'YYYY-MM-DD' text on SQLite
    (str() of either is the ISO date)."""
    if conn.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)  # stored as naive UTC text


# The percentiles reported, as exact fractions (numerator, denominator) of the ranks.
MEDIAN = (1, 2)
P90 = (9, 10)


def _percentile_picks(ranked: Any, fractions: Sequence[tuple[str, tuple[int, int]]]) -> list[Any]:
    """For each fraction a/b, the values at 0-based ranks ⌊(n−1)·a/b⌋ and the next one.

    Integer arithmetic on both databases, so both pick the same rows; ``interpolate`` then
    computes the linearly interpolated percentile from them.
    """
    picks = []
    for name, (a, b) in fractions:
        low = (ranked.c.n - 1) * a // b
        picks.append(func.max(case((ranked.c.r == low, ranked.c.days))).label(f"{name}_low"))
        picks.append(func.max(case((ranked.c.r == low + 1, ranked.c.days))).label(f"{name}_high"))
    return picks


def interpolate(n: int | None, fraction: tuple[int, int], low: Any, high: Any) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont, NumPy's default):
    with the n values sorted, rank h = (n − 1)·p (0-based), value = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])."""
    if not n or low is None:
        return None
    a, b = fraction
    rest = ((n - 1) * a) % b  # h − ⌊h⌋ = rest / b, exactly
    value = float(low) if rest == 0 else float(low) + rest / b * (float(high) - float(low))
    return round(value, PLACES)


def interpolate_sql(n: str, fraction: tuple[int, int], low: str, high: str) -> str:
    """``interpolate`` in SQL, the same float8 operations in the same order."""
    a, b = fraction
    rest = f"((({n}) - 1) * {a}) % {b}"
    value = (
        f"CASE WHEN {rest} = 0 THEN ({low})::float8 "
        f"ELSE ({low})::float8 + ({rest})::float8 / {b}::float8 * (({high})::float8 - ({low})::float8) END"
    )
    return (
        f"(CASE WHEN coalesce({n}, 0) = 0 OR {low} IS NULL THEN NULL ELSE {rounded_sql(value, PLACES)} END)"
    )


# --- course and platform totals -----------------------------------------------------------------


async def totals(conn: AsyncConnection, scope: Scope, window: Window) -> Totals:
    """Every course-level figure for one course (or every course), one statement."""
    row = (await conn.execute(totals_statement(conn.dialect.name, scope, window))).one()
    enrollments = int(row.enrollments)
    completed = int(row.completed or 0)
    n = None if row.n is None else int(row.n)
    return Totals(
        enrollments=enrollments,
        enrolled_learners=int(row.learners),
        completed_enrollments=completed,
        active_learners=int(row.active or 0),
        lessons_completed=int(row.lessons_completed or 0),
        courses_completed=int(row.courses_completed or 0),
        completion_rate=ratio(completed, enrollments),
        average_completion_percentage=ratio(100.0 * float(row.share or 0), enrollments, PLACES),
        median_time_to_completion_days=interpolate(n, MEDIAN, row.median_low, row.median_high),
        p90_time_to_completion_days=interpolate(n, P90, row.p90_low, row.p90_high),
        total_active_seconds=int(row.active_seconds or 0),
        average_active_seconds=_mean(row.active_seconds, enrollments),
    )


def totals_sql(row: str) -> dict[str, str]:
    """``totals``' figures in SQL over a row of ``totals_statement`` (alias ``row``), by the
    field of Totals each is, written with the twins of the Python above."""
    enrollments, completed = f"{row}.enrollments", f"coalesce({row}.completed, 0)"
    return {
        "enrollments": enrollments,
        "enrolled_learners": f"{row}.learners",
        "completed_enrollments": completed,
        "active_learners": f"coalesce({row}.active, 0)",
        "lessons_completed": f"coalesce({row}.lessons_completed, 0)",
        "courses_completed": f"coalesce({row}.courses_completed, 0)",
        "completion_rate": ratio_sql(completed, enrollments),
        "average_completion_percentage": ratio_sql(
            f"100.0::float8 * coalesce({row}.share, 0)::float8", enrollments, PLACES
        ),
        "median_time_to_completion_days": interpolate_sql(
            f"{row}.n", MEDIAN, f"{row}.median_low", f"{row}.median_high"
        ),
        "p90_time_to_completion_days": interpolate_sql(f"{row}.n", P90, f"{row}.p90_low", f"{row}.p90_high"),
        "total_active_seconds": f"coalesce({row}.active_seconds, 0)",
        "average_active_seconds": mean_sql(f"{row}.active_seconds", enrollments),
    }


def totals_statement(
    dialect: str, scope: Scope, window: Window, sources: Sources | None = None
) -> Select[Any]:
    """The statement ``totals`` reads its one row from (raw counts, sums and percentile picks);
    over ``sources`` when given (one course's, shared with lesson_stats_statement)."""
    cohort = _cohort(scope, window) if sources is None else sources.cohort

    # The summary's rule (summary.counted_lessons): the required lessons count toward completion,
    # or every lesson when none is required; a course without lessons counts 0 % for everyone.
    needs = (
        select(
            Lesson.course_id,
            func.count().label("lessons"),
            func.sum(_flag(Lesson.is_required)).label("required"),
        )
        .where(_current_lessons(scope.course_id))
        .group_by(Lesson.course_id)
        .cte("needs")
    )
    records = _records(scope) if sources is None else sources.records
    cohort_records: Any
    if sources is None:
        # A semi-join (IN), not a join: PostgreSQL then hashes the cohort instead of pairing
        # every lesson with every enrollment of its course first (bench/RESULTS.md).
        cohort_records = (
            select(*records.c)
            .where(tuple_(records.c.user_id, records.c.course_id).in_(_cohort_select(scope, window)))
            .subquery("cohort_records")
        )
    else:
        cohort_records = sources.cohort_records
    # The cohort's records per course, in one pass: the completed ones (for the share) and the
    # active time of all of them.
    done = (
        select(
            cohort_records.c.course_id,
            func.sum(_flag(cohort_records.c.completed)).label("done_all"),
            func.sum(_flag(and_(cohort_records.c.completed, cohort_records.c.is_required))).label(
                "done_required"
            ),
            func.sum(cohort_records.c.active_seconds).label("active_seconds"),
        )
        .group_by(cohort_records.c.course_id)
        .cte("done")
    )
    active_seconds = select(func.sum(done.c.active_seconds)).scalar_subquery()
    # Σ over the cohort of done/needed = Σ over courses of (the course's done) / (its needed).
    share = (
        select(
            func.sum(
                case(
                    (needs.c.required > 0, cast(done.c.done_required, Float) / cast(needs.c.required, Float)),
                    (needs.c.lessons > 0, cast(done.c.done_all, Float) / cast(needs.c.lessons, Float)),
                    else_=0.0,
                )
            )
        )
        .select_from(done)
        .join(needs, needs.c.course_id == done.c.course_id)
        .scalar_subquery()
    )

    days = _days_between(dialect, cohort.c.enrolled_at, cohort.c.completed_at)
    ranked = (
        select(
            days.label("days"),
            (func.row_number().over(order_by=days) - 1).label("r"),
            func.count().over().label("n"),
        )
        .where(cohort.c.completed_at.is_not(None))
        .cte("ranked")
    )
    percentiles = select(
        func.max(ranked.c.n).label("n"), *_percentile_picks(ranked, (("median", MEDIAN), ("p90", P90)))
    ).subquery("percentiles")

    # Learners grouped first (a hash aggregate), then counted: COUNT(DISTINCT) would sort them.
    writes = or_(window.contains(records.c.updated_at), window.contains(records.c.last_accessed_at))
    writers = select(records.c.user_id).where(writes).group_by(records.c.user_id).subquery("writers")
    active = select(func.count()).select_from(writers).scalar_subquery()
    lessons_completed = (
        select(func.count())
        .select_from(records)
        .where(records.c.completed_at.is_not(None), window.contains(records.c.completed_at))
        .scalar_subquery()
    )
    courses_completed = (
        select(func.count())
        .select_from(Enrollment)
        .where(
            _by_course(Enrollment.course_id, scope),
            Enrollment.completed_at.is_not(None),
            window.contains(Enrollment.completed_at),
        )
        .scalar_subquery()
    )
    counts = select(
        func.count().label("enrollments"),
        func.count(distinct(cohort.c.user_id)).label("learners"),
        func.sum(_flag(cohort.c.status == EnrollmentStatus.COMPLETED.value)).label("completed"),
    ).subquery("counts")

    return select(
        counts.c.enrollments,
        counts.c.learners,
        counts.c.completed,
        share.label("share"),
        active_seconds.label("active_seconds"),
        active.label("active"),
        lessons_completed.label("lessons_completed"),
        courses_completed.label("courses_completed"),
        *percentiles.c,
    ).select_from(counts.join(percentiles, true()))


# --- per lesson ---------------------------------------------------------------------------------


async def lesson_stats(conn: AsyncConnection, scope: Scope, window: Window) -> list[LessonStats]:
    """One row per current lesson of the course, in order, for the cohort; one statement."""
    result = []
    for row in await conn.execute(lesson_stats_statement(conn.dialect.name, scope, window)):
        started = int(row.started or 0)
        result.append(
            LessonStats(
                lesson=row,
                enrolled=int(row.enrolled),
                started=started,
                completed=int(row.completed or 0),
                reached=int(row.reached or 0),
                average_time_spent_minutes=_mean(row.time_spent, started),
                average_active_seconds=_mean(row.active_seconds, started),
                average_watched_ratio=_mean(row.watched, row.watched_n, RATE_PLACES),
                average_quiz_score=_mean(row.quiz_score, row.quiz_n),
                quiz_pass_rate=ratio(int(row.passed or 0), int(row.verdicts or 0)),
            )
        )
    return result


# The columns of lesson_stats_statement that lesson_stats_sql, funnel_source_sql and
# hardest_source_sql read (besides the lesson's id, by which the lesson itself is read).
LESSON_STATS_COLUMNS = (
    "id",
    "position",
    "enrolled",
    "started",
    "completed",
    "time_spent",
    "active_seconds",
    "watched",
    "watched_n",
    "quiz_score",
    "quiz_n",
    "passed",
    "verdicts",
    "reached",
)


def lesson_stats_sql(row: str) -> dict[str, str]:
    """``lesson_stats``' figures in SQL over a row of ``lesson_stats_statement`` (alias ``row``),
    by the field of LessonStats each is (``completion_rate*`` its properties)."""
    started, completed = f"coalesce({row}.started, 0)", f"coalesce({row}.completed, 0)"
    return {
        "enrolled": f"{row}.enrolled",
        "started": started,
        "completed": completed,
        "reached": f"coalesce({row}.reached, 0)",
        "average_time_spent_minutes": mean_sql(f"{row}.time_spent", started),
        "average_active_seconds": mean_sql(f"{row}.active_seconds", started),
        "average_watched_ratio": mean_sql(f"{row}.watched", f"{row}.watched_n", RATE_PLACES),
        "average_quiz_score": mean_sql(f"{row}.quiz_score", f"{row}.quiz_n"),
        "quiz_pass_rate": ratio_sql(f"coalesce({row}.passed, 0)", f"coalesce({row}.verdicts, 0)"),
        "completion_rate": ratio_sql(completed, f"{row}.enrolled"),
        "completion_rate_among_started": ratio_sql(completed, started),
    }


def _sum_of_floats(dialect: str, value: Any) -> Any:
    """SUM of float values, the same whatever order the rows come in: PostgreSQL adds them as
    numeric, so two statements that read the same rows in different plans agree to the bit."""
    if dialect == "postgresql":
        return cast(func.sum(cast(value, Numeric)), Float)
    return func.sum(value)


def lesson_stats_statement(
    dialect: str, scope: Scope, window: Window, sources: Sources | None = None
) -> Select[Any]:
    """The statement ``lesson_stats`` reads: every column of each current lesson of the course,
    in order, with the cohort's raw counts and sums on it; over ``sources`` when given."""
    assert scope.course_id is not None
    sources = sources or _sources(scope, window)
    cohort, record = sources.cohort, sources.cohort_records
    is_video = and_(record.c.kind == LessonKind.VIDEO.value, record.c.duration_seconds > 0)
    is_quiz = record.c.kind == LessonKind.QUIZ.value
    watched = case(
        (
            is_video,
            case(
                (record.c.video_position_seconds >= record.c.duration_seconds, 1.0),
                else_=cast(record.c.video_position_seconds, Float) / cast(record.c.duration_seconds, Float),
            ),
        )
    )
    quiz_score = case((is_quiz, record.c.quiz_score))
    quiz_passed = case((is_quiz, record.c.quiz_passed))
    stats = (
        select(
            record.c.lesson_id,
            func.count().label("started"),
            func.sum(_flag(record.c.completed)).label("completed"),
            func.sum(record.c.time_spent_minutes).label("time_spent"),
            func.sum(record.c.active_seconds).label("active_seconds"),
            _sum_of_floats(dialect, watched).label("watched"),
            func.count(watched).label("watched_n"),
            _sum_of_floats(dialect, quiz_score).label("quiz_score"),
            func.count(quiz_score).label("quiz_n"),
            func.sum(_flag(quiz_passed == True)).label("passed"),  # noqa: E712 (SQL, not Python)
            func.count(quiz_passed).label("verdicts"),
        )
        .group_by(record.c.lesson_id)
        .cte("stats")
    )
    # Each learner's furthest lesson (highest position with any record); a lesson is reached by
    # every learner whose furthest is at or past it: a running sum from the last lesson back.
    furthest = (
        select(record.c.user_id, func.max(record.c.position).label("position"))
        .group_by(record.c.user_id)
        .cte("furthest")
    )
    ends = (
        select(furthest.c.position, func.count().label("learners")).group_by(furthest.c.position).cte("ends")
    )
    enrolled = select(func.count()).select_from(cohort).scalar_subquery()
    return (
        select(
            *Lesson.__table__.c,
            enrolled.label("enrolled"),
            *(column for column in stats.c if column.name != "lesson_id"),
            func.sum(func.coalesce(ends.c.learners, 0))
            .over(order_by=Lesson.position.desc(), rows=(None, 0))
            .label("reached"),
        )
        .outerjoin(stats, stats.c.lesson_id == Lesson.id)
        .outerjoin(ends, ends.c.position == Lesson.position)
        .where(scope.lessons(Lesson.id))
        .order_by(Lesson.position)
    )


def course_figures_statement(scope: Scope, window: Window) -> Select[Any]:
    """One course's figures in one PostgreSQL statement (the compiled reads): the row of
    ``totals_statement`` and, as ``ls_<column>`` arrays in lesson order, the rows of
    ``lesson_stats_statement``'s ``LESSON_STATS_COLUMNS``, both over one reading of the records."""
    sources = _sources(scope, window, shared=True)
    totals = totals_statement("postgresql", scope, window, sources).subquery("totals")
    stats = lesson_stats_statement("postgresql", scope, window, sources).subquery("ls")
    arrays = select(
        *(
            func.array_agg(aggregate_order_by(stats.c[name], stats.c.position)).label(f"ls_{name}")
            for name in LESSON_STATS_COLUMNS
        )
    ).subquery("arrays")
    return select(totals, arrays).select_from(totals.join(arrays, true()))


def funnel(lessons: Sequence[LessonStats]) -> list[FunnelStep]:
    """The drop-off funnel over the lessons in order (pure: from lesson_stats' rows)."""
    steps = []
    previous = lessons[0].enrolled if lessons else 0
    for stats in lessons:
        lost = previous - stats.reached
        steps.append(
            FunnelStep(
                lesson=stats.lesson,
                reached=stats.reached,
                reached_rate=ratio(stats.reached, stats.enrolled),
                lost=lost,
                drop_off_rate=ratio(lost, previous),
            )
        )
        previous = stats.reached
    return steps


def hardest(lessons: Sequence[LessonStats], *, limit: int, min_sample: int) -> list[LessonStats]:
    """Lessons started by at least ``min_sample`` learners, lowest completion among those who
    started first; ties: more starters first, then course order."""
    eligible = [s for s in lessons if s.started >= min_sample]
    eligible.sort(key=lambda s: (s.completed / s.started, -s.started, s.lesson.position))
    return eligible[:limit]


# The funnel and the ranking in SQL, over the rows of lesson_stats_statement (``stats``: its SQL).


def funnel_source_sql(stats: str, alias: str) -> str:
    """``funnel``'s steps as rows (FROM … WHERE, for ``funnel_sql``): each lesson's row with the
    step before's reached (the cohort's size for the first) as ``previous``."""
    return (
        f"FROM (SELECT fs.*, coalesce(lag(coalesce(fs.reached, 0)) OVER (ORDER BY fs.position), fs.enrolled) "
        f"AS previous FROM ({stats}) fs) {alias} WHERE true"
    )


def funnel_sql(step: str) -> dict[str, str]:
    """A FunnelStep's figures over a row of ``funnel_source_sql`` (alias ``step``)."""
    reached = f"coalesce({step}.reached, 0)"
    return {
        "reached": reached,
        "reached_rate": ratio_sql(reached, f"{step}.enrolled"),
        "lost": f"({step}.previous - {reached})",
        "drop_off_rate": ratio_sql(f"{step}.previous - {reached}", f"{step}.previous"),
    }


def hardest_order_sql(alias: str) -> str:
    """``hardest``'s order: the same float division, then more starters, then course order."""
    return (
        f"coalesce({alias}.completed, 0)::float8 / {alias}.started::float8, {alias}.started DESC, "
        f"{alias}.position"
    )


def hardest_source_sql(stats: str, alias: str, limit: str, min_sample: str) -> str:
    """``hardest``'s lessons as rows (FROM … WHERE; order them by ``hardest_order_sql``)."""
    return (
        f"FROM (SELECT hs.* FROM ({stats}) hs WHERE coalesce(hs.started, 0) >= {min_sample} "
        f"ORDER BY {hardest_order_sql('hs')} LIMIT {limit}) {alias} WHERE true"
    )


def postgresql_text(statement: Select[Any]) -> str:
    """A statement of this module as PostgreSQL text, its constants inlined, to be embedded in a
    larger statement (the compiled reads: a course and window given as SQL, see Scope and Window)."""
    dialect = PGDialect()  # type: ignore[no-untyped-call]
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


# --- the platform's daily series ------------------------------------------------------------------


async def daily(conn: AsyncConnection, window: Window) -> list[DailyActivity]:
    """Every UTC day the (bounded) window touches, zero-filled; one statement."""
    updated = _utc_day(conn, LessonProgress.updated_at)
    accessed = _utc_day(conn, LessonProgress.last_accessed_at)
    current = Lesson.removed_at.is_(None)
    # A learner is active on a day when one of their records was written (updated_at or
    # lastAccessedAt) that day. Each (learner, day) is kept once by grouping (a hash aggregate;
    # UNION or COUNT(DISTINCT) would sort millions of rows), then the days are counted.
    both = union_all(
        select(LessonProgress.user_id, updated.label("day"))
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(current, window.contains(LessonProgress.updated_at)),
        select(LessonProgress.user_id, accessed.label("day"))
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(current, window.contains(LessonProgress.last_accessed_at)),
    ).subquery("both_writes")
    writes = select(both.c.user_id, both.c.day).group_by(both.c.user_id, both.c.day).subquery("writes")
    completed_day = _utc_day(conn, LessonProgress.completed_at)
    enrollment_day = _utc_day(conn, Enrollment.completed_at)
    statement = union_all(
        select(writes.c.day, literal("active").label("metric"), func.count()).group_by(writes.c.day),
        select(completed_day, literal("lessons"), func.count())
        .select_from(LessonProgress)
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(
            current,
            LessonProgress.completed_at.is_not(None),
            window.contains(LessonProgress.completed_at),
        )
        .group_by(completed_day),
        select(enrollment_day, literal("courses"), func.count())
        .where(Enrollment.completed_at.is_not(None), window.contains(Enrollment.completed_at))
        .group_by(enrollment_day),
    )
    found: dict[tuple[str, str], int] = {}
    for day, metric, count in await conn.execute(statement):
        found[(str(day), metric)] = int(count)
    return [
        DailyActivity(
            day=day,
            active_learners=found.get((day.isoformat(), "active"), 0),
            lessons_completed=found.get((day.isoformat(), "lessons"), 0),
            courses_completed=found.get((day.isoformat(), "courses"), 0),
        )
        for day in window.days()
    ]
