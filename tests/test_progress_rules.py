"""The progress-writing rules of upsertProgress and bulkSetCompletion, checked over HTTP.

Every test seeds users, courses and enrollments with the helpers of tests.support and then
only talks GraphQL with the learner's (or an admin's) key. Tests taking ``api`` run on SQLite
and on PostgreSQL; those taking ``pg_api`` need PostgreSQL's real parallel writers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import pytest

from gql_progress.domain.ids import encode_id
from tests.support import Api, SeededCourse, SeededUser

# --- GraphQL documents -------------------------------------------------------------------------

PROGRESS_FIELDS = """
fragment ProgressFields on Progress {
  id status completed progressPercentage videoPositionSeconds lastPositionSeconds
  quizScore quizAttempts quizPassed timeSpentMinutes notes isBookmarked metadata
  completedAt lastAccessedAt
}
"""

UPSERT = (
    """
mutation Upsert($input: UpsertProgressInput!) {
  upsertProgress(input: $input) {
    __typename
    ... on UpsertProgressSuccess {
      progress { ...ProgressFields }
      summary {
        courseId userId totalLessons completedLessons inProgressLessons requiredLessons
        completedRequiredLessons completionPercentage totalTimeSpentMinutes lastAccessedAt isComplete
      }
    }
    ... on Error { code message }
    ... on ValidationError { fields { path message } }
  }
}
"""
    + PROGRESS_FIELDS
)

BULK = """
mutation Bulk($input: BulkSetCompletionInput!) {
  bulkSetCompletion(input: $input) {
    __typename
    ... on BulkSetCompletionSuccess {
      succeeded
      failed
      results { lessonId success error { code message } progress { id completed completedAt } }
      summaries { courseId completedLessons isComplete }
    }
    ... on Error { code message }
    ... on ValidationError { fields { path message } }
  }
}
"""

RECORDS = """
query Records($lessonId: ID, $userId: ID) {
  progress(lessonId: $lessonId, userId: $userId) { totalCount nodes { id } }
}
"""

LESSON = (
    """
query Lesson($id: ID!) {
  lesson(id: $id) { progressStatus progress { ...ProgressFields } }
}
"""
    + PROGRESS_FIELDS
)

ENROLLMENT = """
query Enrollment($id: ID!) { course(id: $id) { enrollment { status completedAt } } }
"""

COURSE_POSITIONS = """
query Positions($id: ID!) {
  course(id: $id) { lessons { id progress { videoPositionSeconds lastPositionSeconds } } }
}
"""

ME = "query { me { id } }"

# --- helpers -------------------------------------------------------------------------------------


async def upsert(api: Api, user: SeededUser, lesson_id: str, **fields: Any) -> dict[str, Any]:
    """The upsertProgress result (any union member); ``fields`` use the API's camelCase names."""
    data = await api.data(UPSERT, {"input": {"lessonId": lesson_id, **fields}}, key=user.key)
    result: dict[str, Any] = data["upsertProgress"]
    return result


async def upsert_ok(api: Api, user: SeededUser, lesson_id: str, **fields: Any) -> dict[str, Any]:
    """Run an upsert that must succeed; return the UpsertProgressSuccess payload."""
    result = await upsert(api, user, lesson_id, **fields)
    assert result["__typename"] == "UpsertProgressSuccess", result
    return result


async def bulk(
    api: Api, user: SeededUser, lesson_ids: list[str], *, completed: bool, user_id: str | None = None
) -> dict[str, Any]:
    variables = {"input": {"lessonIds": lesson_ids, "completed": completed, "userId": user_id}}
    data = await api.data(BULK, variables, key=user.key)
    result: dict[str, Any] = data["bulkSetCompletion"]
    return result


async def record_count(api: Api, viewer: SeededUser, lesson_id: str, *, of: SeededUser | None = None) -> int:
    """How many records ``of`` (default: the viewer) has for the lesson, as the API lists them."""
    variables = {"lessonId": lesson_id, "userId": None if of is None else of.id}
    data = await api.data(RECORDS, variables, key=viewer.key)
    count: int = data["progress"]["totalCount"]
    return count


async def lesson_view(api: Api, user: SeededUser, lesson_id: str) -> dict[str, Any]:
    data = await api.data(LESSON, {"id": lesson_id}, key=user.key)
    lesson: dict[str, Any] = data["lesson"]
    return lesson


async def enrollment(api: Api, user: SeededUser, course: SeededCourse) -> dict[str, Any]:
    data = await api.data(ENROLLMENT, {"id": course.id}, key=user.key)
    value: dict[str, Any] = data["course"]["enrollment"]
    return value


async def enrolled_learner(api: Api, course: SeededCourse) -> SeededUser:
    learner = await api.user()
    await api.enroll(learner, course)
    return learner


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def now() -> datetime:
    return datetime.now(UTC)


def field_paths(result: dict[str, Any]) -> list[list[str]]:
    assert result["__typename"] == "ValidationError", result
    return sorted(f["path"] for f in result["fields"])


# --- 1. one record per (user, lesson) -------------------------------------------------------------


async def test_fifty_concurrent_upserts_of_one_pair_leave_one_record(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]

    results = await asyncio.gather(
        *(upsert(api, learner, lesson, timeSpentMinutes=i, notes=f"write {i}") for i in range(50))
    )

    assert [r["__typename"] for r in results] == ["UpsertProgressSuccess"] * 50
    assert len({r["progress"]["id"] for r in results}) == 1
    assert await record_count(api, learner, lesson) == 1


async def test_concurrent_completions_of_one_pair_share_the_first_completed_at(api: Api) -> None:
    course = await api.course(lessons=2)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]

    results = await asyncio.gather(*(upsert(api, learner, lesson, completed=True) for _ in range(20)))

    assert [r["__typename"] for r in results] == ["UpsertProgressSuccess"] * 20
    assert len({r["progress"]["id"] for r in results}) == 1
    assert len({r["progress"]["completedAt"] for r in results}) == 1
    assert await record_count(api, learner, lesson) == 1


# --- 2. partial updates -------------------------------------------------------------------------------


async def test_fields_not_sent_keep_their_values(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    first = await upsert_ok(
        api,
        learner,
        lesson,
        progressPercentage=40.0,
        videoPositionSeconds=120,
        lastPositionSeconds=110,
        quizScore=75.5,
        quizAttempts=2,
        quizPassed=True,
        timeSpentMinutes=9,
        notes="remember the join order",
        isBookmarked=True,
        metadata={"speed": 1.5, "tags": ["sql"]},
    )

    second = await upsert_ok(api, learner, lesson, videoPositionSeconds=300)

    before, after = first["progress"], second["progress"]
    assert after["id"] == before["id"]
    assert after["videoPositionSeconds"] == 300
    unchanged = (
        "completed",
        "progressPercentage",
        "lastPositionSeconds",
        "quizScore",
        "quizAttempts",
        "quizPassed",
        "timeSpentMinutes",
        "notes",
        "isBookmarked",
        "metadata",
        "completedAt",
    )
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    # And as read back, not only as returned by the mutation.
    stored = (await lesson_view(api, learner, lesson))["progress"]
    assert {k: stored[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert stored["videoPositionSeconds"] == 300


async def test_each_sent_field_replaces_only_itself(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    await upsert_ok(api, learner, lesson, notes="n", isBookmarked=False, metadata={"a": 1}, quizScore=10.0)

    await upsert_ok(api, learner, lesson, isBookmarked=True)
    await upsert_ok(api, learner, lesson, metadata={"b": 2})
    await upsert_ok(api, learner, lesson, quizScore=90.0)

    stored = (await lesson_view(api, learner, lesson))["progress"]
    assert stored["notes"] == "n"
    assert stored["isBookmarked"] is True
    assert stored["metadata"] == {"b": 2}  # replaced, not merged
    assert stored["quizScore"] == 90.0
    assert stored["videoPositionSeconds"] == 0


async def test_null_clears_notes_metadata_and_quiz_fields(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    await upsert_ok(
        api,
        learner,
        lesson,
        notes="to be cleared",
        metadata={"k": "v"},
        quizScore=50.0,
        quizPassed=False,
        isBookmarked=True,
        videoPositionSeconds=42,
    )

    cleared = await upsert_ok(api, learner, lesson, notes=None)
    assert cleared["progress"]["notes"] is None
    assert cleared["progress"]["metadata"] == {"k": "v"}

    await upsert_ok(api, learner, lesson, metadata=None, quizScore=None, quizPassed=None)

    stored = (await lesson_view(api, learner, lesson))["progress"]
    assert stored["notes"] is None
    assert stored["metadata"] is None
    assert stored["quizScore"] is None
    assert stored["quizPassed"] is None
    assert stored["isBookmarked"] is True
    assert stored["videoPositionSeconds"] == 42


# --- 3. completedAt and percentage --------------------------------------------------------------------


async def test_completing_sets_completed_at_to_now_and_percentage_to_100(api: Api) -> None:
    course = await api.course(lessons=2)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    started = await upsert_ok(api, learner, lesson, progressPercentage=30.0)
    assert started["progress"]["completedAt"] is None

    before = now()
    done = await upsert_ok(api, learner, lesson, completed=True, progressPercentage=30.0)
    after = now()

    progress = done["progress"]
    assert progress["completed"] is True
    assert progress["status"] == "COMPLETED"
    assert before <= at(progress["completedAt"]) <= after
    assert progress["progressPercentage"] == 100.0


async def test_completing_a_new_record_sets_completed_at(api: Api) -> None:
    course = await api.course(lessons=2)
    learner = await enrolled_learner(api, course)

    before = now()
    done = await upsert_ok(api, learner, course.lesson_ids[0], completed=True)
    after = now()

    assert before <= at(done["progress"]["completedAt"]) <= after
    assert done["progress"]["progressPercentage"] == 100.0


async def test_completing_again_keeps_the_first_completed_at(api: Api) -> None:
    course = await api.course(lessons=2)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    first = await upsert_ok(api, learner, lesson, completed=True)

    again = await upsert_ok(api, learner, lesson, completed=True, notes="watched twice")
    other_field = await upsert_ok(api, learner, lesson, timeSpentMinutes=30)

    assert again["progress"]["completedAt"] == first["progress"]["completedAt"]
    assert other_field["progress"]["completedAt"] == first["progress"]["completedAt"]
    stored = (await lesson_view(api, learner, lesson))["progress"]
    assert stored["completedAt"] == first["progress"]["completedAt"]


async def test_uncompleting_clears_completed_at_and_keeps_a_percentage_sent_with_it(api: Api) -> None:
    course = await api.course(lessons=2)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    await upsert_ok(api, learner, lesson, completed=True)

    undone = await upsert_ok(api, learner, lesson, completed=False, progressPercentage=40.0)

    progress = undone["progress"]
    assert progress["completed"] is False
    assert progress["status"] == "IN_PROGRESS"
    assert progress["completedAt"] is None
    assert progress["progressPercentage"] == 40.0


async def test_recompleting_after_uncompleting_takes_a_new_completed_at(api: Api) -> None:
    course = await api.course(lessons=2)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    first = await upsert_ok(api, learner, lesson, completed=True)
    await upsert_ok(api, learner, lesson, completed=False)

    before = now()
    again = await upsert_ok(api, learner, lesson, completed=True)
    after = now()

    completed_at = at(again["progress"]["completedAt"])
    assert before <= completed_at <= after
    assert completed_at > at(first["progress"]["completedAt"])


async def test_percentage_stays_100_while_the_lesson_is_completed(api: Api) -> None:
    course = await api.course(lessons=2)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    await upsert_ok(api, learner, lesson, completed=True)

    lowered = await upsert_ok(api, learner, lesson, progressPercentage=20.0)

    assert lowered["progress"]["completed"] is True
    assert lowered["progress"]["progressPercentage"] == 100.0
    stored = (await lesson_view(api, learner, lesson))["progress"]
    assert stored["progressPercentage"] == 100.0


# --- 4. lastAccessedAt and status ---------------------------------------------------------------------


async def test_every_upsert_sets_last_accessed_at_to_now(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]

    before = now()
    first = await upsert_ok(api, learner, lesson, videoPositionSeconds=10)
    between = now()
    second = await upsert_ok(api, learner, lesson, videoPositionSeconds=20)
    after = now()

    first_access = at(first["progress"]["lastAccessedAt"])
    second_access = at(second["progress"]["lastAccessedAt"])
    assert before <= first_access <= between <= second_access <= after
    assert second_access > first_access
    stored = (await lesson_view(api, learner, lesson))["progress"]
    assert at(stored["lastAccessedAt"]) == second_access


async def test_an_upsert_changing_nothing_still_touches_last_accessed_at(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    first = await upsert_ok(api, learner, lesson, notes="same")

    between = now()
    second = await upsert_ok(api, learner, lesson, notes="same")

    assert at(second["progress"]["lastAccessedAt"]) >= between
    assert at(second["progress"]["lastAccessedAt"]) > at(first["progress"]["lastAccessedAt"])


async def test_status_moves_from_not_started_to_in_progress_to_completed(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]

    untouched = await lesson_view(api, learner, lesson)
    assert untouched["progress"] is None
    assert untouched["progressStatus"] == "NOT_STARTED"

    await upsert_ok(api, learner, lesson, videoPositionSeconds=5)
    started = await lesson_view(api, learner, lesson)
    assert started["progressStatus"] == "IN_PROGRESS"
    assert started["progress"]["status"] == "IN_PROGRESS"
    assert started["progress"]["completed"] is False

    await upsert_ok(api, learner, lesson, completed=True)
    done = await lesson_view(api, learner, lesson)
    assert done["progressStatus"] == "COMPLETED"
    assert done["progress"]["status"] == "COMPLETED"

    await upsert_ok(api, learner, lesson, completed=False)
    reopened = await lesson_view(api, learner, lesson)
    assert reopened["progressStatus"] == "IN_PROGRESS"
    assert reopened["progress"]["status"] == "IN_PROGRESS"


# --- 5. validation --------------------------------------------------------------------------------

METADATA_LIMIT_BYTES = 16 * 1024
# {"k":"xxx…"} serialises to 8 bytes plus the string.
METADATA_AT_LIMIT = {"k": "x" * (METADATA_LIMIT_BYTES - 8)}
METADATA_OVER_LIMIT = {"k": "x" * (METADATA_LIMIT_BYTES - 7)}


async def test_every_bad_field_is_reported_at_once_and_nothing_is_written(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]

    result = await upsert(
        api,
        learner,
        lesson,
        progressPercentage=100.5,
        quizScore=-1.0,
        videoPositionSeconds=-1,
        lastPositionSeconds=10_000_001,
        quizAttempts=100_001,
        timeSpentMinutes=-5,
        notes="x" * 10_001,
        metadata=["not", "an", "object"],
        completed=True,
    )

    assert result["code"] == "VALIDATION_FAILED"
    assert field_paths(result) == sorted(
        [
            ["input", "progressPercentage"],
            ["input", "quizScore"],
            ["input", "videoPositionSeconds"],
            ["input", "lastPositionSeconds"],
            ["input", "quizAttempts"],
            ["input", "timeSpentMinutes"],
            ["input", "notes"],
            ["input", "metadata"],
        ]
    )
    assert all(f["message"] for f in result["fields"])
    assert await record_count(api, learner, lesson) == 0
    assert (await lesson_view(api, learner, lesson))["progressStatus"] == "NOT_STARTED"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("progressPercentage", -0.01, id="percentage-below-0"),
        pytest.param("progressPercentage", 100.01, id="percentage-above-100"),
        pytest.param("quizScore", -0.01, id="quiz-score-below-0"),
        pytest.param("quizScore", 100.01, id="quiz-score-above-100"),
        pytest.param("videoPositionSeconds", -1, id="video-position-negative"),
        pytest.param("videoPositionSeconds", 10_000_001, id="video-position-above-max"),
        pytest.param("lastPositionSeconds", -1, id="last-position-negative"),
        pytest.param("lastPositionSeconds", 10_000_001, id="last-position-above-max"),
        pytest.param("timeSpentMinutes", -1, id="minutes-negative"),
        pytest.param("timeSpentMinutes", 10_000_001, id="minutes-above-max"),
        pytest.param("quizAttempts", -1, id="attempts-negative"),
        pytest.param("quizAttempts", 100_001, id="attempts-above-max"),
        pytest.param("notes", "x" * 10_001, id="notes-too-long"),
        pytest.param("metadata", ["a", "list"], id="metadata-array"),
        pytest.param("metadata", "a string", id="metadata-string"),
        pytest.param("metadata", 7, id="metadata-number"),
        pytest.param("metadata", METADATA_OVER_LIMIT, id="metadata-too-big"),
        pytest.param("completed", None, id="completed-null"),
        pytest.param("isBookmarked", None, id="bookmarked-null"),
        pytest.param("progressPercentage", None, id="percentage-null"),
        pytest.param("videoPositionSeconds", None, id="video-position-null"),
    ],
)
async def test_each_bad_value_is_refused_with_its_path_and_writes_nothing(
    api: Api, field: str, value: Any
) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]

    # A good field sent alongside is not written either.
    result = await upsert(api, learner, lesson, **{"quizAttempts": 1, field: value})

    assert field_paths(result) == [["input", field]]
    assert await record_count(api, learner, lesson) == 0


async def test_values_at_the_limits_are_accepted(api: Api) -> None:
    course = await api.course(lessons=2)
    learner = await enrolled_learner(api, course)
    lesson_high, lesson_low = course.lesson_ids

    high = await upsert_ok(
        api,
        learner,
        lesson_high,
        progressPercentage=100.0,
        quizScore=100.0,
        videoPositionSeconds=10_000_000,
        lastPositionSeconds=10_000_000,
        timeSpentMinutes=10_000_000,
        quizAttempts=100_000,
        notes="é" * 10_000,  # characters, not bytes
        metadata=METADATA_AT_LIMIT,
    )
    low = await upsert_ok(
        api,
        learner,
        lesson_low,
        progressPercentage=0.0,
        quizScore=0.0,
        videoPositionSeconds=0,
        lastPositionSeconds=0,
        timeSpentMinutes=0,
        quizAttempts=0,
        notes="",
        metadata={},
    )

    stored = (await lesson_view(api, learner, lesson_high))["progress"]
    assert stored == high["progress"]
    assert stored["videoPositionSeconds"] == 10_000_000
    assert stored["quizAttempts"] == 100_000
    assert stored["notes"] == "é" * 10_000
    assert stored["metadata"] == METADATA_AT_LIMIT
    assert low["progress"]["metadata"] == {}
    assert low["progress"]["notes"] == ""


async def test_refused_update_leaves_the_existing_record_unchanged(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    original = await upsert_ok(api, learner, lesson, notes="keep me", videoPositionSeconds=60)

    result = await upsert(api, learner, lesson, notes="good value", completed=True, videoPositionSeconds=-10)

    assert field_paths(result) == [["input", "videoPositionSeconds"]]
    stored = (await lesson_view(api, learner, lesson))["progress"]
    assert stored == original["progress"]


@pytest.mark.parametrize(
    "lesson_id",
    ["not-an-id", encode_id("Course", 1), encode_id("Lesson", 1)[:-2], ""],
    ids=["garbage", "course-id", "truncated", "empty"],
)
async def test_malformed_lesson_id_is_a_validation_error_on_lesson_id(api: Api, lesson_id: str) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)

    result = await upsert(api, learner, lesson_id, completed=True)

    assert result["code"] == "VALIDATION_FAILED"
    assert field_paths(result) == [["input", "lessonId"]]
    assert await record_count(api, learner, course.lesson_ids[0]) == 0


async def test_malformed_user_id_is_a_validation_error_on_user_id(api: Api) -> None:
    course = await api.course(lessons=1)
    admin = await api.admin()

    result = await upsert(api, admin, course.lesson_ids[0], userId="nobody", completed=True)

    assert field_paths(result) == [["input", "userId"]]


def _nested(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return {"deep": value}


@pytest.mark.parametrize(
    "metadata",
    [pytest.param(_nested(300), id="nested-300-deep"), pytest.param({"n": 2**70}, id="70-bit-integer")],
)
async def test_small_metadata_orjson_cannot_encode_is_a_validation_error(
    api: Api, metadata: dict[str, Any]
) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]

    body = await api.gql(UPSERT, {"input": {"lessonId": lesson, "metadata": metadata}}, key=learner.key)

    assert not body.get("errors"), body["errors"]
    assert field_paths(body["data"]["upsertProgress"]) == [["input", "metadata"]]
    assert await record_count(api, learner, lesson) == 0


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("notes", "before\u0000after", id="notes"),
        pytest.param("metadata", {"text": "before\u0000after"}, id="metadata-value"),
        pytest.param("metadata", {"\u0000": 1}, id="metadata-key"),
    ],
)
async def test_nul_character_is_stored_or_refused_not_an_internal_error(
    pg_api: Api, field: str, value: Any
) -> None:
    course = await pg_api.course(lessons=1)
    learner = await enrolled_learner(pg_api, course)

    body = await pg_api.gql(
        UPSERT, {"input": {"lessonId": course.lesson_ids[0], field: value}}, key=learner.key
    )

    assert not body.get("errors"), body["errors"]
    result = body["data"]["upsertProgress"]
    if result["__typename"] == "ValidationError":
        assert field_paths(result) == [["input", field]]
    else:
        assert result["progress"][field] == value


async def test_malformed_lesson_id_is_reported_together_with_other_bad_fields(api: Api) -> None:
    learner = await api.user()

    result = await upsert(api, learner, "not-an-id", progressPercentage=101.0, notes="x" * 10_001)

    assert field_paths(result) == sorted(
        [["input", "lessonId"], ["input", "progressPercentage"], ["input", "notes"]]
    )


# --- 6. enrollment, existence and who may write -----------------------------------------------------


async def test_writing_without_enrollment_is_not_enrolled_and_writes_nothing(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await api.user()
    lesson = course.lesson_ids[0]

    result = await upsert(api, learner, lesson, completed=True, notes="sneaky")

    assert result["__typename"] == "NotEnrolledError"
    assert result["code"] == "NOT_ENROLLED"
    assert await record_count(api, learner, lesson) == 0
    assert (await lesson_view(api, learner, lesson))["progressStatus"] == "NOT_STARTED"


async def test_enrollment_in_another_course_does_not_allow_writing(api: Api) -> None:
    enrolled_course = await api.course(lessons=1)
    other_course = await api.course(lessons=1)
    learner = await enrolled_learner(api, enrolled_course)

    result = await upsert(api, learner, other_course.lesson_ids[0], videoPositionSeconds=1)

    assert result["code"] == "NOT_ENROLLED"
    assert await record_count(api, learner, other_course.lesson_ids[0]) == 0


async def test_unknown_lesson_is_not_found(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)

    result = await upsert(api, learner, encode_id("Lesson", 999_999), completed=True)

    assert result["__typename"] == "NotFoundError"
    assert result["code"] == "NOT_FOUND"


async def test_learner_naming_another_user_is_forbidden_and_writes_nothing(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    victim = await enrolled_learner(api, course)
    admin = await api.admin()
    lesson = course.lesson_ids[0]

    result = await upsert(api, learner, lesson, userId=victim.id, completed=True)

    assert result["__typename"] == "ForbiddenError"
    assert result["code"] == "FORBIDDEN"
    assert await record_count(api, admin, lesson, of=victim) == 0
    assert await record_count(api, admin, lesson, of=learner) == 0
    assert (await enrollment(api, victim, course))["status"] == "ACTIVE"


async def test_learner_naming_themselves_writes_their_own_record(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]

    await upsert_ok(api, learner, lesson, userId=learner.id, notes="mine")

    assert (await lesson_view(api, learner, lesson))["progress"]["notes"] == "mine"


async def test_admin_naming_a_learner_writes_the_learners_record(api: Api) -> None:
    course = await api.course(lessons=2)
    learner = await enrolled_learner(api, course)
    admin = await api.admin()
    lesson = course.lesson_ids[0]

    written = await upsert_ok(api, admin, lesson, userId=learner.id, completed=True, notes="by admin")

    assert written["summary"]["userId"] == learner.id
    assert written["summary"]["completedLessons"] == 1
    mine = await lesson_view(api, learner, lesson)
    assert mine["progress"]["id"] == written["progress"]["id"]
    assert mine["progress"]["notes"] == "by admin"
    assert mine["progressStatus"] == "COMPLETED"
    assert await record_count(api, admin, lesson) == 0  # nothing for the admin themselves


async def test_admin_naming_an_unenrolled_or_unknown_user_writes_nothing(api: Api) -> None:
    course = await api.course(lessons=1)
    outsider = await api.user()
    admin = await api.admin()
    lesson = course.lesson_ids[0]

    not_enrolled = await upsert(api, admin, lesson, userId=outsider.id, completed=True)
    unknown = await upsert(api, admin, lesson, userId=encode_id("User", 999_999), completed=True)

    assert not_enrolled["code"] == "NOT_ENROLLED"
    assert unknown["__typename"] == "NotFoundError"
    assert await record_count(api, admin, lesson, of=outsider) == 0


# --- 7. the summary comes back with the record --------------------------------------------------------


async def test_upsert_returns_the_record_and_the_new_course_summary(api: Api) -> None:
    course = await api.course(lessons=4)
    learner = await enrolled_learner(api, course)
    first, second = course.lesson_ids[:2]

    started = await upsert_ok(api, learner, first, timeSpentMinutes=7)
    summary = started["summary"]
    assert summary["courseId"] == course.id
    assert summary["userId"] == learner.id
    assert (summary["totalLessons"], summary["requiredLessons"]) == (4, 4)
    assert (summary["completedLessons"], summary["inProgressLessons"]) == (0, 1)
    assert summary["completionPercentage"] == 0.0
    assert summary["totalTimeSpentMinutes"] == 7
    assert summary["lastAccessedAt"] == started["progress"]["lastAccessedAt"]
    assert summary["isComplete"] is False

    completed = await upsert_ok(api, learner, first, completed=True)
    summary = completed["summary"]
    assert completed["progress"]["completed"] is True
    assert (summary["completedLessons"], summary["inProgressLessons"]) == (1, 0)
    assert summary["completedRequiredLessons"] == 1
    assert summary["completionPercentage"] == 25.0

    another = await upsert_ok(api, learner, second, completed=True, timeSpentMinutes=3)
    summary = another["summary"]
    assert summary["completedLessons"] == 2
    assert summary["completionPercentage"] == 50.0
    assert summary["totalTimeSpentMinutes"] == 10

    undone = await upsert_ok(api, learner, first, completed=False)
    summary = undone["summary"]
    assert (summary["completedLessons"], summary["inProgressLessons"]) == (1, 1)
    assert summary["completionPercentage"] == 25.0


# --- 8. enrollment status follows completion -------------------------------------------------------


async def test_completing_every_required_lesson_completes_the_enrollment(api: Api) -> None:
    course = await api.course(lessons=3)
    learner = await enrolled_learner(api, course)
    a, b, c = course.lesson_ids

    await upsert_ok(api, learner, a, completed=True)
    await upsert_ok(api, learner, b, completed=True)
    assert await enrollment(api, learner, course) == {"status": "ACTIVE", "completedAt": None}

    before = now()
    last = await upsert_ok(api, learner, c, completed=True)
    after = now()

    assert last["summary"]["isComplete"] is True
    assert last["summary"]["completionPercentage"] == 100.0
    state = await enrollment(api, learner, course)
    assert state["status"] == "COMPLETED"
    assert before <= at(state["completedAt"]) <= after


async def test_uncompleting_a_required_lesson_reopens_the_enrollment(api: Api) -> None:
    course = await api.course(lessons=2)
    learner = await enrolled_learner(api, course)
    a, b = course.lesson_ids
    await upsert_ok(api, learner, a, completed=True)
    await upsert_ok(api, learner, b, completed=True)
    assert (await enrollment(api, learner, course))["status"] == "COMPLETED"

    undone = await upsert_ok(api, learner, b, completed=False)

    assert undone["summary"]["isComplete"] is False
    assert await enrollment(api, learner, course) == {"status": "ACTIVE", "completedAt": None}


async def test_optional_lessons_do_not_decide_completion(api: Api) -> None:
    course = await api.course(lessons=3, required=[True, False, True])
    learner = await enrolled_learner(api, course)
    required_a, optional, required_b = course.lesson_ids

    await upsert_ok(api, learner, required_a, completed=True)
    last = await upsert_ok(api, learner, required_b, completed=True)

    assert last["summary"]["requiredLessons"] == 2
    assert last["summary"]["completionPercentage"] == 100.0
    completed = await enrollment(api, learner, course)
    assert completed["status"] == "COMPLETED"

    # Completing and un-completing the optional lesson leaves the enrollment as it was.
    await upsert_ok(api, learner, optional, completed=True)
    await upsert_ok(api, learner, optional, completed=False)
    assert await enrollment(api, learner, course) == completed


async def test_only_optional_lessons_done_leaves_the_enrollment_active(api: Api) -> None:
    course = await api.course(lessons=3, required=[True, False, False])
    learner = await enrolled_learner(api, course)
    _, optional_a, optional_b = course.lesson_ids

    await upsert_ok(api, learner, optional_a, completed=True)
    last = await upsert_ok(api, learner, optional_b, completed=True)

    assert last["summary"]["isComplete"] is False
    assert last["summary"]["completionPercentage"] == 0.0
    assert await enrollment(api, learner, course) == {"status": "ACTIVE", "completedAt": None}


async def test_without_required_lessons_every_lesson_counts(api: Api) -> None:
    course = await api.course(lessons=2, required=[False, False])
    learner = await enrolled_learner(api, course)
    a, b = course.lesson_ids

    first = await upsert_ok(api, learner, a, completed=True)
    assert first["summary"]["completionPercentage"] == 50.0
    assert (await enrollment(api, learner, course))["status"] == "ACTIVE"

    last = await upsert_ok(api, learner, b, completed=True)

    assert last["summary"]["isComplete"] is True
    assert (await enrollment(api, learner, course))["status"] == "COMPLETED"


async def test_bulk_completion_completes_and_reopens_the_enrollment(api: Api) -> None:
    course = await api.course(lessons=3)
    learner = await enrolled_learner(api, course)

    before = now()
    done = await bulk(api, learner, course.lesson_ids, completed=True)
    after = now()

    assert done["summaries"] == [{"courseId": course.id, "completedLessons": 3, "isComplete": True}]
    state = await enrollment(api, learner, course)
    assert state["status"] == "COMPLETED"
    assert before <= at(state["completedAt"]) <= after

    await bulk(api, learner, course.lesson_ids[:1], completed=False)
    assert await enrollment(api, learner, course) == {"status": "ACTIVE", "completedAt": None}


def _complete(api: Api, learner: SeededUser, lesson_id: str, *, single: bool) -> Awaitable[Any]:
    """One request completing one lesson: an upsertProgress or a one-id bulkSetCompletion."""
    if single:
        return upsert_ok(api, learner, lesson_id, completed=True)
    return bulk(api, learner, [lesson_id], completed=True)


# Which request kind completes each of the two last lessons, round after round.
RACE_KINDS = [(True, True), (True, False), (False, True), (False, False)]


async def _race_last_two_lessons(api: Api, course: SeededCourse, single: tuple[bool, bool]) -> SeededUser:
    """A fresh learner completes all but two lessons, then those two in parallel requests."""
    learner = await enrolled_learner(api, course)
    # Also the key's first request (which records the key's use): the racers start even.
    await bulk(api, learner, course.lesson_ids[:-2], completed=True)
    first, second = course.lesson_ids[-2:]

    results = await asyncio.gather(
        _complete(api, learner, first, single=single[0]),
        _complete(api, learner, second, single=single[1]),
    )

    for result in results:
        assert result["__typename"] in {"UpsertProgressSuccess", "BulkSetCompletionSuccess"}, result
    return learner


async def test_completing_the_last_lessons_in_parallel_completes_the_enrollment(api: Api) -> None:
    course = await api.course(lessons=4)
    for kinds in RACE_KINDS:
        learner = await _race_last_two_lessons(api, course, kinds)

        state = await enrollment(api, learner, course)
        assert state["status"] == "COMPLETED", kinds
        assert state["completedAt"] is not None


@pytest.mark.postgres_only
async def test_parallel_final_completions_always_complete_the_enrollment_on_postgresql(
    pg_api: Api,
) -> None:
    course = await pg_api.course(lessons=4)
    for round_ in range(24):
        kinds = RACE_KINDS[round_ % len(RACE_KINDS)]
        learner = await _race_last_two_lessons(pg_api, course, kinds)

        state = await enrollment(pg_api, learner, course)
        assert state["status"] == "COMPLETED", f"round {round_}, single-request kinds {kinds}"
        assert state["completedAt"] is not None


# --- 9. bulkSetCompletion -----------------------------------------------------------------------------


async def test_bulk_reports_each_id_in_order_and_fails_bad_ones_individually(api: Api) -> None:
    course = await api.course(lessons=3)
    elsewhere = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    a, b, untouched = course.lesson_ids
    unknown = encode_id("Lesson", 999_999)
    foreign = elsewhere.lesson_ids[0]
    requested = [a, unknown, "not-an-id", foreign, b, a]

    result = await bulk(api, learner, requested, completed=True)

    assert result["__typename"] == "BulkSetCompletionSuccess"
    assert [r["lessonId"] for r in result["results"]] == requested
    outcomes = [(r["success"], r["error"] and r["error"]["code"]) for r in result["results"]]
    assert outcomes == [
        (True, None),
        (False, "NOT_FOUND"),
        (False, "INVALID_ID"),
        (False, "NOT_ENROLLED"),
        (True, None),
        (True, None),
    ]
    assert all(r["error"]["message"] for r in result["results"] if not r["success"])
    assert (result["succeeded"], result["failed"]) == (3, 3)
    for r in result["results"]:
        assert (r["progress"] is not None) == r["success"]
    assert result["results"][0]["progress"] == result["results"][5]["progress"]
    assert result["results"][0]["progress"]["completed"] is True

    # Missing records were created for the good ids only.
    assert await record_count(api, learner, a) == 1
    assert await record_count(api, learner, b) == 1
    assert await record_count(api, learner, untouched) == 0
    assert await record_count(api, learner, foreign) == 0
    assert (await lesson_view(api, learner, a))["progressStatus"] == "COMPLETED"


async def test_bulk_follows_the_completed_at_rules(api: Api) -> None:
    course = await api.course(lessons=3)
    learner = await enrolled_learner(api, course)
    done_before, in_progress, fresh = course.lesson_ids
    earlier = await upsert_ok(api, learner, done_before, completed=True)
    await upsert_ok(api, learner, in_progress, progressPercentage=10.0, notes="kept")

    before = now()
    result = await bulk(api, learner, course.lesson_ids, completed=True)
    after = now()

    by_id = {r["lessonId"]: r["progress"] for r in result["results"]}
    assert by_id[done_before]["completedAt"] == earlier["progress"]["completedAt"]
    for lesson in (in_progress, fresh):
        assert by_id[lesson]["completed"] is True
        assert before <= at(by_id[lesson]["completedAt"]) <= after
    kept = (await lesson_view(api, learner, in_progress))["progress"]
    assert kept["notes"] == "kept"
    assert kept["progressPercentage"] == 100.0

    undone = await bulk(api, learner, [done_before, fresh], completed=False)

    assert [r["progress"]["completedAt"] for r in undone["results"]] == [None, None]
    assert [r["progress"]["completed"] for r in undone["results"]] == [False, False]
    assert (await lesson_view(api, learner, fresh))["progressStatus"] == "IN_PROGRESS"


async def test_bulk_uncompletion_creates_in_progress_records(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]

    result = await bulk(api, learner, [lesson], completed=False)

    assert result["results"][0]["success"] is True
    assert await record_count(api, learner, lesson) == 1
    view = await lesson_view(api, learner, lesson)
    assert view["progressStatus"] == "IN_PROGRESS"
    assert view["progress"]["completedAt"] is None


async def test_bulk_of_500_ids_is_accepted_and_501_is_refused_writing_nothing(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    unknown = [encode_id("Lesson", 1_000_000 + i) for i in range(499)]

    refused = await bulk(api, learner, [lesson, *unknown, unknown[0]], completed=True)

    assert refused["__typename"] == "ValidationError"
    assert field_paths(refused) == [["input", "lessonIds"]]
    assert await record_count(api, learner, lesson) == 0

    accepted = await bulk(api, learner, [lesson, *unknown], completed=True)

    assert accepted["__typename"] == "BulkSetCompletionSuccess"
    assert len(accepted["results"]) == 500
    assert (accepted["succeeded"], accepted["failed"]) == (1, 499)
    assert await record_count(api, learner, lesson) == 1


async def test_bulk_for_another_user_is_forbidden_for_a_learner_and_allowed_for_an_admin(api: Api) -> None:
    course = await api.course(lessons=2)
    learner = await enrolled_learner(api, course)
    other = await enrolled_learner(api, course)
    admin = await api.admin()

    refused = await bulk(api, learner, course.lesson_ids, completed=True, user_id=other.id)

    assert refused["__typename"] == "ForbiddenError"
    assert refused["code"] == "FORBIDDEN"
    for lesson in course.lesson_ids:
        assert await record_count(api, admin, lesson, of=other) == 0
        assert await record_count(api, admin, lesson, of=learner) == 0

    done = await bulk(api, admin, course.lesson_ids, completed=True, user_id=other.id)

    assert done["succeeded"] == 2
    assert (await enrollment(api, other, course))["status"] == "COMPLETED"
    assert await record_count(api, learner, course.lesson_ids[0]) == 0


async def test_bulk_for_an_unknown_user_is_not_found(api: Api) -> None:
    course = await api.course(lessons=1)
    admin = await api.admin()

    result = await bulk(api, admin, course.lesson_ids, completed=True, user_id=encode_id("User", 999_999))

    assert result["__typename"] == "NotFoundError"


async def test_bulk_statement_count_does_not_grow_with_the_number_of_ids(api: Api) -> None:
    course = await api.course(lessons=100)
    few = await enrolled_learner(api, course)
    many = await enrolled_learner(api, course)
    # Both measured calls complete the course, so both take the same path (one status update).
    warm_up = await bulk(api, few, course.lesson_ids[5:], completed=True)
    assert warm_up["succeeded"] == 95
    await api.data(ME, key=many.key)  # the first request of a key also records its use

    api.db.statements.reset()
    five = await bulk(api, few, course.lesson_ids[:5], completed=True)
    five_ids = api.db.statements.count

    api.db.statements.reset()
    hundred = await bulk(api, many, course.lesson_ids, completed=True)
    hundred_ids = api.db.statements.count

    assert (five["succeeded"], hundred["succeeded"]) == (5, 100)
    assert five["summaries"][0]["isComplete"]
    assert hundred["summaries"][0]["isComplete"]
    assert five_ids == hundred_ids, (five_ids, hundred_ids)


# --- 10. resuming a video -----------------------------------------------------------------------------


async def test_saved_video_position_is_read_back_from_the_course(api: Api) -> None:
    course = await api.course(lessons=2)
    learner = await enrolled_learner(api, course)
    watched, other = course.lesson_ids

    await upsert_ok(api, learner, watched, videoPositionSeconds=180, lastPositionSeconds=180)

    data = await api.data(COURSE_POSITIONS, {"id": course.id}, key=learner.key)
    lessons = {lesson["id"]: lesson["progress"] for lesson in data["course"]["lessons"]}
    assert lessons[watched] == {"videoPositionSeconds": 180, "lastPositionSeconds": 180}
    assert lessons[other] is None
