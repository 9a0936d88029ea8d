"""Worlds seeded once and shared by the tests of a module, and the world of the IDOR matrix.

``read_only_world`` (and ``read_only_world_fixture``, the module-scoped fixture made of it): a
world with its own database and running app for tests that only read; it fails the module if
any of them changed a row.

``seed_world``: a small world with a victim learner, intruders and one object of every per-learner
kind, shared by the IDOR matrix (tests/test_idor_matrix.py) and the fuzzing (tests/test_fuzz.py).
Seeded through the API with the keys of the users who would write each thing, as a platform would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import insert, inspect, text

from gql_progress.db.models import CourseInstructor, UserRole
from gql_progress.domain.ids import encode_id
from tests import conftest
from tests.apps import GENEROUS_LIMITS, LOCAL_WEBHOOKS, api_with
from tests.support import Api, SeededCourse, SeededUser

T = TypeVar("T")


# --- worlds shared by a module's read-only tests ---------------------------------------------------


async def every_row(api: Api) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    async with api.db.read() as conn:
        tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        return {
            table: sorted(
                (tuple(row) for row in await conn.execute(text(f'SELECT * FROM "{table}"'))), key=repr
            )
            for table in sorted(tables)
        }


@asynccontextmanager
async def read_only_world(
    backend: str,
    pg_template: str | None,
    sqlite_template: Path,
    directory: Path,
    seed: Callable[[Api], Awaitable[T]],
) -> AsyncIterator[tuple[Api, T]]:
    """For a module-scoped fixture: a fresh database of ``backend``, the app running on it, and
    ``seed``'s world, for the module's tests that only read: seeded once instead of per test.
    Once they have run, every row must be as seeded (a test that wrote would make the others'
    answers depend on the order they ran in)."""
    database = conftest.fresh_database(backend, pg_template, sqlite_template, directory)
    async with database as url, api_with(url, **GENEROUS_LIMITS, **LOCAL_WEBHOOKS) as api:
        world = await seed(api)
        seeded = await every_row(api)
        yield api, world
        assert await every_row(api) == seeded, "a test of a read-only world changed rows"


def read_only_world_fixture(name: str, seed: Callable[[Api], Awaitable[T]]) -> Any:
    """A module-scoped fixture ``name``: ``seed``'s read-only world, once per backend, as
    ``(api, world)``. Assign it to a module attribute: ``demo = read_only_world_fixture("demo", s)``."""

    @pytest.fixture(scope="module", params=["sqlite", "postgresql"], name=name)
    async def shared_world(
        request: pytest.FixtureRequest,
        pg_template: str | None,
        sqlite_template: Path,
        tmp_path_factory: pytest.TempPathFactory,
    ) -> AsyncIterator[tuple[Api, T]]:
        directory = tmp_path_factory.mktemp(name)
        async with read_only_world(request.param, pg_template, sqlite_template, directory, seed) as shared:
            yield shared

    return shared_world


# --- the victim's secrets: none may ever reach an intruder ---------------------------------------

VICTIM_NAME = "Victim Canary-Name 7f3a"
NOTES = "victim's private notes 7f3a"
PLAN_TITLE = "victim's secret plan 7f3a"
PLACEHOLDER = b"<<ID>>"
MISSING_PK = 2_000_000_000


def missing(type_name: str) -> str:
    return encode_id(type_name, MISSING_PK)


# --- seeding (through the API, as a platform would) ----------------------------------------------

UPSERT_SEED = """
mutation($input: UpsertProgressInput!) {
  upsertProgress(input: $input) {
    __typename
    ... on UpsertProgressSuccess { progress { id } }
    ... on Error { code message }
  }
}
"""
MY_ENROLLMENT_SEED = "query($c: ID!) { course(id: $c) { enrollment { id certificate { id code } } } }"
CREATE_PLAN_SEED = """
mutation($title: String!, $lessons: [ID!]!) {
  createStudyPlan(input: {title: $title, lessonIds: $lessons}) {
    __typename ... on StudyPlanPayload { studyPlan { id } } ... on Error { code message }
  }
}
"""
START_SEED = """
mutation($plan: ID!) {
  startStudyPlanInstance(planId: $plan) {
    __typename ... on StudyPlanInstancePayload { studyPlanInstance { id } } ... on Error { code message }
  }
}
"""
PRODUCT_SEED = """
mutation {
  createProduct(input: {productId: "idor-ebook", kind: EBOOK, title: "Ebook"}) {
    __typename ... on ProductPayload { product { id } } ... on Error { code message }
  }
}
"""
BUNDLE_SEED = """
mutation($items: [BundleItemInput!]) {
  createBundle(input: {productId: "idor-bundle", slug: "idor-bundle", title: "Bundle", items: $items}) {
    __typename ... on BundlePayload { bundle { id } } ... on Error { code message }
  }
}
"""
ENROLL_BUNDLE_SEED = """
mutation($user: ID!) {
  enrollInBundle(bundle: {slug: "idor-bundle"}, user: {id: $user}) {
    __typename ... on Error { code message }
  }
}
"""
CONSUME_SEED = """
mutation {
  setProductCompletion(input: {product: {productId: "idor-ebook"}, completed: true}) {
    __typename ... on Error { code message }
  }
}
"""
WEBHOOK_SEED = """
mutation {
  createWebhookEndpoint(input: {url: "http://127.0.0.1:9/idor", eventTypes: [LESSON_COMPLETED],
                                secret: "0123456789abcdef0123"}) {
    __typename ... on WebhookEndpointPayload { endpoint { id } } ... on Error { code message }
  }
}
"""


@dataclass
class World:
    api: Api
    admin: SeededUser
    victim: SeededUser
    intruders: dict[str, SeededUser]  # by role name
    course: SeededCourse  # the victim's and the intruders' course
    other_course: SeededCourse  # taught by the instructor; the victim is not enrolled
    # The victim's objects, by target name: the real identifier and one that names nothing.
    targets: dict[str, tuple[str, str]]
    certificate_code: str

    def markers(self) -> list[str]:
        """What of the victim must never appear in an intruder's answer."""
        owned = [theirs for name, (theirs, _) in self.targets.items() if name != "webhook_endpoint"]
        return [VICTIM_NAME, NOTES, PLAN_TITLE, self.certificate_code, *owned]


async def _ok(api: Api, query: str, variables: dict[str, Any] | None, key: str, field: str) -> dict[str, Any]:
    result: dict[str, Any] = (await api.data(query, variables, key=key))[field]
    assert "code" not in result, result
    return result


async def seed_world(api: Api) -> World:
    admin = await api.admin()
    victim = await api.user(name=VICTIM_NAME)
    learner = await api.user(name="Intruding Learner")
    instructor = await api.user(UserRole.INSTRUCTOR, name="Instructor Elsewhere")
    course = await api.course(lessons=2, certificate_enabled=True)
    other_course = await api.course(lessons=1)
    for user in (victim, learner):
        await api.enroll(user, course)
    await api.enroll(learner, other_course)
    async with api.db.write() as conn:
        await conn.execute(insert(CourseInstructor).values(course_id=other_course.pk, user_id=instructor.pk))

    # The victim's record with private notes; both lessons completed: enrollment COMPLETED, certificate.
    written = await _ok(
        api,
        UPSERT_SEED,
        {"input": {"lessonId": course.lesson_ids[0], "notes": NOTES, "videoPositionSeconds": 30}},
        victim.key,
        "upsertProgress",
    )
    progress_id = written["progress"]["id"]
    for lesson_id in course.lesson_ids:
        await _ok(
            api,
            UPSERT_SEED,
            {"input": {"lessonId": lesson_id, "completed": True}},
            victim.key,
            "upsertProgress",
        )
    # The intruder has their own record on the same lesson: a leak would show the victim's instead.
    await _ok(
        api,
        UPSERT_SEED,
        {"input": {"lessonId": course.lesson_ids[0], "videoPositionSeconds": 5}},
        learner.key,
        "upsertProgress",
    )
    mine = (await api.data(MY_ENROLLMENT_SEED, {"c": course.id}, key=victim.key))["course"]["enrollment"]
    assert mine["certificate"] is not None, "the seed must issue the victim a certificate"

    plan = await _ok(
        api,
        CREATE_PLAN_SEED,
        {"title": PLAN_TITLE, "lessons": course.lesson_ids},
        victim.key,
        "createStudyPlan",
    )
    plan_id = plan["studyPlan"]["id"]
    instance = await _ok(api, START_SEED, {"plan": plan_id}, victim.key, "startStudyPlanInstance")
    # The intruders' own plans and instances, so their lists are not trivially empty.
    for intruder in (learner, instructor):
        own = await _ok(
            api,
            CREATE_PLAN_SEED,
            {"title": "Mine", "lessons": course.lesson_ids[:1]},
            intruder.key,
            "createStudyPlan",
        )
        await _ok(api, START_SEED, {"plan": own["studyPlan"]["id"]}, intruder.key, "startStudyPlanInstance")

    product = await _ok(api, PRODUCT_SEED, None, admin.key, "createProduct")
    items = [{"course": course.id}, {"product": product["product"]["id"]}]
    await _ok(api, BUNDLE_SEED, {"items": items}, admin.key, "createBundle")
    for user in (victim, learner):
        await _ok(api, ENROLL_BUNDLE_SEED, {"user": user.id}, admin.key, "enrollInBundle")
    await _ok(api, CONSUME_SEED, None, victim.key, "setProductCompletion")
    endpoint = await _ok(api, WEBHOOK_SEED, None, admin.key, "createWebhookEndpoint")
    keys = (await api.data("{ apiKeys { nodes { id } } }", key=victim.key))["apiKeys"]["nodes"]

    targets = {
        "user_id": (victim.id, missing("User")),
        "user_email": (victim.email, "nobody-7f3a@example.com"),
        "user_external_id": (victim.external_id, "nobody-7f3a"),
        "enrollment": (mine["id"], missing("Enrollment")),
        "progress": (progress_id, missing("Progress")),
        "certificate": (mine["certificate"]["id"], missing("Certificate")),
        "study_plan": (plan_id, missing("StudyPlan")),
        "study_plan_instance": (instance["studyPlanInstance"]["id"], missing("StudyPlanInstance")),
        "webhook_endpoint": (endpoint["endpoint"]["id"], missing("WebhookEndpoint")),
        "api_key": (keys[0]["id"], missing("ApiKey")),
    }
    return World(
        api=api,
        admin=admin,
        victim=victim,
        intruders={"learner": learner, "instructor": instructor},
        course=course,
        other_course=other_course,
        targets=targets,
        certificate_code=mine["certificate"]["code"],
    )
