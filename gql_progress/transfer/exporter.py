"""The export: progress, enrollments or events as flat rows, our ids beside the platform's, read
through a server-side cursor a batch at a time and written as they come, so memory stays the
same for ten rows or ten million.

The shapes (docs/migration.md, "Export") are stated once here, one column list per export; the
files the import reads are these shapes less our ids, so an exported file imports as it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.engine import Database
from gql_progress.db.models import Course, Enrollment, Event, Lesson, LessonProgress, User
from gql_progress.domain.errors import FieldProblem, InvalidInput
from gql_progress.domain.event_data import public_event_data
from gql_progress.domain.ids import encode_id
from gql_progress.domain.refs import names


@dataclass(frozen=True, slots=True)
class Field:
    """One column of an export: its name, its type (as docs/migration.md and Parquet name it),
    the SQL it is read from, and for our ids the GraphQL type its global id names."""

    name: str
    type: str  # text | integer | number | boolean | timestamp | json
    sql: Any
    global_type: str | None = None


@dataclass(frozen=True)
class Shape:
    fields: tuple[Field, ...]
    key: Any  # the order of the rows (and of the cursor)
    moment: Any  # what --since/--until filter
    user: Any  # what --user filters
    course: Any  # what --course filters
    joins: Callable[[Select[Any]], Select[Any]]


_u, _c, _l = User.__table__.alias("u"), Course.__table__.alias("c"), Lesson.__table__.alias("l")
_p, _e, _ev = LessonProgress.__table__, Enrollment.__table__, Event.__table__


def _user_fields() -> tuple[Field, ...]:
    return (
        Field("user_id", "text", _u.c.id, "User"),
        Field("user_external_id", "text", _u.c.external_id),
        Field("user_email", "text", _u.c.email),
    )


def _course_fields() -> tuple[Field, ...]:
    return (
        Field("course_id", "text", _c.c.id, "Course"),
        Field("course_slug", "text", _c.c.slug),
        Field("course_product_id", "text", _c.c.product_id),
    )


PROGRESS = Shape(
    fields=(
        Field("progress_id", "text", _p.c.id, "Progress"),
        *_user_fields(),
        *_course_fields(),
        Field("lesson_id", "text", _l.c.id, "Lesson"),
        Field("lesson_external_id", "text", _l.c.external_id),
        Field("completed", "boolean", _p.c.completed),
        Field("completed_at", "timestamp", _p.c.completed_at),
        Field("progress_percentage", "number", _p.c.progress_percentage),
        Field("video_position_seconds", "integer", _p.c.video_position_seconds),
        Field("last_position_seconds", "integer", _p.c.last_position_seconds),
        Field("quiz_score", "number", _p.c.quiz_score),
        Field("quiz_attempts", "integer", _p.c.quiz_attempts),
        Field("quiz_passed", "boolean", _p.c.quiz_passed),
        Field("time_spent_minutes", "integer", _p.c.time_spent_minutes),
        Field("active_seconds", "integer", _p.c.active_seconds),
        Field("notes", "text", _p.c.notes),
        Field("is_bookmarked", "boolean", _p.c.is_bookmarked),
        Field("metadata", "json", _p.c.metadata),
        Field("last_accessed_at", "timestamp", _p.c.last_accessed_at),
        Field("created_at", "timestamp", _p.c.created_at),
        Field("updated_at", "timestamp", _p.c.updated_at),
        Field("grant_reason", "text", _p.c.grant_reason),
    ),
    key=_p.c.id,
    moment=_p.c.updated_at,
    user=_p.c.user_id,
    course=_l.c.course_id,
    joins=lambda q: q.select_from(
        _p.join(_u, _u.c.id == _p.c.user_id)
        .join(_l, _l.c.id == _p.c.lesson_id)
        .join(_c, _c.c.id == _l.c.course_id)
    ),
)

ENROLLMENTS = Shape(
    fields=(
        Field("enrollment_id", "text", _e.c.id, "Enrollment"),
        *_user_fields(),
        *_course_fields(),
        Field("enrolled_at", "timestamp", _e.c.enrolled_at),
        Field("status", "text", _e.c.status),
        Field("completed_at", "timestamp", _e.c.completed_at),
    ),
    key=_e.c.id,
    moment=_e.c.enrolled_at,
    user=_e.c.user_id,
    course=_e.c.course_id,
    joins=lambda q: q.select_from(_e.join(_u, _u.c.id == _e.c.user_id).join(_c, _c.c.id == _e.c.course_id)),
)

# Events keep plain ids (the log outlives what it names): the platform's identifiers are joined
# where the user, course or lesson still exists, else empty.
EVENTS = Shape(
    fields=(
        Field("event_id", "text", _ev.c.id, "Event"),
        Field("type", "text", _ev.c.type),
        Field("occurred_at", "timestamp", _ev.c.occurred_at),
        Field("user_id", "text", _ev.c.user_id, "User"),
        Field("user_external_id", "text", _u.c.external_id),
        Field("user_email", "text", _u.c.email),
        Field("course_id", "text", _ev.c.course_id, "Course"),
        Field("course_slug", "text", _c.c.slug),
        Field("course_product_id", "text", _c.c.product_id),
        Field("lesson_id", "text", _ev.c.lesson_id, "Lesson"),
        Field("lesson_external_id", "text", _l.c.external_id),
        Field("actor_user_id", "text", _ev.c.actor_user_id, "User"),
        Field("data", "json", _ev.c.data),
    ),
    key=_ev.c.id,
    moment=_ev.c.occurred_at,
    user=_ev.c.user_id,
    course=_ev.c.course_id,
    joins=lambda q: q.select_from(
        _ev.outerjoin(_u, _u.c.id == _ev.c.user_id)
        .outerjoin(_c, _c.c.id == _ev.c.course_id)
        .outerjoin(_l, _l.c.id == _ev.c.lesson_id)
    ),
)

SHAPES = {"progress": PROGRESS, "enrollments": ENROLLMENTS, "events": EVENTS}


@dataclass(frozen=True)
class ExportFilter:
    """Which rows: one course (slug or product id), one user (email or external id), a time
    window [since, until) on the shape's moment (progress: updated_at; enrollments: enrolled_at;
    events: occurred_at)."""

    course: str | None = None
    user: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def _one_id(
    conn: AsyncConnection, table: Any, value: str, columns: Sequence[str], what: str, flag: str
) -> int:
    """The id of the one row whose first or second identifier is ``value``."""
    first, second = (table.c[name] for name in columns)
    found = set(
        (await conn.scalars(select(table.c.id).where(names(first, value) | names(second, value)))).all()
    )
    if not found:
        raise InvalidInput([FieldProblem((flag,), f"no {what} has {' or '.join(columns)} {value!r}")])
    if len(found) > 1:
        raise InvalidInput([FieldProblem((flag,), f"{value!r} names {len(found)} {what}s; it must name one")])
    return int(found.pop())


async def _conditions(conn: AsyncConnection, shape: Shape, wanted: ExportFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.course is not None:
        course_id = await _one_id(
            conn, Course.__table__, wanted.course, ("slug", "product_id"), "course", "--course"
        )
        conditions.append(shape.course == course_id)
    if wanted.user is not None:
        user_id = await _one_id(
            conn,
            User.__table__,
            wanted.user.strip().lower() if "@" in wanted.user else wanted.user,
            ("email", "external_id"),
            "user",
            "--user",
        )
        conditions.append(shape.user == user_id)
    if wanted.since is not None:
        conditions.append(shape.moment >= wanted.since)
    if wanted.until is not None:
        conditions.append(shape.moment < wanted.until)
    return conditions


@asynccontextmanager
async def _snapshot(db: Database) -> AsyncIterator[AsyncConnection]:
    """One read-only transaction: a server-side cursor needs one on PostgreSQL, and REPEATABLE READ
    gives the whole export one snapshot however long it runs."""
    async with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            if conn.dialect.name == "postgresql":
                await conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield conn


async def export_rows(
    db: Database, kind: str, wanted: ExportFilter, batch_size: int
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The export's rows, ``batch_size`` at a time, in the shape's order, our ids as global ids."""
    shape = SHAPES[kind]
    async with _snapshot(db) as conn:
        conditions = await _conditions(conn, shape, wanted)
        query = (
            shape.joins(select(*(f.sql for f in shape.fields)))
            .where(and_(True, *conditions))
            .order_by(shape.key)
        )
        result = await conn.stream(query.execution_options(yield_per=batch_size))
        encoders = [_encoder(f) for f in shape.fields]
        async for rows in result.partitions():
            # Column by column: most columns pass as they are, and the rest run one loop each.
            columns = [
                column if encode is None else [encode(value) for value in column]
                for encode, column in zip(encoders, zip(*rows, strict=True), strict=True)
            ]
            yield list(zip(*columns, strict=True))


def _encoder(field: Field) -> Callable[[Any], Any] | None:
    """How a column's values become the export's (None: as they are)."""
    if field.global_type is not None:
        type_name = field.global_type

        # Ids of users, courses and lessons repeat on every row: each is encoded once.
        @lru_cache(maxsize=65_536)
        def global_id(value: int | None) -> str | None:
            return None if value is None else encode_id(type_name, value)

        return global_id
    if field.name in {"type", "status"}:
        return lambda value: None if value is None else str(value)
    if field.name == "data":
        return public_event_data  # as Event.data shows it: ids inside it as global ids
    return None
