"""Keeps enrollment status true to progress: COMPLETED exactly when every required lesson is done.

Every write that can change completion locks the enrollment rows (``lock_enrollments``) after
writing its progress records and before counting them (``sync_enrollments``). Under
PostgreSQL's READ COMMITTED, two requests completing a course's last two lessons would otherwise
each miss the other's uncommitted write and both leave the enrollment ACTIVE; with the lock the
second waits until the first commits, and its count, a new statement, sees the first's lesson.

One order for everyone, records first and enrollment second, because a heartbeat only learns
that it completed a lesson (video threshold, quiz pass) once its record is written: were other
paths to take the enrollment first, the two orders could deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.models import Course, Enrollment, EnrollmentStatus, EventType, Lesson, LessonProgress
from gql_progress.db.types import utcnow
from gql_progress.domain.certificates import course_completion_events
from gql_progress.domain.completion.facts import course_facts
from gql_progress.domain.completion.sequence import allowed_in_order
from gql_progress.domain.completion.summary import CourseSummary, count_course, summarize
from gql_progress.domain.events import NewEvent, record_events


@dataclass(frozen=True)
class LockedEnrollment:
    id: int
    course_id: int
    status: EnrollmentStatus
    # Read with the lock, so completing the course needs no second look at it.
    certificate_enabled: bool


async def lock_enrollments(
    conn: AsyncConnection, user_id: int, course_ids: Iterable[int]
) -> dict[int, LockedEnrollment]:
    """The user's enrollments in these courses, row-locked until the transaction ends.

    Locks are taken in id order so that two bulk writes over overlapping courses cannot deadlock.
    SQLite has no row locks; there the write transaction already holds the database's write lock.
    """
    rows = (
        await conn.execute(_LOCK_ENROLLMENTS, {"user_id": user_id, "course_ids": sorted(set(course_ids))})
    ).all()
    return {
        r.course_id: LockedEnrollment(
            r.id,
            r.course_id,
            EnrollmentStatus(r.status),
            r.certificate_enabled,
        )
        for r in rows
    }


# Built once, not per write: building a statement cost more CPU than SQLAlchemy's cached compile.
_LOCK_ENROLLMENTS = (
    select(
        Enrollment.id,
        Enrollment.course_id,
        Enrollment.status,
        Course.certificate_enabled,
    )
    .join(Course, Course.id == Enrollment.course_id)
    .where(
        Enrollment.user_id == bindparam("user_id", type_=Integer()),
        Enrollment.course_id.in_(bindparam("course_ids", expanding=True)),
    )
    .order_by(Enrollment.id)
    .with_for_update(of=Enrollment)
)


@dataclass(frozen=True)
class SyncResult:
    summaries: dict[int, CourseSummary]  # by course id
    completed: list[LockedEnrollment]  # the enrollments this write completed


async def sync_enrollments(
    conn: AsyncConnection,
    user_id: int,
    enrollments: Iterable[LockedEnrollment],
    now: datetime,
    *,
    completed: bool,
) -> SyncResult:
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

    completing = [
        e
        for course_id, e in by_course.items()
        if completed and summaries[course_id].is_complete and e.status is EnrollmentStatus.ACTIVE
    ]
    to_complete = [e.id for e in completing]
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
    return SyncResult(summaries, completing)


async def settle_enrollments(
    conn: AsyncConnection,
    *,
    user_id: int,
    actor_user_id: int | None,
    course_ids: Iterable[int],
    changed_lessons: Iterable[tuple[int, int]],
    completed: bool,
    granted_reason: str | None = None,
) -> dict[int, CourseSummary]:
    """What follows a progress write that set ``completed``, in its transaction, the same for
    upsert, bulk completion and grants: lock the user's enrollments in these courses (after the
    records: the one lock order), recompute them and move their status, then write the events
    of ``changed_lessons`` ((lesson, course) pairs) and of the courses completed, with their
    certificates. Gives each course's summary."""
    locked = await lock_enrollments(conn, user_id, course_ids)
    # After the lock: a completion that waited for another writer is dated after it.
    now = utcnow()
    synced = await sync_enrollments(conn, user_id, locked.values(), now, completed=completed)
    await record_completion_changes(
        conn,
        user_id=user_id,
        actor_user_id=actor_user_id,
        changed_lessons=changed_lessons,
        completed=completed,
        completed_enrollments=synced.completed,
        granted_reason=granted_reason,
        now=now,
    )
    return synced.summaries


async def record_completion_changes(
    conn: AsyncConnection,
    *,
    user_id: int,
    actor_user_id: int | None,
    changed_lessons: Iterable[tuple[int, int]],
    completed: bool,
    completed_enrollments: Iterable[LockedEnrollment],
    now: datetime,
    granted_reason: str | None = None,
) -> None:
    """The events of a progress write, in its transaction: one per lesson whose completion changed
    ((lesson, course) pairs), then the courses it completed with their certificates."""
    kind = EventType.LESSON_COMPLETED if completed else EventType.LESSON_UNCOMPLETED
    events = []
    for lesson_id, course_id in changed_lessons:
        events.append(NewEvent(kind, user_id, course_id, lesson_id, actor_user_id=actor_user_id))
        if granted_reason is not None:
            events.append(
                NewEvent(
                    EventType.COMPLETION_GRANTED,
                    user_id,
                    course_id,
                    lesson_id,
                    actor_user_id=actor_user_id,
                    data={"reason": granted_reason},
                )
            )
    done = list(completed_enrollments)
    pairs = [(user_id, e.course_id) for e in done]
    offering = {e.course_id for e in done if e.certificate_enabled}
    events += await course_completion_events(conn, pairs, actor_user_id, now, offering=offering)
    await record_events(conn, events, now)


async def refused_by_sequence(
    conn: AsyncConnection, user_id: int, sequential: set[int], requested: dict[int, int]
) -> dict[int, int]:
    """Of the lessons to complete (lesson -> course), those a sequential course (``sequential``
    holds their ids) refuses, each with the first lesson it misses. Costs a statement only
    when a course is sequential."""
    wanted = {lesson: course for lesson, course in requested.items() if course in sequential}
    if not wanted:
        return {}
    facts = await course_facts(conn, user_id, set(wanted.values()))
    refused: dict[int, int] = {}
    for course_id, f in facts.items():
        completed = {r.lesson_id for r in f.records if r.completed}
        in_course = [lesson for lesson, course in wanted.items() if course == course_id]
        for lesson_id, missing in allowed_in_order(f.lessons, completed, in_course).items():
            refused[lesson_id] = missing.id
    return refused


async def completed_lessons_among(conn: AsyncConnection, user_id: int, lesson_ids: Iterable[int]) -> set[int]:
    """Which of these lessons the user has completed (read before un-completing them, to know
    which records actually change)."""
    rows = await conn.execute(
        select(LessonProgress.lesson_id).where(
            LessonProgress.user_id == user_id,
            LessonProgress.lesson_id.in_(sorted(set(lesson_ids))),
            LessonProgress.completed,
        )
    )
    return set(rows.scalars())


async def reevaluate_course(conn: AsyncConnection, course_id: int, now: datetime) -> None:
    """After the course's requirements changed, move every enrollment's status to match.

    Set-based, for all learners at once (see complete_enrollments). An earned completion is
    taken back only when the course's keep_completion_on_change is off.
    """
    keep = await conn.scalar(select(Course.keep_completion_on_change).where(Course.id == course_id))
    complete = await _lock_and_condition(conn, course_id)
    completed_users = await _complete(conn, course_id, complete, now)
    # Completed by the course's change, not by anyone's progress: no actor.
    pairs = [(user_id, course_id) for user_id in completed_users]
    await record_events(conn, await course_completion_events(conn, pairs, None, now), now)
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


async def complete_enrollments(
    conn: AsyncConnection, course_id: int, now: datetime, *, dated_by_lessons: bool = False
) -> list[int]:
    """Set-based: every ACTIVE enrollment of the course whose learner has completed what the
    course counts becomes COMPLETED; returns those learners' ids. It never reopens one.

    Dated ``now``, or with ``dated_by_lessons`` (an import of records completed long ago) when
    the learner completed the last counted lesson, ``now`` only if no record says. The caller
    decides what follows (events, certificates: see course_completion_events).
    """
    complete = await _lock_and_condition(conn, course_id)
    when: Any = now
    if dated_by_lessons:
        counted = await _counts_only_required(conn, course_id)
        last = (
            select(func.max(LessonProgress.completed_at))
            .join(Lesson, Lesson.id == LessonProgress.lesson_id)
            .where(
                LessonProgress.user_id == Enrollment.user_id,
                LessonProgress.completed,
                Lesson.course_id == course_id,
                Lesson.removed_at.is_(None),
                Lesson.is_required if counted else true(),
            )
            .correlate(Enrollment)
            .scalar_subquery()
        )
        when = func.coalesce(last, literal(now, type_=Enrollment.completed_at.type))
    return await _complete(conn, course_id, complete, when)


async def _counts_only_required(conn: AsyncConnection, course_id: int) -> bool:
    required = await conn.scalar(
        select(func.count()).where(
            Lesson.course_id == course_id, Lesson.removed_at.is_(None), Lesson.is_required
        )
    )
    return bool(required)


async def _complete(
    conn: AsyncConnection, course_id: int, complete: ColumnElement[bool], when: Any
) -> list[int]:
    newly_completed = await conn.execute(
        update(Enrollment)
        .where(
            Enrollment.course_id == course_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            complete,
        )
        .values(status=EnrollmentStatus.COMPLETED, completed_at=when)
        .returning(Enrollment.user_id)
    )
    return list(newly_completed.scalars())


async def _lock_and_condition(conn: AsyncConnection, course_id: int) -> ColumnElement[bool]:
    """Lock the course's enrollments and return the SQL of "this enrollment's learner completed
    the course", correlated to the enrollment being updated.

    It states summary.summarize's completion rule in SQL (every current required lesson
    completed; every lesson counts when none is required; a course without lessons completes
    nobody) and tests hold the two to the same answers. Enrollments are locked first, as in the
    per-learner path, so that a learner's write that commits meanwhile is seen by the UPDATEs'
    fresh snapshots.
    """
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
        return false()
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
    return ~missing
