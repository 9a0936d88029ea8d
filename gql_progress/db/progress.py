"""Statements over lesson_progress: the upsert that encodes the completion transitions, and reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.dialect import insert_for
from gql_progress.db.models import Enrollment, Lesson, LessonProgress

PROGRESS_COLUMNS = tuple(LessonProgress.__table__.c)

# Columns a client may set directly (completion and timestamps follow their own rules below).
WRITABLE_COLUMNS = frozenset(
    {
        "completed",
        "progress_percentage",
        "video_position_seconds",
        "last_position_seconds",
        "quiz_score",
        "quiz_attempts",
        "quiz_passed",
        "time_spent_minutes",
        "notes",
        "is_bookmarked",
        "metadata",
    }
)

_DEFAULTS: dict[str, Any] = {
    "completed": False,
    "progress_percentage": 0.0,
    "video_position_seconds": 0,
    "last_position_seconds": 0,
    "quiz_attempts": 0,
    "time_spent_minutes": 0,
    "is_bookmarked": False,
}


def upsert_statement(
    conn: AsyncConnection, rows: Sequence[Mapping[str, Any]], given: frozenset[str], now: datetime
) -> Any:
    """INSERT … ON CONFLICT (user_id, lesson_id) DO UPDATE for rows that all set the same columns.

    ``given`` names the columns the caller set; the others keep their stored values. The
    transitions are computed by the database from the old row, inside the row lock, so two
    racing writers cannot both decide "this is the first completion":

    - completed_at: set to now on false→true, kept on true→true, cleared on →false;
    - progress_percentage: 100 whenever the resulting record is completed;
    - last_accessed_at and updated_at: now.
    """
    insert = insert_for(conn, LessonProgress.__table__).values([_new_record(row, given, now) for row in rows])
    return _on_conflict(insert, given, now)


def upsert_if_enrolled_statement(
    conn: AsyncConnection, user_id: int, lesson_id: int, changes: Mapping[str, Any], now: datetime
) -> Any:
    """The same upsert for one record, written only if the user is enrolled in the lesson's course.

    The enrollment check is the INSERT's own SELECT, so a heartbeat is one statement; no row
    comes back when the lesson does not exist or the user is not enrolled.
    """
    given = frozenset(changes)
    record = _new_record({"user_id": user_id, "lesson_id": lesson_id, **changes}, given, now)
    table = LessonProgress.__table__
    source = (
        select(
            *(
                Lesson.id if column == "lesson_id" else literal(value, type_=table.c[column].type)
                for column, value in record.items()
            )
        )
        .join(
            Enrollment,
            (Enrollment.course_id == Lesson.course_id) & (Enrollment.user_id == user_id),
        )
        .where(Lesson.id == lesson_id, Lesson.removed_at.is_(None))
    )
    insert = insert_for(conn, table).from_select(list(record), source)
    return _on_conflict(insert, given, now)


def _new_record(row: Mapping[str, Any], given: frozenset[str], now: datetime) -> dict[str, Any]:
    unknown = given - WRITABLE_COLUMNS
    if unknown:
        raise ValueError(f"not writable: {sorted(unknown)}")
    completed = bool(row.get("completed", False))
    record = {**_DEFAULTS, **{k: row[k] for k in given}}
    record.update(
        user_id=row["user_id"],
        lesson_id=row["lesson_id"],
        progress_percentage=100.0 if completed else record["progress_percentage"],
        completed_at=now if completed else None,
        last_accessed_at=now,
        created_at=now,
        updated_at=now,
    )
    return record


def _on_conflict(insert: Any, given: frozenset[str], now: datetime) -> Any:
    table = LessonProgress.__table__
    new = insert.excluded
    new_completed = new.completed if "completed" in given else table.c.completed
    updates: dict[str, Any] = {
        column: new[column] for column in given if column not in {"completed", "progress_percentage"}
    }
    if "completed" in given:
        updates["completed"] = new.completed
        updates["completed_at"] = case((new.completed, _coalesce(table.c.completed_at, now)), else_=None)
    if given & {"completed", "progress_percentage"}:
        new_percentage = (
            new.progress_percentage if "progress_percentage" in given else table.c.progress_percentage
        )
        updates["progress_percentage"] = case((new_completed, 100.0), else_=new_percentage)
    updates["last_accessed_at"] = new.last_accessed_at
    updates["updated_at"] = new.updated_at
    return insert.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.lesson_id], set_=updates
    ).returning(*PROGRESS_COLUMNS)


def _coalesce(column: Any, now: datetime) -> Any:
    return func.coalesce(column, literal(now, type_=column.type))


async def progress_for(
    conn: AsyncConnection, user_ids: Iterable[int], lesson_ids: Iterable[int]
) -> list[Row[Any]]:
    """Records of these users for these lessons (a superset when several users are asked for)."""
    statement = select(*PROGRESS_COLUMNS).where(
        LessonProgress.user_id.in_(sorted(set(user_ids))),
        LessonProgress.lesson_id.in_(sorted(set(lesson_ids))),
    )
    return list((await conn.execute(statement)).all())
