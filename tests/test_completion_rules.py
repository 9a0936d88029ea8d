"""The completion rules, checked over HTTP: sequential courses, the video threshold, quiz pass
scores, and the admin's resetProgress and grantCompletion.

Every test seeds users, courses and enrollments with the helpers of tests.support (lessons last
600 s) and then only talks GraphQL. Tests taking ``api`` run on SQLite and on PostgreSQL; the
race at the end takes ``pg_api``: it needs PostgreSQL's real parallel writers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.operations import HEARTBEAT
from gql_progress.db.models import LessonKind
from gql_progress.domain.completion.sequence import allowed_in_order, first_missing
from gql_progress.domain.ids import encode_id
from tests.support import Api, SeededCourse, SeededUser

# --- GraphQL documents -------------------------------------------------------------------------

ERROR_FIELDS = """
    __typename
    ... on Error { code message }
    ... on ValidationError { fields { path message } }
"""

PROGRESS_FIELDS = """
fragment ProgressFields on Progress {
  id completed completedAt progressPercentage videoPositionSeconds lastPositionSeconds
  quizScore quizPassed timeSpentMinutes notes updatedAt grantReason grantedBy { id }
}
"""

UPSERT = f"""
mutation Upsert($input: UpsertProgressInput!) {{
  upsertProgress(input: $input) {{
    {ERROR_FIELDS}
    ... on SequenceError {{ missingLessonId }}
    ... on UpsertProgressSuccess {{
      progress {{ ...ProgressFields }}
      summary {{ completedLessons isComplete }}
    }}
  }}
}}
{PROGRESS_FIELDS}
"""

BULK_RESULT = """
    ... on BulkSetCompletionSuccess {
      succeeded failed
      results { lessonId success error { code } progress { ...ProgressFields } }
      summaries { courseId completedLessons isComplete }
    }
"""

BULK = f"""
mutation Bulk($input: BulkSetCompletionInput!) {{
  bulkSetCompletion(input: $input) {{ {ERROR_FIELDS} {BULK_RESULT} }}
}}
{PROGRESS_FIELDS}
"""

GRANT = f"""
mutation Grant($input: GrantCompletionInput!) {{
  grantCompletion(input: $input) {{ {ERROR_FIELDS} {BULK_RESULT} }}
}}
{PROGRESS_FIELDS}
"""

RESET = f"""
mutation Reset($input: ResetProgressInput!) {{
  resetProgress(input: $input) {{
    {ERROR_FIELDS}
    ... on ResetProgressPayload {{
      clearedRecords
      enrollment {{ status completedAt }}
      summary {{ completedLessons inProgressLessons isComplete }}
    }}
  }}
}}
"""

RECORD = f"""
query Record($id: ID!, $userId: ID) {{
  lesson(id: $id) {{ progress(userId: $userId) {{ ...ProgressFields }} }}
}}
{PROGRESS_FIELDS}
"""

NODE = f"""
query Node($id: ID!) {{ node(id: $id) {{ ... on Progress {{ ...ProgressFields }} }} }}
{PROGRESS_FIELDS}
"""

LOCKS = """
query Locks($id: ID!, $userId: ID) { course(id: $id) { lessons { id locked(userId: $userId) } } }
"""

ENROLLMENT = """
query Enrollment($courseId: ID!, $userId: ID) {
  course(id: $courseId) { enrollment(userId: $userId) { status completedAt certificate { code } } }
}
"""

EVENTS = """
query Events($userId: ID, $types: [EventType!], $after: String) {
  events(userId: $userId, types: $types, first: 100, after: $after) {
    edges { node { type userId courseId lessonId actorId data } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

CREATE_COURSE = f"""
mutation CreateCourse($input: CreateCourseInput!) {{
  createCourse(input: $input) {{
    {ERROR_FIELDS}
    ... on CoursePayload {{ course {{ id videoCompletionThreshold }} }}
  }}
}}
"""

UPDATE_COURSE = f"""
mutation UpdateCourse($input: UpdateCourseInput!) {{
  updateCourse(input: $input) {{
    {ERROR_FIELDS}
    ... on CoursePayload {{ course {{ id videoCompletionThreshold }} }}
  }}
}}
"""

COURSE_THRESHOLD = "query Threshold($id: ID!) { course(id: $id) { videoCompletionThreshold } }"

ADD_LESSON = f"""
mutation AddLesson($input: AddLessonInput!) {{
  addLesson(input: $input) {{
    {ERROR_FIELDS}
    ... on LessonPayload {{ lesson {{ id kind durationSeconds passScore }} }}
  }}
}}
"""

UPDATE_LESSON = f"""
mutation UpdateLesson($input: UpdateLessonInput!) {{
  updateLesson(input: $input) {{
    {ERROR_FIELDS}
    ... on LessonPayload {{ lesson {{ id passScore durationSeconds }} }}
  }}
}}
"""

LESSON_PASS_SCORE = "query PassScore($id: ID!) { lesson(id: $id) { passScore } }"

# --- helpers -------------------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(UTC)


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


async def mutate(api: Api, caller: SeededUser, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run a one-field mutation that must not raise GraphQL errors; return its result object."""
    data = await api.data(document, variables, key=caller.key)
    [result] = data.values()
    assert isinstance(result, dict)
    return result


async def upsert(
    api: Api, caller: SeededUser, lesson_id: str, *, user_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    """upsertProgress (for ``user_id`` when given): the result, any union member."""
    return await mutate(api, caller, UPSERT, {"input": {"lessonId": lesson_id, "userId": user_id, **fields}})


async def upsert_ok(api: Api, caller: SeededUser, lesson_id: str, **fields: Any) -> dict[str, Any]:
    """An upsertProgress that must succeed; the record it returns."""
    result = await upsert(api, caller, lesson_id, **fields)
    assert result["__typename"] == "UpsertProgressSuccess", result
    record: dict[str, Any] = result["progress"]
    return record


async def bulk(
    api: Api, caller: SeededUser, lesson_ids: list[str], *, completed: bool, user_id: str | None = None
) -> dict[str, Any]:
    variables = {"input": {"lessonIds": lesson_ids, "completed": completed, "userId": user_id}}
    return await mutate(api, caller, BULK, variables)


async def grant(
    api: Api, caller: SeededUser, learner: SeededUser, lesson_ids: list[str], reason: str = "Attended live"
) -> dict[str, Any]:
    variables = {"input": {"userId": learner.id, "lessonIds": lesson_ids, "reason": reason}}
    return await mutate(api, caller, GRANT, variables)


async def reset(
    api: Api, caller: SeededUser, learner: SeededUser, course: SeededCourse, reason: str = "Retake"
) -> dict[str, Any]:
    variables = {"input": {"userId": learner.id, "courseId": course.id, "reason": reason}}
    return await mutate(api, caller, RESET, variables)


async def record(
    api: Api, viewer: SeededUser, lesson_id: str, *, of: SeededUser | None = None
) -> dict[str, Any] | None:
    """The record of ``of`` (default: the viewer) on the lesson, or None when there is none."""
    variables = {"id": lesson_id, "userId": None if of is None else of.id}
    data = await api.data(RECORD, variables, key=viewer.key)
    value: dict[str, Any] | None = data["lesson"]["progress"]
    return value


async def existing_record(
    api: Api, viewer: SeededUser, lesson_id: str, *, of: SeededUser | None = None
) -> dict[str, Any]:
    value = await record(api, viewer, lesson_id, of=of)
    assert value is not None
    return value


async def locks(
    api: Api, viewer: SeededUser, course: SeededCourse, *, of: SeededUser | None = None
) -> list[bool]:
    """Lesson.locked of each lesson of the course, in order, for ``of`` (default: the viewer)."""
    variables = {"id": course.id, "userId": None if of is None else of.id}
    data = await api.data(LOCKS, variables, key=viewer.key)
    lessons = data["course"]["lessons"]
    assert [lesson["id"] for lesson in lessons] == course.lesson_ids
    return [bool(lesson["locked"]) for lesson in lessons]


async def enrollment(
    api: Api, viewer: SeededUser, course: SeededCourse, learner: SeededUser
) -> dict[str, Any]:
    data = await api.data(ENROLLMENT, {"courseId": course.id, "userId": learner.id}, key=viewer.key)
    value: dict[str, Any] | None = data["course"]["enrollment"]
    assert value is not None
    return value


async def events(
    api: Api, admin: SeededUser, learner: SeededUser, types: list[str] | None = None
) -> list[dict[str, Any]]:
    """The learner's events, oldest first, following the pages to the end."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        data = await api.data(EVENTS, {"userId": learner.id, "types": types, "after": after}, key=admin.key)
        page = data["events"]
        found += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def kinds(found: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """(type, lessonId) of each event: what happened, in brief."""
    return [(e["type"], e["lessonId"]) for e in found]


async def enrolled_learner(api: Api, course: SeededCourse) -> SeededUser:
    learner = await api.user()
    await api.enroll(learner, course)
    return learner


def field_paths(result: dict[str, Any]) -> list[list[str]]:
    assert result["__typename"] == "ValidationError", result
    assert result["code"] == "VALIDATION_FAILED"
    return sorted(f["path"] for f in result["fields"])


def outcomes(result: dict[str, Any]) -> list[tuple[str, bool, str | None]]:
    """(lessonId, success, error code) of each item of a bulk result."""
    assert result["__typename"] == "BulkSetCompletionSuccess", result
    return [
        (r["lessonId"], r["success"], None if r["error"] is None else r["error"]["code"])
        for r in result["results"]
    ]


async def set_pass_score(api: Api, admin: SeededUser, lesson_id: str, score: float | None) -> None:
    result = await mutate(api, admin, UPDATE_LESSON, {"input": {"id": lesson_id, "passScore": score}})
    assert result["__typename"] == "LessonPayload", result
    assert result["lesson"]["passScore"] == score


# --- 1. sequential courses ------------------------------------------------------------------------


async def test_completing_past_an_incomplete_lesson_is_out_of_sequence_naming_the_first_missing(
    api: Api,
) -> None:
    course = await api.course(4, requires_sequential_progress=True)
    learner = await enrolled_learner(api, course)
    first, second, third, fourth = course.lesson_ids
    await upsert_ok(api, learner, first, completed=True)

    result = await upsert(api, learner, fourth, completed=True, notes="done", timeSpentMinutes=5)

    assert result["__typename"] == "SequenceError", result
    assert result["code"] == "OUT_OF_SEQUENCE"
    assert result["missingLessonId"] == second  # the first missing, not the third
    assert await record(api, learner, fourth) is None  # nothing written: no record at all

    # Once the second is done, the third is the one missing.
    await upsert_ok(api, learner, second, completed=True)
    result = await upsert(api, learner, fourth, completed=True)
    assert result["__typename"] == "SequenceError", result
    assert result["missingLessonId"] == third


async def test_a_refused_completion_leaves_an_existing_record_unchanged(api: Api) -> None:
    course = await api.course(2, requires_sequential_progress=True)
    learner = await enrolled_learner(api, course)
    first, second = course.lesson_ids
    before = await upsert_ok(api, learner, second, videoPositionSeconds=30, notes="watching")

    result = await upsert(
        api,
        learner,
        second,
        completed=True,
        videoPositionSeconds=90,
        notes="skipped",
        progressPercentage=80.0,
    )

    assert result["__typename"] == "SequenceError", result
    assert result["missingLessonId"] == first
    assert await existing_record(api, learner, second) == before


async def test_positions_and_time_may_be_recorded_on_a_locked_lesson(api: Api) -> None:
    course = await api.course(3, requires_sequential_progress=True)
    learner = await enrolled_learner(api, course)
    last = course.lesson_ids[2]

    written = await upsert_ok(
        api, learner, last, videoPositionSeconds=120, lastPositionSeconds=100, timeSpentMinutes=4
    )

    assert (written["videoPositionSeconds"], written["lastPositionSeconds"]) == (120, 100)
    assert written["timeSpentMinutes"] == 4
    assert written["completed"] is False
    assert written["completedAt"] is None
    assert await locks(api, learner, course) == [False, True, True]


async def test_only_required_lessons_gate_when_some_are_required(api: Api) -> None:
    course = await api.course(4, required=[True, False, True, True], requires_sequential_progress=True)
    learner = await enrolled_learner(api, course)
    first, optional, third, fourth = course.lesson_ids

    # Even an optional lesson waits for the required lessons before it.
    refused = await upsert(api, learner, optional, completed=True)
    assert refused["__typename"] == "SequenceError", refused
    assert refused["missingLessonId"] == first

    await upsert_ok(api, learner, first, completed=True)
    # The optional lesson left incomplete does not block the next required one.
    assert (await upsert_ok(api, learner, third, completed=True))["completed"] is True
    assert await locks(api, learner, course) == [False, False, False, False]
    refused = await upsert(api, learner, fourth, completed=False)  # un-completing is never gated
    assert refused["__typename"] == "UpsertProgressSuccess", refused


async def test_every_lesson_gates_when_none_is_required(api: Api) -> None:
    course = await api.course(3, required=[False, False, False], requires_sequential_progress=True)
    learner = await enrolled_learner(api, course)
    first, second, third = course.lesson_ids

    refused = await upsert(api, learner, third, completed=True)
    assert refused["__typename"] == "SequenceError", refused
    assert refused["missingLessonId"] == first

    await upsert_ok(api, learner, first, completed=True)
    refused = await upsert(api, learner, third, completed=True)
    assert refused["__typename"] == "SequenceError", refused
    assert refused["missingLessonId"] == second
    assert await locks(api, learner, course) == [False, False, True]


async def test_locked_follows_the_learners_completions_and_admins_may_ask_for_a_learner(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(3, requires_sequential_progress=True)
    learner = await enrolled_learner(api, course)
    first, second, _ = course.lesson_ids

    assert await locks(api, learner, course) == [False, True, True]
    await upsert_ok(api, learner, first, completed=True)
    assert await locks(api, learner, course) == [False, False, True]
    assert await locks(api, admin, course, of=learner) == [False, False, True]
    await upsert_ok(api, learner, second, completed=True)
    assert await locks(api, learner, course) == [False, False, False]
    # Un-completing the first locks the others again.
    await upsert_ok(api, learner, first, completed=False)
    assert await locks(api, admin, course, of=learner) == [False, True, True]


async def test_nothing_is_locked_and_any_order_works_in_a_non_sequential_course(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(3)
    learner = await enrolled_learner(api, course)

    assert await locks(api, learner, course) == [False, False, False]
    assert (await upsert_ok(api, learner, course.lesson_ids[2], completed=True))["completed"] is True
    assert await locks(api, admin, course, of=learner) == [False, False, False]


async def test_bulk_completing_lessons_in_order_in_one_call_is_allowed_whatever_the_id_order(
    api: Api,
) -> None:
    course = await api.course(5, requires_sequential_progress=True)
    learner = await enrolled_learner(api, course)

    result = await bulk(api, learner, list(reversed(course.lesson_ids)), completed=True)

    assert result["succeeded"] == 5
    assert result["failed"] == 0
    assert result["summaries"] == [{"courseId": course.id, "completedLessons": 5, "isComplete": True}]
    assert (await enrollment(api, learner, course, learner))["status"] == "COMPLETED"


async def test_bulk_lessons_after_a_gap_fail_out_of_sequence_while_the_others_succeed(api: Api) -> None:
    course = await api.course(5, requires_sequential_progress=True)
    learner = await enrolled_learner(api, course)
    one, two, _three, four, five = course.lesson_ids

    result = await bulk(api, learner, [five, one, four, two], completed=True)

    assert outcomes(result) == [
        (five, False, "OUT_OF_SEQUENCE"),
        (one, True, None),
        (four, False, "OUT_OF_SEQUENCE"),
        (two, True, None),
    ]
    assert (result["succeeded"], result["failed"]) == (2, 2)
    assert [r["progress"] is None for r in result["results"]] == [True, False, True, False]
    assert result["summaries"] == [{"courseId": course.id, "completedLessons": 2, "isComplete": False}]
    assert await record(api, learner, four) is None
    assert await record(api, learner, five) is None
    assert await locks(api, learner, course) == [False, False, False, True, True]


# --- 2. the video completion threshold ---------------------------------------------------------------


async def test_a_position_reaching_the_threshold_completes_the_lesson_like_completed_true(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(2, video_completion_threshold=90.0, certificate_enabled=True)
    learner = await enrolled_learner(api, course)
    first, second = course.lesson_ids

    below = await upsert_ok(api, learner, first, videoPositionSeconds=539, progressPercentage=89.0)
    assert (below["completed"], below["completedAt"], below["progressPercentage"]) == (False, None, 89.0)
    assert await events(api, admin, learner) == []

    started = now()
    result = await upsert(api, learner, first, videoPositionSeconds=540)  # 90 % of 600 s
    assert result["__typename"] == "UpsertProgressSuccess", result
    written = result["progress"]
    assert written["completed"] is True
    assert started <= at(written["completedAt"]) <= now()
    assert written["progressPercentage"] == 100.0
    assert written["videoPositionSeconds"] == 540
    assert result["summary"] == {"completedLessons": 1, "isComplete": False}
    assert (await enrollment(api, learner, course, learner))["status"] == "ACTIVE"
    lesson_completed = {
        "type": "LESSON_COMPLETED",
        "userId": learner.id,
        "courseId": course.id,
        "lessonId": first,
        "actorId": learner.id,
        "data": None,
    }
    assert await events(api, admin, learner) == [lesson_completed]

    # The last lesson crossing the threshold completes the enrollment, as completed: true would.
    finished = await upsert(api, learner, second, videoPositionSeconds=600)
    assert finished["__typename"] == "UpsertProgressSuccess", finished
    assert finished["summary"] == {"completedLessons": 2, "isComplete": True}
    state = await enrollment(api, learner, course, learner)
    assert state["status"] == "COMPLETED"
    # Dated when the enrollment is settled, under its lock: never before the lesson that led to it.
    assert at(finished["progress"]["completedAt"]) <= at(state["completedAt"]) <= now()
    assert state["certificate"] is not None
    assert kinds(await events(api, admin, learner)) == [
        ("LESSON_COMPLETED", first),
        ("LESSON_COMPLETED", second),
        ("COURSE_COMPLETED", None),
        ("CERTIFICATE_ISSUED", None),
    ]


async def test_a_lower_position_later_never_uncompletes_and_completed_at_is_kept(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(2, video_completion_threshold=50.0)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    completed = await upsert_ok(api, learner, lesson, videoPositionSeconds=400)
    assert completed["completed"] is True

    lower = await upsert_ok(api, learner, lesson, videoPositionSeconds=10, progressPercentage=2.0)
    again = await upsert_ok(api, learner, lesson, videoPositionSeconds=590)

    assert lower["videoPositionSeconds"] == 10
    for written in (lower, again):
        assert written["completed"] is True
        assert written["completedAt"] == completed["completedAt"]
        assert written["progressPercentage"] == 100.0
    assert kinds(await events(api, admin, learner)) == [("LESSON_COMPLETED", lesson)]


async def test_an_explicit_completion_is_kept_by_a_later_heartbeat_below_the_threshold(api: Api) -> None:
    course = await api.course(2, video_completion_threshold=90.0)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    completed = await upsert_ok(api, learner, lesson, completed=True)

    heartbeat = await upsert_ok(api, learner, lesson, videoPositionSeconds=5, lastPositionSeconds=5)

    assert heartbeat["completed"] is True
    assert heartbeat["completedAt"] == completed["completedAt"]


async def test_without_a_threshold_a_position_never_completes_and_update_course_switches_it(
    api: Api,
) -> None:
    admin = await api.admin()
    course = await api.course(3)
    learner = await enrolled_learner(api, course)
    first, second, third = course.lesson_ids

    assert (await upsert_ok(api, learner, first, videoPositionSeconds=600))["completed"] is False

    on = await mutate(
        api, admin, UPDATE_COURSE, {"input": {"id": course.id, "videoCompletionThreshold": 50.0}}
    )
    assert on["__typename"] == "CoursePayload", on
    assert on["course"]["videoCompletionThreshold"] == 50.0
    assert (await upsert_ok(api, learner, second, videoPositionSeconds=299))["completed"] is False
    assert (await upsert_ok(api, learner, second, videoPositionSeconds=300))["completed"] is True

    off = await mutate(
        api, admin, UPDATE_COURSE, {"input": {"id": course.id, "videoCompletionThreshold": None}}
    )
    assert off["__typename"] == "CoursePayload", off
    assert off["course"]["videoCompletionThreshold"] is None
    assert (await upsert_ok(api, learner, third, videoPositionSeconds=600))["completed"] is False
    assert (await upsert_ok(api, learner, first, videoPositionSeconds=600))["completed"] is False
    assert kinds(await events(api, admin, learner)) == [("LESSON_COMPLETED", second)]


async def test_a_locked_lesson_records_the_position_but_is_not_completed_by_it(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(2, video_completion_threshold=90.0, requires_sequential_progress=True)
    learner = await enrolled_learner(api, course)
    first, second = course.lesson_ids

    locked = await upsert_ok(api, learner, second, videoPositionSeconds=600)

    assert locked["videoPositionSeconds"] == 600
    assert (locked["completed"], locked["completedAt"]) == (False, None)
    assert locked["progressPercentage"] == 0.0
    assert await events(api, admin, learner) == []

    # Unlocked, the next heartbeat past the threshold completes it.
    await upsert_ok(api, learner, first, videoPositionSeconds=600)
    unlocked = await upsert_ok(api, learner, second, videoPositionSeconds=600)
    assert unlocked["completed"] is True
    assert kinds(await events(api, admin, learner)) == [
        ("LESSON_COMPLETED", first),
        ("LESSON_COMPLETED", second),
        ("COURSE_COMPLETED", None),
    ]


@pytest.mark.parametrize("trigger", ["video", "quiz"])
async def test_in_a_course_without_required_lessons_a_locked_lesson_is_not_completed_automatically(
    api: Api, trigger: str
) -> None:
    admin = await api.admin()
    await api.course(1)  # another course, with a required lesson, as in any real catalog
    course = await api.course(
        2,
        required=[False, False],
        kind=LessonKind.QUIZ if trigger == "quiz" else LessonKind.VIDEO,
        video_completion_threshold=90.0,
        requires_sequential_progress=True,
    )
    learner = await enrolled_learner(api, course)
    first, second = course.lesson_ids
    await set_pass_score(api, admin, second, 50.0)
    assert await locks(api, learner, course) == [False, True]

    fields = {"videoPositionSeconds": 600} if trigger == "video" else {"quizScore": 90.0}
    written = await upsert_ok(api, learner, second, **fields)

    assert (written["completed"], written["completedAt"]) == (False, None)
    refused = await upsert(api, learner, second, completed=True)  # the explicit rule's answer
    assert refused["__typename"] == "SequenceError", refused
    assert refused["missingLessonId"] == first
    assert await events(api, admin, learner) == []


async def test_a_lesson_without_a_duration_is_never_completed_by_its_position(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(1, video_completion_threshold=10.0)
    learner = await enrolled_learner(api, course)
    added = await mutate(
        api, admin, ADD_LESSON, {"input": {"courseId": course.id, "title": "Live", "kind": "VIDEO"}}
    )
    assert added["__typename"] == "LessonPayload", added
    assert added["lesson"]["durationSeconds"] is None
    lesson = added["lesson"]["id"]

    result = await upsert(api, learner, lesson, videoPositionSeconds=36_000)

    assert result["__typename"] == "UpsertProgressSuccess", result
    assert result["progress"]["completed"] is False
    assert result["progress"]["videoPositionSeconds"] == 36_000


async def test_a_lesson_of_zero_duration_is_never_completed_by_its_position(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(2, video_completion_threshold=10.0)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    changed = await mutate(api, admin, UPDATE_LESSON, {"input": {"id": lesson, "durationSeconds": 0}})
    assert changed["__typename"] == "LessonPayload", changed

    assert (await upsert_ok(api, learner, lesson, videoPositionSeconds=0))["completed"] is False
    assert (await upsert_ok(api, learner, lesson, videoPositionSeconds=500))["completed"] is False


@pytest.mark.parametrize("threshold", [0.0, -5.0, 100.5])
async def test_a_threshold_outside_0_to_100_is_refused(api: Api, threshold: float) -> None:
    admin = await api.admin()
    course = await api.course(1, video_completion_threshold=40.0)

    created = await mutate(
        api,
        admin,
        CREATE_COURSE,
        {"input": {"slug": "bad-threshold", "title": "Bad", "videoCompletionThreshold": threshold}},
    )
    updated = await mutate(
        api, admin, UPDATE_COURSE, {"input": {"id": course.id, "videoCompletionThreshold": threshold}}
    )

    assert field_paths(created) == [["input", "videoCompletionThreshold"]]
    assert field_paths(updated) == [["input", "videoCompletionThreshold"]]
    data = await api.data(COURSE_THRESHOLD, {"id": course.id}, key=admin.key)
    assert data["course"]["videoCompletionThreshold"] == 40.0


async def test_a_threshold_of_100_is_accepted_and_needs_the_whole_video(api: Api) -> None:
    admin = await api.admin()
    created = await mutate(
        api,
        admin,
        CREATE_COURSE,
        {"input": {"slug": "full-watch", "title": "Full", "videoCompletionThreshold": 100.0}},
    )
    assert created["__typename"] == "CoursePayload", created
    assert created["course"]["videoCompletionThreshold"] == 100.0
    course = await api.course(1, video_completion_threshold=100.0)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]

    assert (await upsert_ok(api, learner, lesson, videoPositionSeconds=599))["completed"] is False
    assert (await upsert_ok(api, learner, lesson, videoPositionSeconds=600))["completed"] is True


async def test_a_heartbeat_in_a_course_with_a_threshold_costs_at_most_2_statements(api: Api) -> None:
    plain = await api.course(50, video_completion_threshold=90.0)
    sequential = await api.course(50, video_completion_threshold=90.0, requires_sequential_progress=True)
    learner = await api.user()
    await api.enroll(learner, plain)
    await api.enroll(learner, sequential)
    done = plain.lesson_ids[0]
    await upsert_ok(api, learner, done, completed=True)

    cases = {
        "below the threshold": (plain.lesson_ids[-1], 300),
        "past it on a completed lesson": (done, 595),
        "past it on a locked lesson": (sequential.lesson_ids[-1], 595),
    }
    for name, (lesson, position) in cases.items():
        variables = {"lessonId": lesson, "video": position, "last": position, "minutes": 3}
        # key, then one INSERT … SELECT … ON CONFLICT
        assert await api.statements(HEARTBEAT, variables, key=learner.key) <= 2, name
        written = await existing_record(api, learner, lesson)
        assert (written["videoPositionSeconds"], written["timeSpentMinutes"]) == (position, 3), name
        assert written["completed"] is (lesson == done), name


# --- 3. quiz pass scores ------------------------------------------------------------------------------


async def test_a_score_at_the_pass_score_passes_and_completes_and_a_lower_one_never_takes_it_back(
    api: Api,
) -> None:
    admin = await api.admin()
    course = await api.course(1, kind=LessonKind.QUIZ, certificate_enabled=True)
    learner = await enrolled_learner(api, course)
    quiz = course.lesson_ids[0]
    await set_pass_score(api, admin, quiz, 80.0)

    failed = await upsert_ok(api, learner, quiz, quizScore=79.5, quizAttempts=1)
    assert (failed["quizPassed"], failed["completed"], failed["completedAt"]) == (False, False, None)
    assert (await enrollment(api, learner, course, learner))["status"] == "ACTIVE"

    started = now()
    passed = await upsert_ok(api, learner, quiz, quizScore=80.0, quizAttempts=2)
    assert (passed["quizPassed"], passed["completed"], passed["progressPercentage"]) == (True, True, 100.0)
    assert started <= at(passed["completedAt"]) <= now()
    assert (await enrollment(api, learner, course, learner))["status"] == "COMPLETED"

    lower = await upsert_ok(api, learner, quiz, quizScore=10.0, quizAttempts=3)
    assert lower["quizScore"] == 10.0
    assert (lower["quizPassed"], lower["completed"]) == (True, True)
    assert lower["completedAt"] == passed["completedAt"]
    assert kinds(await events(api, admin, learner)) == [
        ("LESSON_COMPLETED", quiz),
        ("COURSE_COMPLETED", None),
        ("CERTIFICATE_ISSUED", None),
    ]


async def test_the_server_decides_pass_when_the_lesson_has_a_pass_score(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(2, kind=LessonKind.QUIZ)
    learner = await enrolled_learner(api, course)
    quiz = course.lesson_ids[0]
    await set_pass_score(api, admin, quiz, 70.0)

    claimed = await upsert_ok(api, learner, quiz, quizScore=40.0, quizPassed=True)

    assert (claimed["quizPassed"], claimed["completed"]) == (False, False)


async def test_without_a_pass_score_a_quiz_never_completes_and_quiz_passed_is_the_clients(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(3, kind=LessonKind.QUIZ)
    learner = await enrolled_learner(api, course)
    first, second, third = course.lesson_ids

    unsent = await upsert_ok(api, learner, first, quizScore=100.0)
    claimed = await upsert_ok(api, learner, second, quizScore=5.0, quizPassed=True)
    denied = await upsert_ok(api, learner, third, quizScore=100.0, quizPassed=False)

    assert (unsent["quizPassed"], unsent["completed"]) == (None, False)
    assert (claimed["quizPassed"], claimed["completed"]) == (True, False)
    assert (denied["quizPassed"], denied["completed"]) == (False, False)
    # Removing the pass score stops automatic completion again.
    await set_pass_score(api, admin, first, 50.0)
    await set_pass_score(api, admin, first, None)
    assert (await upsert_ok(api, learner, first, quizScore=100.0))["completed"] is False
    assert await events(api, admin, learner) == []


async def test_a_quiz_passed_on_a_locked_lesson_is_not_completed(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(2, kind=LessonKind.QUIZ, requires_sequential_progress=True)
    learner = await enrolled_learner(api, course)
    second = course.lesson_ids[1]
    await set_pass_score(api, admin, second, 50.0)

    written = await upsert_ok(api, learner, second, quizScore=90.0)

    assert written["quizScore"] == 90.0
    assert (written["completed"], written["completedAt"]) == (False, None)


async def test_a_client_cannot_claim_a_pass_on_a_lesson_with_a_pass_score(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(2, kind=LessonKind.QUIZ)
    learner = await enrolled_learner(api, course)
    quiz = course.lesson_ids[0]
    await set_pass_score(api, admin, quiz, 70.0)

    claimed = await upsert_ok(api, learner, quiz, quizPassed=True)
    scored = await upsert_ok(api, learner, quiz, quizScore=10.0)

    assert claimed["quizPassed"] is not True
    assert (scored["quizScore"], scored["quizPassed"], scored["completed"]) == (10.0, False, False)


@pytest.mark.parametrize("score", [-1.0, 100.5])
async def test_a_pass_score_outside_0_to_100_is_refused(api: Api, score: float) -> None:
    admin = await api.admin()
    course = await api.course(1, kind=LessonKind.QUIZ)
    quiz = course.lesson_ids[0]
    await set_pass_score(api, admin, quiz, 60.0)

    added = await mutate(
        api,
        admin,
        ADD_LESSON,
        {"input": {"courseId": course.id, "title": "Q", "kind": "QUIZ", "passScore": score}},
    )
    updated = await mutate(api, admin, UPDATE_LESSON, {"input": {"id": quiz, "passScore": score}})

    assert field_paths(added) == [["input", "passScore"]]
    assert field_paths(updated) == [["input", "passScore"]]
    data = await api.data(LESSON_PASS_SCORE, {"id": quiz}, key=admin.key)
    assert data["lesson"]["passScore"] == 60.0


@pytest.mark.parametrize("score", [0.0, 100.0])
async def test_pass_scores_0_and_100_are_accepted(api: Api, score: float) -> None:
    admin = await api.admin()
    course = await api.course(1, kind=LessonKind.QUIZ)
    learner = await enrolled_learner(api, course)

    added = await mutate(
        api,
        admin,
        ADD_LESSON,
        {"input": {"courseId": course.id, "title": "Q", "kind": "QUIZ", "passScore": score}},
    )

    assert added["__typename"] == "LessonPayload", added
    assert added["lesson"]["passScore"] == score
    written = await upsert_ok(api, learner, added["lesson"]["id"], quizScore=score)
    assert (written["quizPassed"], written["completed"]) == (True, True)


# --- 4. resetProgress ---------------------------------------------------------------------------------


async def test_reset_clears_the_course_reopens_the_enrollment_and_keeps_enrollment_and_certificate(
    api: Api,
) -> None:
    admin = await api.admin()
    course = await api.course(3, certificate_enabled=True, requires_sequential_progress=True)
    other_course = await api.course(1)
    learner = await enrolled_learner(api, course)
    await api.enroll(learner, other_course)
    classmate = await enrolled_learner(api, course)
    first, _, _ = course.lesson_ids
    assert (await bulk(api, learner, course.lesson_ids, completed=True))["failed"] == 0
    assert (await bulk(api, classmate, [first], completed=True))["failed"] == 0
    await upsert_ok(api, learner, other_course.lesson_ids[0], completed=True)
    code = (await enrollment(api, learner, course, learner))["certificate"]["code"]

    result = await reset(api, admin, learner, course, reason="  Retake after the exam  ")

    assert result["__typename"] == "ResetProgressPayload", result
    assert result["clearedRecords"] == 3
    assert result["enrollment"] == {"status": "ACTIVE", "completedAt": None}
    assert result["summary"] == {"completedLessons": 0, "inProgressLessons": 0, "isComplete": False}
    for lesson in course.lesson_ids:
        assert await record(api, learner, lesson) is None
    state = await enrollment(api, learner, course, learner)
    assert (state["status"], state["completedAt"]) == ("ACTIVE", None)
    assert state["certificate"] == {"code": code}
    assert await locks(api, learner, course) == [False, True, True]
    # Nobody else's progress, and not the learner's other courses.
    assert (await existing_record(api, classmate, first))["completed"] is True
    assert (await existing_record(api, learner, other_course.lesson_ids[0]))["completed"] is True

    [event] = await events(api, admin, learner, types=["PROGRESS_RESET"])
    assert event == {
        "type": "PROGRESS_RESET",
        "userId": learner.id,
        "courseId": course.id,
        "lessonId": None,
        "actorId": admin.id,
        "data": {"reason": "Retake after the exam", "clearedRecords": 3},
    }


async def test_reset_keeps_records_on_removed_lessons(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(3)
    learner = await enrolled_learner(api, course)
    first, removed, _ = course.lesson_ids
    await upsert_ok(api, learner, first, timeSpentMinutes=3)
    kept = await upsert_ok(api, learner, removed, completed=True, notes="old material")
    gone = await mutate(
        api, admin, "mutation R($id: ID!) { removeLesson(id: $id) { __typename } }", {"id": removed}
    )
    assert gone["__typename"] == "LessonPayload", gone

    result = await reset(api, admin, learner, course)

    assert result["clearedRecords"] == 1
    assert await record(api, learner, first) is None
    # Still there, unchanged (read by its id: a removed lesson no longer lists its records).
    assert (await api.data(NODE, {"id": kept["id"]}, key=admin.key))["node"] == kept
    [event] = await events(api, admin, learner, types=["PROGRESS_RESET"])
    assert event["data"] == {"reason": "Retake", "clearedRecords": 1}


async def test_after_a_reset_the_learner_completes_again_and_keeps_the_first_certificate(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(1, certificate_enabled=True)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    await upsert_ok(api, learner, lesson, completed=True)
    code = (await enrollment(api, learner, course, learner))["certificate"]["code"]
    assert (await reset(api, admin, learner, course))["clearedRecords"] == 1

    again = await upsert(api, learner, lesson, completed=True)

    assert again["summary"] == {"completedLessons": 1, "isComplete": True}
    state = await enrollment(api, learner, course, learner)
    assert state["status"] == "COMPLETED"
    assert state["certificate"] == {"code": code}


async def test_reset_failures_change_nothing(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(2)
    learner = await enrolled_learner(api, course)
    outsider = await api.user()
    lesson = course.lesson_ids[0]
    await bulk(api, learner, course.lesson_ids, completed=True)
    before = await existing_record(api, learner, lesson)

    forbidden = await reset(api, learner, learner, course)
    empty = await reset(api, admin, learner, course, reason=" \t ")
    not_enrolled = await reset(api, admin, outsider, course)
    variables = {"input": {"userId": encode_id("User", 10**6), "courseId": course.id, "reason": "x"}}
    unknown = await mutate(api, admin, RESET, variables)

    assert (forbidden["__typename"], forbidden["code"]) == ("ForbiddenError", "FORBIDDEN")
    assert field_paths(empty) == [["input", "reason"]]
    assert (not_enrolled["__typename"], not_enrolled["code"]) == ("NotEnrolledError", "NOT_ENROLLED")
    assert (unknown["__typename"], unknown["code"]) == ("NotFoundError", "NOT_FOUND")
    assert await existing_record(api, learner, lesson) == before
    assert (await enrollment(api, learner, course, learner))["status"] == "COMPLETED"
    assert await events(api, admin, learner, types=["PROGRESS_RESET"]) == []
    assert await events(api, admin, outsider) == []


# --- 5. grantCompletion -------------------------------------------------------------------------------


async def test_grant_completes_for_the_learner_and_records_who_and_why(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(2, certificate_enabled=True)
    learner = await enrolled_learner(api, course)
    first, second = course.lesson_ids

    started = now()
    result = await grant(api, admin, learner, [first, second], reason="Attended the live session")

    assert outcomes(result) == [(first, True, None), (second, True, None)]
    assert result["summaries"] == [{"courseId": course.id, "completedLessons": 2, "isComplete": True}]
    for lesson in (first, second):
        granted = await existing_record(api, learner, lesson)
        assert granted["completed"] is True
        assert started <= at(granted["completedAt"]) <= now()
        assert granted["progressPercentage"] == 100.0
        assert granted["grantedBy"] == {"id": admin.id}
        assert granted["grantReason"] == "Attended the live session"
    state = await enrollment(api, learner, course, learner)
    assert state["status"] == "COMPLETED"
    assert state["certificate"] is not None

    found = await events(api, admin, learner)
    assert sorted(kinds(found)) == sorted(
        [
            ("LESSON_COMPLETED", first),
            ("COMPLETION_GRANTED", first),
            ("LESSON_COMPLETED", second),
            ("COMPLETION_GRANTED", second),
            ("COURSE_COMPLETED", None),
            ("CERTIFICATE_ISSUED", None),
        ]
    )
    assert {e["actorId"] for e in found} == {admin.id}
    grants = [e for e in found if e["type"] == "COMPLETION_GRANTED"]
    assert [e["data"] for e in grants] == [{"reason": "Attended the live session"}] * 2
    assert {e["courseId"] for e in grants} == {course.id}


async def test_grant_keeps_a_completion_the_learner_earned_without_grantor(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(3)
    learner = await enrolled_learner(api, course)
    first, second, _ = course.lesson_ids
    earned = await upsert_ok(api, learner, first, completed=True)

    result = await grant(api, admin, learner, [first, second])

    assert outcomes(result) == [(first, True, None), (second, True, None)]
    kept = await existing_record(api, learner, first)
    assert kept["completedAt"] == earned["completedAt"]
    assert (kept["grantedBy"], kept["grantReason"]) == (None, None)
    assert (await existing_record(api, learner, second))["grantedBy"] == {"id": admin.id}
    assert kinds(await events(api, admin, learner)) == [
        ("LESSON_COMPLETED", first),
        ("LESSON_COMPLETED", second),
        ("COMPLETION_GRANTED", second),
    ]


async def test_a_second_grant_keeps_the_first_grants_story_and_logs_nothing(api: Api) -> None:
    admin = await api.admin()
    other_admin = await api.admin()
    course = await api.course(2)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    await grant(api, admin, learner, [lesson], reason="first")
    first = await existing_record(api, learner, lesson)

    result = await grant(api, other_admin, learner, [lesson], reason="second")

    assert outcomes(result) == [(lesson, True, None)]
    after = await existing_record(api, learner, lesson)
    assert (after["grantedBy"], after["grantReason"]) == ({"id": admin.id}, "first")
    assert after["completedAt"] == first["completedAt"]
    assert len(await events(api, admin, learner, types=["COMPLETION_GRANTED"])) == 1


async def test_grant_is_not_bound_by_the_sequence(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(3, requires_sequential_progress=True)
    learner = await enrolled_learner(api, course)
    first, second, third = course.lesson_ids

    result = await grant(api, admin, learner, [third])

    assert outcomes(result) == [(third, True, None)]
    assert (await existing_record(api, learner, third))["completed"] is True
    # The learner's own completions still follow the order.
    refused = await upsert(api, learner, second, completed=True)
    assert refused["__typename"] == "SequenceError", refused
    assert refused["missingLessonId"] == first


@pytest.mark.parametrize("via", ["upsert", "bulk"])
async def test_uncompleting_a_granted_lesson_ends_the_grant(api: Api, via: str) -> None:
    admin = await api.admin()
    course = await api.course(2, video_completion_threshold=90.0)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    await grant(api, admin, learner, [lesson])

    if via == "upsert":
        await upsert_ok(api, learner, lesson, completed=False)
    else:
        assert (await bulk(api, learner, [lesson], completed=False))["failed"] == 0

    cleared = await existing_record(api, learner, lesson)
    assert (cleared["completed"], cleared["completedAt"]) == (False, None)
    assert (cleared["grantedBy"], cleared["grantReason"]) == (None, None)
    # Completed again by the learner (explicitly, or by watching): no grantor comes back.
    await upsert_ok(api, learner, lesson, videoPositionSeconds=600)
    mine = await existing_record(api, learner, lesson)
    assert mine["completed"] is True
    assert (mine["grantedBy"], mine["grantReason"]) == (None, None)


async def test_grant_item_failures_leave_the_other_items_granted(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(2)
    elsewhere = await api.course(1)
    learner = await enrolled_learner(api, course)
    missing = encode_id("Lesson", 10**6)

    result = await grant(
        api, admin, learner, [elsewhere.lesson_ids[0], "nonsense", missing, course.lesson_ids[1]]
    )

    assert outcomes(result) == [
        (elsewhere.lesson_ids[0], False, "NOT_ENROLLED"),
        ("nonsense", False, "INVALID_ID"),
        (missing, False, "NOT_FOUND"),
        (course.lesson_ids[1], True, None),
    ]
    assert (result["succeeded"], result["failed"]) == (1, 3)
    assert await record(api, admin, elsewhere.lesson_ids[0], of=learner) is None


async def test_grant_refusals_change_nothing(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(2)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]

    forbidden = await grant(api, learner, learner, [lesson])
    empty = await grant(api, admin, learner, [lesson], reason="   ")
    variables = {"input": {"userId": encode_id("User", 10**6), "lessonIds": [lesson], "reason": "x"}}
    unknown = await mutate(api, admin, GRANT, variables)

    assert (forbidden["__typename"], forbidden["code"]) == ("ForbiddenError", "FORBIDDEN")
    assert field_paths(empty) == [["input", "reason"]]
    assert (unknown["__typename"], unknown["code"]) == ("NotFoundError", "NOT_FOUND")
    assert await record(api, learner, lesson) is None
    assert await events(api, admin, learner) == []


# --- 6. PostgreSQL: a heartbeat crossing the threshold races an explicit completion --------------

RACE_ROUNDS = 20


async def released(barrier: asyncio.Barrier, request: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """Send the request (a coroutine not started yet) once every racer is ready."""
    await barrier.wait()
    return await request


@pytest.mark.postgres_only
async def test_a_threshold_heartbeat_racing_completed_true_completes_once(pg_api: Api) -> None:
    api = pg_api
    admin = await api.admin()
    course = await api.course(1, video_completion_threshold=90.0, certificate_enabled=True)
    lesson = course.lesson_ids[0]

    for round_ in range(RACE_ROUNDS):
        where = f"round {round_}"
        learner = await enrolled_learner(api, course)
        if round_ % 2:
            await upsert_ok(api, learner, lesson, videoPositionSeconds=10)  # the UPDATE path
        else:
            await api.data("query { me { id } }", key=learner.key)  # the INSERT path; key warmed
        barrier = asyncio.Barrier(2)

        heartbeat, explicit = await asyncio.gather(
            released(barrier, upsert(api, learner, lesson, videoPositionSeconds=580, timeSpentMinutes=9)),
            released(barrier, upsert(api, learner, lesson, completed=True)),
        )

        for result in (heartbeat, explicit):
            assert result["__typename"] == "UpsertProgressSuccess", (where, result)
            assert result["progress"]["completed"] is True, where
        assert heartbeat["progress"]["completedAt"] == explicit["progress"]["completedAt"], where
        final = await existing_record(api, learner, lesson)
        assert final["completedAt"] == explicit["progress"]["completedAt"], where
        assert (final["videoPositionSeconds"], final["timeSpentMinutes"]) == (580, 9), where
        assert kinds(await events(api, admin, learner)) == [
            ("LESSON_COMPLETED", lesson),
            ("COURSE_COMPLETED", None),
            ("CERTIFICATE_ISSUED", None),
        ], where
        state = await enrollment(api, learner, course, learner)
        assert state["status"] == "COMPLETED", where


@pytest.mark.postgres_only
@pytest.mark.parametrize("other", ["bulk", "grant", "reset"])
async def test_a_threshold_heartbeat_racing_an_admin_or_bulk_write_fails_neither(
    pg_api: Api, other: str
) -> None:
    api = pg_api
    admin = await api.admin()
    course = await api.course(1, video_completion_threshold=90.0)
    lesson = course.lesson_ids[0]

    for round_ in range(RACE_ROUNDS):
        where = f"round {round_}"
        learner = await enrolled_learner(api, course)
        await upsert_ok(api, learner, lesson, videoPositionSeconds=10)
        if other == "bulk":
            rival = bulk(api, learner, [lesson], completed=True)
        elif other == "grant":
            rival = grant(api, admin, learner, [lesson])
        else:
            rival = reset(api, admin, learner, course)
        barrier = asyncio.Barrier(2)

        heartbeat, result = await asyncio.gather(
            released(barrier, upsert(api, learner, lesson, videoPositionSeconds=580)),
            released(barrier, rival),
        )

        assert heartbeat["__typename"] == "UpsertProgressSuccess", (where, heartbeat)
        assert result["__typename"] in {"BulkSetCompletionSuccess", "ResetProgressPayload"}, (where, result)
        final = await record(api, learner, lesson)
        status = (await enrollment(api, learner, course, learner))["status"]
        found = await events(api, admin, learner)
        if other == "reset":
            # Either order is fine; the enrollment must agree with what is left.
            completed = final is not None and final["completed"]
            assert status == ("COMPLETED" if completed else "ACTIVE"), where
            continue
        assert final is not None, where
        assert final["completed"] is True, where
        assert status == "COMPLETED", where
        assert [kind for kind, _ in kinds(found)].count("LESSON_COMPLETED") == 1, where
        granted = [e for e in found if e["type"] == "COMPLETION_GRANTED"]
        assert len(granted) == (0 if final["grantedBy"] is None else 1), where


@dataclass(frozen=True)
class _Lesson:
    id: int
    position: int
    is_required: bool


def _allowed_one_by_one(lessons: list[_Lesson], completed: set[int], requested: set[int]) -> dict[int, Any]:
    """The rule as first written: each requested lesson, in order, asks first_missing."""
    done = set(completed)
    refused = {}
    for lesson in sorted(lessons, key=lambda lesson: lesson.position):
        if lesson.id not in requested:
            continue
        missing = first_missing(lessons, done, lesson.id)
        if missing is None:
            done.add(lesson.id)
        else:
            refused[lesson.id] = missing
    return refused


@settings(max_examples=300, deadline=None)
@given(
    shape=st.lists(st.tuples(st.integers(0, 6), st.booleans()), max_size=9),
    completed=st.sets(st.integers(0, 9)),
    requested=st.sets(st.integers(0, 9)),
)
def test_a_set_completed_together_is_refused_as_one_by_one(
    shape: list[tuple[int, bool]], completed: set[int], requested: set[int]
) -> None:
    """allowed_in_order's single pass answers as first_missing asked per lesson (ties in
    position included)."""
    lessons = [_Lesson(i, position, required) for i, (position, required) in enumerate(shape)]
    assert allowed_in_order(lessons, completed, requested) == _allowed_one_by_one(
        lessons, completed, requested
    )
