"""Completing (or un-completing) many lessons at once, with per-lesson outcomes.

A constant number of statements whatever the number of ids: one lookup, one lock, one
multi-row upsert, one summary aggregate and at most two enrollment updates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.engine import Database
from gql_progress.db.models import Lesson, User
from gql_progress.db.progress import upsert_statement
from gql_progress.db.types import utcnow
from gql_progress.domain.completion import lock_enrollments, sync_enrollments
from gql_progress.domain.errors import (
    DomainError,
    FieldProblem,
    InvalidInput,
    NotEnrolled,
    NotFound,
)
from gql_progress.domain.summary import CourseSummary

MAX_BULK_LESSONS = 500


@dataclass(frozen=True)
class LessonOutcome:
    """The result for one requested id; ``lesson_id`` is None when the id was malformed."""

    requested_id: str
    lesson_id: int | None
    error: DomainError | None = None


@dataclass(frozen=True)
class BulkResult:
    outcomes: list[LessonOutcome]
    summaries: dict[int, CourseSummary]


class MalformedId(DomainError):
    code = "INVALID_ID"

    def __init__(self, value: str) -> None:
        super().__init__(f"{value!r} is not a lesson id")


async def set_completion(
    db: Database,
    *,
    user_id: int,
    requested: Sequence[tuple[str, int | None]],
    completed: bool,
    now: datetime | None = None,
) -> BulkResult:
    """``requested`` pairs each id as the client sent it with its decoded lesson id (or None)."""
    if len(requested) > MAX_BULK_LESSONS:
        raise InvalidInput([FieldProblem(("lessonIds",), f"at most {MAX_BULK_LESSONS} ids per call")])
    now = now or utcnow()
    lesson_ids = {lesson_id for _, lesson_id in requested if lesson_id is not None}
    async with db.write() as conn:
        course_of = await _courses_of(conn, lesson_ids)
        locked = await lock_enrollments(conn, user_id, set(course_of.values()))
        if not locked:
            # Only now can it matter whether the user exists (an admin may name anyone).
            await _require_user(conn, user_id)
        writable = sorted(i for i in lesson_ids if i in course_of and course_of[i] in locked)
        if writable:
            rows = [{"user_id": user_id, "lesson_id": i, "completed": completed} for i in writable]
            await conn.execute(upsert_statement(conn, rows, frozenset({"completed"}), now))
        touched = {course_of[i] for i in writable}
        summaries = await sync_enrollments(
            conn, user_id, [e for c, e in locked.items() if c in touched], now, completed=completed
        )

    outcomes = []
    for raw, lesson_id in requested:
        error: DomainError | None = None
        if lesson_id is None:
            error = MalformedId(raw)
        elif lesson_id not in course_of:
            error = NotFound("lesson", raw)
        elif course_of[lesson_id] not in locked:
            error = NotEnrolled()
        outcomes.append(LessonOutcome(raw, lesson_id, error))
    return BulkResult(outcomes=outcomes, summaries=summaries)


async def _require_user(conn: AsyncConnection, user_id: int) -> None:
    if (await conn.execute(select(User.id).where(User.id == user_id))).first() is None:
        raise NotFound("user")


async def _courses_of(conn: AsyncConnection, lesson_ids: set[int]) -> dict[int, int]:
    if not lesson_ids:
        return {}
    # Removed lessons are not part of any course any more: they fail as NOT_FOUND.
    current = Lesson.id.in_(sorted(lesson_ids)) & Lesson.removed_at.is_(None)
    rows = await conn.execute(select(Lesson.id, Lesson.course_id).where(current))
    return {r.id: r.course_id for r in rows}
