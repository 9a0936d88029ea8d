"""Lessons named by the platform's own id (issue 18, part 2): Lesson.externalId, set by the catalog
mutations, accepted wherever a lesson is taken beside the deprecated lessonId arguments."""

from __future__ import annotations

from typing import Any

from gql_progress.domain.ids import encode_id
from tests.support import Api, SeededCourse, SeededUser

ERRORS = """
    __typename
    ... on Error { code message }
    ... on ValidationError { fields { path message } }
"""
CATALOG_ERRORS = ERRORS + "... on ConflictError { path }"
ADD_LESSON = f"""
mutation($input: AddLessonInput!) {{
  addLesson(input: $input) {{ {CATALOG_ERRORS} ... on LessonPayload {{ lesson {{ id externalId title }} }} }}
}}
"""
UPDATE_LESSON = f"""
mutation($input: UpdateLessonInput!) {{
  updateLesson(input: $input) {{ {CATALOG_ERRORS} ... on LessonPayload {{ lesson {{ id externalId }} }} }}
}}
"""
UPSERT = f"""
mutation($input: UpsertProgressInput!) {{
  upsertProgress(input: $input) {{
    {ERRORS}
    ... on UpsertProgressSuccess {{ progress {{ completed lesson {{ id externalId }} }} }}
  }}
}}
"""
BULK = f"""
mutation($input: BulkSetCompletionInput!) {{
  bulkSetCompletion(input: $input) {{
    {ERRORS}
    ... on BulkSetCompletionSuccess {{
      succeeded failed results {{ lessonId externalId success error {{ code }} }}
    }}
  }}
}}
"""
STATUS = """
query($ids: [ID!], $lessons: [LessonRefInput!]) {
  completionStatus(lessonIds: $ids, lessons: $lessons) { lessonId externalId found completed }
}
"""
LESSON = """
query($id: ID, $externalId: String) { lesson(id: $id, externalId: $externalId) { id externalId title } }
"""
COURSE_BY_PRODUCT = "query($p: String) { course(productId: $p) { slug productId } }"


async def _course(api: Api, admin: SeededUser, external_ids: list[str]) -> SeededCourse:
    course = await api.course(lessons=len(external_ids))
    for pk, external_id in zip(course.lesson_pks, external_ids, strict=True):
        data = await api.data(
            UPDATE_LESSON,
            {"input": {"id": encode_id("Lesson", pk), "externalId": external_id}},
            key=admin.key,
        )
        assert data["updateLesson"]["lesson"]["externalId"] == external_id
    return course


async def test_add_lesson_sets_the_external_id_and_a_second_lesson_cannot_take_it(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=0)
    sent = {"courseId": course.id, "title": "Intro", "kind": "VIDEO", "externalId": "lms-lesson-1"}
    first = (await api.data(ADD_LESSON, {"input": sent}, key=admin.key))["addLesson"]
    assert first["lesson"]["externalId"] == "lms-lesson-1"

    again = (await api.data(ADD_LESSON, {"input": {**sent, "title": "Twin"}}, key=admin.key))["addLesson"]

    assert again["__typename"] == "ConflictError"
    assert again["path"] == ["input", "externalId"]
    lessons = await api.data(
        "query($id: ID!) { course(id: $id) { lessons { title } } }", {"id": course.id}, key=admin.key
    )
    assert [lesson["title"] for lesson in lessons["course"]["lessons"]] == ["Intro"]


async def test_update_lesson_changes_clears_and_refuses_an_empty_external_id(api: Api) -> None:
    admin = await api.admin()
    course = await _course(api, admin, ["a-1"])
    lesson_id = course.lesson_ids[0]

    empty = await api.data(UPDATE_LESSON, {"input": {"id": lesson_id, "externalId": " "}}, key=admin.key)
    cleared = await api.data(UPDATE_LESSON, {"input": {"id": lesson_id, "externalId": None}}, key=admin.key)

    assert empty["updateLesson"]["__typename"] == "ValidationError"
    assert empty["updateLesson"]["fields"][0]["path"] == ["input", "externalId"]
    assert cleared["updateLesson"]["lesson"] == {"id": lesson_id, "externalId": None}
    # A lesson without an external id is no longer found by the old one.
    assert (await api.data(LESSON, {"externalId": "a-1"}, key=admin.key))["lesson"] is None


async def test_lesson_query_finds_a_lesson_by_external_id_and_course_by_product_id(api: Api) -> None:
    admin = await api.admin()
    course = await _course(api, admin, ["x-1", "x-2"])
    await api.data(
        "mutation($i: UpdateCourseInput!) { updateCourse(input: $i) { __typename } }",
        {"i": {"id": course.id, "productId": "prod-9"}},
        key=admin.key,
    )

    by_external = await api.data(LESSON, {"externalId": "x-2"}, key=admin.key)
    unknown = await api.data(LESSON, {"externalId": "nope"}, key=admin.key)
    both = await api.gql(LESSON, {"id": course.lesson_ids[0], "externalId": "x-1"}, key=admin.key)
    by_product = await api.data(COURSE_BY_PRODUCT, {"p": "prod-9"}, key=admin.key)

    assert by_external["lesson"] == {"id": course.lesson_ids[1], "externalId": "x-2", "title": "Lesson 1"}
    # The course page reads it too (a document the compiled read path answers).
    page = await api.data(
        "query($slug: String!) { course(slug: $slug) { lessons { externalId } } }",
        {"slug": course.slug},
        key=admin.key,
    )
    assert page["course"]["lessons"] == [{"externalId": "x-1"}, {"externalId": "x-2"}]
    assert unknown["lesson"] is None
    assert both["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    assert by_product["course"] == {"slug": course.slug, "productId": "prod-9"}


async def test_upsert_progress_takes_a_lesson_ref_and_still_takes_lesson_id(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await _course(api, admin, ["u-1", "u-2"])
    await api.enroll(learner, course)

    by_ref = await api.data(
        UPSERT, {"input": {"lesson": {"externalId": "u-1"}, "completed": True}}, key=learner.key
    )
    by_old_id = await api.data(
        UPSERT, {"input": {"lessonId": course.lesson_ids[1], "completed": True}}, key=learner.key
    )
    by_ref_id = await api.data(
        UPSERT, {"input": {"lesson": {"id": course.lesson_ids[1]}, "completed": False}}, key=learner.key
    )

    assert by_ref["upsertProgress"]["progress"] == {
        "completed": True,
        "lesson": {"id": course.lesson_ids[0], "externalId": "u-1"},
    }
    assert by_old_id["upsertProgress"]["progress"]["completed"] is True
    assert by_ref_id["upsertProgress"]["progress"]["completed"] is False


async def test_upsert_progress_unknown_external_id_is_the_not_found_of_an_unknown_id(api: Api) -> None:
    learner = await api.user()
    unknown_ref = await api.data(
        UPSERT, {"input": {"lesson": {"externalId": "missing"}, "completed": True}}, key=learner.key
    )
    unknown_id = await api.data(
        UPSERT, {"input": {"lessonId": encode_id("Lesson", 999_999), "completed": True}}, key=learner.key
    )

    assert unknown_ref["upsertProgress"] == unknown_id["upsertProgress"]
    assert unknown_ref["upsertProgress"]["__typename"] == "NotFoundError"


async def test_upsert_progress_needs_exactly_one_of_lesson_id_and_lesson(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=1)

    neither = await api.data(UPSERT, {"input": {"completed": True}}, key=learner.key)
    both = await api.data(
        UPSERT,
        {"input": {"lessonId": course.lesson_ids[0], "lesson": {"id": course.lesson_ids[0]}}},
        key=learner.key,
    )

    for result in (neither, both):
        assert result["upsertProgress"]["__typename"] == "ValidationError"
        paths = [f["path"] for f in result["upsertProgress"]["fields"]]
        assert paths == [["input", "lessonId"], ["input", "lesson"]]


async def test_bulk_set_completion_names_lessons_by_external_id_with_per_item_outcomes(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await _course(api, admin, ["b-1", "b-2"])
    await api.enroll(learner, course)
    lessons = [{"externalId": "b-2"}, {"externalId": "gone"}, {"id": course.lesson_ids[0]}, {"id": "bad"}]

    result = (await api.data(BULK, {"input": {"lessons": lessons, "completed": True}}, key=learner.key))[
        "bulkSetCompletion"
    ]
    old = (
        await api.data(
            BULK, {"input": {"lessonIds": [course.lesson_ids[1]], "completed": False}}, key=learner.key
        )
    )["bulkSetCompletion"]

    assert (result["succeeded"], result["failed"]) == (2, 2)
    assert result["results"] == [
        {"lessonId": course.lesson_ids[1], "externalId": "b-2", "success": True, "error": None},
        {"lessonId": "", "externalId": "gone", "success": False, "error": {"code": "NOT_FOUND"}},
        {"lessonId": course.lesson_ids[0], "externalId": None, "success": True, "error": None},
        {"lessonId": "bad", "externalId": None, "success": False, "error": {"code": "INVALID_ID"}},
    ]
    assert old["results"] == [
        {"lessonId": course.lesson_ids[1], "externalId": None, "success": True, "error": None}
    ]


async def test_completion_status_by_external_id_and_by_the_deprecated_lesson_ids(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await _course(api, admin, ["s-1", "s-2"])
    await api.enroll(learner, course)
    await api.data(UPSERT, {"input": {"lesson": {"externalId": "s-1"}, "completed": True}}, key=learner.key)

    by_ref = await api.data(
        STATUS,
        {"lessons": [{"externalId": "s-1"}, {"externalId": "s-9"}, {"id": course.lesson_ids[1]}]},
        key=learner.key,
    )
    by_id = await api.data(STATUS, {"ids": [course.lesson_ids[0]]}, key=learner.key)
    neither = await api.gql(STATUS, {}, key=learner.key)

    expected: list[dict[str, Any]] = [
        {"lessonId": course.lesson_ids[0], "externalId": "s-1", "found": True, "completed": True},
        {"lessonId": "", "externalId": "s-9", "found": False, "completed": None},
        {"lessonId": course.lesson_ids[1], "externalId": None, "found": True, "completed": False},
    ]
    assert by_ref["completionStatus"] == expected
    assert by_id["completionStatus"] == [
        {"lessonId": course.lesson_ids[0], "externalId": None, "found": True, "completed": True}
    ]
    assert neither["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"


async def test_grant_completion_takes_lessons_by_external_id(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await _course(api, admin, ["g-1"])
    await api.enroll(learner, course)

    result = await api.data(
        """mutation($input: GrantCompletionInput!) { grantCompletion(input: $input) {
             __typename ... on BulkSetCompletionSuccess { succeeded results { externalId } } } }""",
        {"input": {"userId": learner.id, "lessons": [{"externalId": "g-1"}], "reason": "migrated"}},
        key=admin.key,
    )

    assert result["grantCompletion"] == {
        "__typename": "BulkSetCompletionSuccess",
        "succeeded": 1,
        "results": [{"externalId": "g-1"}],
    }


async def test_progress_filters_by_a_lesson_ref_and_an_unknown_one_gives_an_empty_page(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await _course(api, admin, ["p-1", "p-2"])
    await api.enroll(learner, course)
    for external_id in ("p-1", "p-2"):
        await api.data(
            UPSERT, {"input": {"lesson": {"externalId": external_id}, "completed": True}}, key=learner.key
        )
    query = """query($lesson: LessonRefInput, $lessonId: ID) {
      progress(lesson: $lesson, lessonId: $lessonId) { totalCount nodes { lesson { externalId } } }
    }"""

    by_ref = await api.data(query, {"lesson": {"externalId": "p-2"}}, key=learner.key)
    unknown = await api.data(query, {"lesson": {"externalId": "nope"}}, key=learner.key)
    by_id = await api.data(query, {"lessonId": course.lesson_ids[0]}, key=learner.key)
    both = await api.gql(
        query, {"lesson": {"externalId": "p-2"}, "lessonId": course.lesson_ids[0]}, key=learner.key
    )

    assert by_ref["progress"] == {"totalCount": 1, "nodes": [{"lesson": {"externalId": "p-2"}}]}
    assert unknown["progress"] == {"totalCount": 0, "nodes": []}
    assert by_id["progress"]["nodes"] == [{"lesson": {"externalId": "p-1"}}]
    assert both["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
