"""Admin writes to the catalog: users, courses, lessons, enrollments."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeGuard

from sqlalchemy import ColumnElement, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.dialect import insert_for
from gql_progress.db.engine import Database
from gql_progress.db.models import (
    MAX_SECONDS,
    Course,
    Enrollment,
    EnrollmentStatus,
    Lesson,
    LessonKind,
    User,
    UserRole,
)
from gql_progress.db.rows import CourseRow, EnrollmentRow, LessonRow, RowT, UserRow, columns, first, one
from gql_progress.db.types import utcnow
from gql_progress.domain.completion.enrollment import reevaluate_course
from gql_progress.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound, ProblemList
from gql_progress.domain.text import contains_nul

# What a catalog write may set on each table (an admin's mutation, an import): one list each.
USER_COLUMNS = (
    "external_id",
    "email",
    "name",
    "role",
)
COURSE_COLUMNS = (
    "slug",
    "title",
    "product_id",
    "description",
    "expected_completion_days",
    "requires_sequential_progress",
    "certificate_enabled",
    "keep_completion_on_change",
    "video_completion_threshold",
)
LESSON_COLUMNS = (
    "title",
    "external_id",
    "kind",
    "position",
    "duration_seconds",
    "is_required",
    "pass_score",
)

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG_LENGTH = 200
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    # Emails are unique case-insensitively: stored lower-cased, looked up lower-cased.
    return email.strip().lower()


def check_text(problems: ProblemList, values: Mapping[str, Any], column: str, limit: int) -> None:
    if column not in values:
        return
    value = values[column]
    if value is None or not str(value).strip():
        problems.add((column,), "must not be empty")
    elif len(value) > limit:
        problems.add((column,), f"must be at most {limit} characters")


def is_slug(value: object) -> TypeGuard[str]:
    """Lower-case words joined by hyphens, at most MAX_SLUG_LENGTH characters (a course's or a
    bundle's slug)."""
    return isinstance(value, str) and bool(SLUG_PATTERN.match(value)) and len(value) <= MAX_SLUG_LENGTH


def check_slug(problems: ProblemList, values: Mapping[str, Any], example: str) -> None:
    """The slug, when given: its shape first, then its length; ``example`` shows one."""
    if "slug" not in values:
        return
    value = values["slug"]
    if not (value and SLUG_PATTERN.match(value)):
        problems.add(("slug",), f"must be lower-case words joined by hyphens, e.g. {example}")
    elif len(value) > MAX_SLUG_LENGTH:
        problems.add(("slug",), f"must be at most {MAX_SLUG_LENGTH} characters")


def check_optional_text(
    problems: ProblemList, values: Mapping[str, Any], column: str, name: str, limit: int
) -> None:
    """A text that may be null (there is none) but not blank; ``name`` is its GraphQL name."""
    value = values.get(column)
    if value is not None and not value.strip():
        problems.add((name,), "must not be empty (send null for none)")
    elif value is not None and len(value) > limit:
        problems.add((name,), f"must be at most {limit} characters")


def refuse_null(problems: ProblemList, values: Mapping[str, Any], names: Iterable[str]) -> None:
    """Columns a client may leave out (unchanged, or their default) but not send as null."""
    for column in names:
        if column in values and values[column] is None:
            problems.add((column,), "must not be null")


def refuse_nul(problems: ProblemList, values: Mapping[str, Any]) -> None:
    for column, value in values.items():
        if contains_nul(value):
            problems.add((column,), "must not contain the NUL character (U+0000)")


async def unique_or_conflict(
    conn: AsyncConnection, column: Any, value: object, own_id: int | None, name: str
) -> None:
    query = select(column.table.c.id).where(column == value)
    found = (await conn.execute(query)).first()
    if found is not None and found.id != own_id:
        raise Conflict((name,), f"{name} {value!r} is already taken")


# --- users -----------------------------------------------------------------------------------


def _validate_user(values: Mapping[str, Any]) -> dict[str, Any]:
    problems = ProblemList()
    check_text(problems, values, "external_id", 255)
    check_text(problems, values, "name", 255)
    cleaned = dict(values)
    if "email" in values:
        email = normalize_email(values["email"] or "")
        if not _EMAIL.match(email) or len(email) > 320:
            problems.add(("email",), "must be an email address")
        cleaned["email"] = email
    refuse_null(problems, values, ("role",))
    refuse_nul(problems, values)
    problems.raise_if_any()
    return cleaned


async def create_user(db: Database, values: Mapping[str, Any]) -> UserRow:
    cleaned = _validate_user({"role": UserRole.LEARNER, **values})
    async with db.write() as conn:
        await unique_or_conflict(conn, User.email, cleaned["email"], None, "email")
        await unique_or_conflict(conn, User.external_id, cleaned["external_id"], None, "externalId")
        return await insert_returning(conn, UserRow, {**cleaned, "created_at": utcnow()})


async def update_user(db: Database, user_id: int, values: Mapping[str, Any]) -> UserRow:
    cleaned = _validate_user(values)
    async with db.write() as conn:
        if "email" in cleaned:
            await unique_or_conflict(conn, User.email, cleaned["email"], user_id, "email")
        if "external_id" in cleaned:
            await unique_or_conflict(conn, User.external_id, cleaned["external_id"], user_id, "externalId")
        return await update_returning(conn, UserRow, user_id, cleaned, "user")


# --- courses ---------------------------------------------------------------------------------


def _validate_course(values: Mapping[str, Any]) -> dict[str, Any]:
    problems = ProblemList()
    check_text(problems, values, "title", 500)
    check_slug(problems, values, "intro-to-sql")
    check_optional_text(problems, values, "product_id", "productId", 255)
    threshold = values.get("video_completion_threshold")
    if threshold is not None and not (math.isfinite(threshold) and 0 < threshold <= 100):
        problems.add(("videoCompletionThreshold",), "must be greater than 0 and at most 100")
    days = values.get("expected_completion_days")
    if days is not None and not 1 <= days <= 36_500:
        problems.add(("expectedCompletionDays",), "must be between 1 and 36500")
    refuse_null(
        problems,
        values,
        ("requires_sequential_progress", "certificate_enabled", "keep_completion_on_change", "description"),
    )
    refuse_nul(problems, values)
    problems.raise_if_any()
    return dict(values)


async def create_course(db: Database, values: Mapping[str, Any]) -> CourseRow:
    cleaned = _validate_course(values)
    now = utcnow()
    async with db.write() as conn:
        await unique_or_conflict(conn, Course.slug, cleaned["slug"], None, "slug")
        if cleaned.get("product_id") is not None:
            await unique_or_conflict(conn, Course.product_id, cleaned["product_id"], None, "productId")
        return await insert_returning(
            conn, CourseRow, {"description": "", **cleaned, "created_at": now, "updated_at": now}
        )


async def update_course(db: Database, course_id: int, values: Mapping[str, Any]) -> CourseRow:
    cleaned = _validate_course(values)
    async with db.write() as conn:
        if "slug" in cleaned:
            await unique_or_conflict(conn, Course.slug, cleaned["slug"], course_id, "slug")
        if cleaned.get("product_id") is not None:
            await unique_or_conflict(conn, Course.product_id, cleaned["product_id"], course_id, "productId")
        return await update_returning(
            conn, CourseRow, course_id, {**cleaned, "updated_at": utcnow()}, "course"
        )


# --- lessons ---------------------------------------------------------------------------------


def _validate_lesson(values: Mapping[str, Any]) -> dict[str, Any]:
    problems = ProblemList()
    check_text(problems, values, "title", 500)
    duration = values.get("duration_seconds")
    if duration is not None and not 0 <= duration <= MAX_SECONDS:
        problems.add(("durationSeconds",), f"must be between 0 and {MAX_SECONDS}")
    pass_score = values.get("pass_score")
    if pass_score is not None and not (math.isfinite(pass_score) and 0 <= pass_score <= 100):
        problems.add(("passScore",), "must be between 0 and 100")
    position = values.get("position")
    if position is not None and not 0 <= position <= 1_000_000:
        problems.add(("position",), "must be between 0 and 1000000")
    refuse_null(problems, values, ("kind", "is_required"))
    check_optional_text(problems, values, "external_id", "externalId", 255)
    refuse_nul(problems, values)
    problems.raise_if_any()
    return {k: v for k, v in values.items() if not (k == "position" and v is None)}


async def add_lesson(db: Database, course_id: int, values: Mapping[str, Any]) -> LessonRow:
    cleaned = _validate_lesson({"kind": LessonKind.OTHER, "is_required": True, **values})
    now = utcnow()
    async with db.write() as conn:
        await _lock_course(conn, course_id)
        if "position" not in cleaned:
            last = await conn.scalar(select(func.max(Lesson.position)).where(_current_lessons_of(course_id)))
            cleaned["position"] = 0 if last is None else last + 1
        await _position_free(conn, course_id, cleaned["position"], None)
        if cleaned.get("external_id") is not None:
            await unique_or_conflict(conn, Lesson.external_id, cleaned["external_id"], None, "externalId")
        row = await insert_returning(
            conn, LessonRow, {**cleaned, "course_id": course_id, "created_at": now, "updated_at": now}
        )
        # A new lesson changes what completing the course means, for everyone enrolled.
        await reevaluate_course(conn, course_id, now)
        return row


async def update_lesson(db: Database, lesson_id: int, values: Mapping[str, Any]) -> LessonRow:
    cleaned = _validate_lesson(values)
    now = utcnow()
    async with db.write() as conn:
        course_id = await _course_of_current_lesson(conn, lesson_id)
        await _lock_course(conn, course_id)
        if "position" in cleaned:
            await _position_free(conn, course_id, cleaned["position"], lesson_id)
        if cleaned.get("external_id") is not None:
            await unique_or_conflict(
                conn, Lesson.external_id, cleaned["external_id"], lesson_id, "externalId"
            )
        row = await update_returning(conn, LessonRow, lesson_id, {**cleaned, "updated_at": now}, "lesson")
        if "is_required" in cleaned:
            await reevaluate_course(conn, course_id, now)
        return row


async def remove_lesson(db: Database, lesson_id: int) -> LessonRow:
    """Take a lesson out of its course; its learners' records stay, no longer counted."""
    now = utcnow()
    async with db.write() as conn:
        course_id = await _course_of_current_lesson(conn, lesson_id)
        await _lock_course(conn, course_id)
        row = await update_returning(
            conn, LessonRow, lesson_id, {"removed_at": now, "updated_at": now}, "lesson"
        )
        await reevaluate_course(conn, course_id, now)
        return row


async def reorder_lessons(db: Database, course_id: int, lesson_ids: Sequence[int]) -> CourseRow:
    """Give the course's current lessons positions 0..n-1 in the order of ``lesson_ids``."""
    now = utcnow()
    async with db.write() as conn:
        course = await _lock_course(conn, course_id)
        current = set((await conn.execute(select(Lesson.id).where(_current_lessons_of(course_id)))).scalars())
        if len(lesson_ids) != len(set(lesson_ids)) or set(lesson_ids) != current:
            raise InvalidInput(
                [FieldProblem(("lessonIds",), "must list each of the course's current lessons once")]
            )
        if lesson_ids:
            # Two set-based steps so that no intermediate state breaks position uniqueness:
            # first out of the way (beyond any position in use), then into place.
            offset = await conn.scalar(
                select(func.max(Lesson.position) + 1).where(Lesson.course_id == course_id)
            )
            await conn.execute(
                update(Lesson).where(_current_lessons_of(course_id)).values(position=Lesson.position + offset)
            )
            await conn.execute(
                update(Lesson)
                .where(Lesson.id.in_(lesson_ids))
                .values(
                    position=case({pk: i for i, pk in enumerate(lesson_ids)}, value=Lesson.id),
                    updated_at=now,
                )
            )
        return course


def _current_lessons_of(course_id: int) -> ColumnElement[bool]:
    return (Lesson.course_id == course_id) & Lesson.removed_at.is_(None)


async def _lock_course(conn: AsyncConnection, course_id: int) -> CourseRow:
    """The course row, locked: changes to one course's lessons happen one at a time."""
    course = first(
        CourseRow,
        await conn.execute(select(*columns(CourseRow)).where(Course.id == course_id).with_for_update()),
    )
    if course is None:
        raise NotFound("course")
    return course


async def _course_of_current_lesson(conn: AsyncConnection, lesson_id: int) -> int:
    course_id = await conn.scalar(
        select(Lesson.course_id).where(Lesson.id == lesson_id, Lesson.removed_at.is_(None))
    )
    if course_id is None:
        raise NotFound("lesson")
    return int(course_id)


async def _position_free(conn: AsyncConnection, course_id: int, position: int, own_id: int | None) -> None:
    taken = (
        await conn.execute(
            select(Lesson.id).where(_current_lessons_of(course_id), Lesson.position == position)
        )
    ).first()
    if taken is not None and taken.id != own_id:
        raise Conflict(("position",), f"position {position} is already used in this course")


# --- enrollments -----------------------------------------------------------------------------


async def enroll(db: Database, user_id: int, course_id: int) -> tuple[EnrollmentRow, bool]:
    """Enroll the user; enrolling twice keeps the first enrollment. Returns (row, created)."""
    async with db.write() as conn:
        if (await conn.execute(select(User.id).where(User.id == user_id))).first() is None:
            raise NotFound("user")
        if (await conn.execute(select(Course.id).where(Course.id == course_id))).first() is None:
            raise NotFound("course")
        statement = (
            insert_for(conn, Enrollment.__table__)
            .values(
                user_id=user_id,
                course_id=course_id,
                enrolled_at=utcnow(),
                status=EnrollmentStatus.ACTIVE,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "course_id"])
            .returning(*columns(EnrollmentRow))
        )
        created = first(EnrollmentRow, await conn.execute(statement))
        if created is not None:
            return created, True
        existing = await conn.execute(
            select(*columns(EnrollmentRow)).where(
                Enrollment.user_id == user_id, Enrollment.course_id == course_id
            )
        )
        return one(EnrollmentRow, existing), False


# --- helpers ---------------------------------------------------------------------------------


async def insert_returning(conn: AsyncConnection, row_class: type[RowT], values: Mapping[str, Any]) -> RowT:
    """Insert one row of ``row_class``'s table (``values`` keyed by column) and return it."""
    table = columns(row_class)[0].table
    try:
        return one(
            row_class, await conn.execute(insert(table).values(**values).returning(*columns(row_class)))
        )
    except IntegrityError as exc:  # a concurrent writer took the unique value after our check
        raise Conflict((), "a record with these unique values already exists") from exc


async def update_returning(
    conn: AsyncConnection, row_class: type[RowT], row_id: int, values: Mapping[str, Any], what: str
) -> RowT:
    """Update the row of ``row_class``'s table with this id and return it."""
    id_column = columns(row_class)[0]
    statement = update(id_column.table).where(id_column == row_id).returning(*columns(row_class))
    # With nothing to change, still report the row (or that it does not exist).
    statement = statement.values(**values) if values else statement.values({id_column: id_column})
    try:
        row = first(row_class, await conn.execute(statement))
    except IntegrityError as exc:
        raise Conflict((), "a record with these unique values already exists") from exc
    if row is None:
        raise NotFound(what)
    return row
