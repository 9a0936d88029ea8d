"""Courses that change after learners started: lessons added, removed, made optional or required,
reordered; and whether an earned completion survives the change (keepCompletionOnChange).

Every test seeds users, courses and enrollments with the helpers of tests.support, then talks
GraphQL only: the admin's key for course changes, the learners' keys for progress. Tests taking
``api`` run on SQLite and on PostgreSQL; those taking ``pg_api`` need PostgreSQL's parallel writers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from gql_progress.domain.ids import encode_id
from tests.support import Api, SeededCourse, SeededUser

# --- GraphQL documents -------------------------------------------------------------------------

ERROR_FIELDS = """
    __typename
    ... on Error { code message }
    ... on ValidationError { fields { path message } }
"""

SUMMARY_FIELDS = """
    totalLessons requiredLessons completedLessons completedRequiredLessons inProgressLessons
    completionPercentage isComplete
"""

COURSE_STATE = f"""
query CourseState($id: ID!, $userId: ID) {{
  course(id: $id) {{
    keepCompletionOnChange
    lessons {{ id position isRequired removedAt }}
    enrollment(userId: $userId) {{ status completedAt }}
    summary(userId: $userId) {{ {SUMMARY_FIELDS} }}
  }}
}}
"""

COURSE_SUMMARY = f"""
query CourseSummary($courseId: ID!, $userId: ID) {{
  courseSummary(courseId: $courseId, userId: $userId) {{ {SUMMARY_FIELDS} }}
}}
"""

CREATE_COURSE = f"""
mutation CreateCourse($input: CreateCourseInput!) {{
  createCourse(input: $input) {{
    {ERROR_FIELDS}
    ... on CoursePayload {{ course {{ id slug title keepCompletionOnChange }} }}
  }}
}}
"""

UPDATE_COURSE = f"""
mutation UpdateCourse($input: UpdateCourseInput!) {{
  updateCourse(input: $input) {{
    {ERROR_FIELDS}
    ... on CoursePayload {{ course {{ id slug title keepCompletionOnChange }} }}
  }}
}}
"""

ADD_LESSON = f"""
mutation AddLesson($input: AddLessonInput!) {{
  addLesson(input: $input) {{
    {ERROR_FIELDS}
    ... on LessonPayload {{ lesson {{ id position isRequired removedAt }} }}
  }}
}}
"""

UPDATE_LESSON = f"""
mutation UpdateLesson($input: UpdateLessonInput!) {{
  updateLesson(input: $input) {{
    {ERROR_FIELDS}
    ... on LessonPayload {{ lesson {{ id position isRequired removedAt }} }}
  }}
}}
"""

REMOVE_LESSON = f"""
mutation RemoveLesson($id: ID!) {{
  removeLesson(id: $id) {{
    {ERROR_FIELDS}
    ... on LessonPayload {{ lesson {{ id removedAt }} }}
  }}
}}
"""

REORDER_LESSONS = f"""
mutation ReorderLessons($courseId: ID!, $lessonIds: [ID!]!) {{
  reorderLessons(courseId: $courseId, lessonIds: $lessonIds) {{
    {ERROR_FIELDS}
    ... on CoursePayload {{ course {{ id lessons {{ id position }} }} }}
  }}
}}
"""

UPSERT = f"""
mutation Upsert($input: UpsertProgressInput!) {{
  upsertProgress(input: $input) {{
    {ERROR_FIELDS}
    ... on UpsertProgressSuccess {{ progress {{ id completed notes }} summary {{ completionPercentage }} }}
  }}
}}
"""

BULK = f"""
mutation Bulk($input: BulkSetCompletionInput!) {{
  bulkSetCompletion(input: $input) {{
    {ERROR_FIELDS}
    ... on BulkSetCompletionSuccess {{
      succeeded failed
      results {{ lessonId success error {{ code message }} }}
    }}
  }}
}}
"""

ENROLL = f"""
mutation Enroll($courseId: ID!, $userId: ID!) {{
  enroll(courseId: $courseId, userId: $userId) {{ {ERROR_FIELDS} }}
}}
"""

COMPLETION_STATUS = """
query CompletionStatus($lessonIds: [ID!]!) {
  completionStatus(lessonIds: $lessonIds) { lessonId found completed completedAt }
}
"""

RECORDS = """
query Records($lessonId: ID, $userId: ID) {
  progress(lessonId: $lessonId, userId: $userId) {
    totalCount
    nodes { id completed notes lesson { id removedAt } }
  }
}
"""

MY_RECORDS = """
query MyRecords { me { progress { totalCount nodes { id completed lesson { id removedAt } } } } }
"""

MISSING_COURSE = encode_id("Course", 999_999)
MISSING_LESSON = encode_id("Lesson", 999_999)

# --- helpers -------------------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(UTC)


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


async def mutate(api: Api, user: SeededUser, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run a one-field mutation without GraphQL errors; return its result object."""
    data = await api.data(document, variables, key=user.key)
    [result] = data.values()
    assert isinstance(result, dict)
    return result


def assert_error(result: dict[str, Any], typename: str, code: str) -> None:
    assert result["__typename"] == typename, result
    assert result["code"] == code
    assert result["message"]


def field_paths(result: dict[str, Any]) -> list[list[str]]:
    assert_error(result, "ValidationError", "VALIDATION_FAILED")
    return [f["path"] for f in result["fields"]]


async def course_state(
    api: Api, viewer: SeededUser, course: SeededCourse, learner: SeededUser
) -> dict[str, Any]:
    """The course as ``viewer`` sees it, with ``learner``'s enrollment and summary."""
    data = await api.data(COURSE_STATE, {"id": course.id, "userId": learner.id}, key=viewer.key)
    state: dict[str, Any] = data["course"]
    return state


async def enrollment(
    api: Api, viewer: SeededUser, course: SeededCourse, learner: SeededUser
) -> dict[str, Any]:
    value: dict[str, Any] = (await course_state(api, viewer, course, learner))["enrollment"]
    return value


async def summary(api: Api, viewer: SeededUser, course: SeededCourse, learner: SeededUser) -> dict[str, Any]:
    """Course.summary(userId:), checked to agree with courseSummary(courseId:, userId:)."""
    from_course: dict[str, Any] = (await course_state(api, viewer, course, learner))["summary"]
    data = await api.data(COURSE_SUMMARY, {"courseId": course.id, "userId": learner.id}, key=viewer.key)
    assert data["courseSummary"] == from_course
    return from_course


async def percentage(api: Api, viewer: SeededUser, course: SeededCourse, learner: SeededUser) -> float:
    value: float = (await summary(api, viewer, course, learner))["completionPercentage"]
    return value


async def current_lessons(api: Api, viewer: SeededUser, course: SeededCourse) -> list[dict[str, Any]]:
    data = await api.data(COURSE_STATE, {"id": course.id, "userId": None}, key=viewer.key)
    lessons: list[dict[str, Any]] = data["course"]["lessons"]
    return lessons


async def learner_in(api: Api, course: SeededCourse) -> SeededUser:
    learner = await api.user()
    await api.enroll(learner, course)
    return learner


async def complete(api: Api, learner: SeededUser, lesson_ids: list[str]) -> None:
    """The learner completes these lessons (one bulkSetCompletion, every item must succeed)."""
    if not lesson_ids:
        return
    data = await api.data(BULK, {"input": {"lessonIds": lesson_ids, "completed": True}}, key=learner.key)
    result = data["bulkSetCompletion"]
    assert result["__typename"] == "BulkSetCompletionSuccess", result
    assert result["failed"] == 0, result


async def upsert(api: Api, learner: SeededUser, lesson_id: str, **fields: Any) -> dict[str, Any]:
    data = await api.data(UPSERT, {"input": {"lessonId": lesson_id, **fields}}, key=learner.key)
    result: dict[str, Any] = data["upsertProgress"]
    return result


async def completed_learner(api: Api, admin: SeededUser, course: SeededCourse) -> SeededUser:
    """A learner who completed every lesson of the course; their enrollment is COMPLETED."""
    learner = await learner_in(api, course)
    await complete(api, learner, course.lesson_ids)
    assert (await enrollment(api, admin, course, learner))["status"] == "COMPLETED"
    return learner


async def add_lesson(api: Api, admin: SeededUser, course: SeededCourse, *, required: bool = True) -> str:
    input_ = {"courseId": course.id, "title": "Added later", "kind": "VIDEO", "isRequired": required}
    result = await mutate(api, admin, ADD_LESSON, {"input": input_})
    assert result["__typename"] == "LessonPayload", result
    assert result["lesson"]["isRequired"] is required
    lesson_id: str = result["lesson"]["id"]
    return lesson_id


async def set_required(api: Api, admin: SeededUser, lesson_id: str, required: bool) -> None:
    result = await mutate(api, admin, UPDATE_LESSON, {"input": {"id": lesson_id, "isRequired": required}})
    assert result["__typename"] == "LessonPayload", result
    assert result["lesson"]["isRequired"] is required


async def remove_lesson(api: Api, admin: SeededUser, lesson_id: str) -> dict[str, Any]:
    """Remove a lesson that must be removable; return the removed lesson."""
    result = await mutate(api, admin, REMOVE_LESSON, {"id": lesson_id})
    assert result["__typename"] == "LessonPayload", result
    lesson: dict[str, Any] = result["lesson"]
    return lesson


async def reorder(api: Api, user: SeededUser, course_id: str, lesson_ids: list[str]) -> dict[str, Any]:
    return await mutate(api, user, REORDER_LESSONS, {"courseId": course_id, "lessonIds": lesson_ids})


async def set_keep_completion(api: Api, admin: SeededUser, course: SeededCourse, keep: bool) -> None:
    result = await mutate(
        api, admin, UPDATE_COURSE, {"input": {"id": course.id, "keepCompletionOnChange": keep}}
    )
    assert result["__typename"] == "CoursePayload", result
    assert result["course"]["keepCompletionOnChange"] is keep


# --- 1. the keepCompletionOnChange setting ---------------------------------------------------------


async def test_keep_completion_on_change_defaults_to_true_and_create_course_accepts_false(api: Api) -> None:
    admin = await api.admin()

    default = await mutate(api, admin, CREATE_COURSE, {"input": {"slug": "kept", "title": "Kept"}})
    off = await mutate(
        api,
        admin,
        CREATE_COURSE,
        {"input": {"slug": "not-kept", "title": "Not kept", "keepCompletionOnChange": False}},
    )

    assert default["__typename"] == "CoursePayload", default
    assert default["course"]["keepCompletionOnChange"] is True
    assert off["__typename"] == "CoursePayload", off
    assert off["course"]["keepCompletionOnChange"] is False
    seeded = await api.course(lessons=1)
    learner = await api.user()
    assert (await course_state(api, admin, seeded, learner))["keepCompletionOnChange"] is True


async def test_update_course_switches_keep_completion_on_change_and_nothing_else(api: Api) -> None:
    admin = await api.admin()
    created = await mutate(api, admin, CREATE_COURSE, {"input": {"slug": "switch", "title": "Switch"}})
    course_id = created["course"]["id"]

    off = await mutate(
        api, admin, UPDATE_COURSE, {"input": {"id": course_id, "keepCompletionOnChange": False}}
    )
    retitled = await mutate(api, admin, UPDATE_COURSE, {"input": {"id": course_id, "title": "Renamed"}})
    on = await mutate(api, admin, UPDATE_COURSE, {"input": {"id": course_id, "keepCompletionOnChange": True}})

    assert off["course"] == {
        "id": course_id,
        "slug": "switch",
        "title": "Switch",
        "keepCompletionOnChange": False,
    }
    assert retitled["course"]["keepCompletionOnChange"] is False  # not sent, so unchanged
    assert on["course"] == {
        "id": course_id,
        "slug": "switch",
        "title": "Renamed",
        "keepCompletionOnChange": True,
    }


# --- 2. removeLesson -------------------------------------------------------------------------------


async def test_remove_lesson_sets_removed_at_and_drops_the_lesson_from_the_course(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await api.course(lessons=3)
    first, middle, last = course.lesson_ids
    assert all(lesson["removedAt"] is None for lesson in await current_lessons(api, admin, course))

    before = now()
    removed = await remove_lesson(api, admin, middle)
    after = now()

    assert removed["id"] == middle
    assert before <= at(removed["removedAt"]) <= after
    lessons = await current_lessons(api, admin, course)
    assert [lesson["id"] for lesson in lessons] == [first, last]
    assert all(lesson["removedAt"] is None for lesson in lessons)
    assert [lesson["id"] for lesson in await current_lessons(api, learner, course)] == [first, last]


async def test_a_removed_lesson_stops_counting_in_the_summary(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=4)
    done_a, done_b, started, untouched = course.lesson_ids
    learner = await learner_in(api, course)
    await complete(api, learner, [done_a, done_b])
    assert (await upsert(api, learner, started, progressPercentage=30.0))[
        "__typename"
    ] == "UpsertProgressSuccess"
    assert await percentage(api, learner, course, learner) == 50.0

    await remove_lesson(api, admin, done_a)

    assert await summary(api, learner, course, learner) == {
        "totalLessons": 3,
        "requiredLessons": 3,
        "completedLessons": 1,
        "completedRequiredLessons": 1,
        "inProgressLessons": 1,
        "completionPercentage": 33.33,
        "isComplete": False,
    }

    await remove_lesson(api, admin, started)

    assert await summary(api, admin, course, learner) == {
        "totalLessons": 2,
        "requiredLessons": 2,
        "completedLessons": 1,
        "completedRequiredLessons": 1,
        "inProgressLessons": 0,
        "completionPercentage": 50.0,
        "isComplete": False,
    }
    assert untouched in [lesson["id"] for lesson in await current_lessons(api, learner, course)]


async def test_progress_records_of_a_removed_lesson_are_kept_and_point_at_the_removed_lesson(
    api: Api,
) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)
    removed_id, kept_id = course.lesson_ids
    learner = await learner_in(api, course)
    written = await upsert(api, learner, removed_id, completed=True, notes="for the audit")
    await complete(api, learner, [kept_id])

    removed = await remove_lesson(api, admin, removed_id)

    own = await api.data(RECORDS, {"lessonId": removed_id}, key=learner.key)
    assert own["progress"]["totalCount"] == 1
    assert own["progress"]["nodes"] == [
        {
            "id": written["progress"]["id"],
            "completed": True,
            "notes": "for the audit",
            "lesson": {"id": removed_id, "removedAt": removed["removedAt"]},
        }
    ]
    by_admin = await api.data(RECORDS, {"lessonId": removed_id, "userId": learner.id}, key=admin.key)
    assert by_admin["progress"]["nodes"] == own["progress"]["nodes"]
    mine = (await api.data(MY_RECORDS, key=learner.key))["me"]["progress"]
    assert mine["totalCount"] == 2
    lessons = {node["lesson"]["id"]: node["lesson"]["removedAt"] for node in mine["nodes"]}
    assert lessons == {removed_id: removed["removedAt"], kept_id: None}


async def test_removing_an_unknown_or_already_removed_lesson_is_not_found(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)
    removed_id, kept_id = course.lesson_ids
    learner = await learner_in(api, course)
    await complete(api, learner, [removed_id])
    first_removal = await remove_lesson(api, admin, removed_id)

    unknown = await mutate(api, admin, REMOVE_LESSON, {"id": MISSING_LESSON})
    again = await mutate(api, admin, REMOVE_LESSON, {"id": removed_id})

    assert_error(unknown, "NotFoundError", "NOT_FOUND")
    assert_error(again, "NotFoundError", "NOT_FOUND")
    assert [lesson["id"] for lesson in await current_lessons(api, admin, course)] == [kept_id]
    # The refused second removal did not move the removal time.
    records = await api.data(RECORDS, {"lessonId": removed_id}, key=learner.key)
    assert records["progress"]["nodes"][0]["lesson"]["removedAt"] == first_removal["removedAt"]


async def test_upsert_progress_on_a_removed_lesson_is_not_found_and_writes_nothing(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)
    lesson_id = course.lesson_ids[0]
    learner = await learner_in(api, course)
    assert (await upsert(api, learner, lesson_id, notes="before"))["__typename"] == "UpsertProgressSuccess"
    await remove_lesson(api, admin, lesson_id)

    result = await upsert(api, learner, lesson_id, notes="after", completed=True)
    by_admin = await upsert(api, admin, lesson_id, userId=learner.id, completed=True)

    assert_error(result, "NotFoundError", "NOT_FOUND")
    assert_error(by_admin, "NotFoundError", "NOT_FOUND")
    records = (await api.data(RECORDS, {"lessonId": lesson_id}, key=learner.key))["progress"]
    assert records["totalCount"] == 1
    assert (records["nodes"][0]["notes"], records["nodes"][0]["completed"]) == ("before", False)


async def test_bulk_completion_fails_only_the_removed_lesson_with_not_found(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=3)
    removed_id, kept_a, kept_b = course.lesson_ids
    learner = await learner_in(api, course)
    await remove_lesson(api, admin, removed_id)

    data = await api.data(
        BULK, {"input": {"lessonIds": [kept_a, removed_id, kept_b], "completed": True}}, key=learner.key
    )

    result = data["bulkSetCompletion"]
    assert result["__typename"] == "BulkSetCompletionSuccess", result
    outcomes = [(r["lessonId"], r["success"], r["error"] and r["error"]["code"]) for r in result["results"]]
    assert outcomes == [(kept_a, True, None), (removed_id, False, "NOT_FOUND"), (kept_b, True, None)]
    assert (result["succeeded"], result["failed"]) == (2, 1)
    assert (await api.data(RECORDS, {"lessonId": removed_id}, key=learner.key))["progress"]["totalCount"] == 0
    # The two current lessons are the whole course now.
    assert (await enrollment(api, learner, course, learner))["status"] == "COMPLETED"


async def test_completion_status_reports_a_removed_lesson_as_not_found(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)
    removed_id, kept_id = course.lesson_ids
    learner = await learner_in(api, course)
    await complete(api, learner, course.lesson_ids)
    await remove_lesson(api, admin, removed_id)

    data = await api.data(COMPLETION_STATUS, {"lessonIds": [removed_id, kept_id]}, key=learner.key)

    removed, kept = data["completionStatus"]
    assert removed == {"lessonId": removed_id, "found": False, "completed": None, "completedAt": None}
    assert (kept["lessonId"], kept["found"], kept["completed"]) == (kept_id, True, True)


# --- 3. reorderLessons -----------------------------------------------------------------------------


async def test_reorder_lessons_puts_them_in_the_given_order_with_positions_from_zero(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await api.course(lessons=4)
    a, b, c, d = course.lesson_ids

    result = await reorder(api, admin, course.id, [d, b, a, c])

    assert result["__typename"] == "CoursePayload", result
    expected = [
        {"id": d, "position": 0},
        {"id": b, "position": 1},
        {"id": a, "position": 2},
        {"id": c, "position": 3},
    ]
    assert result["course"] == {"id": course.id, "lessons": expected}
    stored = await current_lessons(api, learner, course)
    assert [{"id": lesson["id"], "position": lesson["position"]} for lesson in stored] == expected

    again = await reorder(api, admin, course.id, [c, a, b, d])

    assert [lesson["id"] for lesson in again["course"]["lessons"]] == [c, a, b, d]
    assert [lesson["position"] for lesson in again["course"]["lessons"]] == [0, 1, 2, 3]


async def test_reorder_lessons_swaps_two_neighbours(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)
    a, b = course.lesson_ids

    result = await reorder(api, admin, course.id, [b, a])

    assert result["course"]["lessons"] == [{"id": b, "position": 0}, {"id": a, "position": 1}]


async def test_reorder_lessons_in_the_current_order_changes_nothing(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=3)
    before = await current_lessons(api, admin, course)

    result = await reorder(api, admin, course.id, course.lesson_ids)

    assert result["course"]["lessons"] == [
        {"id": lid, "position": i} for i, lid in enumerate(course.lesson_ids)
    ]
    assert await current_lessons(api, admin, course) == before


async def test_reorder_after_a_removal_numbers_the_remaining_lessons_from_zero(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=4)
    a, b, c, d = course.lesson_ids
    await remove_lesson(api, admin, a)

    result = await reorder(api, admin, course.id, [d, c, b])

    assert result["__typename"] == "CoursePayload", result
    assert result["course"]["lessons"] == [
        {"id": d, "position": 0},
        {"id": c, "position": 1},
        {"id": b, "position": 2},
    ]
    stored = await current_lessons(api, admin, course)
    assert [(lesson["id"], lesson["position"]) for lesson in stored] == [(d, 0), (c, 1), (b, 2)]


# Each builds a refused lessonIds list from (the course's current lessons, a lesson removed from
# it, a lesson of another course).
BadOrder = Callable[[list[str], str, str], list[str]]
BAD_ORDERS: dict[str, BadOrder] = {
    "missing-one": lambda current, removed, foreign: current[:-1],
    "empty": lambda current, removed, foreign: [],
    "duplicate": lambda current, removed, foreign: [*current, current[0]],
    "duplicate-instead-of-one": lambda current, removed, foreign: [current[0], current[0], current[2]],
    "foreign-extra": lambda current, removed, foreign: [*current, foreign],
    "foreign-instead-of-one": lambda current, removed, foreign: [*current[:-1], foreign],
    "unknown-extra": lambda current, removed, foreign: [*current, MISSING_LESSON],
    "removed-extra": lambda current, removed, foreign: [removed, *current],
    "removed-instead-of-one": lambda current, removed, foreign: [removed, *current[1:]],
}


@pytest.mark.parametrize("case", list(BAD_ORDERS))
async def test_reorder_refuses_a_list_that_is_not_exactly_the_current_lessons_and_changes_nothing(
    api: Api, case: str
) -> None:
    admin = await api.admin()
    course = await api.course(lessons=4)
    other = await api.course(lessons=1)
    removed_id = course.lesson_ids[0]
    await remove_lesson(api, admin, removed_id)
    current = course.lesson_ids[1:]
    before = await current_lessons(api, admin, course)
    # A valid order would reverse them; none of it may be applied.
    lesson_ids = BAD_ORDERS[case](list(reversed(current)), removed_id, other.lesson_ids[0])

    result = await reorder(api, admin, course.id, lesson_ids)

    paths = field_paths(result)
    assert paths, result
    assert all(path == ["lessonIds"] for path in paths), paths
    assert all(f["message"] for f in result["fields"])
    assert await current_lessons(api, admin, course) == before
    assert [lesson["id"] for lesson in await current_lessons(api, admin, other)] == other.lesson_ids


async def test_reorder_lessons_of_an_unknown_course_is_not_found(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)

    result = await reorder(api, admin, MISSING_COURSE, list(reversed(course.lesson_ids)))

    assert_error(result, "NotFoundError", "NOT_FOUND")
    assert [lesson["id"] for lesson in await current_lessons(api, admin, course)] == course.lesson_ids


# --- 4. percentages follow the course as it is now -----------------------------------------------


async def test_a_new_required_lesson_lowers_the_completion_percentage(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=4)
    learner = await learner_in(api, course)
    await complete(api, learner, course.lesson_ids[:2])
    assert await percentage(api, learner, course, learner) == 50.0

    await add_lesson(api, admin, course, required=True)

    lowered = await summary(api, learner, course, learner)
    assert (lowered["totalLessons"], lowered["requiredLessons"]) == (5, 5)
    assert lowered["completedRequiredLessons"] == 2
    assert lowered["completionPercentage"] == 40.0
    assert await summary(api, admin, course, learner) == lowered


async def test_removing_a_required_lesson_the_learner_had_not_completed_raises_the_percentage(
    api: Api,
) -> None:
    admin = await api.admin()
    course = await api.course(lessons=3)
    learner = await learner_in(api, course)
    await complete(api, learner, course.lesson_ids[:1])
    assert await percentage(api, learner, course, learner) == 33.33

    await remove_lesson(api, admin, course.lesson_ids[2])

    raised = await summary(api, learner, course, learner)
    assert (raised["requiredLessons"], raised["completedRequiredLessons"]) == (2, 1)
    assert raised["completionPercentage"] == 50.0


async def test_completed_lessons_that_were_removed_no_longer_count_so_the_percentage_stays_within_100(
    api: Api,
) -> None:
    admin = await api.admin()
    course = await api.course(lessons=3)
    a, b, _ = course.lesson_ids
    learner = await learner_in(api, course)
    await complete(api, learner, [a, b])
    assert await percentage(api, learner, course, learner) == 66.67

    await remove_lesson(api, admin, a)
    assert await percentage(api, learner, course, learner) == 50.0

    await remove_lesson(api, admin, b)

    left = await summary(api, learner, course, learner)
    assert left["completionPercentage"] == 0.0
    assert (left["completedLessons"], left["completedRequiredLessons"], left["requiredLessons"]) == (0, 0, 1)
    assert (await enrollment(api, learner, course, learner))["status"] == "ACTIVE"


async def test_a_completed_lesson_made_optional_stops_counting_toward_the_percentage(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=3)
    a, b, _ = course.lesson_ids
    learner = await learner_in(api, course)
    await complete(api, learner, [a])

    await set_required(api, admin, a, False)

    after = await summary(api, learner, course, learner)
    assert (after["requiredLessons"], after["completedRequiredLessons"]) == (2, 0)
    assert after["completedLessons"] == 1
    assert after["completionPercentage"] == 0.0

    await set_required(api, admin, b, False)
    assert await percentage(api, learner, course, learner) == 0.0


# --- 5. enrollments are re-evaluated when requirements change --------------------------------------


async def test_a_new_required_lesson_keeps_a_completed_enrollment_completed_by_default(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)
    learner = await completed_learner(api, admin, course)
    earned = await enrollment(api, admin, course, learner)

    await add_lesson(api, admin, course, required=True)

    state = await course_state(api, learner, course, learner)
    assert state["keepCompletionOnChange"] is True
    assert state["enrollment"] == earned  # same status, same completedAt
    # The percentage still reflects the course as it is now.
    assert (state["summary"]["completionPercentage"], state["summary"]["isComplete"]) == (66.67, False)


async def test_a_new_required_lesson_reopens_completed_enrollments_when_keep_completion_is_off(
    api: Api,
) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)
    await set_keep_completion(api, admin, course, False)
    done = await completed_learner(api, admin, course)
    halfway = await learner_in(api, course)
    await complete(api, halfway, course.lesson_ids[:1])

    await add_lesson(api, admin, course, required=True)

    assert await enrollment(api, admin, course, done) == {"status": "ACTIVE", "completedAt": None}
    assert await enrollment(api, done, course, done) == {"status": "ACTIVE", "completedAt": None}
    assert await enrollment(api, admin, course, halfway) == {"status": "ACTIVE", "completedAt": None}
    assert await percentage(api, done, course, done) == 66.67


async def test_keep_completion_off_set_at_creation_reopens_completed_enrollments_on_a_new_required_lesson(
    api: Api,
) -> None:
    admin = await api.admin()
    created = await mutate(
        api,
        admin,
        CREATE_COURSE,
        {"input": {"slug": "strict-course", "title": "Strict", "keepCompletionOnChange": False}},
    )
    course_id = created["course"]["id"]
    first = await mutate(
        api, admin, ADD_LESSON, {"input": {"courseId": course_id, "title": "First", "kind": "ARTICLE"}}
    )
    lesson_id = first["lesson"]["id"]
    learner = await api.user()
    enrolled = await mutate(api, admin, ENROLL, {"courseId": course_id, "userId": learner.id})
    assert enrolled["__typename"] == "EnrollPayload", enrolled
    await complete(api, learner, [lesson_id])
    # Created over the API, so no pk is known; the helpers use only the global ids.
    course = SeededCourse(0, course_id, "strict-course", [], [lesson_id])
    assert (await enrollment(api, admin, course, learner))["status"] == "COMPLETED"

    second = await add_lesson(api, admin, course, required=True)

    assert await enrollment(api, admin, course, learner) == {"status": "ACTIVE", "completedAt": None}

    # Completing the new lesson earns the completion again, with a new completedAt.
    before = now()
    await complete(api, learner, [second])
    after = now()

    state = await enrollment(api, learner, course, learner)
    assert state["status"] == "COMPLETED"
    assert before <= at(state["completedAt"]) <= after


async def test_an_optional_lesson_made_required_reopens_only_learners_missing_it_when_keep_completion_is_off(
    api: Api,
) -> None:
    admin = await api.admin()
    course = await api.course(lessons=3, required=[True, True, False])
    await set_keep_completion(api, admin, course, False)
    optional = course.lesson_ids[2]
    did_everything = await completed_learner(api, admin, course)
    did_required = await learner_in(api, course)
    await complete(api, did_required, course.lesson_ids[:2])
    kept = await enrollment(api, admin, course, did_everything)
    assert (await enrollment(api, admin, course, did_required))["status"] == "COMPLETED"

    await set_required(api, admin, optional, True)

    assert await enrollment(api, admin, course, did_everything) == kept
    assert await enrollment(api, admin, course, did_required) == {"status": "ACTIVE", "completedAt": None}
    assert await percentage(api, admin, course, did_required) == 66.67
    assert await percentage(api, admin, course, did_everything) == 100.0


async def test_an_optional_lesson_made_required_keeps_completions_by_default(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=3, required=[True, True, False])
    learner = await learner_in(api, course)
    await complete(api, learner, course.lesson_ids[:2])
    earned = await enrollment(api, admin, course, learner)
    assert earned["status"] == "COMPLETED"

    await set_required(api, admin, course.lesson_ids[2], True)

    assert await enrollment(api, admin, course, learner) == earned
    assert await summary(api, learner, course, learner) | {"totalLessons": 0} == {
        "totalLessons": 0,
        "requiredLessons": 3,
        "completedLessons": 2,
        "completedRequiredLessons": 2,
        "inProgressLessons": 0,
        "completionPercentage": 66.67,
        "isComplete": False,
    }


async def test_making_the_last_missing_required_lesson_optional_completes_every_learner_it_satisfies(
    api: Api,
) -> None:
    admin = await api.admin()
    course = await api.course(lessons=4)
    a, b, c, last = course.lesson_ids
    satisfied = [await learner_in(api, course) for _ in range(3)]
    for learner in satisfied:
        await complete(api, learner, [a, b, c])
    still_missing = await learner_in(api, course)
    await complete(api, still_missing, [a, b])
    for learner in [*satisfied, still_missing]:
        assert (await enrollment(api, admin, course, learner))["status"] == "ACTIVE"

    before = now()
    await set_required(api, admin, last, False)
    after = now()

    for learner in satisfied:
        state = await course_state(api, learner, course, learner)
        assert state["enrollment"]["status"] == "COMPLETED"
        assert before <= at(state["enrollment"]["completedAt"]) <= after
        assert (state["summary"]["completionPercentage"], state["summary"]["isComplete"]) == (100.0, True)
    assert await enrollment(api, admin, course, still_missing) == {"status": "ACTIVE", "completedAt": None}
    assert await percentage(api, admin, course, still_missing) == 66.67


async def test_removing_the_last_missing_required_lesson_completes_the_enrollment(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=3)
    a, b, last = course.lesson_ids
    satisfied = [await learner_in(api, course) for _ in range(2)]
    for learner in satisfied:
        await complete(api, learner, [a, b])
    still_missing = await learner_in(api, course)
    await complete(api, still_missing, [a])

    before = now()
    await remove_lesson(api, admin, last)
    after = now()

    for learner in satisfied:
        state = await course_state(api, learner, course, learner)
        assert state["enrollment"]["status"] == "COMPLETED"
        assert before <= at(state["enrollment"]["completedAt"]) <= after
        assert (state["summary"]["completionPercentage"], state["summary"]["isComplete"]) == (100.0, True)
    assert await enrollment(api, admin, course, still_missing) == {"status": "ACTIVE", "completedAt": None}
    assert await percentage(api, admin, course, still_missing) == 50.0


@pytest.mark.parametrize("keep", [True, False], ids=["keep-on", "keep-off"])
async def test_a_new_optional_lesson_changes_nothing_for_completed_learners(api: Api, keep: bool) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2, required=[True, False])
    await set_keep_completion(api, admin, course, keep)
    learner = await completed_learner(api, admin, course)
    earned = await course_state(api, learner, course, learner)

    await add_lesson(api, admin, course, required=False)

    after = await course_state(api, learner, course, learner)
    assert after["enrollment"] == earned["enrollment"]
    assert after["summary"] == earned["summary"] | {"totalLessons": 3}
    assert (after["summary"]["completionPercentage"], after["summary"]["isComplete"]) == (100.0, True)


async def test_removing_the_only_required_lesson_makes_every_current_lesson_count(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=3, required=[True, False, False])
    required, optional_a, optional_b = course.lesson_ids
    all_optional = await learner_in(api, course)
    await complete(api, all_optional, [optional_a, optional_b])
    one_optional = await learner_in(api, course)
    await complete(api, one_optional, [optional_a])

    before = now()
    await remove_lesson(api, admin, required)
    after = now()

    state = await course_state(api, all_optional, course, all_optional)
    assert state["enrollment"]["status"] == "COMPLETED"
    assert before <= at(state["enrollment"]["completedAt"]) <= after
    assert (state["summary"]["requiredLessons"], state["summary"]["completionPercentage"]) == (0, 100.0)
    other = await course_state(api, admin, course, one_optional)
    assert other["enrollment"] == {"status": "ACTIVE", "completedAt": None}
    assert (other["summary"]["completionPercentage"], other["summary"]["isComplete"]) == (50.0, False)


async def test_making_the_only_required_lesson_optional_makes_every_lesson_count(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=3, required=[True, False, False])
    required, optional_a, _ = course.lesson_ids
    learner = await learner_in(api, course)
    await complete(api, learner, [required, optional_a])
    earned = await enrollment(api, admin, course, learner)
    assert earned["status"] == "COMPLETED"

    await set_required(api, admin, required, False)

    after = await summary(api, learner, course, learner)
    assert (after["requiredLessons"], after["completedLessons"]) == (0, 2)
    assert (after["completionPercentage"], after["isComplete"]) == (66.67, False)
    assert await enrollment(api, admin, course, learner) == earned  # kept: the default setting


async def test_a_new_optional_lesson_lowers_the_percentage_of_a_course_without_required_lessons(
    api: Api,
) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2, required=[False, False])
    learner = await learner_in(api, course)
    await complete(api, learner, course.lesson_ids[:1])
    assert await percentage(api, learner, course, learner) == 50.0

    await add_lesson(api, admin, course, required=False)

    assert await percentage(api, learner, course, learner) == 33.33


@pytest.mark.parametrize(
    "required",
    [
        pytest.param(False, id="optional"),
        pytest.param(True, id="required"),
    ],
)
async def test_a_new_lesson_leaves_learners_still_missing_a_required_lesson_active(
    api: Api, required: bool
) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)
    await completed_learner(api, admin, course)
    halfway = await learner_in(api, course)
    await complete(api, halfway, course.lesson_ids[:1])

    await add_lesson(api, admin, course, required=required)

    assert await enrollment(api, admin, course, halfway) == {"status": "ACTIVE", "completedAt": None}
    assert await percentage(api, admin, course, halfway) == (33.33 if required else 50.0)


async def test_progress_written_after_a_kept_completion_does_not_take_the_completion_back(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)
    learner = await completed_learner(api, admin, course)
    earned = await enrollment(api, admin, course, learner)
    new_lesson = await add_lesson(api, admin, course, required=True)

    started = await upsert(api, learner, new_lesson, progressPercentage=20.0)
    noted = await upsert(api, learner, course.lesson_ids[0], notes="revisited")

    assert started["__typename"] == noted["__typename"] == "UpsertProgressSuccess"
    assert await enrollment(api, admin, course, learner) == earned

    await complete(api, learner, [new_lesson])

    assert await enrollment(api, admin, course, learner) == earned
    assert await percentage(api, learner, course, learner) == 100.0


@pytest.mark.parametrize("how", ["upsert-completed-again", "bulk-complete-optional"])
async def test_completing_more_after_a_kept_completion_does_not_take_the_completion_back(
    api: Api, how: str
) -> None:
    admin = await api.admin()
    course = await api.course(lessons=3, required=[True, True, False])
    done_a, _, optional = course.lesson_ids
    learner = await learner_in(api, course)
    await complete(api, learner, course.lesson_ids[:2])
    earned = await enrollment(api, admin, course, learner)
    assert earned["status"] == "COMPLETED"
    await add_lesson(api, admin, course, required=True)
    assert await enrollment(api, admin, course, learner) == earned

    if how == "upsert-completed-again":
        written = await upsert(api, learner, done_a, completed=True)
        assert written["__typename"] == "UpsertProgressSuccess", written
    else:
        await complete(api, learner, [optional])

    # Nothing was un-completed: the earned completion stands, with its completedAt.
    assert await enrollment(api, admin, course, learner) == earned


async def test_uncompleting_a_lesson_after_a_kept_completion_reopens_the_enrollment(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)
    learner = await completed_learner(api, admin, course)
    await add_lesson(api, admin, course, required=True)
    assert (await enrollment(api, admin, course, learner))["status"] == "COMPLETED"

    undone = await upsert(api, learner, course.lesson_ids[0], completed=False)

    assert undone["__typename"] == "UpsertProgressSuccess", undone
    assert await enrollment(api, admin, course, learner) == {"status": "ACTIVE", "completedAt": None}


async def test_course_changes_leave_enrollments_of_other_courses_alone(api: Api) -> None:
    admin = await api.admin()
    changed = await api.course(lessons=2)
    other = await api.course(lessons=2)
    await set_keep_completion(api, admin, changed, False)
    await set_keep_completion(api, admin, other, False)
    learner = await learner_in(api, changed)
    await api.enroll(learner, other)
    await complete(api, learner, [*changed.lesson_ids, *other.lesson_ids])
    earned = await enrollment(api, admin, other, learner)
    assert earned["status"] == "COMPLETED"

    await add_lesson(api, admin, changed, required=True)
    await remove_lesson(api, admin, changed.lesson_ids[0])

    assert (await enrollment(api, admin, changed, learner))["status"] == "ACTIVE"
    assert await enrollment(api, admin, other, learner) == earned
    assert await percentage(api, admin, other, learner) == 100.0


# --- 6. only admins change courses -------------------------------------------------------------------

# Each builds (document, variables) for one course change, from the course and its optional lesson.
ChangeRequest = Callable[[SeededCourse], tuple[str, dict[str, Any]]]
CHANGES: dict[str, ChangeRequest] = {
    "remove-lesson": lambda course: (REMOVE_LESSON, {"id": course.lesson_ids[0]}),
    "reorder-lessons": lambda course: (
        REORDER_LESSONS,
        {"courseId": course.id, "lessonIds": list(reversed(course.lesson_ids))},
    ),
    "add-required-lesson": lambda course: (
        ADD_LESSON,
        {"input": {"courseId": course.id, "title": "Sneaky", "kind": "VIDEO", "isRequired": True}},
    ),
    "make-lesson-optional": lambda course: (
        UPDATE_LESSON,
        {"input": {"id": course.lesson_ids[1], "isRequired": False}},
    ),
    "make-lesson-required": lambda course: (
        UPDATE_LESSON,
        {"input": {"id": course.lesson_ids[2], "isRequired": True}},
    ),
    "switch-keep-completion-off": lambda course: (
        UPDATE_COURSE,
        {"input": {"id": course.id, "keepCompletionOnChange": False}},
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
async def test_a_learner_cannot_change_a_course_and_nothing_changes(api: Api, change: str) -> None:
    admin = await api.admin()
    course = await api.course(lessons=3, required=[True, True, False])
    learner = await learner_in(api, course)
    await complete(api, learner, course.lesson_ids[:1])
    before = await course_state(api, admin, course, learner)
    document, variables = CHANGES[change](course)

    result = await mutate(api, learner, document, variables)

    assert_error(result, "ForbiddenError", "FORBIDDEN")
    assert await course_state(api, admin, course, learner) == before
    records = await api.data(RECORDS, {"lessonId": course.lesson_ids[0]}, key=learner.key)
    assert records["progress"]["totalCount"] == 1


# --- 7. the re-evaluation and a learner's write, in parallel (PostgreSQL) ---------------------------

ROUNDS = 8


@pytest.mark.postgres_only
@pytest.mark.parametrize("change", ["make-optional", "remove"])
async def test_dropping_a_requirement_while_the_learner_completes_the_other_missing_lesson_completes(
    pg_api: Api, change: str
) -> None:
    admin = await pg_api.admin()
    for round_ in range(ROUNDS):
        course = await pg_api.course(lessons=3)
        done, dropped, finished_now = course.lesson_ids
        learner = await learner_in(pg_api, course)
        await complete(pg_api, learner, [done])

        admin_change = (
            set_required(pg_api, admin, dropped, False)
            if change == "make-optional"
            else remove_lesson(pg_api, admin, dropped)
        )
        await asyncio.gather(admin_change, complete(pg_api, learner, [finished_now]))

        state = await course_state(pg_api, admin, course, learner)
        assert state["summary"]["isComplete"] is True, f"round {round_}"
        assert state["enrollment"]["status"] == "COMPLETED", f"round {round_}"
        assert state["enrollment"]["completedAt"] is not None


@pytest.mark.postgres_only
async def test_a_required_lesson_added_while_the_learner_completes_the_last_one_leaves_the_enrollment_active(
    pg_api: Api,
) -> None:
    admin = await pg_api.admin()
    for round_ in range(ROUNDS):
        course = await pg_api.course(lessons=2, keep_completion_on_change=False)
        first, last = course.lesson_ids
        learner = await learner_in(pg_api, course)
        await complete(pg_api, learner, [first])

        await asyncio.gather(
            add_lesson(pg_api, admin, course, required=True), complete(pg_api, learner, [last])
        )

        state = await course_state(pg_api, admin, course, learner)
        assert state["summary"]["isComplete"] is False, f"round {round_}"
        assert state["enrollment"] == {"status": "ACTIVE", "completedAt": None}, f"round {round_}"
