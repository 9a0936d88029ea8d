"""Completing (or un-completing) many lessons at once, with per-lesson outcomes.

A constant number of statements whatever the number of ids: one lookup (the lessons' courses,
the enrollments and which lessons are completed), one lock, one multi-row upsert, one summary
aggregate and at most two enrollment updates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.engine import Database
from gql_progress.db.models import Course, Enrollment, Lesson, LessonProgress, User
from gql_progress.db.types import utcnow
from gql_progress.domain.completion.enrollment import refused_by_sequence, settle_enrollments
from gql_progress.domain.completion.notices import write_progress
from gql_progress.domain.completion.sequence import OutOfSequence
from gql_progress.domain.completion.statements import upsert_statement
from gql_progress.domain.completion.summary import CourseSummary
from gql_progress.domain.errors import (
    DomainError,
    FieldProblem,
    InvalidInput,
    NotEnrolled,
    NotFound,
)
from gql_progress.domain.refs import LessonRef, lessons_by_ref

MAX_BULK_LESSONS = 500


# One requested lesson: the text the client sent, and its decoded id (None when malformed) or,
# for a lesson named by the platform's external id, the ref, resolved inside the write.
Requested = tuple[str, int | LessonRef | None]


@dataclass(frozen=True)
class LessonOutcome:
    """The result for one requested lesson; ``lesson_id`` is None when the id was malformed or
    the external id named no lesson; ``external_id`` is the external id it was named by, if so."""

    requested_id: str
    lesson_id: int | None
    error: DomainError | None = None
    external_id: str | None = None


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
    requested: Sequence[Requested],
    completed: bool,
    now: datetime | None = None,
    actor_user_id: int | None = None,
    grant_reason: str | None = None,
) -> BulkResult:
    """``requested`` pairs each id as the client sent it with its decoded lesson id (or None),
    or with a LessonRef by external id, looked up in the write's transaction (one statement).

    With ``grant_reason`` it is an admin's grant (grantCompletion): the records remember who
    (``actor_user_id``) and why, a sequential course's order does not apply (the admin decides),
    and each new completion also gets a COMPLETION_GRANTED event.
    """
    if len(requested) > MAX_BULK_LESSONS:
        raise InvalidInput([FieldProblem(("lessonIds",), f"at most {MAX_BULK_LESSONS} ids per call")])
    now = now or utcnow()
    async with db.write() as conn:
        refs = [ref for _, ref in requested if isinstance(ref, LessonRef)]
        named = await lessons_by_ref(conn, refs) if refs else {}
        resolved = [
            (raw, named.get(ref) if isinstance(ref, LessonRef) else ref, ref) for raw, ref in requested
        ]
        lesson_ids = {lesson_id for _, lesson_id, _ in resolved if lesson_id is not None}
        courses = await _courses_of(conn, user_id, lesson_ids)
        course_of = {lesson_id: c.course_id for lesson_id, c in courses.items()}
        enrolled = {c.course_id for c in courses.values() if c.enrolled}
        if not enrolled:
            # Only now can it matter whether the user exists (an admin may name anyone).
            await _require_user(conn, user_id)
        writable = sorted(i for i in lesson_ids if i in course_of and course_of[i] in enrolled)
        refused: dict[int, int] = {}
        if completed and grant_reason is None:
            sequential = {c.course_id for c in courses.values() if c.sequential}
            refused = await refused_by_sequence(
                conn, user_id, sequential, {i: course_of[i] for i in writable}
            )
            writable = [i for i in writable if i not in refused]
        changed: list[int] = []
        if writable:
            # Un-completing: whether there was a completion to take back decides the event.
            was_completed = set() if completed else {i for i in writable if courses[i].completed}
            values: dict[str, Any] = {"completed": completed}
            if grant_reason is not None:
                values.update(granted_by_user_id=actor_user_id, grant_reason=grant_reason)
            rows = [{"user_id": user_id, "lesson_id": i, **values} for i in writable]
            upsert = upsert_statement(conn, rows, frozenset(values), now)
            written = await write_progress(conn, upsert.statement, upsert.params)
            # New completions get completed_at = now; kept ones keep their earlier time.
            changed = [
                r.lesson_id
                for r in written
                if (r.completed_at == now if completed else r.lesson_id in was_completed)
            ]
        summaries = await settle_enrollments(
            conn,
            user_id=user_id,
            actor_user_id=actor_user_id,
            course_ids={course_of[i] for i in writable},
            changed_lessons=[(lesson_id, course_of[lesson_id]) for lesson_id in sorted(changed)],
            completed=completed,
            granted_reason=grant_reason,
        )

    outcomes = []
    for raw, lesson_id, ref in resolved:
        error: DomainError | None = None
        external_id = ref.external_id if isinstance(ref, LessonRef) else None
        if lesson_id is None and external_id is not None:
            error = NotFound("lesson", repr(external_id))
        elif lesson_id is None:
            error = MalformedId(raw)
        elif lesson_id not in course_of:
            error = NotFound("lesson", raw)
        elif course_of[lesson_id] not in enrolled:
            error = NotEnrolled()
        elif lesson_id in refused:
            error = OutOfSequence(refused[lesson_id])
        outcomes.append(LessonOutcome(raw, lesson_id, error, external_id))
    return BulkResult(outcomes=outcomes, summaries=summaries)


async def _require_user(conn: AsyncConnection, user_id: int) -> None:
    if (await conn.execute(select(User.id).where(User.id == user_id))).first() is None:
        raise NotFound("user")


@dataclass(frozen=True)
class _LessonCourse:
    course_id: int
    enrolled: bool  # whether the user is enrolled in the course
    sequential: bool  # whether the course requires sequential progress
    completed: bool  # whether the user's record of the lesson is completed


async def _courses_of(conn: AsyncConnection, user_id: int, lesson_ids: set[int]) -> dict[int, _LessonCourse]:
    """Each current lesson's course, with the user's enrollment in it and whether the user has
    completed it, in one statement (an un-completion's events need the last: it used to cost a
    statement of its own, read at the same point of the transaction, before the write)."""
    if not lesson_ids:
        return {}
    rows = await conn.execute(_COURSES_OF, {"user_id": user_id, "lesson_ids": sorted(lesson_ids)})
    return {
        r.id: _LessonCourse(
            r.course_id, r.enrollment_id is not None, r.requires_sequential_progress, bool(r.completed)
        )
        for r in rows
    }


_COURSES_OF = (
    select(
        Lesson.id,
        Lesson.course_id,
        Enrollment.id.label("enrollment_id"),
        Course.requires_sequential_progress,
        LessonProgress.completed,
    )
    .join(Course, Course.id == Lesson.course_id)
    .outerjoin(
        Enrollment,
        (Enrollment.course_id == Lesson.course_id)
        & (Enrollment.user_id == bindparam("user_id", type_=Integer())),
    )
    .outerjoin(
        LessonProgress,
        (LessonProgress.lesson_id == Lesson.id)
        & (LessonProgress.user_id == bindparam("user_id", type_=Integer())),
    )
    # Removed lessons are not part of any course any more: they fail as NOT_FOUND.
    .where(Lesson.id.in_(bindparam("lesson_ids", expanding=True)), Lesson.removed_at.is_(None))
)
