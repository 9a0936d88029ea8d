"""Admin writes to the catalog: users, courses, lessons, enrollments; errors as data, nothing half-written."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gql_progress.domain.ids import encode_id
from tests.support import Api, SeededUser

USER_FIELDS = "id externalId email name role"
COURSE_FIELDS = (
    "id slug productId title description expectedCompletionDays requiresSequentialProgress "
    "certificateEnabled createdAt updatedAt lessons { id }"
)
LESSON_FIELDS = "id position title kind durationSeconds isRequired course { id }"
ERROR_FIELDS = """
    __typename
    ... on Error { code message }
    ... on ValidationError { fields { path message } }
    ... on ConflictError { path }
"""

CREATE_USER = f"""
mutation($input: CreateUserInput!) {{
  createUser(input: $input) {{ {ERROR_FIELDS} ... on UserPayload {{ user {{ {USER_FIELDS} }} }} }}
}}
"""
UPDATE_USER = f"""
mutation($input: UpdateUserInput!) {{
  updateUser(input: $input) {{ {ERROR_FIELDS} ... on UserPayload {{ user {{ {USER_FIELDS} }} }} }}
}}
"""
CREATE_COURSE = f"""
mutation($input: CreateCourseInput!) {{
  createCourse(input: $input) {{ {ERROR_FIELDS} ... on CoursePayload {{ course {{ {COURSE_FIELDS} }} }} }}
}}
"""
UPDATE_COURSE = f"""
mutation($input: UpdateCourseInput!) {{
  updateCourse(input: $input) {{ {ERROR_FIELDS} ... on CoursePayload {{ course {{ {COURSE_FIELDS} }} }} }}
}}
"""
ADD_LESSON = f"""
mutation($input: AddLessonInput!) {{
  addLesson(input: $input) {{ {ERROR_FIELDS} ... on LessonPayload {{ lesson {{ {LESSON_FIELDS} }} }} }}
}}
"""
UPDATE_LESSON = f"""
mutation($input: UpdateLessonInput!) {{
  updateLesson(input: $input) {{ {ERROR_FIELDS} ... on LessonPayload {{ lesson {{ {LESSON_FIELDS} }} }} }}
}}
"""
ENROLL = """
mutation($courseId: ID!, $userId: ID!) {
  enroll(courseId: $courseId, userId: $userId) {
    __typename
    ... on Error { code message }
    ... on ValidationError { fields { path message } }
    ... on EnrollPayload { created enrollment { id enrolledAt status completedAt user { id } course { id } } }
  }
}
"""

USER_BY_ID = f"query($id: ID!) {{ user(id: $id) {{ {USER_FIELDS} }} }}"
USER_BY_EMAIL = f"query($email: String!) {{ user(email: $email) {{ {USER_FIELDS} }} }}"
USER_BY_EXTERNAL_ID = f"query($externalId: String!) {{ user(externalId: $externalId) {{ {USER_FIELDS} }} }}"
COURSE_BY_ID = f"query($id: ID!) {{ course(id: $id) {{ {COURSE_FIELDS} }} }}"
COURSE_BY_SLUG = f"query($slug: String!) {{ course(slug: $slug) {{ {COURSE_FIELDS} }} }}"
ALL_COURSES = "{ courses(first: 100) { totalCount nodes { slug productId } } }"
LESSONS_OF = f"query($id: ID!) {{ course(id: $id) {{ lessons {{ {LESSON_FIELDS} }} }} }}"
LESSON_BY_ID = f"query($id: ID!) {{ lesson(id: $id) {{ {LESSON_FIELDS} }} }}"
ENROLLMENTS_OF = "query($id: ID!) { user(id: $id) { enrollments { id course { id } } } }"

MISSING_USER = encode_id("User", 999_999)
MISSING_COURSE = encode_id("Course", 999_999)
MISSING_LESSON = encode_id("Lesson", 999_999)


async def mutate(api: Api, admin: SeededUser, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run a mutation and return its one result object."""
    data = await api.data(document, variables, key=admin.key)
    [result] = data.values()
    assert isinstance(result, dict)
    return result


def field_paths(result: dict[str, Any]) -> list[list[str]]:
    assert result["__typename"] == "ValidationError", result
    assert result["code"] == "VALIDATION_FAILED"
    return sorted(field["path"] for field in result["fields"])


def assert_conflict(result: dict[str, Any], path: list[str]) -> None:
    assert result["__typename"] == "ConflictError", result
    assert result["code"] == "CONFLICT"
    assert result["path"] == path
    assert result["message"]


def assert_not_found(result: dict[str, Any]) -> None:
    assert result["__typename"] == "NotFoundError", result
    assert result["code"] == "NOT_FOUND"
    assert result["message"]


# --- users ----------------------------------------------------------------------------------------


async def test_create_user_defaults_to_learner_and_lower_cases_the_email(api: Api) -> None:
    admin = await api.admin()

    result = await mutate(
        api, admin, CREATE_USER, {"input": {"externalId": "ada-1", "email": "Ada@Example.COM", "name": "Ada"}}
    )

    assert result["__typename"] == "UserPayload"
    user = result["user"]
    assert user | {"id": None} == {
        "id": None,
        "externalId": "ada-1",
        "email": "ada@example.com",
        "name": "Ada",
        "role": "LEARNER",
    }
    found = await api.data(USER_BY_EXTERNAL_ID, {"externalId": "ada-1"}, key=admin.key)
    assert found["user"] == user


async def test_create_user_with_an_explicit_role(api: Api) -> None:
    admin = await api.admin()

    result = await mutate(
        api,
        admin,
        CREATE_USER,
        {"input": {"externalId": "ins-1", "email": "ins@example.com", "name": "Ins", "role": "INSTRUCTOR"}},
    )

    assert result["user"]["role"] == "INSTRUCTOR"


async def test_create_user_with_an_email_taken_in_another_case_is_a_conflict(api: Api) -> None:
    admin = await api.admin()
    existing = await api.user()

    result = await mutate(
        api,
        admin,
        CREATE_USER,
        {"input": {"externalId": "fresh-ext", "email": existing.email.upper(), "name": "Copy"}},
    )

    assert_conflict(result, ["input", "email"])
    check = await api.data(USER_BY_EXTERNAL_ID, {"externalId": "fresh-ext"}, key=admin.key)
    assert check["user"] is None


async def test_create_user_with_a_taken_external_id_is_a_conflict(api: Api) -> None:
    admin = await api.admin()
    existing = await api.user()

    result = await mutate(
        api,
        admin,
        CREATE_USER,
        {"input": {"externalId": existing.external_id, "email": "fresh@example.com", "name": "Copy"}},
    )

    assert_conflict(result, ["input", "externalId"])
    check = await api.data(USER_BY_EMAIL, {"email": "fresh@example.com"}, key=admin.key)
    assert check["user"] is None


async def test_create_user_lists_every_bad_field(api: Api) -> None:
    admin = await api.admin()

    result = await mutate(
        api, admin, CREATE_USER, {"input": {"externalId": "   ", "email": "not-an-email", "name": ""}}
    )

    assert field_paths(result) == [["input", "email"], ["input", "externalId"], ["input", "name"]]
    assert all(field["message"] for field in result["fields"])
    check = await api.data(USER_BY_EMAIL, {"email": "not-an-email"}, key=admin.key)
    assert check["user"] is None


async def test_create_user_refuses_a_malformed_email(api: Api) -> None:
    admin = await api.admin()

    for n, email in enumerate(["no-at-sign", "two@@example.com", "spaces in@example.com", "a@b", ""]):
        result = await mutate(
            api, admin, CREATE_USER, {"input": {"externalId": f"e-{n}", "email": email, "name": "E"}}
        )

        assert field_paths(result) == [["input", "email"]], email
        check = await api.data(USER_BY_EXTERNAL_ID, {"externalId": f"e-{n}"}, key=admin.key)
        assert check["user"] is None, email


async def test_update_user_changes_only_the_fields_sent(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()

    renamed = await mutate(api, admin, UPDATE_USER, {"input": {"id": learner.id, "name": "Renamed"}})
    promoted = await mutate(
        api,
        admin,
        UPDATE_USER,
        {"input": {"id": learner.id, "role": "INSTRUCTOR", "email": "New@Example.com"}},
    )

    assert renamed["user"] == {
        "id": learner.id,
        "externalId": learner.external_id,
        "email": learner.email,
        "name": "Renamed",
        "role": "LEARNER",
    }
    expected = {
        "id": learner.id,
        "externalId": learner.external_id,
        "email": "new@example.com",
        "name": "Renamed",
        "role": "INSTRUCTOR",
    }
    assert promoted["user"] == expected
    assert (await api.data(USER_BY_ID, {"id": learner.id}, key=admin.key))["user"] == expected


async def test_update_user_to_another_users_email_is_a_conflict_and_changes_nothing(api: Api) -> None:
    admin = await api.admin()
    learner, other = await api.user(), await api.user()

    result = await mutate(
        api, admin, UPDATE_USER, {"input": {"id": learner.id, "email": other.email.upper(), "name": "X"}}
    )

    assert_conflict(result, ["input", "email"])
    check = await api.data(USER_BY_ID, {"id": learner.id}, key=admin.key)
    assert check["user"]["email"] == learner.email
    assert check["user"]["name"] == "Test User"


async def test_update_user_keeping_their_own_email_is_not_a_conflict(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()

    result = await mutate(
        api, admin, UPDATE_USER, {"input": {"id": learner.id, "email": learner.email.upper()}}
    )

    assert result["__typename"] == "UserPayload"
    assert result["user"]["email"] == learner.email


async def test_update_user_with_empty_name_is_a_validation_error(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()

    result = await mutate(
        api, admin, UPDATE_USER, {"input": {"id": learner.id, "name": " ", "role": "ADMIN"}}
    )

    assert field_paths(result) == [["input", "name"]]
    check = await api.data(USER_BY_ID, {"id": learner.id}, key=admin.key)
    assert check["user"]["role"] == "LEARNER"


async def test_update_user_of_an_unknown_id_is_not_found(api: Api) -> None:
    admin = await api.admin()

    result = await mutate(api, admin, UPDATE_USER, {"input": {"id": MISSING_USER, "name": "Ghost"}})

    assert_not_found(result)


# --- courses --------------------------------------------------------------------------------------


async def test_create_course_applies_the_defaults(api: Api) -> None:
    admin = await api.admin()

    result = await mutate(
        api, admin, CREATE_COURSE, {"input": {"slug": "intro-to-sql", "title": "Intro to SQL"}}
    )

    assert result["__typename"] == "CoursePayload"
    course = result["course"]
    assert course | {"id": None, "createdAt": None, "updatedAt": None} == {
        "id": None,
        "slug": "intro-to-sql",
        "productId": None,
        "title": "Intro to SQL",
        "description": "",
        "expectedCompletionDays": None,
        "requiresSequentialProgress": False,
        "certificateEnabled": False,
        "createdAt": None,
        "updatedAt": None,
        "lessons": [],
    }
    assert (await api.data(COURSE_BY_SLUG, {"slug": "intro-to-sql"}, key=admin.key))["course"] == course


async def test_create_course_with_every_field(api: Api) -> None:
    admin = await api.admin()
    values = {
        "slug": "git-2",
        "title": "Git",
        "productId": "prod-git",
        "description": "Branches and all",
        "expectedCompletionDays": 14,
        "requiresSequentialProgress": True,
        "certificateEnabled": True,
    }

    result = await mutate(api, admin, CREATE_COURSE, {"input": values})

    assert {k: result["course"][k] for k in values} == values


async def test_create_course_refuses_a_bad_slug(api: Api) -> None:
    admin = await api.admin()

    for slug in ["Not A Slug", "UPPER", "trailing-", "-leading", "double--hyphen", "under_score", ""]:
        result = await mutate(api, admin, CREATE_COURSE, {"input": {"slug": slug, "title": "T"}})

        assert field_paths(result) == [["input", "slug"]], slug
    assert (await api.data(ALL_COURSES, key=admin.key))["courses"]["totalCount"] == 0


async def test_create_course_lists_every_bad_field(api: Api) -> None:
    admin = await api.admin()

    result = await mutate(
        api,
        admin,
        CREATE_COURSE,
        {"input": {"slug": "Bad Slug", "title": " ", "productId": "", "expectedCompletionDays": 0}},
    )

    assert field_paths(result) == [
        ["input", "expectedCompletionDays"],
        ["input", "productId"],
        ["input", "slug"],
        ["input", "title"],
    ]


async def test_create_course_with_a_taken_slug_is_a_conflict(api: Api) -> None:
    admin = await api.admin()
    existing = await api.course(lessons=0)

    result = await mutate(api, admin, CREATE_COURSE, {"input": {"slug": existing.slug, "title": "Copy"}})

    assert_conflict(result, ["input", "slug"])
    courses = await api.data(ALL_COURSES, key=admin.key)
    assert courses["courses"]["totalCount"] == 1


async def test_create_course_with_a_taken_product_id_is_a_conflict(api: Api) -> None:
    admin = await api.admin()
    await api.course(lessons=0, product_id="prod-1")

    result = await mutate(
        api, admin, CREATE_COURSE, {"input": {"slug": "another", "title": "Another", "productId": "prod-1"}}
    )

    assert_conflict(result, ["input", "productId"])
    assert (await api.data(COURSE_BY_SLUG, {"slug": "another"}, key=admin.key))["course"] is None


async def test_courses_without_product_id_do_not_conflict(api: Api) -> None:
    admin = await api.admin()

    for slug in ("one", "two"):
        result = await mutate(api, admin, CREATE_COURSE, {"input": {"slug": slug, "title": slug}})
        assert result["__typename"] == "CoursePayload"

    courses = await api.data(ALL_COURSES, key=admin.key)
    assert courses["courses"]["nodes"] == [
        {"slug": "one", "productId": None},
        {"slug": "two", "productId": None},
    ]


async def test_update_course_changes_only_the_fields_sent_and_null_clears_product_id(api: Api) -> None:
    admin = await api.admin()
    created = await mutate(
        api,
        admin,
        CREATE_COURSE,
        {
            "input": {
                "slug": "orig",
                "title": "Original",
                "productId": "prod-9",
                "description": "About",
                "expectedCompletionDays": 30,
            }
        },
    )
    course = created["course"]

    retitled = await mutate(api, admin, UPDATE_COURSE, {"input": {"id": course["id"], "title": "Retitled"}})
    cleared = await mutate(
        api,
        admin,
        UPDATE_COURSE,
        {"input": {"id": course["id"], "productId": None, "expectedCompletionDays": None, "slug": "renamed"}},
    )

    unchanged = ("id", "slug", "productId", "description", "expectedCompletionDays", "createdAt")
    assert {k: retitled["course"][k] for k in unchanged} == {k: course[k] for k in unchanged}
    assert retitled["course"]["title"] == "Retitled"
    assert datetime.fromisoformat(retitled["course"]["updatedAt"]) >= datetime.fromisoformat(
        course["updatedAt"]
    )
    assert cleared["course"] | {"updatedAt": None} == retitled["course"] | {
        "slug": "renamed",
        "productId": None,
        "expectedCompletionDays": None,
        "updatedAt": None,
    }
    stored = await api.data(COURSE_BY_ID, {"id": course["id"]}, key=admin.key)
    assert stored["course"] == cleared["course"]
    # The cleared product id is free again.
    reused = await mutate(
        api, admin, CREATE_COURSE, {"input": {"slug": "reuse", "title": "Reuse", "productId": "prod-9"}}
    )
    assert reused["__typename"] == "CoursePayload"


async def test_update_course_to_a_taken_slug_or_product_id_is_a_conflict(api: Api) -> None:
    admin = await api.admin()
    await api.course(lessons=0, product_id="taken-product")
    target = await api.course(lessons=0, product_id="own-product")
    taken_slug = (await api.data(ALL_COURSES, key=admin.key))["courses"]["nodes"][0]["slug"]
    before = (await api.data(COURSE_BY_ID, {"id": target.id}, key=admin.key))["course"]

    by_slug = await mutate(
        api, admin, UPDATE_COURSE, {"input": {"id": target.id, "slug": taken_slug, "title": "X"}}
    )
    by_product = await mutate(
        api, admin, UPDATE_COURSE, {"input": {"id": target.id, "productId": "taken-product", "title": "X"}}
    )
    own_values = await mutate(
        api,
        admin,
        UPDATE_COURSE,
        {"input": {"id": target.id, "slug": target.slug, "productId": "own-product"}},
    )

    assert_conflict(by_slug, ["input", "slug"])
    assert_conflict(by_product, ["input", "productId"])
    assert own_values["__typename"] == "CoursePayload"
    after = (await api.data(COURSE_BY_ID, {"id": target.id}, key=admin.key))["course"]
    assert after | {"updatedAt": None} == before | {"updatedAt": None}


async def test_update_course_with_a_bad_slug_is_a_validation_error(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=0)

    result = await mutate(api, admin, UPDATE_COURSE, {"input": {"id": course.id, "slug": "Not A Slug"}})

    assert field_paths(result) == [["input", "slug"]]
    assert (await api.data(COURSE_BY_SLUG, {"slug": course.slug}, key=admin.key))["course"] is not None


async def test_update_course_of_an_unknown_id_is_not_found(api: Api) -> None:
    admin = await api.admin()

    result = await mutate(api, admin, UPDATE_COURSE, {"input": {"id": MISSING_COURSE, "title": "Ghost"}})

    assert_not_found(result)


# --- lessons --------------------------------------------------------------------------------------


async def test_add_lesson_appends_after_the_last_position_by_default(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)

    appended = await mutate(
        api, admin, ADD_LESSON, {"input": {"courseId": course.id, "title": "Third", "kind": "QUIZ"}}
    )
    placed = await mutate(
        api,
        admin,
        ADD_LESSON,
        {"input": {"courseId": course.id, "title": "Far", "kind": "ARTICLE", "position": 10}},
    )
    after_gap = await mutate(
        api, admin, ADD_LESSON, {"input": {"courseId": course.id, "title": "Next", "kind": "OTHER"}}
    )

    assert appended["lesson"] | {"id": None} == {
        "id": None,
        "position": 2,
        "title": "Third",
        "kind": "QUIZ",
        "durationSeconds": None,
        "isRequired": True,
        "course": {"id": course.id},
    }
    assert placed["lesson"]["position"] == 10
    assert after_gap["lesson"]["position"] == 11
    lessons = (await api.data(LESSONS_OF, {"id": course.id}, key=admin.key))["course"]["lessons"]
    assert [(lesson["position"], lesson["title"]) for lesson in lessons] == [
        (0, "Lesson 0"),
        (1, "Lesson 1"),
        (2, "Third"),
        (10, "Far"),
        (11, "Next"),
    ]


async def test_add_lesson_to_an_empty_course_starts_at_position_zero(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=0)

    result = await mutate(
        api,
        admin,
        ADD_LESSON,
        {
            "input": {
                "courseId": course.id,
                "title": "First",
                "kind": "VIDEO",
                "durationSeconds": 90,
                "isRequired": False,
            }
        },
    )

    assert result["lesson"]["position"] == 0
    assert result["lesson"]["durationSeconds"] == 90
    assert result["lesson"]["isRequired"] is False


async def test_add_lesson_at_a_taken_position_is_a_conflict(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)

    result = await mutate(
        api,
        admin,
        ADD_LESSON,
        {"input": {"courseId": course.id, "title": "Clash", "kind": "VIDEO", "position": 1}},
    )

    assert_conflict(result, ["input", "position"])
    lessons = (await api.data(LESSONS_OF, {"id": course.id}, key=admin.key))["course"]["lessons"]
    assert [lesson["id"] for lesson in lessons] == course.lesson_ids


async def test_add_lesson_to_an_unknown_course_is_not_found(api: Api) -> None:
    admin = await api.admin()

    result = await mutate(
        api, admin, ADD_LESSON, {"input": {"courseId": MISSING_COURSE, "title": "Lost", "kind": "VIDEO"}}
    )

    assert_not_found(result)


BAD_LESSON_VALUES: list[tuple[dict[str, Any], list[list[str]]]] = [
    ({"durationSeconds": -1}, [["input", "durationSeconds"]]),
    ({"position": -1}, [["input", "position"]]),
    ({"title": "  ", "durationSeconds": -5}, [["input", "durationSeconds"], ["input", "title"]]),
]


async def test_add_lesson_refuses_bad_values(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=1)

    for values, paths in BAD_LESSON_VALUES:
        result = await mutate(
            api,
            admin,
            ADD_LESSON,
            {"input": {"courseId": course.id, "title": "T", "kind": "VIDEO", **values}},
        )

        assert field_paths(result) == paths, values
    lessons = (await api.data(LESSONS_OF, {"id": course.id}, key=admin.key))["course"]["lessons"]
    assert len(lessons) == 1


async def test_update_lesson_changes_only_the_fields_sent_and_null_clears_duration(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)
    lesson_id = course.lesson_ids[1]

    retitled = await mutate(api, admin, UPDATE_LESSON, {"input": {"id": lesson_id, "title": "Renamed"}})
    changed = await mutate(
        api,
        admin,
        UPDATE_LESSON,
        {
            "input": {
                "id": lesson_id,
                "kind": "QUIZ",
                "durationSeconds": None,
                "isRequired": False,
                "position": 7,
            }
        },
    )

    assert retitled["lesson"] == {
        "id": lesson_id,
        "position": 1,
        "title": "Renamed",
        "kind": "VIDEO",
        "durationSeconds": 600,
        "isRequired": True,
        "course": {"id": course.id},
    }
    expected = {
        "id": lesson_id,
        "position": 7,
        "title": "Renamed",
        "kind": "QUIZ",
        "durationSeconds": None,
        "isRequired": False,
        "course": {"id": course.id},
    }
    assert changed["lesson"] == expected
    assert (await api.data(LESSON_BY_ID, {"id": lesson_id}, key=admin.key))["lesson"] == expected
    untouched = await api.data(LESSON_BY_ID, {"id": course.lesson_ids[0]}, key=admin.key)
    assert untouched["lesson"]["title"] == "Lesson 0"


async def test_update_lesson_to_a_taken_position_is_a_conflict_but_its_own_position_is_fine(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=2)

    clash = await mutate(
        api, admin, UPDATE_LESSON, {"input": {"id": course.lesson_ids[1], "position": 0, "title": "X"}}
    )
    same = await mutate(api, admin, UPDATE_LESSON, {"input": {"id": course.lesson_ids[1], "position": 1}})

    assert_conflict(clash, ["input", "position"])
    assert same["__typename"] == "LessonPayload"
    stored = await api.data(LESSON_BY_ID, {"id": course.lesson_ids[1]}, key=admin.key)
    assert (stored["lesson"]["position"], stored["lesson"]["title"]) == (1, "Lesson 1")


async def test_update_lesson_refuses_bad_values_and_unknown_ids(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=1)

    invalid = await mutate(
        api, admin, UPDATE_LESSON, {"input": {"id": course.lesson_ids[0], "durationSeconds": -1, "title": ""}}
    )
    missing = await mutate(api, admin, UPDATE_LESSON, {"input": {"id": MISSING_LESSON, "title": "Ghost"}})
    missing_moved = await mutate(api, admin, UPDATE_LESSON, {"input": {"id": MISSING_LESSON, "position": 3}})

    assert field_paths(invalid) == [["input", "durationSeconds"], ["input", "title"]]
    assert_not_found(missing)
    assert_not_found(missing_moved)
    stored = await api.data(LESSON_BY_ID, {"id": course.lesson_ids[0]}, key=admin.key)
    assert (stored["lesson"]["title"], stored["lesson"]["durationSeconds"]) == ("Lesson 0", 600)


async def test_fields_sent_as_null_or_blank_are_named_with_why(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=1)
    learner = await api.user()

    def problems(result: dict[str, Any]) -> list[tuple[list[str], str]]:
        assert result["__typename"] == "ValidationError", result
        return sorted((field["path"], field["message"]) for field in result["fields"])

    course_input = {"id": course.id, "description": None, "certificateEnabled": None, "productId": " "}
    lesson_input = {"id": course.lesson_ids[0], "kind": None, "isRequired": None, "externalId": " "}
    user_input = {"id": learner.id, "role": None}

    assert problems(await mutate(api, admin, UPDATE_COURSE, {"input": course_input})) == [
        (["input", "certificateEnabled"], "must not be null"),
        (["input", "description"], "must not be null"),
        (["input", "productId"], "must not be empty (send null for none)"),
    ]
    assert problems(await mutate(api, admin, UPDATE_LESSON, {"input": lesson_input})) == [
        (["input", "externalId"], "must not be empty (send null for none)"),
        (["input", "isRequired"], "must not be null"),
        (["input", "kind"], "must not be null"),
    ]
    assert problems(await mutate(api, admin, UPDATE_USER, {"input": user_input})) == [
        (["input", "role"], "must not be null")
    ]


# --- enrollments ----------------------------------------------------------------------------------


async def test_enroll_creates_once_then_returns_the_same_enrollment(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await api.course(lessons=1)
    variables = {"courseId": course.id, "userId": learner.id}

    first = await mutate(api, admin, ENROLL, variables)
    again = await mutate(api, admin, ENROLL, variables)

    assert first["__typename"] == "EnrollPayload"
    assert first["created"] is True
    enrollment = first["enrollment"]
    assert enrollment | {"id": None, "enrolledAt": None} == {
        "id": None,
        "enrolledAt": None,
        "status": "ACTIVE",
        "completedAt": None,
        "user": {"id": learner.id},
        "course": {"id": course.id},
    }
    assert again["created"] is False
    assert again["enrollment"] == enrollment
    listed = await api.data(ENROLLMENTS_OF, {"id": learner.id}, key=admin.key)
    assert listed["user"]["enrollments"] == [{"id": enrollment["id"], "course": {"id": course.id}}]


async def test_enroll_of_an_unknown_user_or_course_is_not_found_and_writes_nothing(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await api.course(lessons=1)

    no_user = await mutate(api, admin, ENROLL, {"courseId": course.id, "userId": MISSING_USER})
    no_course = await mutate(api, admin, ENROLL, {"courseId": MISSING_COURSE, "userId": learner.id})

    assert_not_found(no_user)
    assert_not_found(no_course)
    listed = await api.data(ENROLLMENTS_OF, {"id": learner.id}, key=admin.key)
    assert listed["user"]["enrollments"] == []


async def test_enroll_with_ids_of_the_wrong_type_is_a_validation_error(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await api.course(lessons=1)

    result = await mutate(api, admin, ENROLL, {"courseId": learner.id, "userId": course.id})

    assert result["__typename"] == "ValidationError"
    assert result["fields"][0]["path"] == ["courseId"]
    listed = await api.data(ENROLLMENTS_OF, {"id": learner.id}, key=admin.key)
    assert listed["user"]["enrollments"] == []
