"""What "complete" and "completion percentage" mean for a learner in a course: defined once here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class CourseCounts:
    """Aggregates of one learner's progress in one course (see count_course)."""

    user_id: int
    course_id: int
    total_lessons: int = 0
    required_lessons: int = 0
    completed_lessons: int = 0
    completed_required_lessons: int = 0
    in_progress_lessons: int = 0
    total_time_spent_minutes: int = 0
    last_accessed_at: datetime | None = None


@dataclass(frozen=True)
class CourseSummary:
    user_id: int
    course_id: int
    total_lessons: int
    completed_lessons: int
    in_progress_lessons: int
    required_lessons: int
    completed_required_lessons: int
    completion_percentage: float
    total_time_spent_minutes: int
    last_accessed_at: datetime | None
    is_complete: bool


def count_course(
    user_id: int, course_id: int, lessons: Iterable[Any], records: Iterable[Any]
) -> CourseCounts:
    """Counts from the course's lessons (``id``, ``is_required``) and the user's records in it
    (``lesson_id``, ``completed``, ``time_spent_minutes``, ``last_accessed_at``).

    The one place progress is counted: the API's reads and the completion engine both use it.
    """
    required = {lesson.id: lesson.is_required for lesson in lessons}
    completed = completed_required = in_progress = time_spent = 0
    last_accessed: datetime | None = None
    for record in records:
        if record.lesson_id not in required:
            continue
        if record.completed:
            completed += 1
            completed_required += required[record.lesson_id]
        else:
            in_progress += 1
        time_spent += record.time_spent_minutes
        if record.last_accessed_at is not None and (
            last_accessed is None or record.last_accessed_at > last_accessed
        ):
            last_accessed = record.last_accessed_at
    return CourseCounts(
        user_id=user_id,
        course_id=course_id,
        total_lessons=len(required),
        required_lessons=sum(required.values()),
        completed_lessons=completed,
        completed_required_lessons=completed_required,
        in_progress_lessons=in_progress,
        total_time_spent_minutes=time_spent,
        last_accessed_at=last_accessed,
    )


def counted_lessons(counts: CourseCounts) -> tuple[int, int]:
    """(done, needed): the lessons that count toward completing the course."""
    # A course that marks no lesson as required counts every lesson.
    if counts.required_lessons > 0:
        return counts.completed_required_lessons, counts.required_lessons
    return counts.completed_lessons, counts.total_lessons


def summarize(counts: CourseCounts) -> CourseSummary:
    done, needed = counted_lessons(counts)
    complete = needed > 0 and done >= needed
    return CourseSummary(
        user_id=counts.user_id,
        course_id=counts.course_id,
        total_lessons=counts.total_lessons,
        completed_lessons=counts.completed_lessons,
        in_progress_lessons=counts.in_progress_lessons,
        required_lessons=counts.required_lessons,
        completed_required_lessons=counts.completed_required_lessons,
        completion_percentage=completion_percentage(done, needed),
        total_time_spent_minutes=counts.total_time_spent_minutes,
        last_accessed_at=counts.last_accessed_at,
        # A course without lessons is never complete: there is nothing to have finished.
        is_complete=complete,
    )


def completion_percentage(done: int, needed: int) -> float:
    """done / needed × 100 rounded to 2 decimals; 100 only when all are done, 0 when none is needed."""
    if needed <= 0:
        return 0.0
    if done >= needed:
        return 100.0
    # 100 means complete: rounding must never turn 19,999 of 20,000 into 100.
    return min(99.99, round(done * 100.0 / needed, 2))
