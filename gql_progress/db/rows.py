"""Typed rows: what a read hands across a boundary (domain results, loaders, the API types'
``from_row``).

One NamedTuple per table, its fields the table's columns in order, registered with ``row_of``,
which checks at import that the fields are the columns' keys: a renamed, added or reordered
column stops the process from starting, and once the row class follows it, every reader of the
old name fails mypy. tests/test_rows.py proves each field's type equals its model's ``Mapped[…]``
annotation, so db/models.py stays the one declaration.

NamedTuples rather than dataclasses: one is built from a SQLAlchemy row by ``tuple.__new__``, in
C, with no per-field ``__setattr__`` (~0.1 µs for a 12-column row, a frozen slotted dataclass ~1
µs), and reading a field is a C descriptor; the resolver path builds one per row it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import Result, Select
from sqlalchemy.sql.elements import KeyedColumnElement

from gql_progress.db.models import (
    ApiKey,
    Base,
    Bundle,
    BundleEnrollment,
    BundleItem,
    Certificate,
    Course,
    Enrollment,
    EnrollmentStatus,
    Event,
    EventType,
    Lesson,
    LessonKind,
    LessonProgress,
    Product,
    ProductCompletion,
    ProductKind,
    StudyPlan,
    StudyPlanInstance,
    StudyPlanLesson,
    User,
    UserRole,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)

# A row class: a NamedTuple registered with row_of (the one TypeVar for them, used everywhere).
RowT = TypeVar("RowT", bound=tuple[Any, ...])
Columns = tuple[KeyedColumnElement[Any], ...]

_COLUMNS: dict[type, Columns] = {}


def row_of(columns: Iterable[KeyedColumnElement[Any]]) -> Callable[[type[RowT]], type[RowT]]:
    """Registers the decorated NamedTuple as the row of ``columns`` (a table's ``.c``, or a fixed
    select's column list), refusing it unless its fields are the columns' keys, in order."""
    declared = tuple(columns)

    def register(row_class: type[RowT]) -> type[RowT]:
        fields: tuple[str, ...] = getattr(row_class, "_fields", ())
        keys = tuple(column.key for column in declared)
        if fields != keys:
            raise TypeError(f"{row_class.__name__}'s fields {fields} are not its columns {keys}")
        _COLUMNS[row_class] = declared
        return row_class

    return register


def registered() -> dict[type, Columns]:
    """Every row class and its columns (for the test that holds their types to the models)."""
    return dict(_COLUMNS)


def columns(row_class: type) -> Columns:
    """The columns to select (or return) for a ``row_class``, in its field order."""
    return _COLUMNS[row_class]


def check_reads(query: Select[*tuple[Any, ...]], row_class: type) -> None:
    """Refuses ``query`` unless it selects ``row_class``'s fields, in order: the reader builds the
    row from them by position. (A row_of class's fields are its columns' keys.)"""
    if query.selected_columns.keys() != list(getattr(row_class, "_fields", ())):
        raise ValueError(f"the select does not read {row_class.__name__}'s columns")


class Keyed(NamedTuple, Generic[RowT]):
    """A row of a page with the key its cursor encodes (a connection's rows, db/ to api/)."""

    key: int
    row: RowT


def make(row_class: type[RowT], row: Iterable[Any]) -> RowT:
    """``row_class`` from a row of ``columns(row_class)``. NamedTuple's ``_make`` less its length
    check, which row_of made once for every such row; and mypy types ``tuple.__new__`` as the
    NamedTuple, where it would type ``_make`` of a class it only knows as ``type[RowT]`` not at all."""
    return tuple.__new__(row_class, row)


def one(row_class: type[RowT], result: Result[Any]) -> RowT:
    return make(row_class, result.one())


def first(row_class: type[RowT], result: Result[Any]) -> RowT | None:
    row = result.first()
    return None if row is None else make(row_class, row)


def every(row_class: type[RowT], rows: Iterable[Iterable[Any]]) -> list[RowT]:
    return [make(row_class, row) for row in rows]


def _table(model: type[Base]) -> Iterable[KeyedColumnElement[Any]]:
    return model.__table__.c


@row_of(_table(User))
class UserRow(NamedTuple):
    id: int
    external_id: str
    email: str
    name: str
    role: UserRole
    created_at: datetime


@row_of(_table(Course))
class CourseRow(NamedTuple):
    id: int
    slug: str
    product_id: str | None
    title: str
    description: str
    expected_completion_days: int | None
    requires_sequential_progress: bool
    certificate_enabled: bool
    keep_completion_on_change: bool
    video_completion_threshold: float | None
    created_at: datetime
    updated_at: datetime


@row_of(_table(Lesson))
class LessonRow(NamedTuple):
    id: int
    course_id: int
    position: int
    title: str
    external_id: str | None
    kind: LessonKind
    duration_seconds: int | None
    is_required: bool
    pass_score: float | None
    created_at: datetime
    updated_at: datetime
    removed_at: datetime | None


@row_of(_table(Enrollment))
class EnrollmentRow(NamedTuple):
    id: int
    user_id: int
    course_id: int
    enrolled_at: datetime
    status: EnrollmentStatus
    completed_at: datetime | None


@row_of(_table(LessonProgress))
class ProgressRow(NamedTuple):
    id: int
    user_id: int
    lesson_id: int
    completed: bool
    progress_percentage: float
    video_position_seconds: int
    last_position_seconds: int
    quiz_score: float | None
    quiz_attempts: int
    quiz_passed: bool | None
    time_spent_minutes: int
    active_seconds: int
    activity_clock: int | None
    notes: str | None
    is_bookmarked: bool
    metadata: dict[str, Any] | None
    completed_at: datetime | None
    last_accessed_at: datetime | None
    granted_by_user_id: int | None
    grant_reason: str | None
    created_at: datetime
    updated_at: datetime


# An API key as it is shown: every column but the hash, which never leaves auth/keys.py.
@row_of(column for column in _table(ApiKey) if column.key != "key_hash")
class ApiKeyRow(NamedTuple):
    id: int
    prefix: str
    user_id: int
    label: str
    scopes: str
    legacy_format: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@row_of(_table(Product))
class ProductRow(NamedTuple):
    id: int
    product_id: str
    kind: ProductKind
    title: str
    description: str
    created_at: datetime
    updated_at: datetime


@row_of(_table(Bundle))
class BundleRow(NamedTuple):
    id: int
    product_id: str
    slug: str
    title: str
    description: str
    created_at: datetime
    updated_at: datetime


@row_of(_table(BundleItem))
class BundleItemRow(NamedTuple):
    id: int
    bundle_id: int
    position: int
    course_id: int | None
    product_pk: int | None


@row_of(_table(BundleEnrollment))
class BundleEnrollmentRow(NamedTuple):
    id: int
    user_id: int
    bundle_id: int
    enrolled_at: datetime


@row_of(_table(ProductCompletion))
class ProductCompletionRow(NamedTuple):
    id: int
    user_id: int
    product_pk: int
    completed: bool
    completed_at: datetime | None
    updated_at: datetime


@row_of(_table(StudyPlan))
class StudyPlanRow(NamedTuple):
    id: int
    user_id: int
    title: str
    created_at: datetime
    updated_at: datetime


@row_of(_table(StudyPlanLesson))
class StudyPlanLessonRow(NamedTuple):
    id: int
    study_plan_id: int
    position: int
    lesson_id: int


@row_of(_table(StudyPlanInstance))
class StudyPlanInstanceRow(NamedTuple):
    id: int
    study_plan_id: int
    user_id: int
    started_at: datetime


@row_of(_table(Certificate))
class CertificateRow(NamedTuple):
    id: int
    user_id: int
    course_id: int
    code: str
    issued_at: datetime


@row_of(_table(Event))
class EventRow(NamedTuple):
    id: int
    type: EventType
    occurred_at: datetime
    user_id: int
    course_id: int | None
    lesson_id: int | None
    actor_user_id: int | None
    data: dict[str, Any] | None


@row_of(_table(WebhookEndpoint))
class WebhookEndpointRow(NamedTuple):
    id: int
    url: str
    description: str
    event_types: list[str]
    secret: str
    enabled: bool
    cursor_event_id: int
    created_at: datetime
    updated_at: datetime


@row_of(_table(WebhookDelivery))
class WebhookDeliveryRow(NamedTuple):
    id: int
    endpoint_id: int
    event_id: int
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


# What the API shows of an endpoint: the secret is never selected, so it cannot leak into a
# response.
SHOWN_ENDPOINT_COLUMNS = tuple(column for column in _table(WebhookEndpoint) if column.key != "secret")


@row_of(SHOWN_ENDPOINT_COLUMNS)
class ShownEndpointRow(NamedTuple):
    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    cursor_event_id: int
    created_at: datetime
    updated_at: datetime


@row_of(
    (
        *_table(WebhookDelivery),
        Event.type.label("event_type"),
        *(column.label(f"endpoint__{column.key}") for column in SHOWN_ENDPOINT_COLUMNS),
    )
)
class DeliveryListingRow(NamedTuple):
    """A delivery with its event's type and its endpoint (api/queries/webhooks.py joins them)."""

    id: int
    endpoint_id: int
    event_id: int
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    event_type: EventType
    endpoint__id: int
    endpoint__url: str
    endpoint__description: str
    endpoint__event_types: list[str]
    endpoint__enabled: bool
    endpoint__cursor_event_id: int
    endpoint__created_at: datetime
    endpoint__updated_at: datetime

    def endpoint(self) -> ShownEndpointRow:
        return ShownEndpointRow(
            id=self.endpoint__id,
            url=self.endpoint__url,
            description=self.endpoint__description,
            event_types=self.endpoint__event_types,
            enabled=self.endpoint__enabled,
            cursor_event_id=self.endpoint__cursor_event_id,
            created_at=self.endpoint__created_at,
            updated_at=self.endpoint__updated_at,
        )
