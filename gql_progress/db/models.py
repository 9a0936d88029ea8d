"""Tables. Every constraint is named (see NAMING_CONVENTION) so migrations can refer to it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gql_progress.db.types import BigIntPK, JSONObject, UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Upper bounds keep nonsense (and integer overflow) out; they are far above real use.
MAX_SECONDS = 10_000_000  # ~115 days of video position
MAX_MINUTES = 10_000_000
MAX_QUIZ_ATTEMPTS = 100_000
MAX_NOTES_LENGTH = 10_000
MAX_METADATA_BYTES = 16 * 1024


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UserRole(enum.StrEnum):
    LEARNER = "LEARNER"
    INSTRUCTOR = "INSTRUCTOR"
    ADMIN = "ADMIN"


class LessonKind(enum.StrEnum):
    VIDEO = "VIDEO"
    ARTICLE = "ARTICLE"
    QUIZ = "QUIZ"
    ASSIGNMENT = "ASSIGNMENT"
    OTHER = "OTHER"


class EventType(enum.StrEnum):
    LESSON_COMPLETED = "LESSON_COMPLETED"
    LESSON_UNCOMPLETED = "LESSON_UNCOMPLETED"
    COURSE_COMPLETED = "COURSE_COMPLETED"
    CERTIFICATE_ISSUED = "CERTIFICATE_ISSUED"
    PROGRESS_RESET = "PROGRESS_RESET"
    COMPLETION_GRANTED = "COMPLETION_GRANTED"


class EnrollmentStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"


class ProductKind(enum.StrEnum):
    """What a non-course bundle item is."""

    CONTEST = "CONTEST"
    LIVE_EVENT = "LIVE_EVENT"
    EBOOK = "EBOOK"
    DOWNLOADABLE_PRODUCT = "DOWNLOADABLE_PRODUCT"


def _enum(cls: type[enum.StrEnum], name: str, length: int = 16) -> Enum:
    # VARCHAR + CHECK on both databases: adding a value later is a constraint change, not an
    # ALTER TYPE that PostgreSQL cannot run inside a transaction.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
    )


def _now_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    # Stored lower-cased by the domain layer, which makes the unique constraint case-insensitive.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[UserRole] = mapped_column(_enum(UserRole, "user_role"), default=UserRole.LEARNER)
    created_at: Mapped[datetime] = _now_column()

    __table_args__ = (CheckConstraint("length(external_id) > 0", name="external_id_not_empty"),)


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    product_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    expected_completion_days: Mapped[int | None] = mapped_column(Integer)
    requires_sequential_progress: Mapped[bool] = mapped_column(Boolean, default=False)
    certificate_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # When requirements change, an earned COMPLETED enrollment stays COMPLETED.
    keep_completion_on_change: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Percent of a video lesson's duration that, once watched (videoPositionSeconds), completes it.
    video_completion_threshold: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        CheckConstraint(
            "expected_completion_days IS NULL OR expected_completion_days > 0",
            name="expected_completion_days_positive",
        ),
        CheckConstraint(
            "video_completion_threshold IS NULL"
            " OR (video_completion_threshold > 0 AND video_completion_threshold <= 100)",
            name="video_completion_threshold_range",
        ),
    )


class Lesson(Base):
    __tablename__ = "lessons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    # The platform's own id for the lesson (issue 18): optional, unique among all lessons when set.
    external_id: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[LessonKind] = mapped_column(_enum(LessonKind, "lesson_kind"))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    is_required: Mapped[bool] = mapped_column(Boolean, default=True)
    # For quizzes: a recorded quiz_score at or above it passes (and completes) the lesson.
    pass_score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()
    # A removed lesson leaves its course but keeps its learners' records for audit.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        # Positions are unique among the course's current lessons; also the index for "the
        # lessons of a course, in order".
        Index(
            "uq_lessons_course_id_position",
            "course_id",
            "position",
            unique=True,
            postgresql_where=text("removed_at IS NULL"),
            sqlite_where=text("removed_at IS NULL"),
        ),
        # A unique index, not a constraint: SQLite can add one to an existing table without a
        # rebuild. NULLs are distinct, so lessons without an external id never collide.
        Index("uq_lessons_external_id", "external_id", unique=True),
        CheckConstraint("position >= 0", name="position_non_negative"),
        CheckConstraint(
            f"duration_seconds IS NULL OR duration_seconds BETWEEN 0 AND {MAX_SECONDS}",
            name="duration_seconds_range",
        ),
        CheckConstraint("pass_score IS NULL OR pass_score BETWEEN 0 AND 100", name="pass_score_range"),
    )


class Enrollment(Base):
    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    enrolled_at: Mapped[datetime] = _now_column()
    status: Mapped[EnrollmentStatus] = mapped_column(
        _enum(EnrollmentStatus, "enrollment_status"), default=EnrollmentStatus.ACTIVE
    )
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        # Also the index for "a user's enrollments".
        UniqueConstraint("user_id", "course_id"),
        Index(None, "course_id"),
        CheckConstraint(
            "(status = 'COMPLETED') = (completed_at IS NOT NULL)",
            name="completed_at_matches_status",
        ),
    )


class CourseInstructor(Base):
    """Who teaches a course: an INSTRUCTOR sees analytics and learners' progress for these only."""

    __tablename__ = "course_instructors"

    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    assigned_at: Mapped[datetime] = _now_column()

    # The primary key serves "a course's instructors"; this one serves "what a user teaches".
    __table_args__ = (Index(None, "user_id"),)


class LessonProgress(Base):
    __tablename__ = "lesson_progress"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    progress_percentage: Mapped[float] = mapped_column(Float, default=0.0)
    video_position_seconds: Mapped[int] = mapped_column(Integer, default=0)
    last_position_seconds: Mapped[int] = mapped_column(Integer, default=0)
    quiz_score: Mapped[float | None] = mapped_column(Float)
    quiz_attempts: Mapped[int] = mapped_column(Integer, default=0)
    quiz_passed: Mapped[bool | None] = mapped_column(Boolean)
    time_spent_minutes: Mapped[int] = mapped_column(Integer, default=0)
    # Active time measured by the server (domain/completion/active_time.py), beside the minutes
    # the client claims: the sum of the gaps between the learner's progress writes on the lesson
    # that were at most the heartbeat window, in whole seconds of the database's clock.
    active_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The database's clock (Unix seconds) at the last write that counted for active time; null
    # until the first one (rows written only by bulk completion or a grant, or before 0011).
    activity_clock: Mapped[int | None] = mapped_column(BigInteger)
    notes: Mapped[str | None] = mapped_column(Text)
    is_bookmarked: Mapped[bool] = mapped_column(Boolean, default=False)
    # "metadata" is reserved on declarative classes, hence the attribute name.
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONObject)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_accessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when an admin granted the completion (grantCompletion): who, and why.
    granted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    grant_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        # The one-record-per-(user, lesson) rule; also the index for a user's progress.
        UniqueConstraint("user_id", "lesson_id"),
        Index(None, "lesson_id"),
        CheckConstraint("progress_percentage BETWEEN 0 AND 100", name="progress_percentage_range"),
        CheckConstraint(f"video_position_seconds BETWEEN 0 AND {MAX_SECONDS}", name="video_position_range"),
        CheckConstraint(f"last_position_seconds BETWEEN 0 AND {MAX_SECONDS}", name="last_position_range"),
        CheckConstraint("quiz_score IS NULL OR quiz_score BETWEEN 0 AND 100", name="quiz_score_range"),
        CheckConstraint(f"quiz_attempts BETWEEN 0 AND {MAX_QUIZ_ATTEMPTS}", name="quiz_attempts_range"),
        CheckConstraint(f"time_spent_minutes BETWEEN 0 AND {MAX_MINUTES}", name="time_spent_range"),
        CheckConstraint("active_seconds >= 0", name="active_seconds_range"),
        CheckConstraint("completed = (completed_at IS NOT NULL)", name="completed_at_matches_completed"),
    )


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The first characters of the key, shown in listings so a person can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(32))
    # SHA-256 of the whole key; the key itself is never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    # Space-separated scopes (gql_progress/domain/scopes.py), bounded by the user's role when
    # used. The server default is for rows written by other tools (a learner's two scopes).
    scopes: Mapped[str] = mapped_column(String(100), server_default="progress:read progress:write")
    # A key from before the checksummed format (gql_progress/auth/keys.py): accepted until
    # GQL_PROGRESS_API_KEY_LEGACY_ENABLED is false; listed so admins can replace them.
    legacy_format: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = _now_column()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# --- bundles and the products they sell ------------------------------------------------------
#
# Columns named ``product_id`` hold the *platform's* identifier (a string, as on courses); a
# reference to our own products table is ``product_pk``, so the two can never be confused.


class Product(Base):
    """Something a platform sells that is not a course: a contest, live event, ebook, download."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[ProductKind] = mapped_column(_enum(ProductKind, "product_kind", length=24))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()


class Bundle(Base):
    __tablename__ = "bundles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(255), unique=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()


class BundleItem(Base):
    """One ordered entry of a bundle: exactly one of a course or a product."""

    __tablename__ = "bundle_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    product_pk: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))

    __table_args__ = (
        # Also the index for "a bundle's items, in order".
        UniqueConstraint("bundle_id", "position"),
        # NULLs are distinct, so each of these only constrains the items of its own kind.
        UniqueConstraint("bundle_id", "course_id"),
        UniqueConstraint("bundle_id", "product_pk"),
        Index(None, "course_id"),
        Index(None, "product_pk"),
        CheckConstraint("(course_id IS NULL) <> (product_pk IS NULL)", name="one_item"),
        CheckConstraint("position >= 0", name="position_non_negative"),
    )


class BundleEnrollment(Base):
    __tablename__ = "bundle_enrollments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    bundle_id: Mapped[int] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"))
    enrolled_at: Mapped[datetime] = _now_column()

    __table_args__ = (UniqueConstraint("user_id", "bundle_id"), Index(None, "bundle_id"))


class ProductCompletion(Base):
    """A learner's "consumed it" mark on a product (attended the event, downloaded the ebook)."""

    __tablename__ = "product_completions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product_pk: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        UniqueConstraint("user_id", "product_pk"),
        Index(None, "product_pk"),
        CheckConstraint("completed = (completed_at IS NOT NULL)", name="completed_at_matches_completed"),
    )


# --- study plans -----------------------------------------------------------------------------


class StudyPlan(Base):
    """A learner's own ordered list of lessons, from any courses."""

    __tablename__ = "study_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()


class StudyPlanLesson(Base):
    __tablename__ = "study_plan_lessons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_plan_id: Mapped[int] = mapped_column(ForeignKey("study_plans.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)

    __table_args__ = (
        UniqueConstraint("study_plan_id", "position"),
        UniqueConstraint("study_plan_id", "lesson_id"),
        CheckConstraint("position >= 0", name="position_non_negative"),
    )


class StudyPlanInstance(Base):
    """One run through a plan. Holds no progress: that stays global per (user, lesson)."""

    __tablename__ = "study_plan_instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_plan_id: Mapped[int] = mapped_column(ForeignKey("study_plans.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = _now_column()


# --- the completion engine's records ---------------------------------------------------------


class Certificate(Base):
    """Issued once per (user, course), the first time the enrollment completes."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    # Random and unguessable: the code alone lets anyone verify the certificate.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = _now_column()

    __table_args__ = (UniqueConstraint("user_id", "course_id"),)


class Event(Base):
    """The append-only log of what happened, written in the transaction of the change itself.

    References are plain ids (no foreign keys): the log outlives what it mentions.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    type: Mapped[EventType] = mapped_column(_enum(EventType, "event_type", length=32))
    occurred_at: Mapped[datetime] = _now_column()
    user_id: Mapped[int] = mapped_column(Integer)
    course_id: Mapped[int | None] = mapped_column(Integer)
    lesson_id: Mapped[int | None] = mapped_column(Integer)
    # Who caused it: the learner, an admin acting for them, or null for the system.
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    # Type-specific details: a reset's or grant's reason, a certificate's code.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)

    __table_args__ = (
        Index(None, "user_id", "id"),
        Index(None, "course_id", "id"),
        Index(None, "type", "id"),
    )


# --- webhooks: endpoints that receive the event log, and one delivery record per (endpoint, event)


class WebhookDeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class WebhookEndpoint(Base):
    """A URL that receives the events of the chosen types (see gql_progress/webhooks/)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(Text, default="")
    # EventType values, a JSON list: endpoints are few, so filtering them in Python costs nothing.
    event_types: Mapped[list[str]] = mapped_column(JSONObject)
    # Kept as given, not hashed: every delivery is signed with it (HMAC), so it must be readable.
    secret: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Every event with an id at or below it has been fanned out (or was before registration).
    # BigIntPK's type because it holds event ids: BIGINT on PostgreSQL, INTEGER (64-bit) on SQLite.
    cursor_event_id: Mapped[int] = mapped_column(BigIntPK, default=0)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()


class WebhookDelivery(Base):
    """One event for one endpoint: its attempts so far and where it stands."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("events.id", ondelete="CASCADE"), index=True)
    status: Mapped[WebhookDeliveryStatus] = mapped_column(
        _enum(WebhookDeliveryStatus, "webhook_delivery_status"), default=WebhookDeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # While PENDING: when it is due; a claimed delivery is pushed past its request's deadline.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        # At most one record, hence at most one successful delivery, per (endpoint, event).
        UniqueConstraint("endpoint_id", "event_id"),
        # The workers' "what is due" scan.
        Index(None, "status", "next_attempt_at"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        CheckConstraint("(status = 'PENDING') = (next_attempt_at IS NOT NULL)", name="due_while_pending"),
        CheckConstraint("(status = 'DELIVERED') = (delivered_at IS NOT NULL)", name="delivered_at_matches"),
    )


# --- idempotency keys: the first response of a mutation request, replayed for its repeats


class IdempotencyKey(Base):
    """A mutation request sent with an ``Idempotency-Key`` header and the response it got
    (gql_progress/edge/idempotency.py), written in the same transaction as the request's writes."""

    __tablename__ = "idempotency_keys"

    # The caller: keys are scoped per user, so callers never see (or block) each other's.
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # SHA-256 (hex) of the operation name, the document and the canonical JSON of the variables.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    # The body exactly as it was first sent (JSON text).
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now_column()

    # The purge of expired rows.
    __table_args__ = (Index(None, "created_at"),)
