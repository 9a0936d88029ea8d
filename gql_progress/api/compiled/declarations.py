"""How each field the compiler covers comes from the database: stated once, per GraphQL type.

A field is a ``Value`` (a column or an SQL expression of the row, rendered as the GraphQL layer
serializes it) or a ``Nested`` object or list read by a correlated subquery. Each nested scope
carries the *subject*: the user whose progress the nested fields show (the caller at the top, the
enrolled user below an enrollment), as the resolvers pass ``subject_user_id`` down.

Rules that exist in Python too are not rewritten here: the summary's counting and percentage come
from domain/completion/summary.py's SQL twins, which tests/test_summary.py holds to the Python, and a
bundle's rollup from domain/bundle_progress.py's (tests/test_bundle_progress_twins.py). Fields not
declared here (or declared but asked with arguments) make the whole document fall back to the
resolvers (api/compiled/planner.py); tests/test_compiled_reads.py runs both paths on the same data
and requires the same JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import literal_column

from gql_progress.api.compiled.arguments import Kind
from gql_progress.api.compiled.errors import PLAIN_ERROR_TYPES, refusal_columns
from gql_progress.api.compiled.sql import global_id, iso_utc, text_literal
from gql_progress.api.types.product import PRODUCT_TYPES
from gql_progress.db.models import ProductKind
from gql_progress.domain import analytics
from gql_progress.domain.bundle_progress import (
    Refusal,
    item_completed_sql,
    item_fraction_sql,
    mean_percentage_sql,
    pair_outcome_sql,
    product_consumed_at_sql,
)
from gql_progress.domain.completion.summary import (
    completion_percentage_sql,
    counted_lessons_sql,
    is_complete_sql,
)
from gql_progress.domain.event_data import public_event_data_sql
from gql_progress.domain.events import settled_upper_id_sql
from gql_progress.domain.teaching import may_see_course_learners_sql
from gql_progress.domain.viewer import can_access_sql, subject_allowed_sql

# The statement's caller row (api/compiled/planner.py): the viewer's id, is_admin and role, the
# names the access rules' SQL twins (domain/viewer.py, domain/teaching.py) are written against.
CALLER = "caller"


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
    # Forward pages only: the highest key a page may show, given the SQL of the ``after`` key
    # (0 when none) and of the page's last key; NULL for no limit. A page cut short by it says
    # more follow (the event log's settled ids, domain/events.py).
    upper: Callable[[str, str], str] | None = None


@dataclass(frozen=True, slots=True)
class Member:
    """One member type of a union-typed list: the items it renders (``when``, an SQL condition on
    the item row) and where its own row comes from, given the item's scope."""

    type_name: str
    when: Callable[[str], str]
    source: Callable[[Scope, str], str]


@dataclass(frozen=True, slots=True)
class Choice:
    """A list whose items are of a union or interface type: the item rows of ``source`` in
    order, each rendered as the first member whose condition it meets; progress below is the
    parent's. With ``many=False``, one such object (null when ``source`` has no row)."""

    source: Callable[[Scope, str], str]
    members: tuple[Member, ...]
    order_by: Callable[[str], str] | None = None
    many: bool = True


@dataclass(frozen=True, slots=True)
class Parameterized:
    """A list whose rows depend on its field's arguments, bound as a root's are (each argument
    as parameters of the listed kinds; one not given as the schema's default)."""

    type_name: str
    arguments: Mapping[str, tuple[Kind, ...]]
    source: Callable[[Scope, str, Mapping[str, tuple[str, ...]]], str]
    subject: Callable[[Scope, str], str]
    order_by: Callable[[str], str]


Field = Value | Nested | Paged | Choice | Parameterized

# A root field's bound arguments: for each argument given, the placeholders of its parameters.
Bound = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Root:
    """A field of Query: the arguments it compiles with (each bound as one or more parameters of
    the listed kinds; any other argument makes the document fall back), the rows it reads, and
    a ``guard``: an SQL condition under which the resolver would answer rather than refuse.
    When a guard is false the statement answers nothing and the resolvers answer the request,
    with exactly the error they have always given. A root of a union type lists its ``members``
    instead of ``type_name`` alone: each row is rendered as the first member whose condition it
    meets (its error members from the row's refusal columns, api/compiled/errors.py)."""

    type_name: str
    many: bool
    arguments: Mapping[str, tuple[Kind, ...]]
    source: Callable[[Bound, str], str]
    subject: Callable[[Bound, str], str]
    # Exactly one of ``arguments`` is given (a lookup by one of several identifiers).
    one_of: bool = False
    guard: Callable[[Bound], str] | None = None
    order_by: Callable[[str], str] | None = None
    # A connection (first/after/last/before, as Paged) keyed by this column of the source.
    page_key: str | None = None
    # Paged.upper, for a connection root.
    upper: Callable[[str, str], str] | None = None
    members: tuple[Member, ...] = ()


def column(name: str) -> Value:
    return Value(lambda s: f"{s.alias}.{name}")


def timestamp(name: str) -> Value:
    return Value(lambda s: iso_utc(f"{s.alias}.{name}"))


def node_id(type_name: str, name: str = "id") -> Value:
    return Value(lambda s: global_id(type_name, f"{s.alias}.{name}"))


def row_of(table: str, foreign_key: str) -> Callable[[Scope, str], str]:
    """The source of the one row of ``table`` that the parent's ``foreign_key`` names."""
    return lambda p, a: f"FROM {table} {a} WHERE {a}.id = {p.alias}.{foreign_key}"


def _same_row(item: Scope, alias: str) -> str:
    """A union member rendered from the item row itself."""
    return f"FROM (SELECT {item.alias}.*) {alias}"


def _same_subject(parent: Scope, _alias: str) -> str:
    return parent.subject


def _own_subject(_parent: Scope, alias: str) -> str:
    return f"{alias}.id"


def one(
    type_name: str,
    table: str,
    foreign_key: str,
    subject: Callable[[Scope, str], str] = _same_subject,
) -> Nested:
    """The object the parent's ``foreign_key`` names; below it, progress is ``subject``'s."""
    return Nested(type_name, many=False, source=row_of(table, foreign_key), subject=subject)


def user_of(foreign_key: str) -> Nested:
    """A user row: its own lists are its own (User's fields use its id)."""
    return one("User", "users", foreign_key, _own_subject)


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
            "coalesce(sum(sp.active_seconds), 0) AS active, "
            "max(sp.last_accessed_at) AS last_accessed_at "
            "FROM lessons sl LEFT JOIN lesson_progress sp "
            f"ON sp.lesson_id = sl.id AND sp.user_id = {parent.subject} "
            f"WHERE sl.course_id = {course_id(parent)} AND sl.removed_at IS NULL) {alias}"
        )

    return source


def _owns(user: Scope) -> str:
    return can_access_sql(CALLER, f"{user.alias}.id")


def _current_lessons(course_id: str, alias: str) -> str:
    return f"FROM lessons {alias} WHERE {alias}.course_id = {course_id} AND {alias}.removed_at IS NULL"


def _plan_lessons(plan_id: str, alias: str) -> str:
    """A plan's current lessons (removed ones left out, as in summaries): ``alias`` the lesson,
    ``alias``s its place in the plan (api/loaders/lessons_by_study_plan.py)."""
    return (
        f"FROM lessons {alias} JOIN study_plan_lessons {alias}s ON {alias}s.lesson_id = {alias}.id "
        f"WHERE {alias}s.study_plan_id = {plan_id} AND {alias}.removed_at IS NULL"
    )


def _resources(instance: Scope, alias: str) -> str:
    """An instance's resources: its plan's current lessons with the learner's record of each
    (``alias``: lesson_id and position; ``alias``p: the record; domain/study_plan_progress.py)."""
    return (
        f"FROM (SELECT rl.id AS lesson_id, rls.position "
        f"{_plan_lessons(f'{instance.alias}.study_plan_id', 'rl')}) {alias} "
        f"LEFT JOIN lesson_progress {alias}p ON {alias}p.user_id = {instance.subject} "
        f"AND {alias}p.lesson_id = {alias}.lesson_id WHERE true"
    )


def _resource_completed_at(alias: str) -> str:
    # Resource.completed_at: the record's completedAt while it is completed, else none.
    return f"(CASE WHEN {alias}p.completed THEN {alias}p.completed_at END)"


# The GraphQL type of each kind of product (the type tells the kind).
PRODUCT_TYPE_NAMES = {kind: cls.__name__ for kind, cls in PRODUCT_TYPES.items()}


def _of_kind(kind: ProductKind) -> Callable[[str], str]:
    def when(item: str) -> str:
        kind_is = f"pk.kind::text = '{kind.value}'"
        return f"EXISTS (SELECT 1 FROM products pk WHERE pk.id = {item}.product_pk AND {kind_is})"

    return when


# The members of a product row (``product_pk``), one GraphQL type per kind.
PRODUCT_MEMBERS = tuple(
    Member(type_name, _of_kind(kind), row_of("products", "product_pk"))
    for kind, type_name in PRODUCT_TYPE_NAMES.items()
)


def _refused_as(type_name: str) -> Callable[[str], str]:
    return lambda item: f"{item}.error_type = {text_literal(type_name)}"


# A refused row's error member (its refusal_columns): one per plain error type.
ERROR_MEMBERS = tuple(Member(name, _refused_as(name), _same_row) for name in PLAIN_ERROR_TYPES)


def _answered_or_refused(type_name: str) -> tuple[Member, ...]:
    """A union root's members: ``type_name`` for a row without a ``refusal``, else its error."""
    return (Member(type_name, lambda item: f"{item}.refusal IS NULL", _same_row), *ERROR_MEMBERS)


def _product_fields(type_name: str) -> dict[str, Field]:
    return {
        "id": node_id(type_name),
        "productId": column("product_id"),
        "kind": column("kind"),
        "title": column("title"),
        "description": column("description"),
        "createdAt": timestamp("created_at"),
        "updatedAt": timestamp("updated_at"),
    }


def _bundle_items(progress: Scope, alias: str) -> str:
    """A bundle's items in a learner's progress (domain/bundle_progress.py's _items_of and its
    counts): each item row with its course's counted lessons (``done``, ``needed``: the
    summary's counts, _summary_source) or its product's ``consumed_at``, and what the rules of
    domain/bundle_progress.py make of them (``fraction``, ``completed``)."""
    i, c = f"{alias}i", f"{alias}c"
    counts = _summary_source(lambda p: f"{p.alias}.course_id")(Scope(i, progress.subject), f"{alias}s")
    done, needed = _counted(Scope(f"{alias}s", progress.subject))
    consumed_at = product_consumed_at_sql(progress.subject, f"{i}.product_pk")
    rules = (f"{i}.course_id IS NOT NULL", f"{c}.done", f"{c}.needed", f"{consumed_at} IS NOT NULL")
    return (
        f"FROM (SELECT {i}.position, {i}.course_id, {i}.product_pk, {c}.done, {c}.needed, "
        f"{consumed_at} AS consumed_at, {item_fraction_sql(*rules)} AS fraction, "
        f"{item_completed_sql(*rules)} AS completed, "
        f"(SELECT ic.product_id FROM courses ic WHERE ic.id = {i}.course_id) AS course_product_id, "
        f"(SELECT ic.expected_completion_days FROM courses ic WHERE ic.id = {i}.course_id) "
        "AS expected_completion_days, "
        f"(SELECT ip.product_id FROM products ip WHERE ip.id = {i}.product_pk) AS product_product_id, "
        f"(SELECT ip.kind FROM products ip WHERE ip.id = {i}.product_pk) AS kind "
        f"FROM bundle_items {i} LEFT JOIN LATERAL (SELECT {done} AS done, {needed} AS needed {counts}) {c} "
        f"ON {i}.course_id IS NOT NULL WHERE {i}.bundle_id = {progress.alias}.bundle_id) {alias} WHERE true"
    )


def _bundle_mean(courses_only: bool) -> Value:
    """BundleProgress.completionPercentage (the course items) or its weighted one (every item)."""

    def sql(s: Scope) -> str:
        rows = _bundle_items(s, "bm") + (" AND bm.course_id IS NOT NULL" if courses_only else "")
        return mean_percentage_sql(rows, "bm.fraction", "bm.completed", "bm.position")

    return Value(sql)


def _counted(s: Scope) -> tuple[str, str]:
    a = s.alias
    return counted_lessons_sql(f"{a}.total", f"{a}.required", f"{a}.completed", f"{a}.completed_required")


# courseAnalytics (domain/analytics.py): the same statements the resolvers run, given the course
# and the window as SQL (the analysed row's columns, see _analysed_course), and each figure the
# SQL twin of the Python that computes it from their rows.
def _analysed(course: Scope) -> tuple[analytics.Scope, analytics.Window]:
    a = course.alias
    window = analytics.Window(literal_column(f"{a}.window_start"), literal_column(f"{a}.window_end"))
    return analytics.Scope(literal_column(f"{a}.id")), window


def _lesson_stats(course: Scope) -> str:
    """The rows of analytics.lesson_stats_statement, read once per analysed course (its columns
    kept as arrays by _analysed_course) however many of lessons, dropOff and hardestLessons ask."""
    columns = analytics.LESSON_STATS_COLUMNS
    arrays = ", ".join(f"{course.alias}.ls_{name}" for name in columns)
    return f"SELECT * FROM unnest({arrays}) AS ls({', '.join(columns)})"


def _figures(figures: Callable[[str], dict[str, str]], names: Mapping[str, str]) -> dict[str, Field]:
    """GraphQL field → the figure of ``figures`` (over the row's alias) that it shows."""
    return {field: _figure(figures, name) for field, name in names.items()}


def _figure(figures: Callable[[str], dict[str, str]], name: str) -> Value:
    return Value(lambda s: figures(s.alias)[name])


def _int4(figures: Callable[[str], dict[str, str]]) -> Callable[[str], dict[str, str]]:
    # A sum shown as a GraphQL Int: past 2^31 - 1 PostgreSQL refuses the cast as graphql-core
    # refuses to serialize it, and the resolvers answer (as CourseSummary's totals).
    return lambda alias: {name: f"({sql})::int4" for name, sql in figures(alias).items()}


_LESSON = {"lesson": one("Lesson", "lessons", "id")}

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
        # The course's enrollments, oldest first, for admins and its instructors; anyone else
        # gets the empty page (api/queries/instructors.py).
        "learners": Paged(
            "LearnerProgress",
            source=lambda p, a: (
                f"FROM enrollments {a} WHERE {a}.course_id = {p.alias}.id "
                f"AND {may_see_course_learners_sql(CALLER, f'{p.alias}.id')}"
            ),
            subject=lambda _p, a: f"{a}.user_id",
            key="id",
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
        "course": one("Course", "courses", "course_id"),
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
        "activeSeconds": column("active_seconds"),
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
        # The same for a sum of seconds (68 years of them fit).
        "totalActiveSeconds": Value(lambda s: f"{s.alias}.active::int4"),
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
        # The user's own lists: shown to the user and to admins, empty for anyone else
        # (api/visibility.owns_or_admin).
        "enrollments": Nested(
            "Enrollment",
            many=True,
            source=lambda p, a: f"FROM enrollments {a} WHERE {a}.user_id = {p.alias}.id AND {_owns(p)}",
            subject=lambda _p, a: f"{a}.user_id",
            order_by=lambda a: f"{a}.enrolled_at, {a}.id",
        ),
        "studyPlans": Paged(
            "StudyPlan",
            source=lambda p, a: f"FROM study_plans {a} WHERE {a}.user_id = {p.alias}.id AND {_owns(p)}",
            subject=lambda _p, a: f"{a}.user_id",
            key="id",
        ),
        "studyPlanInstances": Paged(
            "StudyPlanInstance",
            source=lambda p, a: (
                f"FROM study_plan_instances {a} WHERE {a}.user_id = {p.alias}.id AND {_owns(p)}"
            ),
            subject=lambda _p, a: f"{a}.user_id",
            key="id",
        ),
        # Oldest first by id (api/queries/enrollment_listing.py).
        "enrollmentsConnection": Paged(
            "Enrollment",
            source=lambda p, a: f"FROM enrollments {a} WHERE {a}.user_id = {p.alias}.id AND {_owns(p)}",
            subject=lambda _p, a: f"{a}.user_id",
            key="id",
        ),
    },
    # One enrollment seen by the course's instructors and admins: progress below it is the
    # learner's (api/types/learner_progress.py).
    "LearnerProgress": {
        "status": column("status"),
        "enrolledAt": timestamp("enrolled_at"),
        "completedAt": timestamp("completed_at"),
        "enrollment": one("Enrollment", "enrollments", "id", lambda _p, a: f"{a}.user_id"),
        "user": user_of("user_id"),
        "course": one("Course", "courses", "course_id"),
        "summary": Nested(
            "CourseSummary",
            many=False,
            source=_summary_source(lambda p: f"{p.alias}.course_id"),
            subject=_same_subject,
        ),
        # The summary's lastAccessedAt: the latest of the learner's records on current lessons.
        "lastAccessedAt": Value(
            lambda s: iso_utc(
                f"(SELECT max(lp.last_accessed_at) FROM lessons ll JOIN lesson_progress lp "
                f"ON lp.lesson_id = ll.id AND lp.user_id = {s.subject} "
                f"WHERE ll.course_id = {s.alias}.course_id AND ll.removed_at IS NULL)"
            )
        ),
        "lessons": Nested(
            "Lesson",
            many=True,
            source=lambda p, a: _current_lessons(f"{p.alias}.course_id", a),
            subject=_same_subject,
            order_by=lambda a: f"{a}.position",
        ),
    },
    # completionStatus: one row per requested id (api/queries/progress.py), see ROOTS.
    "LessonCompletion": {
        "lessonId": column("requested"),
        "found": Value(lambda s: f"({s.alias}.lesson_id IS NOT NULL)"),
        "completed": Value(
            lambda s: (
                f"CASE WHEN {s.alias}.lesson_id IS NULL THEN NULL "
                f"ELSE coalesce({s.alias}.completed, false) END"
            )
        ),
        "completedAt": timestamp("completed_at"),
    },
    # A learner's own plan of lessons (api/types/study_plan.py); progress below is the owner's.
    "StudyPlan": {
        "id": node_id("StudyPlan"),
        "title": column("title"),
        "createdAt": timestamp("created_at"),
        "updatedAt": timestamp("updated_at"),
        "owner": Nested(
            "User", many=False, source=row_of("users", "user_id"), subject=lambda _p, a: f"{a}.id"
        ),
        "lessons": Nested(
            "Lesson",
            many=True,
            source=lambda p, a: _plan_lessons(f"{p.alias}.id", a),
            subject=lambda p, _a: f"{p.alias}.user_id",
            order_by=lambda a: f"{a}s.position",
        ),
        "instances": Paged(
            "StudyPlanInstance",
            source=lambda p, a: f"FROM study_plan_instances {a} WHERE {a}.study_plan_id = {p.alias}.id",
            subject=lambda _p, a: f"{a}.user_id",
            key="id",
        ),
    },
    # One run through a plan: its resources and percentage computed from the learner's records
    # (domain/study_plan_progress.py), progress shown as the learner's.
    "StudyPlanInstance": {
        "id": node_id("StudyPlanInstance"),
        "startedAt": timestamp("started_at"),
        "plan": Nested(
            "StudyPlan", many=False, source=row_of("study_plans", "study_plan_id"), subject=_same_subject
        ),
        "user": Nested(
            "User", many=False, source=row_of("users", "user_id"), subject=lambda _p, a: f"{a}.id"
        ),
        "resources": Nested(
            "StudyPlanResource",
            many=True,
            source=lambda p, a: _resources(p, a),
            subject=_same_subject,
            order_by=lambda a: f"{a}.position",
        ),
        "completedResources": Value(
            lambda s: (
                f"coalesce((SELECT json_agg({global_id('Lesson', 'cr.lesson_id')} ORDER BY cr.position) "
                f"{_resources(s, 'cr')} AND {_resource_completed_at('cr')} IS NOT NULL), '[]'::json)"
            )
        ),
        "completionPercentage": Value(
            lambda s: completion_percentage_sql(
                f"(SELECT count(*) {_resources(s, 'cd')} AND {_resource_completed_at('cd')} IS NOT NULL)",
                f"(SELECT count(*) {_resources(s, 'ct')})",
            )
        ),
    },
    # One lesson of an instance's plan (a row of _resources).
    "StudyPlanResource": {
        "position": column("position"),
        "completed": Value(lambda s: f"({_resource_completed_at(s.alias)} IS NOT NULL)"),
        "completedAt": Value(lambda s: iso_utc(_resource_completed_at(s.alias))),
        "lesson": one("Lesson", "lessons", "lesson_id"),
    },
    # A product a platform sells as one: its items are courses and other products, in order.
    "Bundle": {
        "id": node_id("Bundle"),
        "productId": column("product_id"),
        "slug": column("slug"),
        "title": column("title"),
        "description": column("description"),
        "createdAt": timestamp("created_at"),
        "updatedAt": timestamp("updated_at"),
        "items": Choice(
            source=lambda p, a: f"FROM bundle_items {a} WHERE {a}.bundle_id = {p.alias}.id",
            members=(
                Member("Course", lambda a: f"{a}.course_id IS NOT NULL", row_of("courses", "course_id")),
                *PRODUCT_MEMBERS,
            ),
            order_by=lambda a: f"{a}.position",
        ),
    },
    # One (learner, bundle) enrollment (api/types/bundle_progress.py): a row of _enrolled_in_bundle,
    # progress below it the learner's.
    "BundleProgress": {
        "title": column("title"),
        "completionPercentage": _bundle_mean(courses_only=True),
        "weightedCompletionPercentage": _bundle_mean(courses_only=False),
        "enrolledAt": timestamp("enrolled_at"),
        "items": Choice(
            source=_bundle_items,
            members=(
                Member("CourseItemProgress", lambda a: f"{a}.course_id IS NOT NULL", _same_row),
                Member("ProductItemProgress", lambda a: f"{a}.product_pk IS NOT NULL", _same_row),
            ),
            order_by=lambda a: f"{a}.position",
        ),
        "bundle": one("Bundle", "bundles", "bundle_id"),
        "user": user_of("learner_id"),
    },
    # Rows of _bundle_items.
    "CourseItemProgress": {
        "position": column("position"),
        "productId": column("course_product_id"),
        "completionPercentage": Value(
            lambda s: completion_percentage_sql(f"{s.alias}.done", f"{s.alias}.needed")
        ),
        "completed": column("completed"),
        "expectedCompletionDays": column("expected_completion_days"),
        "course": one("Course", "courses", "course_id"),
    },
    "ProductItemProgress": {
        "position": column("position"),
        "productId": column("product_product_id"),
        "kind": column("kind"),
        "completed": column("completed"),
        "completedAt": timestamp("consumed_at"),
        "product": Choice(
            source=lambda p, a: f"FROM (SELECT {p.alias}.product_pk) {a} WHERE true",
            members=PRODUCT_MEMBERS,
            many=False,
        ),
    },
    # A refused row's error (api/compiled/errors.refusal_columns: the domain error's words).
    **{name: {"code": column("code"), "message": column("message")} for name in PLAIN_ERROR_TYPES},
    # Products other than courses, one GraphQL type per kind (api/types/product.py).
    **{type_name: _product_fields(type_name) for type_name in PRODUCT_TYPE_NAMES.values()},
    # Admins' view of the webhook outbox (api/queries/webhooks.py); the secret is never read.
    "WebhookDelivery": {
        "id": node_id("WebhookDelivery"),
        "endpoint": one("WebhookEndpoint", "webhook_endpoints", "endpoint_id"),
        "eventId": node_id("Event", "event_id"),
        "eventType": Value(lambda s: f"(SELECT ev.type FROM events ev WHERE ev.id = {s.alias}.event_id)"),
        "status": column("status"),
        "attempts": column("attempts"),
        "lastStatusCode": column("last_status_code"),
        "lastError": column("last_error"),
        "lastAttemptAt": timestamp("last_attempt_at"),
        "nextAttemptAt": timestamp("next_attempt_at"),
        "deliveredAt": timestamp("delivered_at"),
        "createdAt": timestamp("created_at"),
    },
    "CourseAnalytics": {
        "course": one("Course", "courses", "id"),
        "from": column("from_text"),
        "to": column("to_text"),
        **_figures(
            analytics.totals_sql,
            {
                "enrolledLearners": "enrollments",
                "activeLearners": "active_learners",
                "completedLearners": "completed_enrollments",
                "completionRate": "completion_rate",
                "averageCompletionPercentage": "average_completion_percentage",
                "medianTimeToCompletionDays": "median_time_to_completion_days",
                "p90TimeToCompletionDays": "p90_time_to_completion_days",
                "averageActiveSeconds": "average_active_seconds",
                "lessonsCompleted": "lessons_completed",
                "coursesCompleted": "courses_completed",
            },
        ),
        **_figures(_int4(analytics.totals_sql), {"totalActiveSeconds": "total_active_seconds"}),
        "lessons": Nested(
            "LessonAnalytics",
            many=True,
            source=lambda p, a: f"FROM ({_lesson_stats(p)}) {a}",
            subject=_same_subject,
            order_by=lambda a: f"{a}.position",
        ),
        "dropOff": Nested(
            "DropOffStep",
            many=True,
            source=lambda p, a: analytics.funnel_source_sql(_lesson_stats(p), a),
            subject=_same_subject,
            order_by=lambda a: f"{a}.position",
        ),
        "hardestLessons": Parameterized(
            "LessonDifficulty",
            arguments={"limit": (Kind.HARDEST_LIMIT,), "minSampleSize": (Kind.MIN_SAMPLE,)},
            source=lambda p, a, bound: analytics.hardest_source_sql(
                _lesson_stats(p), a, bound["limit"][0], bound["minSampleSize"][0]
            ),
            subject=_same_subject,
            order_by=analytics.hardest_order_sql,
        ),
    },
    "LessonAnalytics": {
        **_LESSON,
        **_figures(
            analytics.lesson_stats_sql,
            {
                "started": "started",
                "completed": "completed",
                "completionRate": "completion_rate",
                "averageTimeSpentMinutes": "average_time_spent_minutes",
                "averageActiveSeconds": "average_active_seconds",
                "averageWatchedRatio": "average_watched_ratio",
                "averageQuizScore": "average_quiz_score",
                "quizPassRate": "quiz_pass_rate",
            },
        ),
    },
    "DropOffStep": {
        **_LESSON,
        **_figures(
            analytics.funnel_sql,
            {
                "reached": "reached",
                "reachedRate": "reached_rate",
                "lost": "lost",
                "dropOffRate": "drop_off_rate",
            },
        ),
    },
    "LessonDifficulty": {
        **_LESSON,
        **_figures(
            analytics.lesson_stats_sql,
            {
                "started": "started",
                "completed": "completed",
                "completionRateAmongStarted": "completion_rate_among_started",
            },
        ),
    },
    # One entry of the event log (api/types/event.py); `data` with its ids made global by the
    # twin of domain/event_data.public_event_data.
    "Event": {
        "id": node_id("Event"),
        "type": column("type"),
        "occurredAt": timestamp("occurred_at"),
        "userId": node_id("User", "user_id"),
        "courseId": node_id("Course", "course_id"),
        "lessonId": node_id("Lesson", "lesson_id"),
        "actorId": node_id("User", "actor_user_id"),
        "data": Value(lambda s: public_event_data_sql(f"{s.alias}.data")),
        "userExternalId": Value(
            lambda s: f"(SELECT eu.external_id FROM users eu WHERE eu.id = {s.alias}.user_id)"
        ),
        "courseProductId": Value(
            lambda s: f"(SELECT ec.product_id FROM courses ec WHERE ec.id = {s.alias}.course_id)"
        ),
    },
    "WebhookEndpoint": {
        "id": node_id("WebhookEndpoint"),
        "url": column("url"),
        "description": column("description"),
        "eventTypes": column("event_types"),
        "enabled": column("enabled"),
        "createdAt": timestamp("created_at"),
        "updatedAt": timestamp("updated_at"),
    },
    "Enrollment": {
        "id": node_id("Enrollment"),
        "enrolledAt": timestamp("enrolled_at"),
        "status": column("status"),
        "completedAt": timestamp("completed_at"),
        # Below an enrollment, progress is the enrolled user's.
        "course": one("Course", "courses", "course_id", lambda p, _a: f"{p.alias}.user_id"),
        "summary": Nested(
            "CourseSummary",
            many=False,
            source=_summary_source(lambda p: f"{p.alias}.course_id"),
            subject=lambda p, _a: f"{p.alias}.user_id",
        ),
    },
}


def _user_lookup(bound: Bound, alias: str) -> str:
    """user(id | email | externalId): the one row named (the email normalised at bind)."""
    (name,) = bound
    column = {"id": "id", "email": "email", "externalId": "external_id"}[name]
    return f"FROM users {alias} WHERE {alias}.{column} = {bound[name][0]}"


def _user_guard(bound: Bound) -> str:
    # The resolver decides on the identity asked for, not on whether it exists: anyone but an
    # admin is refused unless the row named is their own (api/queries/viewer.py).
    own = f"(SELECT {can_access_sql(CALLER, 'g.id')} {_user_lookup(bound, 'g')})"
    return f"coalesce({own}, {CALLER}.is_admin)"


def _requested_subject(bound: Bound) -> str:
    """The ``userId`` argument's user, or the caller (api/subjects.requested_subject)."""
    # Given as a variable, it may still be null: the caller then.
    return f"coalesce({bound['userId'][0]}, {CALLER}.id)" if "userId" in bound else f"{CALLER}.id"


def _status_rows(bound: Bound, alias: str) -> str:
    """completionStatus: the ids as sent, in order, each with its current lesson (none when the
    id is malformed, names no lesson or a removed one) and the subject's record on it."""
    ids, pks = bound["lessonIds"]
    return (
        "FROM (SELECT r.requested, r.n, l.id AS lesson_id, p.completed, p.completed_at "
        f"FROM unnest({ids}, {pks}) WITH ORDINALITY AS r(requested, pk, n) "
        "LEFT JOIN lessons l ON l.id = r.pk AND l.removed_at IS NULL "
        f"LEFT JOIN lesson_progress p ON p.user_id = {_requested_subject(bound)} AND p.lesson_id = l.id"
        f") {alias}"
    )


def _learner_in_course(bound: Bound, alias: str) -> str:
    """learnerProgress: the learner's enrollment in the course, for the learner themselves, the
    course's instructors and admins (domain/teaching.learner_in_course). Every other outcome is
    an error member of the union, which the guard leaves to the resolvers."""
    user_id, email, external_id = bound["learner"]
    course_id, slug, product_id = bound["course"]
    u, c = f"{alias}u", f"{alias}c"
    teaches = may_see_course_learners_sql(CALLER, f"{alias}.course_id")
    allowed = f"({alias}.user_id = {CALLER}.id OR {teaches})"
    return (
        f"FROM enrollments {alias} "
        f"JOIN users {u} ON {u}.id = {alias}.user_id JOIN courses {c} ON {c}.id = {alias}.course_id "
        # Each identifier's parameter is null but the one the reference gives.
        f"WHERE ({u}.id = {user_id} OR {u}.email = {email} OR {u}.external_id = {external_id}) "
        f"AND ({c}.id = {course_id} OR {c}.slug = {slug} OR {c}.product_id = {product_id}) AND {allowed}"
    )


def _deliveries(bound: Bound, alias: str) -> str:
    """webhookDeliveries: every delivery, or those of ``status`` and ``endpointId`` when given."""
    conditions = ["true"]
    if "status" in bound:
        conditions.append(f"({bound['status'][0]} IS NULL OR {alias}.status::text = {bound['status'][0]})")
    if "endpointId" in bound:
        endpoint = bound["endpointId"][0]
        conditions.append(f"({endpoint} IS NULL OR {alias}.endpoint_id = {endpoint})")
    return f"FROM webhook_deliveries {alias} WHERE {' AND '.join(conditions)}"


def _events(bound: Bound, alias: str) -> str:
    """events: the log, or the part of it of ``types``, ``userId`` and ``courseId`` when given (an
    empty or null list of types filters nothing, as in api/queries/events.py)."""
    conditions = ["true"]
    if "types" in bound:
        types = bound["types"][0]
        conditions.append(f"(coalesce(cardinality({types}), 0) = 0 OR {alias}.type::text = ANY({types}))")
    for name, column in (("userId", "user_id"), ("courseId", "course_id")):
        if name in bound:
            pk = bound[name][0]
            conditions.append(f"({pk} IS NULL OR {alias}.{column} = {pk})")
    return f"FROM events {alias} WHERE {' AND '.join(conditions)}"


def _analysed_course(bound: Bound, alias: str) -> str:
    """courseAnalytics: the course named, for admins and its instructors (anyone else gets null,
    as for a course that does not exist: domain/teaching.py's rule), with the window asked and
    its totals (one row of analytics.totals_statement)."""
    course_id, slug, product_id = bound["course"]
    start, start_text = bound.get("from", ("NULL::timestamptz", "NULL::text"))
    end, end_text = bound.get("to", ("NULL::timestamptz", "NULL::text"))
    course = Scope("ac", f"{CALLER}.id")
    # The totals and the per-lesson rows (kept as one array per column: exact values, floats
    # included) from one reading of the course's records.
    figures = analytics.postgresql_text(analytics.course_figures_statement(*_analysed(course)))
    return (
        f"FROM (SELECT ac.*, act.* FROM (SELECT c.*, {start} AS window_start, {end} AS window_end, "
        f"{start_text} AS from_text, {end_text} AS to_text FROM courses c "
        f"WHERE (c.id = {course_id} OR c.slug = {slug} OR c.product_id = {product_id}) "
        f"AND {may_see_course_learners_sql(CALLER, 'c.id')}) ac "
        f"CROSS JOIN LATERAL ({figures}) act) {alias}"
    )


def _window_in_order(bound: Bound) -> str:
    # analytics.window refuses `to` before `from` (VALIDATION_FAILED): the resolvers say so.
    if "from" in bound and "to" in bound:
        return f"NOT coalesce({bound['to'][0]} < {bound['from'][0]}, false)"
    return "true"


def _bundle_lookup(bound: Bound, alias: str) -> str:
    (name,) = bound
    column = {"id": "id", "productId": "product_id", "slug": "slug"}[name]
    return f"FROM bundles {alias} WHERE {alias}.{column} = {bound[name][0]}"


# A reference input's parameters, in Kind order: (id, productId, slug) of a bundle and (id,
# email, externalId) of a user; the user's are null when the caller means themselves.
NO_USER = ("NULL::bigint", "NULL::text", "NULL::text")

# Each row of a bundle progress root: the pair's outcome (domain/bundle_progress.pair_outcome_sql,
# the twin of the resolvers' order of checks), the bundle's title when it has progress, and the
# refusal's error columns.
_PAIR_COLUMNS = (
    f"po_o.*, po_t.title, {refusal_columns([refusal.error() for refusal in Refusal], 'po_o.refusal')}"
)
_PAIR_TITLE = "LEFT JOIN bundles po_t ON po_t.id = po_o.bundle_id AND po_o.refusal IS NULL"


def _bundle_progress(bound: Bound, alias: str) -> str:
    outcome = pair_outcome_sql(CALLER, bound["bundle"], bound.get("user", NO_USER))
    return f"FROM (SELECT {_PAIR_COLUMNS} FROM ({outcome}) po_o {_PAIR_TITLE}) {alias}"


def _bundle_progress_batch(bound: Bound, alias: str) -> str:
    """One row per request (``n``, in order), progress or refusal."""
    arrays = ", ".join(bound["requests"])
    outcome = pair_outcome_sql(CALLER, ("r.bpk", "r.bprod", "r.bslug"), ("r.upk", "r.uemail", "r.uext"))
    return (
        f"FROM (SELECT r.n, {_PAIR_COLUMNS} FROM unnest({arrays}) WITH ORDINALITY "
        "AS r(bpk, bprod, bslug, upk, uemail, uext, n) "
        f"CROSS JOIN LATERAL ({outcome}) po_o {_PAIR_TITLE}) {alias}"
    )


ROOTS: dict[str, Root] = {
    # BundleProgressResult: the progress or the pair's refusal, both rendered in SQL (its
    # ValidationError, a malformed ref, is the resolvers': bind leaves such a request to them).
    "bundleProgress": Root(
        "BundleProgressResult",
        many=False,
        arguments={
            "bundle": (Kind.BUNDLE_REF_PK, Kind.BUNDLE_REF_PRODUCT_ID, Kind.BUNDLE_REF_SLUG),
            "user": (
                Kind.OPTIONAL_USER_REF_PK,
                Kind.OPTIONAL_USER_REF_EMAIL,
                Kind.OPTIONAL_USER_REF_EXTERNAL_ID,
            ),
        },
        source=_bundle_progress,
        subject=lambda _bound, a: f"{a}.learner_id",
        members=_answered_or_refused("BundleProgress"),
    ),
    # Each request's BundleProgressResult, in order: one pair's refusal never fails the others.
    "bundleProgressBatch": Root(
        "BundleProgressResult",
        many=True,
        arguments={
            "requests": (
                Kind.REQUESTS_BUNDLE_PK,
                Kind.REQUESTS_BUNDLE_PRODUCT_ID,
                Kind.REQUESTS_BUNDLE_SLUG,
                Kind.REQUESTS_USER_PK,
                Kind.REQUESTS_USER_EMAIL,
                Kind.REQUESTS_USER_EXTERNAL_ID,
            )
        },
        source=_bundle_progress_batch,
        subject=lambda _bound, a: f"{a}.learner_id",
        order_by=lambda a: f"{a}.n",
        members=_answered_or_refused("BundleProgress"),
    ),
    "bundle": Root(
        "Bundle",
        many=False,
        arguments={"id": (Kind.BUNDLE_PK,), "productId": (Kind.TEXT,), "slug": (Kind.TEXT,)},
        one_of=True,
        source=_bundle_lookup,
        subject=lambda _bound, _a: f"{CALLER}.id",
    ),
    "bundles": Root(
        "Bundle",
        many=True,
        arguments={},
        source=lambda _bound, a: f"FROM bundles {a} WHERE true",
        subject=lambda _bound, _a: f"{CALLER}.id",
        page_key="id",
    ),
    # Every course by id, progress below them the caller's.
    "courses": Root(
        "Course",
        many=True,
        arguments={},
        source=lambda _bound, a: f"FROM courses {a} WHERE true",
        subject=lambda _bound, _a: f"{CALLER}.id",
        page_key="id",
    ),
    "course": Root(
        "Course",
        many=False,
        # course(slug:) only; course(id:) and productId take the resolver path.
        arguments={"slug": (Kind.TEXT,)},
        one_of=True,
        source=lambda bound, a: f"FROM courses {a} WHERE {a}.slug = {bound['slug'][0]}",
        subject=lambda _bound, _a: f"{CALLER}.id",
    ),
    "user": Root(
        "User",
        many=False,
        arguments={"id": (Kind.USER_PK,), "email": (Kind.EMAIL,), "externalId": (Kind.TEXT,)},
        one_of=True,
        source=_user_lookup,
        subject=lambda _bound, a: f"{a}.id",
        guard=_user_guard,
    ),
    "completionStatus": Root(
        "LessonCompletion",
        many=True,
        arguments={"lessonIds": (Kind.LESSON_IDS, Kind.LESSON_PKS), "userId": (Kind.OPTIONAL_USER_PK,)},
        source=_status_rows,
        subject=lambda bound, _a: _requested_subject(bound),
        guard=lambda bound: subject_allowed_sql(CALLER, _requested_subject(bound)),
        order_by=lambda a: f"{a}.n",
    ),
    # Admins only: anyone else is refused (FORBIDDEN) by the resolver.
    "webhookDeliveries": Root(
        "WebhookDelivery",
        many=True,
        arguments={"status": (Kind.ENUM,), "endpointId": (Kind.ENDPOINT_PK,)},
        source=_deliveries,
        subject=lambda _bound, _a: f"{CALLER}.id",
        guard=lambda _bound: f"{CALLER}.is_admin",
        page_key="id",
    ),
    # Admins only (FORBIDDEN for anyone else, from the resolver). A page never passes an event
    # whose predecessor may still be committing (domain/events.settled_upper_id's twin).
    "events": Root(
        "Event",
        many=True,
        arguments={
            "types": (Kind.ENUM_LIST,),
            "userId": (Kind.OPTIONAL_USER_PK,),
            "courseId": (Kind.OPTIONAL_COURSE_PK,),
        },
        source=_events,
        subject=lambda _bound, _a: f"{CALLER}.id",
        guard=lambda _bound: f"{CALLER}.is_admin",
        page_key="id",
        upper=lambda after, last: settled_upper_id_sql(after, last, "now()"),
    ),
    "courseAnalytics": Root(
        "CourseAnalytics",
        many=False,
        arguments={
            "course": (Kind.COURSE_REF_PK, Kind.COURSE_REF_SLUG, Kind.COURSE_REF_PRODUCT_ID),
            "from": (Kind.INSTANT, Kind.INSTANT_TEXT),
            "to": (Kind.INSTANT, Kind.INSTANT_TEXT),
        },
        source=_analysed_course,
        subject=lambda _bound, _a: f"{CALLER}.id",
        guard=_window_in_order,
    ),
    # LearnerProgressResult: its LearnerProgress member; NOT_FOUND and VALIDATION are guarded.
    "learnerProgress": Root(
        "LearnerProgress",
        many=False,
        arguments={
            "learner": (Kind.USER_REF_PK, Kind.USER_REF_EMAIL, Kind.USER_REF_EXTERNAL_ID),
            "course": (Kind.COURSE_REF_PK, Kind.COURSE_REF_SLUG, Kind.COURSE_REF_PRODUCT_ID),
        },
        source=_learner_in_course,
        subject=lambda _bound, a: f"{a}.user_id",
        guard=lambda bound: f"EXISTS (SELECT 1 {_learner_in_course(bound, 'lg')})",
    ),
}
