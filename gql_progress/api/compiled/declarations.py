"""How each field the compiler covers comes from the database: stated once, per GraphQL type.

A field is a ``Value`` (a column or an SQL expression of the row, rendered as the GraphQL layer
serializes it) or a ``Nested`` object or list read by a correlated subquery. Each nested scope
carries the *subject*: the user whose progress the nested fields show (the caller at the top, the
enrolled user below an enrollment), as the resolvers pass ``subject_user_id`` down.

Rules that exist in Python too are not rewritten here: the summary's counting and percentage come
from domain/completion/summary.py's SQL twins, which tests/test_summary.py holds to the Python. Fields not
declared here (or declared but asked with arguments) make the whole document fall back to the
resolvers (api/compiled/planner.py); tests/test_compiled_reads.py runs both paths on the same data
and requires the same JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gql_progress.api.compiled.sql import global_id, iso_utc
from gql_progress.domain.completion.summary import (
    completion_percentage_sql,
    counted_lessons_sql,
    is_complete_sql,
)


@dataclass(frozen=True, slots=True)
class Scope:
    """A row being rendered: its table alias and the SQL of its subject user's id."""

    alias: str
    subject: str


@dataclass(frozen=True, slots=True)
class Value:
    """A leaf field: the SQL of its JSON value, given the row's scope."""

    sql: Callable[[Scope], str]


@dataclass(frozen=True, slots=True)
class Nested:
    """An object (``many=False``, null when no row) or a list, read from ``source``: the FROM and
    WHERE of a subquery, given the parent's scope and the child's alias."""

    type_name: str
    many: bool
    source: Callable[[Scope, str], str]
    subject: Callable[[Scope, str], str]
    order_by: Callable[[str], str] | None = None


@dataclass(frozen=True, slots=True)
class Paged:
    """A cursor connection (``first``/``after``, api/pagination.py): keyset pages of ``node_type``
    rows from ``source`` in ``key`` order, the cursor being the key, with ``totalCount``,
    ``edges``, ``nodes`` and ``pageInfo``."""

    node_type: str
    source: Callable[[Scope, str], str]
    subject: Callable[[Scope, str], str]
    key: str


Field = Value | Nested | Paged


def column(name: str) -> Value:
    return Value(lambda s: f"{s.alias}.{name}")


def timestamp(name: str) -> Value:
    return Value(lambda s: iso_utc(f"{s.alias}.{name}"))


def node_id(type_name: str, name: str = "id") -> Value:
    return Value(lambda s: global_id(type_name, f"{s.alias}.{name}"))


def _same_subject(parent: Scope, _alias: str) -> str:
    return parent.subject


# Progress.status and Lesson.progressStatus: the record's state (api/types/lesson.py's _status).
def record_status(alias: str) -> str:
    return f"CASE WHEN {alias}.completed THEN 'COMPLETED' ELSE 'IN_PROGRESS' END"


def _progress_status(s: Scope) -> str:
    return (
        f"coalesce((SELECT {record_status('ps')} FROM lesson_progress ps "
        f"WHERE ps.user_id = {s.subject} AND ps.lesson_id = {s.alias}.id), 'NOT_STARTED')"
    )


# CourseSummary: one row of counts for (subject, course), the counts of domain/completion/summary.py's
# count_course (current lessons only; the subject's records on them).
def _summary_source(course_id: Callable[[Scope], str]) -> Callable[[Scope, str], str]:
    def source(parent: Scope, alias: str) -> str:
        return (
            "FROM (SELECT "
            f"{parent.subject} AS user_id, {course_id(parent)} AS course_id, "
            "count(*) AS total, count(*) FILTER (WHERE sl.is_required) AS required, "
            "count(sp.id) FILTER (WHERE sp.completed) AS completed, "
            "count(sp.id) FILTER (WHERE sp.completed AND sl.is_required) AS completed_required, "
            "count(sp.id) FILTER (WHERE NOT sp.completed) AS in_progress, "
            "coalesce(sum(sp.time_spent_minutes), 0) AS time_spent, "
            "max(sp.last_accessed_at) AS last_accessed_at "
            "FROM lessons sl LEFT JOIN lesson_progress sp "
            f"ON sp.lesson_id = sl.id AND sp.user_id = {parent.subject} "
            f"WHERE sl.course_id = {course_id(parent)} AND sl.removed_at IS NULL) {alias}"
        )

    return source


def _counted(s: Scope) -> tuple[str, str]:
    a = s.alias
    return counted_lessons_sql(f"{a}.total", f"{a}.required", f"{a}.completed", f"{a}.completed_required")


# Query.courses: every course by id, progress below them the caller's.
ALL_COURSES = Paged(
    "Course",
    source=lambda _p, a: f"FROM courses {a} WHERE true",
    subject=_same_subject,
    key="id",
)

TYPES: dict[str, dict[str, Field]] = {
    "Course": {
        "id": node_id("Course"),
        "slug": column("slug"),
        "productId": column("product_id"),
        "title": column("title"),
        "description": column("description"),
        "expectedCompletionDays": column("expected_completion_days"),
        "requiresSequentialProgress": column("requires_sequential_progress"),
        "certificateEnabled": column("certificate_enabled"),
        "keepCompletionOnChange": column("keep_completion_on_change"),
        "videoCompletionThreshold": column("video_completion_threshold"),
        "createdAt": timestamp("created_at"),
        "updatedAt": timestamp("updated_at"),
        # Course.lessons: the current lessons (removed ones left out), by position.
        "lessons": Nested(
            "Lesson",
            many=True,
            source=lambda p, a: (
                f"FROM lessons {a} WHERE {a}.course_id = {p.alias}.id AND {a}.removed_at IS NULL"
            ),
            subject=_same_subject,
            order_by=lambda a: f"{a}.position",
        ),
        "summary": Nested(
            "CourseSummary",
            many=False,
            source=_summary_source(lambda p: f"{p.alias}.id"),
            subject=_same_subject,
        ),
        # Course.lessonsConnection: the same lessons, paged by position (the cursor).
        "lessonsConnection": Paged(
            "Lesson",
            source=lambda p, a: (
                f"FROM lessons {a} WHERE {a}.course_id = {p.alias}.id AND {a}.removed_at IS NULL"
            ),
            subject=_same_subject,
            key="position",
        ),
    },
    "Lesson": {
        "id": node_id("Lesson"),
        "position": column("position"),
        "title": column("title"),
        "externalId": column("external_id"),
        "kind": column("kind"),
        "durationSeconds": column("duration_seconds"),
        "isRequired": column("is_required"),
        "passScore": column("pass_score"),
        "createdAt": timestamp("created_at"),
        "updatedAt": timestamp("updated_at"),
        "removedAt": timestamp("removed_at"),
        "progressStatus": Value(_progress_status),
        "progress": Nested(
            "Progress",
            many=False,
            source=lambda p, a: (
                f"FROM lesson_progress {a} WHERE {a}.user_id = {p.subject} AND {a}.lesson_id = {p.alias}.id"
            ),
            subject=_same_subject,
        ),
        "course": Nested(
            "Course",
            many=False,
            source=lambda p, a: f"FROM courses {a} WHERE {a}.id = {p.alias}.course_id",
            subject=_same_subject,
        ),
    },
    "Progress": {
        "id": node_id("Progress"),
        "status": Value(lambda s: record_status(s.alias)),
        "completed": column("completed"),
        "progressPercentage": column("progress_percentage"),
        "videoPositionSeconds": column("video_position_seconds"),
        "lastPositionSeconds": column("last_position_seconds"),
        "quizScore": column("quiz_score"),
        "quizAttempts": column("quiz_attempts"),
        "quizPassed": column("quiz_passed"),
        "timeSpentMinutes": column("time_spent_minutes"),
        "notes": column("notes"),
        "isBookmarked": column("is_bookmarked"),
        "metadata": column("metadata"),
        "completedAt": timestamp("completed_at"),
        "lastAccessedAt": timestamp("last_accessed_at"),
        "createdAt": timestamp("created_at"),
        "updatedAt": timestamp("updated_at"),
        "grantReason": column("grant_reason"),
    },
    "CourseSummary": {
        "courseId": node_id("Course", "course_id"),
        "userId": node_id("User", "user_id"),
        "totalLessons": column("total"),
        "completedLessons": column("completed"),
        "inProgressLessons": column("in_progress"),
        "requiredLessons": column("required"),
        "completedRequiredLessons": column("completed_required"),
        "completionPercentage": Value(lambda s: completion_percentage_sql(*_counted(s))),
        # A sum (bigint) shown as a GraphQL Int: past 2^31 - 1 graphql-core refuses to serialize
        # it (an error, and null up to the nearest nullable field), which one statement cannot
        # say. The int4 cast makes PostgreSQL refuse it too, and the runner lets the resolvers
        # answer; within range it changes nothing.
        "totalTimeSpentMinutes": Value(lambda s: f"{s.alias}.time_spent::int4"),
        "lastAccessedAt": timestamp("last_accessed_at"),
        "isComplete": Value(lambda s: is_complete_sql(*_counted(s))),
    },
    "User": {
        "id": node_id("User"),
        "externalId": column("external_id"),
        "email": column("email"),
        "name": column("name"),
        "role": column("role"),
        "createdAt": timestamp("created_at"),
        # Reached only as `me` (see planner.ROOTS): the caller's own, which owns_or_admin allows.
        "enrollments": Nested(
            "Enrollment",
            many=True,
            source=lambda p, a: f"FROM enrollments {a} WHERE {a}.user_id = {p.alias}.id",
            subject=lambda _p, a: f"{a}.user_id",
            order_by=lambda a: f"{a}.enrolled_at, {a}.id",
        ),
        # Oldest first by id (api/queries/enrollment_listing.py), the caller's own.
        "enrollmentsConnection": Paged(
            "Enrollment",
            source=lambda p, a: f"FROM enrollments {a} WHERE {a}.user_id = {p.alias}.id",
            subject=lambda _p, a: f"{a}.user_id",
            key="id",
        ),
    },
    "Enrollment": {
        "id": node_id("Enrollment"),
        "enrolledAt": timestamp("enrolled_at"),
        "status": column("status"),
        "completedAt": timestamp("completed_at"),
        # Below an enrollment, progress is the enrolled user's.
        "course": Nested(
            "Course",
            many=False,
            source=lambda p, a: f"FROM courses {a} WHERE {a}.id = {p.alias}.course_id",
            subject=lambda p, _a: f"{p.alias}.user_id",
        ),
        "summary": Nested(
            "CourseSummary",
            many=False,
            source=_summary_source(lambda p: f"{p.alias}.course_id"),
            subject=lambda p, _a: f"{p.alias}.user_id",
        ),
    },
}
