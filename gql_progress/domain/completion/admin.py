"""Admins correcting a learner's record: clearing a course's progress, granting completions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from gql_progress.db.engine import Database
from gql_progress.db.models import Enrollment, EnrollmentStatus, EventType, Lesson, LessonProgress, User
from gql_progress.db.rows import EnrollmentRow, columns, one
from gql_progress.db.types import utcnow
from gql_progress.domain.completion.bulk import BulkResult, Requested, set_completion
from gql_progress.domain.errors import FieldProblem, InvalidInput, NotEnrolled, NotFound
from gql_progress.domain.events import NewEvent, record_events
from gql_progress.domain.text import contains_nul

MAX_REASON_LENGTH = 1000


def check_reason(reason: str) -> str:
    cleaned = reason.strip()
    if not cleaned:
        raise InvalidInput([FieldProblem(("reason",), "must not be empty")])
    if len(cleaned) > MAX_REASON_LENGTH:
        raise InvalidInput([FieldProblem(("reason",), f"must be at most {MAX_REASON_LENGTH} characters")])
    if contains_nul(cleaned):
        raise InvalidInput([FieldProblem(("reason",), "must not contain the NUL character (U+0000)")])
    return cleaned


@dataclass(frozen=True)
class ResetResult:
    enrollment: EnrollmentRow
    cleared_records: int


async def reset_progress(
    db: Database, *, actor_user_id: int, user_id: int, course_id: int, reason: str
) -> ResetResult:
    """Clear the learner's records on the course's current lessons and reopen the enrollment.

    The learner stays enrolled, a certificate already issued is kept (it proves a completion
    that happened), records on removed lessons stay for audit, and a PROGRESS_RESET event says
    who did it and why.
    """
    reason = check_reason(reason)
    now = utcnow()
    async with db.write() as conn:
        # Records first, the enrollment (locked by its UPDATE) second: the one lock order of
        # every progress write (see domain.completion), so a racing heartbeat cannot deadlock.
        enrollment = (
            await conn.execute(
                select(Enrollment.id).where(Enrollment.user_id == user_id, Enrollment.course_id == course_id)
            )
        ).first()
        if enrollment is None:
            if await conn.scalar(select(User.id).where(User.id == user_id)) is None:
                raise NotFound("user")
            raise NotEnrolled("The user is not enrolled in this course")
        current = select(Lesson.id).where(Lesson.course_id == course_id, Lesson.removed_at.is_(None))
        cleared = await conn.execute(
            delete(LessonProgress)
            .where(LessonProgress.user_id == user_id, LessonProgress.lesson_id.in_(current))
            .returning(LessonProgress.id)
        )
        cleared_records = len(cleared.all())
        reopened = one(
            EnrollmentRow,
            await conn.execute(
                update(Enrollment)
                .where(Enrollment.id == enrollment.id)
                .values(status=EnrollmentStatus.ACTIVE, completed_at=None)
                .returning(*columns(EnrollmentRow))
            ),
        )
        event = NewEvent(
            EventType.PROGRESS_RESET,
            user_id,
            course_id,
            actor_user_id=actor_user_id,
            data={"reason": reason, "clearedRecords": cleared_records},
        )
        await record_events(conn, [event], now)
    return ResetResult(enrollment=reopened, cleared_records=cleared_records)


async def grant_completion(
    db: Database,
    *,
    actor_user_id: int,
    user_id: int,
    requested: Sequence[Requested],
    reason: str,
) -> BulkResult:
    """Complete lessons on the learner's behalf; earlier completions keep their completedAt."""
    return await set_completion(
        db,
        user_id=user_id,
        requested=requested,
        completed=True,
        actor_user_id=actor_user_id,
        grant_reason=check_reason(reason),
    )
