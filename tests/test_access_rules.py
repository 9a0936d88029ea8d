"""Who may read and write whose data: learners only their own, admins anyone's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from gql_progress.domain.completion.upsert import upsert_progress
from gql_progress.domain.ids import encode_id
from tests.seeded_world import read_only_world_fixture
from tests.support import Api, SeededCourse, SeededUser

SECRET = "private note of learner A"
ADMIN_NOTE = "the admin's own note"

# --- documents ---------------------------------------------------------------------------------

PROGRESS = "query($userId: ID) { progress(userId: $userId) { nodes { notes } } }"
COURSE_SUMMARY = (
    "query($courseId: ID!, $userId: ID) "
    "{ courseSummary(courseId: $courseId, userId: $userId) { userId completedLessons } }"
)
COMPLETION_STATUS = (
    "query($lessonIds: [ID!]!, $userId: ID) "
    "{ completionStatus(lessonIds: $lessonIds, userId: $userId) { lessonId completed } }"
)
COURSE_FOR_USER = (
    "query($slug: String!, $userId: ID) "
    "{ course(slug: $slug, userId: $userId) { lessons { progress { notes } } } }"
)
LESSON_FOR_USER = (
    "query($lessonId: ID!, $userId: ID) { lesson(id: $lessonId, userId: $userId) { progress { notes } } }"
)
NESTED_LESSON_PROGRESS = (
    "query($lessonId: ID!, $userId: ID) "
    "{ lesson(id: $lessonId) { title progress(userId: $userId) { notes } } }"
)
NESTED_LESSON_STATUS = (
    "query($lessonId: ID!, $userId: ID) { lesson(id: $lessonId) { progressStatus(userId: $userId) } }"
)
NESTED_COURSE_SUMMARY = (
    "query($slug: String!, $userId: ID) "
    "{ course(slug: $slug) { summary(userId: $userId) { userId completedLessons } } }"
)
NESTED_COURSE_ENROLLMENT = (
    "query($slug: String!, $userId: ID) "
    "{ course(slug: $slug) { slug enrollment(userId: $userId) { status user { id } } } }"
)

USER_BY_ID = "query($id: ID!) { user(id: $id) { id email } }"
USER_BY_EMAIL = "query($email: String!) { user(email: $email) { id email } }"
USER_BY_EXTERNAL_ID = "query($externalId: String!) { user(externalId: $externalId) { id email } }"
USER_LOOKUPS = {"id": USER_BY_ID, "email": USER_BY_EMAIL, "externalId": USER_BY_EXTERNAL_ID}

ADMIN_VIEW_OF_USER = """
query($email: String!) {
  user(email: $email) {
    id
    enrollments {
      summary { userId completedLessons }
      course {
        slug
        summary { userId completedLessons }
        enrollment { user { id } }
        lessons { progressStatus progress { notes } }
      }
    }
    progress { nodes { notes lesson { progress { notes } } } }
  }
}
"""

UPSERT_PROGRESS = """
mutation($lessonId: ID!, $userId: ID, $notes: String) {
  upsertProgress(input: {lessonId: $lessonId, userId: $userId, notes: $notes}) {
    __typename
    ... on Error { code message }
    ... on UpsertProgressSuccess { progress { notes user { id } } summary { userId } }
  }
}
"""
BULK_SET_COMPLETION = """
mutation($lessonIds: [ID!]!, $userId: ID) {
  bulkSetCompletion(input: {lessonIds: $lessonIds, userId: $userId, completed: true}) {
    __typename
    ... on Error { code message }
    ... on BulkSetCompletionSuccess { succeeded failed summaries { userId completedLessons } }
  }
}
"""
LESSON_PROGRESS = "query($lessonId: ID!) { lesson(id: $lessonId) { progress { notes completed } } }"

CREATE_USER = """
mutation {
  createUser(input: {externalId: "sneaky-1", email: "sneaky@example.com", name: "Sneaky", role: ADMIN}) {
    __typename ... on Error { code message }
  }
}
"""
UPDATE_USER = """
mutation($id: ID!) {
  updateUser(input: {id: $id, name: "Renamed", role: ADMIN}) { __typename ... on Error { code message } }
}
"""
CREATE_COURSE = """
mutation {
  createCourse(input: {slug: "sneaky-course", title: "Sneaky"}) { __typename ... on Error { code message } }
}
"""
UPDATE_COURSE = """
mutation($id: ID!) {
  updateCourse(input: {id: $id, title: "Renamed", productId: "stolen"}) {
    __typename ... on Error { code message }
  }
}
"""
ADD_LESSON = """
mutation($courseId: ID!) {
  addLesson(input: {courseId: $courseId, title: "Extra", kind: VIDEO}) {
    __typename ... on Error { code message }
  }
}
"""
UPDATE_LESSON = """
mutation($id: ID!) {
  updateLesson(input: {id: $id, title: "Renamed", isRequired: false}) {
    __typename ... on Error { code message }
  }
}
"""
ENROLL = """
mutation($courseId: ID!, $userId: ID!) {
  enroll(courseId: $courseId, userId: $userId) { __typename ... on Error { code message } }
}
"""
ME = "{ me { name role } }"
USER_ROLE_BY_EMAIL = "query($email: String!) { user(email: $email) { id } }"
COURSE_DETAILS = """
query($slug: String!) {
  course(slug: $slug) { title productId lessons { title isRequired } enrollment { id } }
}
"""
COURSE_ENROLLMENT_OF = (
    "query($slug: String!, $userId: ID) { course(slug: $slug) { enrollment(userId: $userId) { id } } }"
)


# --- seed ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    a: SeededUser  # learner whose data is at stake
    b: SeededUser  # another learner
    admin: SeededUser
    course: SeededCourse

    def variables(self, user: SeededUser) -> dict[str, Any]:
        return {
            "userId": user.id,
            "slug": self.course.slug,
            "courseId": self.course.id,
            "lessonId": self.course.lesson_ids[0],
            "lessonIds": [self.course.lesson_ids[0]],
        }


async def record(api: Api, user: SeededUser, lesson_pk: int, **changes: Any) -> None:
    await upsert_progress(api.db, user_id=user.pk, lesson_id=lesson_pk, changes=changes)


async def seed(api: Api) -> World:
    a, b, admin = await api.user(), await api.user(), await api.admin()
    course = await api.course(lessons=3)
    for user in (a, b, admin):
        await api.enroll(user, course)
    await record(api, a, course.lesson_pks[0], completed=True, notes=SECRET, time_spent_minutes=7)
    await record(api, admin, course.lesson_pks[0], notes=ADMIN_NOTE)
    return World(a=a, b=b, admin=admin, course=course)


@pytest.fixture
async def world(api: Api) -> World:
    """The world of a test that writes: its own."""
    return await seed(api)


# The world the reads below share, seeded once per backend (they write nothing).
read_world = read_only_world_fixture("read_world", seed)


def value_at(data: Any, path: list[str | int]) -> Any:
    """The value at a response path; None once an ancestor was nulled."""
    for step in path:
        if data is None:
            return None
        data = data[step]
    return data


# --- reads that name a userId ------------------------------------------------------------------


@dataclass(frozen=True)
class ReadPath:
    name: str
    document: str
    own: Callable[[World], Any]  # what the owner (or an admin) sees
    refused: Callable[[World], Any]  # what another learner gets instead


PATHS = [
    ReadPath(
        "progress",
        PROGRESS,
        own=lambda w: {"progress": {"nodes": [{"notes": SECRET}]}},
        refused=lambda w: None,
    ),
    ReadPath(
        "courseSummary",
        COURSE_SUMMARY,
        own=lambda w: {"courseSummary": {"userId": w.a.id, "completedLessons": 1}},
        refused=lambda w: {"courseSummary": None},
    ),
    ReadPath(
        "completionStatus",
        COMPLETION_STATUS,
        own=lambda w: {"completionStatus": [{"lessonId": w.course.lesson_ids[0], "completed": True}]},
        refused=lambda w: None,
    ),
    ReadPath(
        "course",
        COURSE_FOR_USER,
        own=lambda w: {
            "course": {"lessons": [{"progress": {"notes": SECRET}}, {"progress": None}, {"progress": None}]}
        },
        refused=lambda w: {"course": None},
    ),
    ReadPath(
        "lesson",
        LESSON_FOR_USER,
        own=lambda w: {"lesson": {"progress": {"notes": SECRET}}},
        refused=lambda w: {"lesson": None},
    ),
    ReadPath(
        "Lesson.progress",
        NESTED_LESSON_PROGRESS,
        own=lambda w: {"lesson": {"title": "Lesson 0", "progress": {"notes": SECRET}}},
        refused=lambda w: {"lesson": {"title": "Lesson 0", "progress": None}},
    ),
    ReadPath(
        "Lesson.progressStatus",
        NESTED_LESSON_STATUS,
        own=lambda w: {"lesson": {"progressStatus": "COMPLETED"}},
        refused=lambda w: {"lesson": None},
    ),
    ReadPath(
        "Course.summary",
        NESTED_COURSE_SUMMARY,
        own=lambda w: {"course": {"summary": {"userId": w.a.id, "completedLessons": 1}}},
        refused=lambda w: {"course": None},
    ),
    ReadPath(
        "Course.enrollment",
        NESTED_COURSE_ENROLLMENT,
        own=lambda w: {
            "course": {"slug": w.course.slug, "enrollment": {"status": "ACTIVE", "user": {"id": w.a.id}}}
        },
        refused=lambda w: {"course": {"slug": w.course.slug, "enrollment": None}},
    ),
]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
async def test_userid_shows_a_learners_data_to_them_and_to_admins_but_forbidden_to_other_learners(
    read_world: tuple[Api, World], path: ReadPath
) -> None:
    api, world = read_world
    variables = world.variables(world.a)

    as_owner = await api.data(path.document, variables, key=world.a.key)
    as_admin = await api.data(path.document, variables, key=world.admin.key)
    as_other = await api.gql(path.document, variables, key=world.b.key)

    assert as_owner == path.own(world), "the learner naming themselves"
    assert as_admin == path.own(world), "an admin naming the learner"
    assert ADMIN_NOTE not in str(as_admin)
    assert as_other["data"] == path.refused(world), "another learner naming the learner"
    assert as_other["errors"], as_other
    for error in as_other["errors"]:
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert value_at(as_other["data"], error["path"]) is None
    text = str(as_other)
    assert SECRET not in text
    assert world.a.id not in text
    assert world.a.email not in text


# --- user lookups ----------------------------------------------------------------------------


def _identifier(user: SeededUser, kind: str) -> str:
    return {"id": user.id, "email": user.email, "externalId": user.external_id}[kind]


MISSING = {"id": encode_id("User", 987_654), "email": "nobody@example.com", "externalId": "no-such-ext"}


@pytest.mark.parametrize("kind", list(USER_LOOKUPS))
async def test_learner_looking_up_another_user_gets_forbidden_exactly_as_for_no_user(
    read_world: tuple[Api, World], kind: str
) -> None:
    api, world = read_world
    existing = await api.post(USER_LOOKUPS[kind], {kind: _identifier(world.a, kind)}, key=world.b.key)
    missing = await api.post(USER_LOOKUPS[kind], {kind: MISSING[kind]}, key=world.b.key)

    assert existing.status_code == 200
    body = existing.json()
    assert body["data"] == {"user": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert world.a.email not in existing.text
    # Existence leaks nothing: a user who does not exist gets the very same answer.
    assert missing.status_code == existing.status_code
    assert missing.json() == body


@pytest.mark.parametrize("kind", list(USER_LOOKUPS))
async def test_learner_may_look_themselves_up(read_world: tuple[Api, World], kind: str) -> None:
    api, world = read_world
    value = _identifier(world.b, kind)
    if kind == "email":
        value = value.upper()

    data = await api.data(USER_LOOKUPS[kind], {kind: value}, key=world.b.key)

    assert data == {"user": {"id": world.b.id, "email": world.b.email}}


@pytest.mark.parametrize("kind", list(USER_LOOKUPS))
async def test_admin_may_look_anyone_up_and_gets_null_for_no_one(
    read_world: tuple[Api, World], kind: str
) -> None:
    api, world = read_world
    found = await api.data(USER_LOOKUPS[kind], {kind: _identifier(world.a, kind)}, key=world.admin.key)
    missing = await api.data(USER_LOOKUPS[kind], {kind: MISSING[kind]}, key=world.admin.key)

    assert found == {"user": {"id": world.a.id, "email": world.a.email}}
    assert missing == {"user": None}


async def test_admin_sees_a_users_nested_progress_as_that_users_not_their_own(
    read_world: tuple[Api, World],
) -> None:
    api, world = read_world
    data = await api.data(ADMIN_VIEW_OF_USER, {"email": world.a.email.upper()}, key=world.admin.key)

    user = data["user"]
    assert user["id"] == world.a.id
    [enrollment] = user["enrollments"]
    assert enrollment["summary"] == {"userId": world.a.id, "completedLessons": 1}
    course = enrollment["course"]
    assert course["slug"] == world.course.slug
    assert course["summary"] == {"userId": world.a.id, "completedLessons": 1}
    assert course["enrollment"] == {"user": {"id": world.a.id}}
    assert course["lessons"] == [
        {"progressStatus": "COMPLETED", "progress": {"notes": SECRET}},
        {"progressStatus": "NOT_STARTED", "progress": None},
        {"progressStatus": "NOT_STARTED", "progress": None},
    ]
    assert user["progress"]["nodes"] == [{"notes": SECRET, "lesson": {"progress": {"notes": SECRET}}}]
    assert ADMIN_NOTE not in str(data)


# --- writes that name a userId -----------------------------------------------------------------


async def test_learner_cannot_upsert_progress_for_another_learner(api: Api, world: World) -> None:
    for lesson_id in world.course.lesson_ids[:2]:  # one with a record, one without
        data = await api.data(
            UPSERT_PROGRESS,
            {"lessonId": lesson_id, "userId": world.a.id, "notes": "written by B"},
            key=world.b.key,
        )
        assert data["upsertProgress"]["__typename"] == "ForbiddenError"
        assert data["upsertProgress"]["code"] == "FORBIDDEN"

    first = await api.data(LESSON_PROGRESS, {"lessonId": world.course.lesson_ids[0]}, key=world.a.key)
    second = await api.data(LESSON_PROGRESS, {"lessonId": world.course.lesson_ids[1]}, key=world.a.key)
    assert first["lesson"]["progress"] == {"notes": SECRET, "completed": True}
    assert second["lesson"]["progress"] is None


async def test_learner_cannot_bulk_set_completion_for_another_learner(api: Api, world: World) -> None:
    lesson_ids = world.course.lesson_ids[1:]

    data = await api.data(
        BULK_SET_COMPLETION, {"lessonIds": lesson_ids, "userId": world.a.id}, key=world.b.key
    )

    assert data["bulkSetCompletion"]["__typename"] == "ForbiddenError"
    assert data["bulkSetCompletion"]["code"] == "FORBIDDEN"
    status = await api.data(COMPLETION_STATUS, {"lessonIds": lesson_ids}, key=world.a.key)
    assert [entry["completed"] for entry in status["completionStatus"]] == [False, False]


async def test_learner_may_write_their_own_progress_naming_themselves(api: Api, world: World) -> None:
    lesson_id = world.course.lesson_ids[1]

    data = await api.data(
        UPSERT_PROGRESS, {"lessonId": lesson_id, "userId": world.b.id, "notes": "mine"}, key=world.b.key
    )

    assert data["upsertProgress"]["__typename"] == "UpsertProgressSuccess"
    assert data["upsertProgress"]["progress"] == {"notes": "mine", "user": {"id": world.b.id}}


async def test_admin_may_write_progress_for_a_learner(api: Api, world: World) -> None:
    lesson_id = world.course.lesson_ids[1]

    upserted = await api.data(
        UPSERT_PROGRESS,
        {"lessonId": lesson_id, "userId": world.a.id, "notes": "by admin"},
        key=world.admin.key,
    )
    bulk = await api.data(
        BULK_SET_COMPLETION,
        {"lessonIds": [world.course.lesson_ids[2]], "userId": world.a.id},
        key=world.admin.key,
    )

    assert upserted["upsertProgress"]["progress"] == {"notes": "by admin", "user": {"id": world.a.id}}
    assert upserted["upsertProgress"]["summary"] == {"userId": world.a.id}
    assert bulk["bulkSetCompletion"]["summaries"] == [{"userId": world.a.id, "completedLessons": 2}]
    seen_by_a = await api.data(LESSON_PROGRESS, {"lessonId": lesson_id}, key=world.a.key)
    assert seen_by_a["lesson"]["progress"] == {"notes": "by admin", "completed": False}
    admins_own = await api.data(LESSON_PROGRESS, {"lessonId": lesson_id}, key=world.admin.key)
    assert admins_own["lesson"]["progress"] is None


# --- admin-only mutations ------------------------------------------------------------------------


def assert_forbidden(payload: dict[str, Any]) -> None:
    assert payload["__typename"] == "ForbiddenError", payload
    assert payload["code"] == "FORBIDDEN"
    assert payload["message"]


async def test_learner_cannot_create_a_user(api: Api, world: World) -> None:
    data = await api.data(CREATE_USER, key=world.b.key)

    assert_forbidden(data["createUser"])
    check = await api.data(USER_ROLE_BY_EMAIL, {"email": "sneaky@example.com"}, key=world.admin.key)
    assert check["user"] is None


async def test_learner_cannot_update_a_user_not_even_themselves(api: Api, world: World) -> None:
    for target in (world.b, world.a):
        data = await api.data(UPDATE_USER, {"id": target.id}, key=world.b.key)
        assert_forbidden(data["updateUser"])

    for target in (world.b, world.a):
        me = await api.data(ME, key=target.key)
        assert me["me"] == {"name": "Test User", "role": "LEARNER"}


async def test_learner_cannot_create_a_course(api: Api, world: World) -> None:
    data = await api.data(CREATE_COURSE, key=world.b.key)

    assert_forbidden(data["createCourse"])
    check = await api.data(COURSE_DETAILS, {"slug": "sneaky-course"}, key=world.admin.key)
    assert check["course"] is None


async def test_learner_cannot_change_a_course_or_its_lessons(api: Api, world: World) -> None:
    before = await api.data(COURSE_DETAILS, {"slug": world.course.slug}, key=world.admin.key)

    update_course = await api.data(UPDATE_COURSE, {"id": world.course.id}, key=world.b.key)
    add_lesson = await api.data(ADD_LESSON, {"courseId": world.course.id}, key=world.b.key)
    update_lesson = await api.data(UPDATE_LESSON, {"id": world.course.lesson_ids[0]}, key=world.b.key)

    assert_forbidden(update_course["updateCourse"])
    assert_forbidden(add_lesson["addLesson"])
    assert_forbidden(update_lesson["updateLesson"])
    after = await api.data(COURSE_DETAILS, {"slug": world.course.slug}, key=world.admin.key)
    assert after == before
    assert len(after["course"]["lessons"]) == 3


async def test_learner_cannot_enroll_anyone(api: Api, world: World) -> None:
    other_course = await api.course(lessons=1)

    for user in (world.b, world.a):
        data = await api.data(ENROLL, {"courseId": other_course.id, "userId": user.id}, key=world.b.key)
        assert_forbidden(data["enroll"])

    for user in (world.b, world.a):
        check = await api.data(
            COURSE_ENROLLMENT_OF, {"slug": other_course.slug, "userId": user.id}, key=world.admin.key
        )
        assert check["course"]["enrollment"] is None
