"""Writing one learner's progress on one lesson (the upsertProgress rules)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from asyncpg import PostgresError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.engine import Database, is_deadlock
from gql_progress.db.models import (
    MAX_METADATA_BYTES,
    MAX_MINUTES,
    MAX_NOTES_LENGTH,
    MAX_QUIZ_ATTEMPTS,
    MAX_SECONDS,
    Course,
    Enrollment,
    Lesson,
    User,
)
from gql_progress.db.rows import ProgressRow
from gql_progress.db.types import utcnow
from gql_progress.db.write_alone import NeedsTransaction
from gql_progress.domain.completion.active_time import DEFAULT_WINDOW_SECONDS
from gql_progress.domain.completion.enrollment import (
    completed_lessons_among,
    refused_by_sequence,
    settle_enrollments,
)
from gql_progress.domain.completion.notices import write_progress, write_progress_alone
from gql_progress.domain.completion.sequence import OutOfSequence
from gql_progress.domain.completion.statements import (
    WRITABLE_COLUMNS,
    refusing_completion,
    upsert_if_enrolled_statement,
    upsert_statement,
)
from gql_progress.domain.completion.summary import CourseSummary
from gql_progress.domain.errors import NotEnrolled, NotFound, ProblemList
from gql_progress.domain.study_plan_progress import check_write_through_instance
from gql_progress.domain.text import contains_nul

__all__ = ["WRITABLE_COLUMNS", "ProgressWrite", "upsert_progress", "validate_changes"]

# column -> (lowest, highest) for numbers that must be present when given
_INT_RANGES = {
    "video_position_seconds": (0, MAX_SECONDS),
    "last_position_seconds": (0, MAX_SECONDS),
    "quiz_attempts": (0, MAX_QUIZ_ATTEMPTS),
    "time_spent_minutes": (0, MAX_MINUTES),
}
_PERCENT_COLUMNS = ("progress_percentage", "quiz_score")
# Columns whose stored value may be null; sending null for them clears the value.
_NULLABLE = frozenset({"quiz_score", "quiz_passed", "notes", "metadata"})


def validate_changes(changes: Mapping[str, Any]) -> ProblemList:
    """Every problem with the given fields, each under its column name."""
    problems = ProblemList()
    for column, value in changes.items():
        path = (column,)
        if value is None:
            if column not in _NULLABLE:
                problems.add(path, "must not be null")
            continue
        if column in _INT_RANGES:
            low, high = _INT_RANGES[column]
            if not low <= value <= high:
                problems.add(path, f"must be between {low} and {high}")
        elif column in _PERCENT_COLUMNS:
            if not (math.isfinite(value) and 0 <= value <= 100):
                problems.add(path, "must be between 0 and 100")
        elif column == "notes":
            if len(value) > MAX_NOTES_LENGTH:
                problems.add(path, f"must be at most {MAX_NOTES_LENGTH} characters")
            elif contains_nul(value):
                problems.add(path, "must not contain the NUL character (U+0000)")
        elif column == "metadata":
            _check_metadata(problems, path, value)
    return problems


def _check_metadata(problems: ProblemList, path: tuple[str, ...], value: Any) -> None:
    if not isinstance(value, dict):
        problems.add(path, "must be a JSON object")
        return
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError:
        # The response encoder could not send it back either.
        problems.add(path, "must nest at most 255 levels and hold integers within 64 bits")
        return
    if len(encoded) > MAX_METADATA_BYTES:
        problems.add(path, f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
    elif contains_nul(value):
        problems.add(path, "must not contain the NUL character (U+0000)")


@dataclass(frozen=True)
class ProgressWrite:
    record: ProgressRow
    # Known when the write could change completion (it was recomputed in the same transaction).
    summary: CourseSummary | None


async def upsert_progress(
    db: Database,
    *,
    user_id: int,
    lesson_id: int,
    changes: Mapping[str, Any],
    now: datetime | None = None,
    instance_id: int | None = None,
    actor_user_id: int | None = None,
    active_window: int = DEFAULT_WINDOW_SECONDS,
) -> ProgressWrite:
    """Create or update the one record of (user, lesson); raises before writing on any problem.

    Every such write is a heartbeat for active time: the gap since the record's previous one
    counts when it is at most ``active_window`` seconds (active_time.py). Whoever writes (the
    learner, or an admin's key relaying a platform's heartbeats with ``userId``), the gaps are
    the record's.

    ``instance_id``: the study plan instance the learner works through, checked in the same
    transaction; the record written is the same global one either way. ``actor_user_id``: who
    made the change (the learner, or an admin for them), recorded on the events it causes.
    """
    validate_changes(changes).raise_if_any()
    now = now or utcnow()
    for attempt in range(_DEADLOCK_RETRIES + 1):
        try:
            if instance_id is None and "completed" not in changes and db.writes_alone:
                alone = await _heartbeat_alone(db, user_id, lesson_id, changes, now, active_window)
                if alone is not None:
                    return alone
            return await _upsert_once(
                db, user_id, lesson_id, changes, now, instance_id, actor_user_id, active_window
            )
        except (DBAPIError, PostgresError) as exc:
            if attempt == _DEADLOCK_RETRIES or not is_deadlock(exc):
                raise
    raise AssertionError("unreachable")


async def _heartbeat_alone(
    db: Database,
    user_id: int,
    lesson_id: int,
    changes: Mapping[str, Any],
    now: datetime,
    active_window: int,
) -> ProgressWrite | None:
    """The common heartbeat as the one statement it is, committed by itself (one round trip on
    PostgreSQL: Database.write_alone), with the statement, notice and rows of ``_upsert_once``.
    None when it completed the lesson (the statement then refused to commit alone, and wrote
    nothing): ``_upsert_once`` writes it again, with what follows a completion."""
    upsert = upsert_if_enrolled_statement(
        db.dialect, user_id, lesson_id, changes, now, active_window=active_window
    )
    statement = refusing_completion(upsert.statement) if upsert.may_complete else upsert.statement
    assert isinstance(upsert.params, dict)
    try:
        written = await write_progress_alone(db, statement, upsert.params)
    except NeedsTransaction:
        return None
    if not written:
        # Nothing was written: why is read as _upsert_once reads it (NOT_FOUND first).
        async with db.read() as conn:
            await _lesson_course_and_enrollment(conn, user_id, lesson_id)
            await _raise_not_enrolled(conn, user_id)
    return ProgressWrite(record=written[0], summary=None)


# A deadlock needs two concurrent writes of one learner on one lesson; a retry resolves it.
_DEADLOCK_RETRIES = 2


async def _upsert_once(
    db: Database,
    user_id: int,
    lesson_id: int,
    changes: Mapping[str, Any],
    now: datetime,
    instance_id: int | None,
    actor_user_id: int | None,
    active_window: int,
) -> ProgressWrite:
    async with db.write() as conn:
        if instance_id is not None:
            await check_write_through_instance(
                conn, instance_id=instance_id, user_id=user_id, lesson_id=lesson_id
            )
        if "completed" not in changes:
            # The common heartbeat: one statement that checks the enrollment and writes.
            upsert = upsert_if_enrolled_statement(
                conn.dialect.name, user_id, lesson_id, changes, now, active_window=active_window
            )
            # Announced to live subscribers.
            written = await write_progress(conn, upsert.statement, upsert.params)
            record = written[0] if written else None
            if record is None:
                await _lesson_course_and_enrollment(conn, user_id, lesson_id)  # NOT_FOUND first
                await _raise_not_enrolled(conn, user_id)
            assert record is not None
            if not (record.completed and record.completed_at == now):
                return ProgressWrite(record=record, summary=None)
            # The video threshold or the quiz's pass score completed the lesson just now.
            summary = await _after_automatic_completion(conn, user_id, lesson_id, actor_user_id)
            return ProgressWrite(record=record, summary=summary)

        # Completion can change the enrollment: it is locked after the write (domain.completion).
        course_id, enrolled, sequential = await _lesson_course_and_enrollment(conn, user_id, lesson_id)
        if not enrolled:
            await _raise_not_enrolled(conn, user_id)
        completing = bool(changes["completed"])
        if completing and sequential:
            refused = await refused_by_sequence(conn, user_id, {course_id}, {lesson_id: course_id})
            if lesson_id in refused:
                raise OutOfSequence(refused[lesson_id])
        # Un-completing: whether there was a completion to take back decides the event.
        was_completed = set() if completing else await completed_lessons_among(conn, user_id, [lesson_id])
        upsert = upsert_statement(
            conn,
            [{"user_id": user_id, "lesson_id": lesson_id, **changes}],
            frozenset(changes),
            now,
            active_window=active_window,
        )
        [record] = await write_progress(conn, upsert.statement, upsert.params)
        # A completion that is new gets completed_at = now; one that was kept keeps its time.
        changed = record.completed_at == now if completing else lesson_id in was_completed
        summaries = await settle_enrollments(
            conn,
            user_id=user_id,
            actor_user_id=actor_user_id,
            course_ids=[course_id],
            changed_lessons=[(lesson_id, course_id)] if changed else [],
            completed=completing,
        )
    return ProgressWrite(record=record, summary=summaries[course_id])


async def _after_automatic_completion(
    conn: AsyncConnection, user_id: int, lesson_id: int, actor_user_id: int | None
) -> CourseSummary:
    """What a completion sent explicitly does after its write: the enrollment and the events."""
    course_id, _, _ = await _lesson_course_and_enrollment(conn, user_id, lesson_id)
    summaries = await settle_enrollments(
        conn,
        user_id=user_id,
        actor_user_id=actor_user_id,
        course_ids=[course_id],
        changed_lessons=[(lesson_id, course_id)],
        completed=True,
    )
    return summaries[course_id]


async def _lesson_course_and_enrollment(
    conn: AsyncConnection, user_id: int, lesson_id: int
) -> tuple[int, bool, bool]:
    """(course id, whether the user is enrolled, whether the course is sequential)."""
    row = (
        await conn.execute(
            select(
                Lesson.course_id,
                Enrollment.id.label("enrollment_id"),
                Course.requires_sequential_progress,
            )
            .join(Course, Course.id == Lesson.course_id)
            .outerjoin(
                Enrollment,
                (Enrollment.course_id == Lesson.course_id) & (Enrollment.user_id == user_id),
            )
            .where(Lesson.id == lesson_id, Lesson.removed_at.is_(None))
        )
    ).one_or_none()
    if row is None:
        raise NotFound("lesson")
    return row.course_id, row.enrollment_id is not None, row.requires_sequential_progress


async def _raise_not_enrolled(conn: AsyncConnection, user_id: int) -> None:
    # Only on the failure path: an admin naming a user that does not exist hears so.
    exists = (await conn.execute(select(User.id).where(User.id == user_id))).first()
    if exists is None:
        raise NotFound("user")
    raise NotEnrolled()
