"""courseAnalytics and platformAnalytics (issue 7): exact figures on small known datasets, on
SQLite and PostgreSQL, who sees what, and a statement count that does not grow with the course.

The datasets are written straight into the tables with chosen timestamps (enrollments, progress
records), because the figures depend on when things happened; docs/analytics.md defines them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text

from gql_progress.db.engine import Database
from gql_progress.db.models import (
    CourseInstructor,
    Enrollment,
    EnrollmentStatus,
    LessonKind,
    LessonProgress,
    UserRole,
)
from gql_progress.domain import analytics, catalog
from gql_progress.domain.ids import encode_id
from tests.apps import GENEROUS_LIMITS, api_with
from tests.support import Api, SeededUser


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment of March 2026, UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- seeding ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lessons:
    course_pk: int
    course_id: str
    slug: str
    pks: list[int]
    ids: list[str]


async def make_course(db: Database, lessons: list[dict[str, Any]], *, remove_last: bool = False) -> Lessons:
    course = await catalog.create_course(
        db, {"slug": f"analytics-{len(lessons)}-{id(lessons)}", "title": "Analytics course"}
    )
    pks = []
    for index, values in enumerate(lessons):
        row = await catalog.add_lesson(db, course.id, {"title": f"Lesson {index}", **values})
        pks.append(row.id)
    if remove_last:
        await catalog.remove_lesson(db, pks[-1])
    return Lessons(
        course.id, encode_id("Course", course.id), course.slug, pks, [encode_id("Lesson", p) for p in pks]
    )


async def enroll(
    db: Database,
    user: SeededUser,
    course: Lessons,
    enrolled_at: datetime,
    completed_at: datetime | None = None,
) -> None:
    async with db.write() as conn:
        await conn.execute(
            insert(Enrollment).values(
                user_id=user.pk,
                course_id=course.course_pk,
                enrolled_at=enrolled_at,
                status=EnrollmentStatus.COMPLETED if completed_at else EnrollmentStatus.ACTIVE,
                completed_at=completed_at,
            )
        )


async def record(
    db: Database,
    user: SeededUser,
    lesson_pk: int,
    written_at: datetime,
    *,
    completed: bool = False,
    minutes: int = 0,
    video: int = 0,
    quiz_score: float | None = None,
    quiz_passed: bool | None = None,
    accessed_at: datetime | None = None,
) -> None:
    async with db.write() as conn:
        await conn.execute(
            insert(LessonProgress).values(
                user_id=user.pk,
                lesson_id=lesson_pk,
                completed=completed,
                completed_at=written_at if completed else None,
                progress_percentage=100.0 if completed else 0.0,
                video_position_seconds=video,
                quiz_score=quiz_score,
                quiz_passed=quiz_passed,
                time_spent_minutes=minutes,
                updated_at=written_at,
                last_accessed_at=accessed_at or written_at,
                created_at=written_at,
            )
        )


async def teach(db: Database, user: SeededUser, course: Lessons) -> None:
    async with db.write() as conn:
        await conn.execute(insert(CourseInstructor).values(course_id=course.course_pk, user_id=user.pk))


VIDEO_600 = {"kind": LessonKind.VIDEO, "duration_seconds": 600}
QUIZ = {"kind": LessonKind.QUIZ, "pass_score": 60.0}
OPTIONAL_ARTICLE = {"kind": LessonKind.ARTICLE, "is_required": False}
VIDEO_300 = {"kind": LessonKind.VIDEO, "duration_seconds": 300}


@dataclass(frozen=True)
class World:
    a: Lessons  # 4 current lessons (video, quiz, optional article, video) + 1 removed
    b: Lessons  # 2 articles
    learners: list[SeededUser]  # u1..u6 as index 0..5
    admin: SeededUser
    instructor: SeededUser  # teaches course A
    other_instructor: SeededUser  # teaches course B only


async def world(api: Api) -> World:
    """The dataset of docs/analytics.md's worked example (see the expected numbers below)."""
    db = api.db
    a = await make_course(db, [VIDEO_600, QUIZ, OPTIONAL_ARTICLE, VIDEO_300, VIDEO_600], remove_last=True)
    b = await make_course(db, [{"kind": LessonKind.ARTICLE}, {"kind": LessonKind.ARTICLE}])
    u = [await api.user() for _ in range(6)]
    l0, l1, l2, l3, removed = a.pks

    # u1: enrolled Mar 1, completed Mar 3 12:00 (2.5 days); every required lesson, and the article.
    await enroll(db, u[0], a, at(1), at(3, 12))
    await record(db, u[0], l0, at(3, 10), completed=True, minutes=10, video=600)
    await record(db, u[0], l1, at(3, 10), completed=True, minutes=5, quiz_score=80, quiz_passed=True)
    await record(db, u[0], l2, at(3, 10), minutes=2)
    await record(db, u[0], l3, at(3, 10), completed=True, minutes=7, video=400)  # capped at 1
    # u2: enrolled Mar 2, completed Mar 6 (4 days); half of each video watched.
    await enroll(db, u[1], a, at(2), at(6))
    await record(db, u[1], l0, at(6), completed=True, minutes=20, video=300)
    await record(db, u[1], l1, at(6), completed=True, minutes=5, quiz_score=60, quiz_passed=True)
    await record(db, u[1], l3, at(6), completed=True, minutes=3, video=150)
    # u3: enrolled Mar 5, active: the first video done, the quiz failed; written Mar 7 00:00 sharp.
    await enroll(db, u[2], a, at(5))
    await record(db, u[2], l0, at(7), completed=True, minutes=8, video=600)
    await record(db, u[2], l1, at(7), minutes=4, quiz_score=40, quiz_passed=False)
    # u4: enrolled Mar 10, nothing on a current lesson (a completed record on the removed one).
    await enroll(db, u[3], a, at(10))
    await record(db, u[3], removed, at(4), completed=True, minutes=50, video=600)
    # u5: enrolled Mar 20 00:00 sharp, completed Mar 21 00:00 sharp (1 day).
    await enroll(db, u[4], a, at(20), at(21))
    await record(db, u[4], l0, at(21), completed=True, minutes=6, video=600)
    await record(db, u[4], l1, at(21), completed=True, minutes=2, quiz_score=100, quiz_passed=True)
    await record(db, u[4], l3, at(21), completed=True, minutes=4, video=300)
    # Course B: u1 (enrolled Mar 4) completed its first lesson Mar 8 12:00; u6 (enrolled Mar 7
    # 23:00) wrote Mar 7 23:30 a record last accessed Mar 6 10:00.
    await enroll(db, u[0], b, at(4))
    await record(db, u[0], b.pks[0], at(8, 12), completed=True, minutes=9)
    await enroll(db, u[5], b, at(7, 23))
    await record(db, u[5], b.pks[0], at(7, 23, 30), minutes=1, accessed_at=at(6, 10))

    admin = await api.admin()
    instructor = await api.user(UserRole.INSTRUCTOR, name="Teacher of A")
    other = await api.user(UserRole.INSTRUCTOR, name="Teacher of B")
    await teach(db, instructor, a)
    await teach(db, other, b)
    return World(a, b, u, admin, instructor, other)


# --- documents ----------------------------------------------------------------------------------

COURSE_ANALYTICS = """
query ($course: CourseRefInput!, $from: DateTime, $to: DateTime, $limit: Int! = 5, $min: Int) {
  courseAnalytics(course: $course, from: $from, to: $to) {
    course { slug }
    from
    to
    enrolledLearners
    activeLearners
    completedLearners
    completionRate
    averageCompletionPercentage
    medianTimeToCompletionDays
    p90TimeToCompletionDays
    lessonsCompleted
    coursesCompleted
    lessons {
      lesson { id position }
      started completed completionRate averageTimeSpentMinutes averageWatchedRatio
      averageQuizScore quizPassRate
    }
    dropOff { lesson { id } reached reachedRate lost dropOffRate }
    hardestLessons(limit: $limit, minSampleSize: $min) {
      lesson { id } started completed completionRateAmongStarted
    }
  }
}
"""

PLATFORM_ANALYTICS = """
query ($from: DateTime!, $to: DateTime!) {
  platformAnalytics(from: $from, to: $to) {
    courses enrollments enrolledLearners completedEnrollments completionRate
    averageCompletionPercentage medianTimeToCompletionDays p90TimeToCompletionDays
    activeLearners lessonsCompleted coursesCompleted
    daily { date activeLearners lessonsCompleted coursesCompleted }
  }
}
"""


async def course_analytics(api: Api, key: str, course: dict[str, str], **variables: Any) -> Any:
    data = await api.data(COURSE_ANALYTICS, {"course": course, **variables}, key=key)
    return data["courseAnalytics"]


def lesson_row(
    lesson_id: str,
    position: int,
    started: int,
    completed: int,
    rate: float | None,
    minutes: float | None,
    watched: float | None = None,
    quiz: float | None = None,
    passed: float | None = None,
) -> dict[str, Any]:
    return {
        "lesson": {"id": lesson_id, "position": position},
        "started": started,
        "completed": completed,
        "completionRate": rate,
        "averageTimeSpentMinutes": minutes,
        "averageWatchedRatio": watched,
        "averageQuizScore": quiz,
        "quizPassRate": passed,
    }


def step(
    lesson_id: str, reached: int, reached_rate: float | None, lost: int, rate: float | None
) -> dict[str, Any]:
    return {
        "lesson": {"id": lesson_id},
        "reached": reached,
        "reachedRate": reached_rate,
        "lost": lost,
        "dropOffRate": rate,
    }


# --- the course's figures -------------------------------------------------------------------------


async def test_course_analytics_over_every_enrollment_gives_the_worked_example(api: Api) -> None:
    w = await world(api)
    l0, l1, l2, l3, _ = w.a.ids

    result = await course_analytics(api, w.admin.key, {"slug": w.a.slug})

    assert {k: v for k, v in result.items() if k not in {"lessons", "dropOff", "hardestLessons"}} == {
        "course": {"slug": w.a.slug},
        "from": None,
        "to": None,
        "enrolledLearners": 5,
        "activeLearners": 4,  # u4's only record is on the removed lesson
        "completedLearners": 3,
        "completionRate": 0.6,
        # (100 + 100 + 33.33… + 0 + 100) / 5; required lessons only (the article is optional)
        "averageCompletionPercentage": 66.67,
        "medianTimeToCompletionDays": 2.5,  # of 1, 2.5, 4
        "p90TimeToCompletionDays": 3.7,  # rank 0.9 × 2 = 1.8: 2.5 + 0.8 × (4 − 2.5)
        "lessonsCompleted": 10,  # the removed lesson's completion is not counted
        "coursesCompleted": 3,
    }
    assert result["lessons"] == [
        lesson_row(l0, 0, 4, 4, 0.8, 11.0, watched=0.875),  # (1 + .5 + 1 + 1) / 4
        lesson_row(l1, 1, 4, 3, 0.6, 4.0, quiz=70.0, passed=0.75),
        lesson_row(l2, 2, 1, 0, 0.0, 2.0),
        lesson_row(l3, 3, 3, 3, 0.6, 4.67, watched=0.8333),  # (1 + .5 + 1) / 3
    ]
    # Furthest lessons: u1, u2, u5 → 3; u3 → 1; u4 → none.
    assert result["dropOff"] == [
        step(l0, 4, 0.8, 1, 0.2),
        step(l1, 4, 0.8, 0, 0.0),
        step(l2, 3, 0.6, 1, 0.25),
        step(l3, 3, 0.6, 0, 0.0),
    ]
    # Five learners are below the default minimum sample of 10: nothing is ranked.
    assert result["hardestLessons"] == []


async def test_window_bounds_are_inclusive_at_from_and_exclusive_at_to(api: Api) -> None:
    w = await world(api)
    l0, l1, l2, l3, _ = w.a.ids

    # Cohort: u3 (enrolled Mar 5 00:00 = from) and u4 (Mar 10); u5 (Mar 20 00:00 = to) is out.
    result = await course_analytics(
        api, w.admin.key, {"id": w.a.course_id}, **{"from": iso(at(5)), "to": iso(at(20))}
    )

    assert result["from"] == "2026-03-05T00:00:00+00:00"
    assert result["to"] == "2026-03-20T00:00:00+00:00"
    assert result["enrolledLearners"] == 2
    assert result["completedLearners"] == 0
    assert result["completionRate"] == 0.0
    assert result["averageCompletionPercentage"] == 16.67  # (33.33… + 0) / 2
    assert result["medianTimeToCompletionDays"] is None
    assert result["p90TimeToCompletionDays"] is None
    # Writes in [Mar 5, Mar 20): u2's at Mar 6 and u3's at Mar 7 (course B's do not count).
    assert result["activeLearners"] == 2
    assert result["lessonsCompleted"] == 4  # u2's three (Mar 6) and u3's one (Mar 7)
    assert result["coursesCompleted"] == 1  # u2 (Mar 6); u1 completed Mar 3, u5 Mar 21
    assert result["lessons"] == [
        lesson_row(l0, 0, 1, 1, 0.5, 8.0, watched=1.0),
        lesson_row(l1, 1, 1, 0, 0.0, 4.0, quiz=40.0, passed=0.0),
        lesson_row(l2, 2, 0, 0, 0.0, None),
        lesson_row(l3, 3, 0, 0, 0.0, None, watched=None),
    ]
    assert result["dropOff"] == [
        step(l0, 1, 0.5, 1, 0.5),
        step(l1, 1, 0.5, 0, 0.0),
        step(l2, 0, 0.0, 1, 1.0),
        step(l3, 0, 0.0, 0, None),  # nobody at the step before: no share to lose
    ]

    # Activity alone: [Mar 7 00:00, Mar 21 00:00) holds u3's writes (at from) but not u5's (at to).
    edges = await course_analytics(
        api, w.admin.key, {"slug": w.a.slug}, **{"from": iso(at(7)), "to": iso(at(21))}
    )
    assert edges["activeLearners"] == 1
    assert edges["lessonsCompleted"] == 1
    assert edges["coursesCompleted"] == 0
    # …and one microsecond later at both ends, u5 is in and u3 is out.
    shifted = await course_analytics(
        api,
        w.admin.key,
        {"slug": w.a.slug},
        **{"from": iso(at(7) + timedelta(microseconds=1)), "to": iso(at(21) + timedelta(microseconds=1))},
    )
    assert (shifted["activeLearners"], shifted["lessonsCompleted"], shifted["coursesCompleted"]) == (1, 3, 1)


async def test_a_window_with_only_from_or_only_to_is_open_on_the_other_side(api: Api) -> None:
    w = await world(api)

    since = await course_analytics(api, w.admin.key, {"slug": w.a.slug}, **{"from": iso(at(10))})
    until = await course_analytics(api, w.admin.key, {"slug": w.a.slug}, to=iso(at(10)))

    assert (since["enrolledLearners"], since["completedLearners"], since["activeLearners"]) == (2, 1, 1)
    assert (until["enrolledLearners"], until["completedLearners"], until["activeLearners"]) == (3, 2, 3)
    assert until["medianTimeToCompletionDays"] == 3.25  # of 2.5 and 4
    assert until["p90TimeToCompletionDays"] == 3.85  # 2.5 + 0.9 × 1.5


async def test_hardest_lessons_rank_lowest_completion_among_starters_above_the_minimum_sample(
    database_url: str,
) -> None:
    async for api in _api_with(database_url, analytics_min_sample=2):
        w = await world(api)
        l0, l1, _, l3, _ = w.a.ids
        course = {"slug": w.a.slug}

        # Samples: L0 4 (4 done), L1 4 (3 done), the article 1 (below 2), L3 3 (3 done).
        ranked = (await course_analytics(api, w.admin.key, course))["hardestLessons"]
        assert ranked == [
            {"lesson": {"id": l1}, "started": 4, "completed": 3, "completionRateAmongStarted": 0.75},
            # a tie at 1.0: the larger sample first
            {"lesson": {"id": l0}, "started": 4, "completed": 4, "completionRateAmongStarted": 1.0},
            {"lesson": {"id": l3}, "started": 3, "completed": 3, "completionRateAmongStarted": 1.0},
        ]
        # An argument raises the minimum; one below the setting is ignored.
        raised = await course_analytics(api, w.admin.key, course, min=4)
        assert [r["lesson"]["id"] for r in raised["hardestLessons"]] == [l1, l0]
        lowered = await course_analytics(api, w.admin.key, course, min=1)
        assert [r["lesson"]["id"] for r in lowered["hardestLessons"]] == [l1, l0, l3]
        assert [
            r["lesson"]["id"]
            for r in (await course_analytics(api, w.admin.key, course, limit=1))["hardestLessons"]
        ] == [l1]


async def test_hardest_lessons_refuse_a_limit_out_of_range(api: Api) -> None:
    w = await world(api)
    body = await api.gql(COURSE_ANALYTICS, {"course": {"slug": w.a.slug}, "limit": 0}, key=w.admin.key)
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    assert body["errors"][0]["extensions"]["fields"][0]["path"] == ["limit"]


async def test_an_empty_course_gives_zeros_nulls_and_empty_lists(api: Api) -> None:
    w = await world(api)
    empty = await make_course(api.db, [])

    result = await course_analytics(api, w.admin.key, {"slug": empty.slug})

    assert result == {
        "course": {"slug": empty.slug},
        "from": None,
        "to": None,
        "enrolledLearners": 0,
        "activeLearners": 0,
        "completedLearners": 0,
        "completionRate": None,
        "averageCompletionPercentage": None,
        "medianTimeToCompletionDays": None,
        "p90TimeToCompletionDays": None,
        "lessonsCompleted": 0,
        "coursesCompleted": 0,
        "lessons": [],
        "dropOff": [],
        "hardestLessons": [],
    }


async def test_a_course_with_lessons_and_no_enrollment_has_lesson_rows_without_rates(api: Api) -> None:
    w = await world(api)
    lonely = await make_course(api.db, [VIDEO_600, QUIZ])

    result = await course_analytics(api, w.admin.key, {"slug": lonely.slug})

    assert result["enrolledLearners"] == 0
    assert result["completionRate"] is None
    assert result["averageCompletionPercentage"] is None
    assert result["lessons"] == [
        lesson_row(lonely.ids[0], 0, 0, 0, None, None),
        lesson_row(lonely.ids[1], 1, 0, 0, None, None),
    ]
    assert result["dropOff"] == [step(lonely.ids[0], 0, None, 0, None), step(lonely.ids[1], 0, None, 0, None)]


async def test_a_course_with_enrollments_and_no_lessons_counts_zero_percent(api: Api) -> None:
    w = await world(api)
    bare = await make_course(api.db, [])
    await enroll(api.db, w.learners[0], bare, at(1))
    await enroll(api.db, w.learners[1], bare, at(2))

    result = await course_analytics(api, w.admin.key, {"slug": bare.slug})

    assert (result["enrolledLearners"], result["completionRate"], result["averageCompletionPercentage"]) == (
        2,
        0.0,
        0.0,
    )


async def test_a_course_with_no_required_lesson_counts_every_lesson(api: Api) -> None:
    w = await world(api)
    optional = await make_course(api.db, [OPTIONAL_ARTICLE, OPTIONAL_ARTICLE])
    first, second = w.learners[0], w.learners[1]
    await enroll(api.db, first, optional, at(1))
    await enroll(api.db, second, optional, at(1))
    await record(api.db, first, optional.pks[0], at(2), completed=True)
    await record(api.db, second, optional.pks[1], at(2))

    result = await course_analytics(api, w.admin.key, {"slug": optional.slug})

    assert result["averageCompletionPercentage"] == 25.0  # (50 + 0) / 2
    # The same figure as the learners' own summaries (domain/completion/summary.py).
    summaries = await api.data(
        "query ($slug: String!, $u: ID!) {"
        " course(slug: $slug, userId: $u) { summary { completionPercentage } } }",
        {"slug": optional.slug, "u": first.id},
        key=w.admin.key,
    )
    assert summaries["course"]["summary"]["completionPercentage"] == 50.0
    assert [(row["started"], row["completed"]) for row in result["lessons"]] == [(1, 1), (1, 0)]
    # The furthest lesson counts, not the first: the second learner reached both lessons.
    assert [s["reached"] for s in result["dropOff"]] == [2, 1]


async def test_a_naive_or_backwards_window_is_refused(api: Api) -> None:
    w = await world(api)
    for variables, path in (
        ({"from": "2026-03-01T00:00:00"}, ["from"]),
        ({"from": iso(at(5)), "to": iso(at(4))}, ["to"]),
    ):
        body = await api.gql(COURSE_ANALYTICS, {"course": {"slug": w.a.slug}, **variables}, key=w.admin.key)
        assert body["data"] == {"courseAnalytics": None}
        assert body["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
        assert body["errors"][0]["extensions"]["fields"][0]["path"] == path
    # from = to is an empty window, not an error.
    empty = await course_analytics(
        api, w.admin.key, {"slug": w.a.slug}, **{"from": iso(at(5)), "to": iso(at(5))}
    )
    assert (empty["enrolledLearners"], empty["activeLearners"], empty["completionRate"]) == (0, 0, None)


# --- the platform's figures -----------------------------------------------------------------------


def day(date: str, active: int = 0, lessons: int = 0, courses: int = 0) -> dict[str, Any]:
    return {"date": date, "activeLearners": active, "lessonsCompleted": lessons, "coursesCompleted": courses}


async def test_platform_analytics_totals_and_a_zero_filled_daily_series(api: Api) -> None:
    w = await world(api)

    data = await api.data(PLATFORM_ANALYTICS, {"from": iso(at(1)), "to": iso(at(8))}, key=w.admin.key)

    result = data["platformAnalytics"]
    assert {k: v for k, v in result.items() if k != "daily"} == {
        "courses": 2,
        # Cohort: A's u1, u2, u3 and B's u1, u6.
        "enrollments": 5,
        "enrolledLearners": 4,
        "completedEnrollments": 2,
        "completionRate": 0.4,
        "averageCompletionPercentage": 56.67,  # (100 + 100 + 33.33… + 50 + 0) / 5
        "medianTimeToCompletionDays": 3.25,
        "p90TimeToCompletionDays": 3.85,
        "activeLearners": 4,  # u1, u2, u3, u6 (not u4: the removed lesson; u1's B write is Mar 8)
        "lessonsCompleted": 7,
        "coursesCompleted": 2,
    }
    assert result["daily"] == [
        day("2026-03-01"),
        day("2026-03-02"),
        day("2026-03-03", active=1, lessons=3, courses=1),
        day("2026-03-04"),  # u4's completion on the removed lesson does not count
        day("2026-03-05"),
        day("2026-03-06", active=2, lessons=3, courses=1),  # u2, and u6's lastAccessedAt
        day("2026-03-07", active=2, lessons=1),  # u3 at 00:00, u6 at 23:30
    ]


async def test_platform_days_are_the_utc_dates_the_window_touches(api: Api) -> None:
    w = await world(api)

    data = await api.data(
        PLATFORM_ANALYTICS, {"from": "2026-03-03T11:00:00+01:00", "to": iso(at(7, 0, 1))}, key=w.admin.key
    )

    # 10:00 UTC on Mar 3 is inside: u1's writes count; the window ends one minute into Mar 7.
    daily = data["platformAnalytics"]["daily"]
    assert [d["date"] for d in daily] == [
        "2026-03-03",
        "2026-03-04",
        "2026-03-05",
        "2026-03-06",
        "2026-03-07",
    ]
    assert daily[0] == day("2026-03-03", active=1, lessons=3, courses=1)
    assert daily[-1] == day("2026-03-07", active=1, lessons=1)  # u3 at 00:00; u6's 23:30 is past `to`


async def test_platform_window_is_bounded(api: Api) -> None:
    w = await world(api)
    start = at(1)

    longest = await api.gql(
        PLATFORM_ANALYTICS, {"from": iso(start), "to": iso(start + timedelta(days=366))}, key=w.admin.key
    )
    too_long = await api.gql(
        PLATFORM_ANALYTICS,
        {"from": iso(start), "to": iso(start + timedelta(days=366, microseconds=1))},
        key=w.admin.key,
    )

    assert not longest.get("errors")
    assert len(longest["data"]["platformAnalytics"]["daily"]) == 366
    assert too_long["data"] is None
    assert too_long["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    assert too_long["errors"][0]["extensions"]["fields"] == [
        {"path": ["to"], "message": "the window may span at most 366 days"}
    ]


async def test_an_empty_platform_window_gives_zeros(api: Api) -> None:
    w = await world(api)

    data = await api.data(
        PLATFORM_ANALYTICS, {"from": "2025-01-01T00:00:00Z", "to": "2025-01-03T00:00:00Z"}, key=w.admin.key
    )

    result = data["platformAnalytics"]
    assert (result["enrollments"], result["activeLearners"], result["completionRate"]) == (0, 0, None)
    assert result["averageCompletionPercentage"] is None
    assert result["daily"] == [day("2025-01-01"), day("2025-01-02")]


# --- who sees what --------------------------------------------------------------------------------

EVERY_FIELD_NULL = {"courseAnalytics": None}


async def test_course_analytics_for_admins_and_the_course_instructors_only(api: Api) -> None:
    w = await world(api)
    enrolled_learner = w.learners[0]
    course = {"slug": w.a.slug}

    as_admin = await course_analytics(api, w.admin.key, course)
    as_instructor = await course_analytics(api, w.instructor.key, course)
    # Every field the admin sees, the course's instructor sees alike.
    assert as_instructor == as_admin
    assert as_admin["enrolledLearners"] == 5

    nonexistent = await api.gql(COURSE_ANALYTICS, {"course": {"slug": "no-such-course"}}, key=w.admin.key)
    assert nonexistent == {"data": EVERY_FIELD_NULL}
    for refused in (w.other_instructor, enrolled_learner):
        for ref in (course, {"id": w.a.course_id}, {"slug": "no-such-course"}):
            assert await api.gql(COURSE_ANALYTICS, {"course": ref}, key=refused.key) == nonexistent
    # The other instructor sees their own course, and only it.
    own = await course_analytics(api, w.other_instructor.key, {"slug": w.b.slug})
    assert own["enrolledLearners"] == 2


async def test_platform_analytics_is_for_admins_only(api: Api) -> None:
    w = await world(api)
    window = {"from": iso(at(1)), "to": iso(at(8))}

    assert (await api.data(PLATFORM_ANALYTICS, window, key=w.admin.key))["platformAnalytics"]["courses"] == 2
    # As the admin-only `events` answers others: FORBIDDEN, no data.
    events = await api.gql("{ events { nodes { type } } }", key=w.learners[0].key)
    for caller in (w.instructor, w.other_instructor, w.learners[0]):
        body = await api.gql(PLATFORM_ANALYTICS, window, key=caller.key)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert body["errors"][0]["extensions"]["code"] == events["errors"][0]["extensions"]["code"]


# --- cost -----------------------------------------------------------------------------------------


async def test_course_analytics_costs_the_same_statements_for_3_and_30_lessons(api: Api) -> None:
    admin = await api.admin()
    instructor = await api.user(UserRole.INSTRUCTOR)
    counts = []
    for lessons, learners in ((3, 2), (30, 7)):
        course = await make_course(api.db, [VIDEO_600, QUIZ, OPTIONAL_ARTICLE] * (lessons // 3))
        await teach(api.db, instructor, course)
        for n in range(learners):
            learner = await api.user()
            await enroll(api.db, learner, course, at(1), at(2) if n % 2 else None)
            for pk in course.pks[: n + 1]:
                await record(api.db, learner, pk, at(2), completed=True, minutes=3, video=100, quiz_score=70)
        variables = {"course": {"slug": course.slug}, "min": 1}
        # The resolver path's statements are what this measures: a directive keeps the compiled
        # reads out on PostgreSQL, where the whole answer is one statement (below).
        resolvers = COURSE_ANALYTICS.replace("course { slug }", "course { slug @include(if: true) }")
        counts.append(
            (
                await api.statements(resolvers, variables, key=admin.key),
                await api.statements(resolvers, variables, key=instructor.key),
            )
        )
        if api.db.dialect == "postgresql":
            for key in (admin.key, instructor.key):  # the key lookup and the compiled statement
                assert await api.statements(COURSE_ANALYTICS, variables, key=key) == 2
        result = await course_analytics(api, admin.key, {"slug": course.slug}, min=1)
        assert len(result["lessons"]) == lessons
        assert result["enrolledLearners"] == learners

    assert counts[0] == counts[1]
    # key, course, its lessons, the totals, the lessons' figures (+ the instructor's assignment)
    admin_count, instructor_count = counts[0]
    assert admin_count <= 5
    assert instructor_count == admin_count + 1


async def test_platform_analytics_costs_the_same_statements_for_a_week_and_a_year(api: Api) -> None:
    w = await world(api)
    week = await api.statements(PLATFORM_ANALYTICS, {"from": iso(at(1)), "to": iso(at(8))}, key=w.admin.key)
    year = await api.statements(
        PLATFORM_ANALYTICS, {"from": iso(at(1)), "to": iso(at(1) + timedelta(days=366))}, key=w.admin.key
    )
    assert week == year <= 4  # key, totals, days, courses


# --- the percentile method, against PostgreSQL's own ------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10, 11])
async def test_percentiles_match_postgresql_percentile_cont(pg_api: Api, n: int) -> None:
    course = await make_course(pg_api.db, [VIDEO_600])
    for i in range(n):
        learner = await pg_api.user()
        # Durations of 0.5, 1.7, 3.9, … days in no particular order.
        hours = (i * 37) % 101 + 12
        await enroll(pg_api.db, learner, course, at(1), at(1) + timedelta(hours=hours))

    async with pg_api.db.read() as conn:
        scope = analytics.Scope(course.course_pk, tuple(course.pks))
        totals = await analytics.totals(conn, scope, analytics.Window())
        expected = (
            await conn.execute(
                text(
                    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), "
                    "percentile_cont(0.9) WITHIN GROUP (ORDER BY d) FROM ("
                    "  SELECT extract(epoch FROM completed_at - enrolled_at) / 86400 AS d"
                    "  FROM enrollments WHERE course_id = :c AND completed_at IS NOT NULL) s"
                ),
                {"c": course.course_pk},
            )
        ).one()

    assert totals.median_time_to_completion_days == round(float(expected[0]), 2)
    assert totals.p90_time_to_completion_days == round(float(expected[1]), 2)


# --- helpers ----------------------------------------------------------------------------------------


async def _api_with(database_url: str, **overrides: Any) -> AsyncIterator[Api]:
    async with api_with(database_url, **{**GENEROUS_LIMITS, **overrides}) as api:
        yield api
