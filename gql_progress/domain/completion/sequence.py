"""Sequential courses: a lesson can be completed only once every earlier counted lesson is.

"Counted" is the completion rule's: the required lessons, or every lesson when none is required
(see summary.counted_lessons). Only completion is gated; positions and time may be recorded on
any lesson.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from gql_progress.domain.errors import DomainError


class OutOfSequence(DomainError):
    code = "OUT_OF_SEQUENCE"

    def __init__(self, missing_lesson_id: int) -> None:
        self.missing_lesson_id = missing_lesson_id
        super().__init__("An earlier lesson of this sequential course must be completed first")


def first_missing(lessons: Sequence[Any], completed: Collection[int], lesson_id: int) -> Any | None:
    """The first counted lesson before ``lesson_id`` (rows with id, position, is_required) that
    is not in ``completed``; None when ``lesson_id`` may be completed."""
    ordered = sorted(lessons, key=lambda lesson: lesson.position)
    counts_all = not any(lesson.is_required for lesson in ordered)
    for lesson in ordered:
        if lesson.id == lesson_id:
            return None
        if (counts_all or lesson.is_required) and lesson.id not in completed:
            return lesson
    return None


def allowed_in_order(
    lessons: Sequence[Any], completed: Iterable[int], requested: Iterable[int]
) -> dict[int, Any]:
    """For a set completed together: each requested lesson that may not be completed, with the
    first lesson it misses. Earlier lessons of the set count as done when they themselves pass,
    so completing lessons 1–5 in one call is allowed."""
    done = set(completed)
    wanted = set(requested)
    refused: dict[int, Any] = {}
    ordered = sorted(lessons, key=lambda lesson: lesson.position)
    counts_all = not any(lesson.is_required for lesson in ordered)
    # One pass in order (first_missing per lesson sorted and scanned the course each time: for
    # a 50-lesson bulk completion, 50 sorts and ~1,300 steps). The first counted lesson not
    # done is settled once passed: only the lesson at hand can join ``done`` while passing it.
    missing = None
    for lesson in ordered:
        if lesson.id in wanted:
            if missing is None:
                done.add(lesson.id)
            else:
                refused[lesson.id] = missing
        if missing is None and (counts_all or lesson.is_required) and lesson.id not in done:
            missing = lesson
    return refused
