"""Keeps enrollment status true to progress: COMPLETED exactly when every required lesson is done.

Callers lock the enrollment rows (``lock_enrollments``) before they write progress. Under
PostgreSQL's READ COMMITTED, two requests completing a course's last two lessons would otherwise
each miss the other's uncommitted write and both leave the enrollment ACTIVE; with the lock the
second waits for the first and its next statement sees the first one's lesson.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, exists, false, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.models import Course, Enrollment, EnrollmentStatus, Lesson, LessonProgress
from gql_progress.db.summaries import course_facts
from gql_progress.domain.summary import CourseSummary, count_course, summarize


@dataclass(frozen=True)
class LockedEnrollment:
    id: int
    course_id: int
    status: EnrollmentStatus


async def lock_enrollments(
    conn: AsyncConnection, user_id: int, course_ids: Iterable[int]
) -> dict[int, LockedEnrollment]:
    """The user's enrollments in these courses, row-locked until the transaction ends.

    Locks are taken in id order so that two bulk writes over overlapping courses cannot deadlock.
    SQLite has no row locks; there the write transaction already holds the database's write lock.
    """
    statement = (
        select(Enrollment.id, Enrollment.course_id, Enrollment.status)
        .where(Enrollment.user_id == user_id, Enrollment.course_id.in_(sorted(set(course_ids))))
        .order_by(Enrollment.id)
        .with_for_update()
    )
    rows = (await conn.execute(statement)).all()
    return {r.course_id: LockedEnrollment(r.id, r.course_id, EnrollmentStatus(r.status)) for r in rows}


async def sync_enrollments(
    conn: AsyncConnection,
    user_id: int,
    enrollments: Iterable[LockedEnrollment],
    now: datetime,
    *,
    completed: bool,
) -> dict[int, CourseSummary]:
    """Recompute the summaries of these (locked) enrollments and move their status to match.

    ``completed`` is what the write set. Completing lessons can only complete an enrollment and
    un-completing can only reopen one: a learner re-sending completed: true on a course whose
    requirements grew after they finished keeps the completion the course chose to keep.
    """
    by_course = {e.course_id: e for e in enrollments}
    facts = await course_facts(conn, user_id, by_course)
    summaries = {
        course_id: summarize(count_course(user_id, course_id, f.lessons, f.records))
        for course_id, f in facts.items()
    }

    to_complete = [
        e.id
        for course_id, e in by_course.items()
        if completed and summaries[course_id].is_complete and e.status is EnrollmentStatus.ACTIVE
    ]
    to_reopen = [
        e.id
        for course_id, e in by_course.items()
        if not completed and not summaries[course_id].is_complete and e.status is EnrollmentStatus.COMPLETED
    ]
    if to_complete:
        await conn.execute(
            update(Enrollment)
            .where(Enrollment.id.in_(to_complete))
            .values(status=EnrollmentStatus.COMPLETED, completed_at=now)
        )
    if to_reopen:
        await conn.execute(
            update(Enrollment)
            .where(Enrollment.id.in_(to_reopen))
            .values(status=EnrollmentStatus.ACTIVE, completed_at=None)
        )
    return summaries


async def reevaluate_course(conn: AsyncConnection, course_id: int, now: datetime) -> None:
    """After the course's requirements changed, move every enrollment's status to match.

    Set-based, for all learners at once; it states summary.summarize's completion rule in SQL
    (every current required lesson completed; every lesson counts when none is required; a
    course without lessons completes nobody) and tests hold the two to the same answers.
    Enrollments are locked first, as in the per-learner path, so that a learner's write that
    commits meanwhile is seen by the UPDATEs' fresh snapshots. An earned completion is taken
    back only when the course's keep_completion_on_change is off.
    """
    keep = await conn.scalar(select(Course.keep_completion_on_change).where(Course.id == course_id))
    await conn.execute(
        select(Enrollment.id)
        .where(Enrollment.course_id == course_id)
        .order_by(Enrollment.id)
        .with_for_update()
    )
    totals = (
        await conn.execute(
            select(func.count(), func.coalesce(func.sum(case((Lesson.is_required, 1), else_=0)), 0)).where(
                Lesson.course_id == course_id, Lesson.removed_at.is_(None)
            )
        )
    ).one()
    total, required = int(totals[0]), int(totals[1])

    if total == 0:
        complete: ColumnElement[bool] = false()
    else:
        counted = Lesson.is_required if required else true()
        # Correlated to the lesson and to the enrollment being updated: this learner's record.
        completed_it = (
            exists()
            .where(
                LessonProgress.lesson_id == Lesson.id,
                LessonProgress.user_id == Enrollment.user_id,
                LessonProgress.completed,
            )
            .correlate_except(LessonProgress)
        )
        missing = exists().where(
            Lesson.course_id == course_id, Lesson.removed_at.is_(None), counted, ~completed_it
        )
        complete = ~missing

    await conn.execute(
        update(Enrollment)
        .where(
            Enrollment.course_id == course_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            complete,
        )
        .values(status=EnrollmentStatus.COMPLETED, completed_at=now)
    )
    if not keep:
        await conn.execute(
            update(Enrollment)
            .where(
                Enrollment.course_id == course_id,
                Enrollment.status == EnrollmentStatus.COMPLETED,
                ~complete,
            )
            .values(status=EnrollmentStatus.ACTIVE, completed_at=None)
        )
