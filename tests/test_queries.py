"""Reads: the viewer, users, the catalog, progress connections, completion status, summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from gql_progress.api.pagination import encode_cursor
from gql_progress.db.models import Enrollment
from gql_progress.domain.completion.upsert import upsert_progress
from gql_progress.domain.ids import encode_id
from tests.support import Api, SeededCourse, SeededUser

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

ME_WITH_ENROLLMENTS = """
{
  me {
    id
    enrollments {
      status
      enrolledAt
      course { id }
      summary { courseId userId totalLessons completedLessons completionPercentage isComplete }
    }
  }
}
"""
USER = """
query($id: ID, $email: String, $externalId: String) {
  user(id: $id, email: $email, externalId: $externalId) { id email externalId name role }
}
"""
CREATE_USER = """
mutation($email: String!) {
  createUser(input: {externalId: "mixed-case-1", email: $email, name: "Grace"}) {
    ... on UserPayload { user { id email } }
  }
}
"""
COURSE = """
query($id: ID, $slug: String) {
  course(id: $id, slug: $slug) { id slug title lessons { id position } }
}
"""
COURSES_PAGE = """
query($first: Int, $after: String) {
  courses(first: $first, after: $after) {
    totalCount
    edges { cursor node { id slug } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
LESSON = """
query($id: ID!) {
  lesson(id: $id) { id position title kind durationSeconds isRequired course { id slug } }
}
"""
PROGRESS = """
query($courseId: ID, $lessonId: ID, $first: Int, $after: String) {
  progress(courseId: $courseId, lessonId: $lessonId, first: $first, after: $after) {
    totalCount
    nodes { lesson { id } user { id } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""
MY_PROGRESS = """
query($courseId: ID) {
  me { progress(courseId: $courseId) { totalCount nodes { lesson { id } lastAccessedAt } } }
}
"""
COMPLETION_STATUS = """
query($lessonIds: [ID!]!) { completionStatus(lessonIds: $lessonIds) { lessonId found completed completedAt } }
"""
SUMMARY_FIELDS = """
  courseId userId totalLessons completedLessons inProgressLessons requiredLessons
  completedRequiredLessons completionPercentage totalTimeSpentMinutes lastAccessedAt isComplete
"""
COURSE_SUMMARY = f"""
query($courseId: ID!) {{ courseSummary(courseId: $courseId) {{ {SUMMARY_FIELDS} }} }}
"""
COURSE_PAGE = f"""
query($slug: String!) {{ course(slug: $slug) {{ summary {{ {SUMMARY_FIELDS} }} enrollment {{ id }} }} }}
"""


async def record(
    api: Api, user: SeededUser, lesson_pk: int, *, at: datetime | None = None, **changes: Any
) -> None:
    """Write a progress record through the domain layer (the user must be enrolled)."""
    await upsert_progress(api.db, user_id=user.pk, lesson_id=lesson_pk, changes=changes, now=at)


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or []]


def instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


async def summary_of(api: Api, user: SeededUser, course: SeededCourse) -> dict[str, Any]:
    data = await api.data(COURSE_SUMMARY, {"courseId": course.id}, key=user.key)
    summary: dict[str, Any] = data["courseSummary"]
    return summary


# --- me and user ------------------------------------------------------------------------------


async def test_me_lists_enrollments_oldest_first_with_their_summaries(api: Api) -> None:
    learner = await api.user()
    first_created, second_created = await api.course(lessons=2), await api.course(lessons=4)
    await api.enroll(learner, first_created)
    await api.enroll(learner, second_created)
    # The first-created enrollment is the newer one: order must follow enrolledAt, not ids.
    async with api.db.write() as conn:
        await conn.execute(
            update(Enrollment)
            .where(Enrollment.course_id == first_created.pk)
            .values(enrolled_at=datetime.now(UTC) + timedelta(days=1))
        )
    await record(api, learner, first_created.lesson_pks[0], completed=True)

    data = await api.data(ME_WITH_ENROLLMENTS, key=learner.key)

    assert data["me"]["id"] == learner.id
    enrollments = data["me"]["enrollments"]
    assert [e["course"]["id"] for e in enrollments] == [second_created.id, first_created.id]
    older, newer = (instant(e["enrolledAt"]) for e in enrollments)
    assert older is not None
    assert newer is not None
    assert older < newer
    assert [e["status"] for e in enrollments] == ["ACTIVE", "ACTIVE"]
    assert [e["summary"] for e in enrollments] == [
        {
            "courseId": second_created.id,
            "userId": learner.id,
            "totalLessons": 4,
            "completedLessons": 0,
            "completionPercentage": 0.0,
            "isComplete": False,
        },
        {
            "courseId": first_created.id,
            "userId": learner.id,
            "totalLessons": 2,
            "completedLessons": 1,
            "completionPercentage": 50.0,
            "isComplete": False,
        },
    ]


async def test_me_of_a_user_without_enrollments_has_an_empty_list(api: Api) -> None:
    learner = await api.user()

    data = await api.data(ME_WITH_ENROLLMENTS, key=learner.key)

    assert data["me"] == {"id": learner.id, "enrollments": []}


async def test_user_is_found_by_id_by_email_and_by_external_id(api: Api) -> None:
    admin, learner = await api.admin(), await api.user()
    expected = {
        "id": learner.id,
        "email": learner.email,
        "externalId": learner.external_id,
        "name": "Test User",
        "role": "LEARNER",
    }

    by_id = await api.data(USER, {"id": learner.id}, key=admin.key)
    by_email = await api.data(USER, {"email": learner.email}, key=admin.key)
    by_external_id = await api.data(USER, {"externalId": learner.external_id}, key=admin.key)

    assert by_id == by_email == by_external_id == {"user": expected}


async def test_user_email_is_stored_lower_case_and_found_in_any_case(api: Api) -> None:
    admin = await api.admin()
    created = await api.data(CREATE_USER, {"email": "Grace.Hopper@Example.COM"}, key=admin.key)
    user_id = created["createUser"]["user"]["id"]

    for spelling in ("grace.hopper@example.com", "GRACE.HOPPER@EXAMPLE.COM", "Grace.Hopper@example.Com"):
        data = await api.data(USER, {"email": spelling}, key=admin.key)
        assert data["user"]["id"] == user_id, spelling
        assert data["user"]["email"] == "grace.hopper@example.com"


async def test_user_that_does_not_exist_is_null_for_an_admin(api: Api) -> None:
    admin = await api.admin()

    for variables in ({"id": encode_id("User", 999_999)}, {"email": "x@y.zz"}, {"externalId": "nope"}):
        assert await api.data(USER, variables, key=admin.key) == {"user": None}


async def test_user_needs_exactly_one_identifier(api: Api) -> None:
    admin = await api.admin()
    values = {"id": admin.id, "email": admin.email, "externalId": admin.external_id}
    combinations = [(), ("id", "email"), ("email", "externalId"), ("id", "externalId"), tuple(values)]

    for given in combinations:
        body = await api.gql(USER, {name: values[name] for name in given}, key=admin.key)

        assert body["data"] == {"user": None}, given
        assert error_codes(body) == ["VALIDATION_FAILED"], given
        assert body["errors"][0]["path"] == ["user"]
        problems = body["errors"][0]["extensions"]["fields"]
        assert sorted(p["path"][0] for p in problems) == ["email", "externalId", "id"]


# --- course, courses, lesson -------------------------------------------------------------------


async def test_course_is_found_by_id_and_by_slug(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=2)
    expected = {
        "id": course.id,
        "slug": course.slug,
        "title": course.slug.replace("course-", "Course "),
        "lessons": [{"id": course.lesson_ids[0], "position": 0}, {"id": course.lesson_ids[1], "position": 1}],
    }

    by_id = await api.data(COURSE, {"id": course.id}, key=learner.key)
    by_slug = await api.data(COURSE, {"slug": course.slug}, key=learner.key)

    assert by_id == by_slug == {"course": expected}


async def test_course_needs_exactly_one_of_id_and_slug(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=0)

    for variables in ({}, {"id": course.id, "slug": course.slug}):
        body = await api.gql(COURSE, variables, key=learner.key)

        assert body["data"] == {"course": None}, variables
        assert error_codes(body) == ["VALIDATION_FAILED"], variables


async def test_course_that_does_not_exist_is_null(api: Api) -> None:
    learner = await api.user()
    await api.course(lessons=0)

    by_slug = await api.data(COURSE, {"slug": "no-such-course"}, key=learner.key)
    by_id = await api.data(COURSE, {"id": encode_id("Course", 999_999)}, key=learner.key)

    assert by_slug == by_id == {"course": None}


async def test_course_id_of_another_type_is_a_validation_error(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=1)

    body = await api.gql(COURSE, {"id": course.lesson_ids[0]}, key=learner.key)

    assert body["data"] == {"course": None}
    assert error_codes(body) == ["VALIDATION_FAILED"]


async def test_courses_pages_through_every_course_in_creation_order(api: Api) -> None:
    learner = await api.user()
    created = [await api.course(lessons=0) for _ in range(5)]

    pages: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        data = await api.data(COURSES_PAGE, {"first": 2, "after": after}, key=learner.key)
        page = data["courses"]
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert len(pages) < 5, "paging does not end"

    assert [len(page["edges"]) for page in pages] == [2, 2, 1]
    assert [edge["node"]["id"] for page in pages for edge in page["edges"]] == [c.id for c in created]
    assert [edge["node"]["slug"] for page in pages for edge in page["edges"]] == [c.slug for c in created]
    for index, page in enumerate(pages):
        assert page["totalCount"] == 5
        assert page["nodes"] == [{"id": edge["node"]["id"]} for edge in page["edges"]]
        info = page["pageInfo"]
        assert info["hasPreviousPage"] is (index > 0)
        assert info["hasNextPage"] is (index < 2)
        assert info["startCursor"] == page["edges"][0]["cursor"]
        assert info["endCursor"] == page["edges"][-1]["cursor"]


async def test_courses_uses_the_default_page_size_when_first_is_omitted(api: Api) -> None:
    learner = await api.user()
    for _ in range(3):
        await api.course(lessons=0)

    data = await api.data(COURSES_PAGE, key=learner.key)

    assert len(data["courses"]["edges"]) == 3
    assert data["courses"]["pageInfo"]["hasNextPage"] is False
    assert data["courses"]["pageInfo"]["hasPreviousPage"] is False


async def test_courses_accepts_the_maximum_page_size(api: Api) -> None:
    learner = await api.user()
    await api.course(lessons=0)

    data = await api.data(COURSES_PAGE, {"first": 100}, key=learner.key)

    assert data["courses"]["totalCount"] == 1


async def test_courses_refuses_a_page_size_outside_the_limits(api: Api) -> None:
    learner = await api.user()

    for first in (101, 10_000, -1):
        body = await api.gql(COURSES_PAGE, {"first": first}, key=learner.key)

        assert body["data"] is None, first
        assert error_codes(body) == ["VALIDATION_FAILED"], first
        assert body["errors"][0]["extensions"]["fields"][0]["path"] == ["first"]


FOREIGN_CURSORS = [
    "garbage!!",
    "",
    "bm90IGEgY3Vyc29y",  # base64("not a cursor")
    encode_id("Course", 1),  # a global id is not a cursor
    "Y3Vyc29yOmFiYw==",  # base64("cursor:abc")
    "Y3Vyc29yOi0x",  # base64("cursor:-1")
    "/w==",  # base64 of a byte that is not UTF-8
]


async def test_courses_refuses_a_cursor_it_did_not_issue(api: Api) -> None:
    learner = await api.user()
    await api.course(lessons=0)

    for cursor in FOREIGN_CURSORS:
        body = await api.gql(COURSES_PAGE, {"first": 2, "after": cursor}, key=learner.key)

        assert body["data"] is None, cursor
        assert error_codes(body) == ["VALIDATION_FAILED"], cursor
        assert body["errors"][0]["extensions"]["fields"][0]["path"] == ["after"]


async def test_courses_refuses_a_forged_cursor_beyond_any_id(api: Api) -> None:
    learner = await api.user()

    body = await api.gql(COURSES_PAGE, {"first": 2, "after": encode_cursor(2**63)}, key=learner.key)

    assert error_codes(body) == ["VALIDATION_FAILED"]


async def test_lesson_is_found_by_id_with_its_course(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=2, required=[True, False])

    data = await api.data(LESSON, {"id": course.lesson_ids[1]}, key=learner.key)

    assert data["lesson"] == {
        "id": course.lesson_ids[1],
        "position": 1,
        "title": "Lesson 1",
        "kind": "VIDEO",
        "durationSeconds": 600,
        "isRequired": False,
        "course": {"id": course.id, "slug": course.slug},
    }


async def test_lesson_that_does_not_exist_is_null(api: Api) -> None:
    learner = await api.user()

    data = await api.data(LESSON, {"id": encode_id("Lesson", 999_999)}, key=learner.key)

    assert data == {"lesson": None}


# --- progress connections ------------------------------------------------------------------------


async def _two_courses_with_progress(api: Api) -> tuple[SeededUser, SeededCourse, SeededCourse]:
    learner, other = await api.user(), await api.user()
    first, second = await api.course(lessons=2), await api.course(lessons=2)
    for user in (learner, other):
        await api.enroll(user, first)
        await api.enroll(user, second)
    # Creation order: first.0, second.0, first.1 (and another learner's record in between).
    await record(api, learner, first.lesson_pks[0], time_spent_minutes=1)
    await record(api, other, first.lesson_pks[0], time_spent_minutes=1)
    await record(api, learner, second.lesson_pks[0], time_spent_minutes=1)
    await record(api, learner, first.lesson_pks[1], completed=True)
    return learner, first, second


def lesson_ids_of(connection: dict[str, Any]) -> list[str]:
    return [node["lesson"]["id"] for node in connection["nodes"]]


async def test_progress_lists_the_callers_records_in_creation_order(api: Api) -> None:
    learner, first, second = await _two_courses_with_progress(api)

    data = await api.data(PROGRESS, key=learner.key)

    connection = data["progress"]
    assert connection["totalCount"] == 3
    assert lesson_ids_of(connection) == [first.lesson_ids[0], second.lesson_ids[0], first.lesson_ids[1]]
    assert {node["user"]["id"] for node in connection["nodes"]} == {learner.id}


async def test_progress_filtered_by_course_holds_only_that_courses_records(api: Api) -> None:
    learner, first, second = await _two_courses_with_progress(api)

    in_first = await api.data(PROGRESS, {"courseId": first.id}, key=learner.key)
    in_second = await api.data(PROGRESS, {"courseId": second.id}, key=learner.key)

    assert lesson_ids_of(in_first["progress"]) == first.lesson_ids
    assert in_first["progress"]["totalCount"] == 2
    assert lesson_ids_of(in_second["progress"]) == [second.lesson_ids[0]]
    assert in_second["progress"]["totalCount"] == 1


async def test_progress_filtered_by_lesson_holds_that_one_record(api: Api) -> None:
    learner, _, second = await _two_courses_with_progress(api)

    recorded = await api.data(PROGRESS, {"lessonId": second.lesson_ids[0]}, key=learner.key)
    unrecorded = await api.data(PROGRESS, {"lessonId": second.lesson_ids[1]}, key=learner.key)

    assert lesson_ids_of(recorded["progress"]) == [second.lesson_ids[0]]
    assert recorded["progress"]["totalCount"] == 1
    assert unrecorded["progress"]["nodes"] == []
    assert unrecorded["progress"]["totalCount"] == 0


async def test_progress_pages_with_first_and_after(api: Api) -> None:
    learner, first, second = await _two_courses_with_progress(api)

    page1 = (await api.data(PROGRESS, {"first": 2}, key=learner.key))["progress"]
    page2 = (
        await api.data(PROGRESS, {"first": 2, "after": page1["pageInfo"]["endCursor"]}, key=learner.key)
    )["progress"]

    assert lesson_ids_of(page1) + lesson_ids_of(page2) == [
        first.lesson_ids[0],
        second.lesson_ids[0],
        first.lesson_ids[1],
    ]
    assert page1["pageInfo"] | {"endCursor": None} == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "endCursor": None,
    }
    assert page2["pageInfo"]["hasNextPage"] is False
    assert page2["pageInfo"]["hasPreviousPage"] is True
    assert page1["totalCount"] == page2["totalCount"] == 3


async def test_progress_filter_ids_of_the_wrong_type_are_validation_errors(api: Api) -> None:
    learner, first, _ = await _two_courses_with_progress(api)

    by_course = await api.gql(PROGRESS, {"courseId": first.lesson_ids[0]}, key=learner.key)
    by_lesson = await api.gql(PROGRESS, {"lessonId": first.id}, key=learner.key)

    assert error_codes(by_course) == error_codes(by_lesson) == ["VALIDATION_FAILED"]


async def test_user_progress_holds_the_users_records_filtered_by_course(api: Api) -> None:
    learner, first, second = await _two_courses_with_progress(api)

    everything = await api.data(MY_PROGRESS, key=learner.key)
    in_first = await api.data(MY_PROGRESS, {"courseId": first.id}, key=learner.key)

    assert everything["me"]["progress"]["totalCount"] == 3
    assert set(lesson_ids_of(everything["me"]["progress"])) == {
        first.lesson_ids[0],
        second.lesson_ids[0],
        first.lesson_ids[1],
    }
    assert in_first["me"]["progress"]["totalCount"] == 2
    assert set(lesson_ids_of(in_first["me"]["progress"])) == set(first.lesson_ids)


async def test_user_progress_lists_records_in_creation_order_whatever_their_activity(
    api: Api,
) -> None:
    learner = await api.user()
    course = await api.course(lessons=3)
    await api.enroll(learner, course)
    await record(api, learner, course.lesson_pks[0], at=T0, time_spent_minutes=1)
    await record(api, learner, course.lesson_pks[1], at=T0 + timedelta(hours=2), time_spent_minutes=1)
    await record(api, learner, course.lesson_pks[2], at=T0 + timedelta(hours=1), time_spent_minutes=1)

    data = await api.data(MY_PROGRESS, key=learner.key)

    assert lesson_ids_of(data["me"]["progress"]) == course.lesson_ids


# --- completionStatus ------------------------------------------------------------------------------


async def test_completion_status_answers_each_id_in_request_order(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=3)
    await api.enroll(learner, course)
    await record(api, learner, course.lesson_pks[0], at=T0, completed=True)
    await record(api, learner, course.lesson_pks[1], at=T0, progress_percentage=40.0)
    done, started, untouched = course.lesson_ids
    no_such_lesson = encode_id("Lesson", 999_999)
    requested = [started, done, no_such_lesson, "not-an-id", untouched, done, course.id]

    data = await api.data(COMPLETION_STATUS, {"lessonIds": requested}, key=learner.key)

    assert data["completionStatus"] == [
        {"lessonId": started, "found": True, "completed": False, "completedAt": None},
        {"lessonId": done, "found": True, "completed": True, "completedAt": T0.isoformat()},
        {"lessonId": no_such_lesson, "found": False, "completed": None, "completedAt": None},
        {"lessonId": "not-an-id", "found": False, "completed": None, "completedAt": None},
        {"lessonId": untouched, "found": True, "completed": False, "completedAt": None},
        {"lessonId": done, "found": True, "completed": True, "completedAt": T0.isoformat()},
        {"lessonId": course.id, "found": False, "completed": None, "completedAt": None},
    ]


async def test_completion_status_of_no_ids_is_empty(api: Api) -> None:
    learner = await api.user()

    data = await api.data(COMPLETION_STATUS, {"lessonIds": []}, key=learner.key)

    assert data == {"completionStatus": []}


async def test_completion_status_reports_an_id_beyond_any_lesson_as_not_found(api: Api) -> None:
    learner = await api.user()
    far_away = encode_id("Lesson", 10**17)

    body = await api.gql(COMPLETION_STATUS, {"lessonIds": [far_away]}, key=learner.key)

    assert body == {
        "data": {
            "completionStatus": [
                {"lessonId": far_away, "found": False, "completed": None, "completedAt": None}
            ]
        }
    }


async def test_completion_status_accepts_500_ids_and_refuses_501(api: Api) -> None:
    learner = await api.user()
    ids = [encode_id("Lesson", 100_000 + n) for n in range(501)]

    accepted = await api.data(COMPLETION_STATUS, {"lessonIds": ids[:500]}, key=learner.key)
    refused = await api.gql(COMPLETION_STATUS, {"lessonIds": ids}, key=learner.key)

    assert len(accepted["completionStatus"]) == 500
    assert refused["data"] is None
    assert error_codes(refused) == ["VALIDATION_FAILED"]


# --- summaries ----------------------------------------------------------------------------------------


async def test_course_summary_percentage_is_rounded_to_two_decimals(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=3)
    await api.enroll(learner, course)

    await record(api, learner, course.lesson_pks[0], completed=True)
    one_of_three = await summary_of(api, learner, course)
    await record(api, learner, course.lesson_pks[2], completed=True)
    two_of_three = await summary_of(api, learner, course)

    assert one_of_three["completionPercentage"] == 33.33
    assert one_of_three["completedRequiredLessons"] == 1
    assert one_of_three["requiredLessons"] == 3
    assert one_of_three["isComplete"] is False
    assert two_of_three["completionPercentage"] == 66.67


async def test_course_summary_ignores_optional_lessons(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=3, required=[True, True, False])
    await api.enroll(learner, course)

    await record(api, learner, course.lesson_pks[2], completed=True)
    only_optional = await summary_of(api, learner, course)
    await record(api, learner, course.lesson_pks[0], completed=True)
    await record(api, learner, course.lesson_pks[1], completed=True)
    await record(api, learner, course.lesson_pks[2], completed=False)
    all_required = await summary_of(api, learner, course)

    assert only_optional | {"lastAccessedAt": None} == {
        "courseId": course.id,
        "userId": learner.id,
        "totalLessons": 3,
        "completedLessons": 1,
        "inProgressLessons": 0,
        "requiredLessons": 2,
        "completedRequiredLessons": 0,
        "completionPercentage": 0.0,
        "totalTimeSpentMinutes": 0,
        "lastAccessedAt": None,
        "isComplete": False,
    }
    assert all_required["completionPercentage"] == 100.0
    assert all_required["isComplete"] is True
    assert all_required["completedLessons"] == 2
    assert all_required["inProgressLessons"] == 1


async def test_course_summary_counts_every_lesson_when_none_is_required(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=4, required=[False] * 4)
    await api.enroll(learner, course)

    await record(api, learner, course.lesson_pks[1], completed=True)
    one_of_four = await summary_of(api, learner, course)
    for pk in course.lesson_pks:
        await record(api, learner, pk, completed=True)
    all_four = await summary_of(api, learner, course)

    assert one_of_four["requiredLessons"] == 0
    assert one_of_four["completionPercentage"] == 25.0
    assert one_of_four["isComplete"] is False
    assert all_four["completionPercentage"] == 100.0
    assert all_four["isComplete"] is True


async def test_course_summary_of_a_course_without_lessons_is_zero_and_not_complete(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=0)
    await api.enroll(learner, course)

    summary = await summary_of(api, learner, course)

    assert summary == {
        "courseId": course.id,
        "userId": learner.id,
        "totalLessons": 0,
        "completedLessons": 0,
        "inProgressLessons": 0,
        "requiredLessons": 0,
        "completedRequiredLessons": 0,
        "completionPercentage": 0.0,
        "totalTimeSpentMinutes": 0,
        "lastAccessedAt": None,
        "isComplete": False,
    }


async def test_course_summary_sums_time_counts_in_progress_and_takes_the_latest_access(api: Api) -> None:
    learner, other = await api.user(), await api.user()
    course, elsewhere = await api.course(lessons=4), await api.course(lessons=1)
    for user, target in ((learner, course), (learner, elsewhere), (other, course)):
        await api.enroll(user, target)
    latest = T0 + timedelta(days=3)
    # Written in this order; the latest access is the first write, not the last one.
    await record(api, learner, course.lesson_pks[0], at=latest, completed=True, time_spent_minutes=10)
    await record(api, learner, course.lesson_pks[1], at=T0, time_spent_minutes=25)
    await record(api, learner, course.lesson_pks[2], at=T0 + timedelta(days=1), progress_percentage=5.0)
    # Neither another course's nor another learner's records count.
    await record(api, learner, elsewhere.lesson_pks[0], at=T0 + timedelta(days=9), time_spent_minutes=99)
    await record(api, other, course.lesson_pks[3], at=T0 + timedelta(days=9), time_spent_minutes=99)

    summary = await summary_of(api, learner, course)

    assert summary["totalTimeSpentMinutes"] == 35
    assert summary["completedLessons"] == 1
    assert summary["inProgressLessons"] == 2
    assert instant(summary["lastAccessedAt"]) == latest
    assert summary["completionPercentage"] == 25.0


async def test_course_summary_of_an_unknown_course_is_null(api: Api) -> None:
    learner = await api.user()

    data = await api.data(COURSE_SUMMARY, {"courseId": encode_id("Course", 999_999)}, key=learner.key)

    assert data == {"courseSummary": None}


async def test_course_page_of_a_user_with_nothing_recorded_shows_zeros_and_no_enrollment(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=3, required=[True, True, False])

    data = await api.data(COURSE_PAGE, {"slug": course.slug}, key=learner.key)

    assert data["course"] == {
        "summary": {
            "courseId": course.id,
            "userId": learner.id,
            "totalLessons": 3,
            "completedLessons": 0,
            "inProgressLessons": 0,
            "requiredLessons": 2,
            "completedRequiredLessons": 0,
            "completionPercentage": 0.0,
            "totalTimeSpentMinutes": 0,
            "lastAccessedAt": None,
            "isComplete": False,
        },
        "enrollment": None,
    }
