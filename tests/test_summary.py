"""The completion rule of gql_progress.domain.summary.summarize."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gql_progress.domain.summary import CourseCounts, summarize

# Lesson positions go up to 1_000_000 (catalog._validate_lesson), so a course can hold that many.
MAX_LESSONS = 1_000_001


def _counts(
    *, total: int, required: int = 0, completed: int = 0, completed_required: int = 0
) -> CourseCounts:
    return CourseCounts(
        user_id=1,
        course_id=2,
        total_lessons=total,
        required_lessons=required,
        completed_lessons=completed,
        completed_required_lessons=completed_required,
    )


@st.composite
def consistent_counts(draw: st.DrawFn, max_lessons: int = MAX_LESSONS) -> CourseCounts:
    """completed_required ≤ required ≤ total, completed ≤ total, completed_required ≤ completed."""
    total = draw(st.integers(0, max_lessons))
    required = draw(st.integers(0, total))
    completed_required = draw(st.integers(0, required))
    # Completed lessons that are not required come from the non-required ones.
    completed = completed_required + draw(st.integers(0, total - required))
    return _counts(total=total, required=required, completed=completed, completed_required=completed_required)


def test_only_required_lessons_count_when_some_are_required() -> None:
    # 4 of 5 lessons required; the learner did 2 required and the optional one.
    summary = summarize(_counts(total=5, required=4, completed=3, completed_required=2))

    assert summary.completion_percentage == 50.0
    assert not summary.is_complete


def test_course_is_complete_when_every_required_lesson_is_done_even_if_optional_ones_are_not() -> None:
    summary = summarize(_counts(total=5, required=4, completed=4, completed_required=4))

    assert summary.completion_percentage == 100.0
    assert summary.is_complete


def test_optional_lessons_alone_do_not_advance_completion() -> None:
    summary = summarize(_counts(total=5, required=4, completed=1, completed_required=0))

    assert summary.completion_percentage == 0.0
    assert not summary.is_complete


def test_every_lesson_counts_when_none_is_required() -> None:
    partial = summarize(_counts(total=4, completed=1))
    done = summarize(_counts(total=4, completed=4))

    assert partial.completion_percentage == 25.0
    assert not partial.is_complete
    assert done.completion_percentage == 100.0
    assert done.is_complete


def test_course_without_lessons_is_0_percent_and_never_complete() -> None:
    summary = summarize(_counts(total=0))

    assert summary.completion_percentage == 0.0
    assert not summary.is_complete


@pytest.mark.parametrize(
    ("done", "needed", "expected"),
    [(1, 3, 33.33), (2, 3, 66.67), (1, 6, 16.67), (1, 7, 14.29), (0, 3, 0.0), (3, 3, 100.0)],
)
def test_percentage_is_rounded_to_2_decimals(done: int, needed: int, expected: float) -> None:
    summary = summarize(_counts(total=needed, required=needed, completed=done, completed_required=done))

    assert summary.completion_percentage == expected


def test_summary_carries_the_counts_through() -> None:
    counts = CourseCounts(
        user_id=7,
        course_id=9,
        total_lessons=6,
        required_lessons=5,
        completed_lessons=3,
        completed_required_lessons=2,
        in_progress_lessons=1,
        total_time_spent_minutes=42,
    )

    summary = summarize(counts)

    assert (summary.user_id, summary.course_id) == (7, 9)
    assert (summary.total_lessons, summary.required_lessons) == (6, 5)
    assert (summary.completed_lessons, summary.completed_required_lessons) == (3, 2)
    assert (summary.in_progress_lessons, summary.total_time_spent_minutes) == (1, 42)
    assert summary.last_accessed_at is None


@given(consistent_counts())
def test_percentage_is_always_between_0_and_100(counts: CourseCounts) -> None:
    summary = summarize(counts)

    assert 0.0 <= summary.completion_percentage <= 100.0
    if counts.total_lessons == 0:
        assert summary.completion_percentage == 0.0
        assert not summary.is_complete


@given(consistent_counts())
@example(_counts(total=20_000, required=20_000, completed=19_999, completed_required=19_999))
@example(_counts(total=40_000, completed=39_999))
@example(_counts(total=19_999, required=19_999, completed=19_998, completed_required=19_998))
def test_is_complete_iff_percentage_is_100(counts: CourseCounts) -> None:
    summary = summarize(counts)

    if counts.total_lessons > 0:
        assert summary.is_complete == (summary.completion_percentage == 100.0)
