"""Instructors (issue 7): admins assign them to courses; they see those courses' learners, and
nothing else of anyone. Refusals answer exactly as for what does not exist (the IDOR rule)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gql_progress.cli import main
from gql_progress.db.models import CourseInstructor, UserRole
from gql_progress.demo import TAUGHT_COURSE, seed_demo
from gql_progress.domain import catalog
from gql_progress.domain.completion.admin import grant_completion
from gql_progress.domain.completion.upsert import upsert_progress
from gql_progress.domain.refs import UserRef
from gql_progress.domain.teaching import CourseRef, assign_instructor, taught_course_ids
from gql_progress.domain.viewer import Viewer
from tests.seeded_world import read_only_world_fixture
from tests.support import Api, SeededCourse, SeededUser
from tests.test_cli import KEY, _me_email
from tests.test_readme_examples import readme_examples

SECRET = "learner's note in the other course"

# --- documents ---------------------------------------------------------------------------------

ASSIGN = """
mutation($course: CourseRefInput!, $user: UserRefInput!) {
  assignInstructor(course: $course, user: $user) {
    __typename
    ... on Error { code message }
    ... on ValidationError { fields { path message } }
    ... on AssignInstructorPayload { created assignedAt course { slug } user { email role } }
  }
}
"""
UNASSIGN = """
mutation($course: CourseRefInput!, $user: UserRefInput!) {
  unassignInstructor(course: $course, user: $user) {
    __typename
    ... on Error { code message }
    ... on UnassignInstructorPayload { removed course { slug } user { email } }
  }
}
"""
LEARNER_PROGRESS = """
query($learner: UserRefInput!, $course: CourseRefInput!) {
  learnerProgress(learner: $learner, course: $course) {
    __typename
    ... on Error { code message }
    ... on LearnerProgress {
      status
      completedAt
      lastAccessedAt
      user { email }
      course { slug }
      summary { userId completedLessons totalLessons completionPercentage }
      lessons { title progressStatus progress { notes completed } }
    }
  }
}
"""
LEARNERS = """
query($slug: String!, $status: CourseLearnerStatus, $first: Int, $after: String) {
  course(slug: $slug) {
    learners(status: $status, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      nodes {
        status
        lastAccessedAt
        user { email }
        summary { completedLessons completionPercentage }
        lessons { progress { notes } }
      }
    }
  }
}
"""
INSTRUCTORS = """
query($slug: String!) {
  course(slug: $slug) { instructors { totalCount nodes { email role } } }
}
"""
MY_TAUGHT_COURSES = "{ me { taughtCourses { totalCount nodes { slug } } } }"
TAUGHT_COURSES_OF = """
query($email: String!) { user(email: $email) { taughtCourses { totalCount nodes { slug } } } }
"""
# Every way out of a learner reached through a course, toward the learner's other data.
LEARNERS_OWN_LISTS = """
query($slug: String!) {
  course(slug: $slug) {
    learners {
      nodes {
        user {
          email
          enrollments { course { slug } }
          enrollmentsConnection { totalCount nodes { course { slug } } }
          progress { totalCount nodes { notes } }
          studyPlans { totalCount }
          studyPlanInstances { totalCount }
          taughtCourses { totalCount }
        }
        enrollment { user { progress { totalCount } } }
        lessons { progress { notes user { progress { totalCount nodes { notes } } } } }
      }
    }
  }
}
"""
NODE = "query($id: ID!) { node(id: $id) { id } }"
USER_BY_EMAIL = "query($email: String!) { user(email: $email) { id } }"
PROGRESS_OF = "query($userId: ID) { progress(userId: $userId) { nodes { notes } } }"
COURSE_AS_USER = "query($slug: String!, $userId: ID) { course(slug: $slug, userId: $userId) { slug } }"


# --- the world -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    admin: SeededUser
    instructor: SeededUser  # teaches `course`
    other_instructor: SeededUser  # teaches `other_course`
    learner: SeededUser  # enrolled in both courses, progress in both
    other_learner: SeededUser  # enrolled in `course` only, nothing recorded
    course: SeededCourse
    other_course: SeededCourse


async def _world(api: Api) -> World:
    admin = await api.admin()
    instructor = await api.user(UserRole.INSTRUCTOR, name="Instructor")
    other_instructor = await api.user(UserRole.INSTRUCTOR, name="Other Instructor")
    learner = await api.user(name="Learner")
    other_learner = await api.user(name="Other Learner")
    course = await api.course(lessons=3)
    other_course = await api.course(lessons=2)
    for user, taught in ((instructor, course), (other_instructor, other_course)):
        await assign_instructor(
            api.db, Viewer(admin.pk, UserRole.ADMIN), CourseRef(id=taught.pk), UserRef(id=user.pk)
        )
    await api.enroll(learner, course)
    await api.enroll(learner, other_course)
    await api.enroll(other_learner, course)
    await upsert_progress(
        api.db, user_id=learner.pk, lesson_id=course.lesson_pks[0], changes={"completed": True, "notes": "n1"}
    )
    await upsert_progress(
        api.db, user_id=learner.pk, lesson_id=other_course.lesson_pks[0], changes={"notes": SECRET}
    )
    return World(admin, instructor, other_instructor, learner, other_learner, course, other_course)


# The world of the tests that only read it, seeded once per backend.
read_world = read_only_world_fixture("read_world", _world)


def _course(course: SeededCourse) -> dict[str, str]:
    return {"slug": course.slug}


def _user(user: SeededUser) -> dict[str, str]:
    return {"email": user.email}


# --- assignInstructor / unassignInstructor ---------------------------------------------------------


async def test_assign_instructor_by_any_identifier_is_idempotent(api: Api) -> None:
    admin = await api.admin()
    teacher = await api.user(UserRole.INSTRUCTOR)
    course = await api.course(lessons=1, product_id="prod-assign-1")

    first = await api.data(
        ASSIGN,
        {"course": {"productId": "prod-assign-1"}, "user": {"externalId": teacher.external_id}},
        key=admin.key,
    )
    again = await api.data(ASSIGN, {"course": {"id": course.id}, "user": {"id": teacher.id}}, key=admin.key)
    third = await api.data(
        ASSIGN, {"course": {"slug": course.slug}, "user": {"email": teacher.email.upper()}}, key=admin.key
    )

    payload = first["assignInstructor"]
    assert payload["__typename"] == "AssignInstructorPayload"
    assert payload["created"] is True
    assert payload["course"] == {"slug": course.slug}
    assert payload["user"] == {"email": teacher.email, "role": "INSTRUCTOR"}
    for later in (again["assignInstructor"], third["assignInstructor"]):
        assert later["created"] is False
        assert later["assignedAt"] == payload["assignedAt"]  # the first assignment is kept
    async with api.db.read() as conn:
        rows = (await conn.execute(select(CourseInstructor.user_id))).all()
    assert [row.user_id for row in rows] == [teacher.pk]


@pytest.mark.parametrize("role", [UserRole.LEARNER, UserRole.ADMIN])
async def test_only_users_with_the_instructor_role_can_be_assigned(api: Api, role: UserRole) -> None:
    admin = await api.admin()
    user = await api.user(role)
    course = await api.course(lessons=1)

    data = await api.data(ASSIGN, {"course": _course(course), "user": _user(user)}, key=admin.key)

    result = data["assignInstructor"]
    assert result["__typename"] == "ValidationError"
    assert result["code"] == "VALIDATION_FAILED"
    assert [field["path"] for field in result["fields"]] == [["user"]]
    assert role.value in result["fields"][0]["message"]
    async with api.db.read() as conn:
        assert (await conn.execute(select(CourseInstructor.user_id))).first() is None


async def test_assigning_an_unknown_course_or_user_is_not_found_and_a_bad_id_is_invalid(api: Api) -> None:
    admin = await api.admin()
    teacher = await api.user(UserRole.INSTRUCTOR)
    course = await api.course(lessons=1)

    no_course = await api.data(
        ASSIGN, {"course": {"slug": "no-such-course"}, "user": _user(teacher)}, key=admin.key
    )
    no_user = await api.data(
        ASSIGN, {"course": _course(course), "user": {"email": "nobody@example.com"}}, key=admin.key
    )
    bad_ids = await api.data(
        ASSIGN, {"course": {"id": teacher.id}, "user": {"id": "nonsense"}}, key=admin.key
    )
    unassign_unknown = await api.data(
        UNASSIGN, {"course": _course(course), "user": {"externalId": "nobody"}}, key=admin.key
    )

    assert no_course["assignInstructor"] == {
        "__typename": "NotFoundError",
        "code": "NOT_FOUND",
        "message": "Course was not found",
    }
    assert no_user["assignInstructor"]["code"] == "NOT_FOUND"
    assert no_user["assignInstructor"]["message"] == "User was not found"
    assert unassign_unknown["unassignInstructor"]["code"] == "NOT_FOUND"
    invalid = bad_ids["assignInstructor"]
    assert invalid["code"] == "VALIDATION_FAILED"
    assert sorted(f["path"] for f in invalid["fields"]) == [["course", "id"], ["user", "id"]]


@pytest.mark.parametrize("role", [UserRole.LEARNER, UserRole.INSTRUCTOR])
async def test_only_admins_assign_and_unassign_instructors(api: Api, role: UserRole) -> None:
    admin = await api.admin()
    caller = await api.user(role)
    teacher = await api.user(UserRole.INSTRUCTOR)
    course = await api.course(lessons=1)
    await api.data(ASSIGN, {"course": _course(course), "user": _user(teacher)}, key=admin.key)
    variables = {"course": _course(course), "user": _user(caller)}

    assigned = await api.data(ASSIGN, variables, key=caller.key)
    unassigned = await api.data(UNASSIGN, {"course": _course(course), "user": _user(teacher)}, key=caller.key)

    assert assigned["assignInstructor"]["code"] == "FORBIDDEN"
    assert unassigned["unassignInstructor"]["code"] == "FORBIDDEN"
    async with api.db.read() as conn:
        rows = (await conn.execute(select(CourseInstructor.user_id))).all()
    assert [row.user_id for row in rows] == [teacher.pk]  # nothing added, nothing removed


async def test_unassigning_removes_the_access_and_is_idempotent(api: Api) -> None:
    world = await _world(api)
    variables = {"course": _course(world.course), "user": _user(world.instructor)}
    before = await api.data(LEARNERS, {"slug": world.course.slug}, key=world.instructor.key)

    first = await api.data(UNASSIGN, variables, key=world.admin.key)
    again = await api.data(UNASSIGN, variables, key=world.admin.key)
    after = await api.data(LEARNERS, {"slug": world.course.slug}, key=world.instructor.key)
    progress = await api.data(
        LEARNER_PROGRESS,
        {"learner": _user(world.learner), "course": _course(world.course)},
        key=world.instructor.key,
    )

    assert before["course"]["learners"]["totalCount"] == 2
    assert first["unassignInstructor"]["removed"] is True
    assert again["unassignInstructor"]["removed"] is False
    assert after["course"]["learners"]["totalCount"] == 0
    assert progress["learnerProgress"]["code"] == "NOT_FOUND"


async def test_an_assignment_gives_nothing_once_the_user_is_no_longer_an_instructor(api: Api) -> None:
    world = await _world(api)
    await catalog.update_user(api.db, world.instructor.pk, {"role": UserRole.LEARNER})

    data = await api.data(LEARNERS, {"slug": world.course.slug}, key=world.instructor.key)

    assert data["course"]["learners"]["totalCount"] == 0
    async with api.db.read() as conn:
        demoted = Viewer(world.instructor.pk, UserRole.LEARNER)
        assert await taught_course_ids(conn, demoted, [world.course.pk]) == set()
        teacher = Viewer(world.instructor.pk, UserRole.INSTRUCTOR)
        assert await taught_course_ids(conn, teacher, [world.course.pk, world.other_course.pk]) == {
            world.course.pk
        }


# --- learnerProgress -------------------------------------------------------------------------------


async def test_learner_progress_shows_the_learners_summary_and_lessons_in_that_course(
    read_world: tuple[Api, World],
) -> None:
    api, world = read_world

    data = await api.data(
        LEARNER_PROGRESS,
        {"learner": {"externalId": world.learner.external_id}, "course": {"id": world.course.id}},
        key=world.instructor.key,
    )

    result = data["learnerProgress"]
    assert result["__typename"] == "LearnerProgress"
    assert result["status"] == "ACTIVE"
    assert result["user"] == {"email": world.learner.email}
    assert result["course"] == {"slug": world.course.slug}
    assert result["summary"] == {
        "userId": world.learner.id,
        "completedLessons": 1,
        "totalLessons": 3,
        "completionPercentage": 33.33,
    }
    assert result["lastAccessedAt"] is not None
    assert [(lesson["progressStatus"], lesson["progress"]) for lesson in result["lessons"]] == [
        ("COMPLETED", {"notes": "n1", "completed": True}),
        ("NOT_STARTED", None),
        ("NOT_STARTED", None),
    ]


@pytest.mark.parametrize(
    ("caller", "allowed"),
    [
        ("admin", True),
        ("instructor", True),
        ("other_instructor", False),
        ("learner", True),  # about themselves
        ("other_learner", False),
    ],
)
async def test_learner_progress_access_and_refusals_answer_as_for_a_missing_course(
    read_world: tuple[Api, World], caller: str, allowed: bool
) -> None:
    api, world = read_world
    key = getattr(world, caller).key
    asked = {"learner": _user(world.learner), "course": _course(world.course)}

    response = await api.post(LEARNER_PROGRESS, asked, key=key)
    missing_course = await api.post(
        LEARNER_PROGRESS, {**asked, "course": {"slug": "no-such-course"}}, key=key
    )

    assert response.status_code == missing_course.status_code == 200
    typename = response.json()["data"]["learnerProgress"]["__typename"]
    if allowed:
        assert typename == "LearnerProgress"
    else:
        assert response.content == missing_course.content  # byte for byte
        assert response.json()["data"]["learnerProgress"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("caller", ["other_instructor", "learner", "other_learner"])
async def test_learner_progress_refusals_do_not_tell_which_users_exist(
    read_world: tuple[Api, World], caller: str
) -> None:
    api, world = read_world
    key = getattr(world, caller).key
    course = _course(world.other_course if caller == "learner" else world.course)
    enrolled = world.learner if caller == "other_learner" else world.other_learner

    answers = {
        (await api.post(LEARNER_PROGRESS, {"learner": learner, "course": course}, key=key)).content
        for learner in (
            _user(enrolled),  # exists (enrolled in the course, but for the learner's own case)
            _user(world.admin),  # exists, not enrolled
            {"email": "nobody@example.com"},  # does not exist
            {"externalId": "nobody"},
        )
    } | {
        (
            await api.post(
                LEARNER_PROGRESS, {"learner": _user(enrolled), "course": {"slug": "nope"}}, key=key
            )
        ).content
    }

    assert len(answers) == 1, answers


async def test_an_instructor_cannot_tell_unknown_users_from_users_not_in_the_course(
    read_world: tuple[Api, World],
) -> None:
    api, world = read_world
    course = _course(world.course)

    answers = {
        (
            await api.post(LEARNER_PROGRESS, {"learner": learner, "course": course}, key=world.instructor.key)
        ).content
        for learner in (_user(world.admin), _user(world.other_instructor), {"email": "nobody@example.com"})
    }

    assert answers == {
        b'{"data":{"learnerProgress":{"__typename":"NotFoundError","code":"NOT_FOUND",'
        b'"message":"Learner was not found"}}}'
    }


async def test_a_learner_asking_about_a_course_they_are_not_in_gets_not_found(api: Api) -> None:
    world = await _world(api)
    third = await api.course(lessons=1)

    data = await api.data(
        LEARNER_PROGRESS,
        {"learner": _user(world.other_learner), "course": _course(third)},
        key=world.other_learner.key,
    )

    assert data["learnerProgress"]["code"] == "NOT_FOUND"


# --- Course.learners ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "allowed"),
    [
        ("admin", True),
        ("instructor", True),
        ("other_instructor", False),
        ("learner", False),
        ("other_learner", False),
    ],
)
async def test_course_learners_for_admins_and_its_instructors_only(
    api: Api, caller: str, allowed: bool
) -> None:
    world = await _world(api)
    empty = await api.course(lessons=1)
    key = getattr(world, caller).key

    response = await api.post(LEARNERS, {"slug": world.course.slug, "first": 1}, key=key)
    without_learners = await api.post(LEARNERS, {"slug": empty.slug, "first": 1}, key=key)

    learners = response.json()["data"]["course"]["learners"]
    if allowed:
        assert learners["totalCount"] == 2
        assert [node["user"]["email"] for node in learners["nodes"]] == [world.learner.email]
        assert learners["pageInfo"]["hasNextPage"] is True
    else:
        # The empty page a course without learners gives, byte for byte.
        assert response.content == without_learners.content
        assert learners["totalCount"] == 0


async def test_course_learners_page_filter_and_summaries(api: Api) -> None:
    world = await _world(api)
    finisher = await api.user(name="Finisher")
    await api.enroll(finisher, world.course)
    await grant_completion(
        api.db,
        actor_user_id=world.admin.pk,
        user_id=finisher.pk,
        requested=[(str(pk), pk) for pk in world.course.lesson_pks],
        reason="finished offline",
    )
    key = world.instructor.key

    async def emails(status: str | None, first: int = 10, after: str | None = None) -> tuple[list[str], Any]:
        variables = {"slug": world.course.slug, "status": status, "first": first, "after": after}
        learners = (await api.data(LEARNERS, variables, key=key))["course"]["learners"]
        return [node["user"]["email"] for node in learners["nodes"]], learners

    everyone, page = await emails(None)
    active, active_page = await emails("ACTIVE")
    completed, completed_page = await emails("COMPLETED")
    not_started, not_started_page = await emails("NOT_STARTED")
    first_page, first = await emails(None, first=2)
    second_page, second = await emails(None, first=2, after=first["pageInfo"]["endCursor"])

    assert everyone == [world.learner.email, world.other_learner.email, finisher.email]
    assert page["totalCount"] == 3
    assert active == [world.learner.email, world.other_learner.email]
    assert active_page["totalCount"] == 2
    assert completed == [finisher.email]
    assert completed_page["totalCount"] == 1
    assert not_started == [world.other_learner.email]
    assert not_started_page["totalCount"] == 1
    assert first_page + second_page == everyone
    assert (first["pageInfo"]["hasNextPage"], second["pageInfo"]["hasNextPage"]) == (True, False)
    assert second["pageInfo"]["hasPreviousPage"] is True
    by_email = {node["user"]["email"]: node for node in page["nodes"]}
    assert by_email[finisher.email]["status"] == "COMPLETED"
    assert by_email[finisher.email]["summary"] == {"completedLessons": 3, "completionPercentage": 100.0}
    assert by_email[world.learner.email]["summary"] == {"completedLessons": 1, "completionPercentage": 33.33}
    assert by_email[world.other_learner.email]["lastAccessedAt"] is None
    # The learner's progress shown is that of this course only, not the other course's note.
    notes = [lesson["progress"] for lesson in by_email[world.learner.email]["lessons"]]
    assert notes == [{"notes": "n1"}, None, None]


async def test_last_accessed_at_is_the_latest_write_in_that_course_only(api: Api) -> None:
    world = await _world(api)
    early = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    for lesson, at in (
        (world.course.lesson_pks[1], early),
        (world.course.lesson_pks[2], early + timedelta(hours=3)),
    ):
        await upsert_progress(
            api.db, user_id=world.other_learner.pk, lesson_id=lesson, changes={"notes": "x"}, now=at
        )
    # A later write in the other course does not count here.
    await api.enroll(world.other_learner, world.other_course)
    await upsert_progress(
        api.db,
        user_id=world.other_learner.pk,
        lesson_id=world.other_course.lesson_pks[1],
        changes={"notes": "y"},
        now=early + timedelta(days=30),
    )

    data = await api.data(LEARNERS, {"slug": world.course.slug}, key=world.admin.key)

    by_email = {node["user"]["email"]: node for node in data["course"]["learners"]["nodes"]}
    last = by_email[world.other_learner.email]["lastAccessedAt"]
    assert datetime.fromisoformat(last) == early + timedelta(hours=3)


async def test_bad_paging_arguments_are_refused_alike_for_everyone(api: Api) -> None:
    world = await _world(api)
    bodies = set()
    for caller in (world.admin, world.instructor, world.learner):
        response = await api.post(LEARNERS, {"slug": world.course.slug, "first": -1}, key=caller.key)
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
        bodies.add(response.content)
    assert len(bodies) == 1


# --- Course.instructors and taughtCourses -----------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "allowed"),
    [
        ("admin", True),
        ("instructor", True),
        ("other_instructor", False),
        ("learner", False),
        ("other_learner", False),
    ],
)
async def test_course_instructors_for_admins_and_its_instructors_only(
    api: Api, caller: str, allowed: bool
) -> None:
    world = await _world(api)
    empty = await api.course(lessons=1)
    key = getattr(world, caller).key

    response = await api.post(INSTRUCTORS, {"slug": world.course.slug}, key=key)
    nobody_teaches = await api.post(INSTRUCTORS, {"slug": empty.slug}, key=key)

    if allowed:
        assert response.json()["data"]["course"]["instructors"] == {
            "totalCount": 1,
            "nodes": [{"email": world.instructor.email, "role": "INSTRUCTOR"}],
        }
    else:
        assert response.content == nobody_teaches.content


async def test_taught_courses_for_the_instructor_and_admins_only(api: Api) -> None:
    world = await _world(api)
    third = await api.course(lessons=1)
    await assign_instructor(
        api.db,
        Viewer(world.admin.pk, UserRole.ADMIN),
        CourseRef(slug=third.slug),
        UserRef(id=world.instructor.pk),
    )

    mine = await api.data(MY_TAUGHT_COURSES, key=world.instructor.key)
    as_admin = await api.data(TAUGHT_COURSES_OF, {"email": world.instructor.email}, key=world.admin.key)
    learners_own = await api.data(MY_TAUGHT_COURSES, key=world.learner.key)

    expected = {"totalCount": 2, "nodes": [{"slug": world.course.slug}, {"slug": third.slug}]}
    assert mine["me"]["taughtCourses"] == expected
    assert as_admin["user"]["taughtCourses"] == expected
    assert learners_own["me"]["taughtCourses"] == {"totalCount": 0, "nodes": []}


# --- an instructor reaches nothing beyond the course they teach --------------------------------------


async def test_instructor_reaches_no_list_of_a_learner_through_the_course(
    read_world: tuple[Api, World],
) -> None:
    api, world = read_world

    data = await api.data(LEARNERS_OWN_LISTS, {"slug": world.course.slug}, key=world.instructor.key)
    as_admin = await api.data(LEARNERS_OWN_LISTS, {"slug": world.course.slug}, key=world.admin.key)

    learner = data["course"]["learners"]["nodes"][0]
    assert learner["user"] == {
        "email": world.learner.email,
        "enrollments": [],
        "enrollmentsConnection": {"totalCount": 0, "nodes": []},
        "progress": {"totalCount": 0, "nodes": []},
        "studyPlans": {"totalCount": 0},
        "studyPlanInstances": {"totalCount": 0},
        "taughtCourses": {"totalCount": 0},
    }
    assert learner["enrollment"]["user"]["progress"]["totalCount"] == 0
    assert learner["lessons"][0]["progress"] == {
        "notes": "n1",
        "user": {"progress": {"totalCount": 0, "nodes": []}},
    }
    assert SECRET not in str(data)
    # An admin following the same paths sees the learner's whole record, other course included.
    assert SECRET in str(as_admin)
    assert as_admin["course"]["learners"]["nodes"][0]["user"]["enrollmentsConnection"]["totalCount"] == 2


async def test_instructor_has_only_learner_rights_everywhere_else(read_world: tuple[Api, World]) -> None:
    api, world = read_world
    key = world.instructor.key

    node = await api.data(NODE, {"id": world.learner.id}, key=key)
    by_email = await api.gql(USER_BY_EMAIL, {"email": world.learner.email}, key=key)
    progress = await api.gql(PROGRESS_OF, {"userId": world.learner.id}, key=key)
    course_as_learner = await api.gql(
        COURSE_AS_USER, {"slug": world.course.slug, "userId": world.learner.id}, key=key
    )
    other_course = await api.data(LEARNERS, {"slug": world.other_course.slug}, key=key)
    assign = await api.data(
        ASSIGN, {"course": _course(world.other_course), "user": _user(world.instructor)}, key=key
    )

    assert node["node"] is None
    assert by_email["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert progress["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert course_as_learner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert other_course["course"]["learners"]["totalCount"] == 0
    assert assign["assignInstructor"]["code"] == "FORBIDDEN"


async def test_instructor_keeps_learner_rights_for_their_own_learning(api: Api) -> None:
    world = await _world(api)
    await api.enroll(world.instructor, world.other_course)
    await upsert_progress(
        api.db,
        user_id=world.instructor.pk,
        lesson_id=world.other_course.lesson_pks[0],
        changes={"notes": "mine"},
    )

    own = await api.data(PROGRESS_OF, {"userId": None}, key=world.instructor.key)
    about_self = await api.data(
        LEARNER_PROGRESS,
        {"learner": _user(world.instructor), "course": _course(world.other_course)},
        key=world.instructor.key,
    )

    assert own["progress"]["nodes"] == [{"notes": "mine"}]
    assert about_self["learnerProgress"]["__typename"] == "LearnerProgress"


async def test_a_learner_sees_no_list_of_the_admin_who_granted_a_completion(api: Api) -> None:
    world = await _world(api)
    await api.enroll(world.admin, world.other_course)
    await upsert_progress(
        api.db,
        user_id=world.admin.pk,
        lesson_id=world.other_course.lesson_pks[1],
        changes={"notes": "admin's"},
    )
    await grant_completion(
        api.db,
        actor_user_id=world.admin.pk,
        user_id=world.learner.pk,
        requested=[(str(world.course.lesson_pks[1]), world.course.lesson_pks[1])],
        reason="attended in person",
    )
    document = """
    { progress { nodes { grantedBy { email progress { totalCount nodes { notes } } enrollments { id } } } } }
    """

    data = await api.data(document, key=world.learner.key)

    granted = [node["grantedBy"] for node in data["progress"]["nodes"] if node["grantedBy"]]
    assert granted == [
        {"email": world.admin.email, "progress": {"totalCount": 0, "nodes": []}, "enrollments": []}
    ]


# --- statements ----------------------------------------------------------------------------------------

BUDGET_LEARNERS = """
query($slug: String!) {
  course(slug: $slug) {
    learners(first: 100) {
      totalCount
      nodes {
        status
        lastAccessedAt
        user { email }
        enrollment { enrolledAt }
        summary { completionPercentage }
        lessons { progressStatus progress { completed } }
      }
    }
    instructors { totalCount nodes { email } }
  }
}
"""
BUDGET_ALL_COURSES = """
{
  courses(first: 100) {
    nodes { learners(first: 100) { totalCount nodes { user { email } summary { completionPercentage } } } }
  }
}
"""


async def _course_with_learners(api: Api, world: World, count: int) -> SeededCourse:
    course = await api.course(lessons=4)
    await assign_instructor(
        api.db,
        Viewer(world.admin.pk, UserRole.ADMIN),
        CourseRef(id=course.pk),
        UserRef(id=world.instructor.pk),
    )
    for _ in range(count):
        learner = await api.user()
        await api.enroll(learner, course)
        await upsert_progress(
            api.db, user_id=learner.pk, lesson_id=course.lesson_pks[0], changes={"completed": True}
        )
    return course


@pytest.mark.parametrize("caller", ["admin", "instructor"])
async def test_learners_cost_the_same_statements_for_5_and_for_50_learners(api: Api, caller: str) -> None:
    world = await _world(api)
    small = await _course_with_learners(api, world, 5)
    large = await _course_with_learners(api, world, 50)
    key = getattr(world, caller).key
    baseline = await api.statements("{ me { id } }", key=key)  # what every request pays (the key)

    few = await api.statements(BUDGET_LEARNERS, {"slug": small.slug}, key=key)
    many = await api.statements(BUDGET_LEARNERS, {"slug": large.slug}, key=key)
    data = await api.data(BUDGET_LEARNERS, {"slug": large.slug}, key=key)

    assert len(data["course"]["learners"]["nodes"]) == 50  # the counted request really listed them
    assert few == many
    # course, [instructor: access], page, count, users, lessons, records, instructors' page + count
    assert many - baseline <= 9


async def test_learners_of_every_course_cost_the_same_statements_for_2_and_for_6_courses(api: Api) -> None:
    world = await _world(api)
    key = world.instructor.key
    few = await api.statements(BUDGET_ALL_COURSES, key=key)
    for _ in range(4):
        await _course_with_learners(api, world, 3)
    many = await api.statements(BUDGET_ALL_COURSES, key=key)
    data = await api.data(BUDGET_ALL_COURSES, key=key)

    assert [c["learners"]["totalCount"] for c in data["courses"]["nodes"]] == [2, 0, 3, 3, 3, 3]
    assert few == many


# --- the demo data and the README -----------------------------------------------------------------------


async def test_the_demo_instructor_sees_the_demo_learner_in_the_course_they_teach(api: Api) -> None:
    keys = await seed_demo(api.db)
    keys = await seed_demo(api.db)  # a second load keeps one assignment

    data = await api.data(LEARNERS, {"slug": TAUGHT_COURSE}, key=keys.instructor.secret)
    instructors = await api.data(INSTRUCTORS, {"slug": TAUGHT_COURSE}, key=keys.admin.secret)

    learners = data["course"]["learners"]
    assert [node["user"]["email"] for node in learners["nodes"]] == ["learner@example.com"]
    assert learners["nodes"][0]["summary"]["completedLessons"] == 2
    assert instructors["course"]["instructors"]["totalCount"] == 1


def _instructor_examples() -> list[str]:
    return [
        document
        for document, _ in readme_examples()
        if "learnerProgress" in document or "learners" in document
    ]


async def test_the_readme_instructor_examples_work_with_the_instructor_key(api: Api) -> None:
    documents = _instructor_examples()
    assert documents
    keys = await seed_demo(api.db)
    for document in documents:
        data = await api.data(document, key=keys.instructor.secret)
        text = str(data)
        assert "Lee Learner" in text, data  # the demo learner
        assert "NOT_FOUND" not in text, data


@pytest.mark.usefixtures("clean_env")
def test_seed_demo_prints_the_instructor_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.db"
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", f"sqlite:///{path}")
    assert main(["migrate"]) == 0
    assert main(["seed-demo"]) == 0

    printed = re.search(rf"instructor\b.*?({KEY.pattern})", capsys.readouterr().out)

    assert printed is not None
    status, email = asyncio.run(_me_email(f"sqlite:///{path}", printed.group(1)))
    assert (status, email) == (200, "instructor@example.com")
