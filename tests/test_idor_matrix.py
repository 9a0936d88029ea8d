"""The IDOR matrix: another learner's objects answer exactly like objects that do not exist.

For every object a learner owns (their user, enrollment, progress record, certificate, study plan
and its instance, bundle progress, product completion, standing in a course (learnerProgress), API
key) and for the admin-only objects (events, webhook endpoints), every path that names one (typed
fields, nested fields, node, nodes, batch fields, mutations, the subscription) is asked twice by
an intruder: once with the victim's
identifier and once with an identifier that names nothing. The two answers must be the same bytes
once the identifier itself is replaced by a placeholder: same HTTP status, same data nulls, same
error messages, codes and paths. The intruder's calls must change no row of any table, and the
victim's secrets (notes, plan title, name, certificate code, ids) appear in no answer.

Each path is one row of ``PATHS``; a new object type or access path is one more row. A control
test proves each row can fail: the owner (or an admin, for admin-only paths) gets a different
answer for the real identifier than for the missing one.

The intruders are a learner of the same course and bundle, and an INSTRUCTOR who teaches another
course (course_instructors): instructors see nothing of the learners of courses they do not teach.

The world is seeded once per backend (module scope): every intruder call is checked to write
nothing, and the controls' writes are idempotent or leave the rows that later rows name in place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from tests import conftest
from tests.apps import GENEROUS_LIMITS, LOCAL_WEBHOOKS, api_with
from tests.seeded_world import PLACEHOLDER, PLAN_TITLE, VICTIM_NAME, World, seed_world
from tests.ws import AsgiWebSocket, init, next_message, subscribe


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest,
    pg_template: str | None,
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[World]:
    """One seeded world per backend, shared by the module's tests (see the module docstring)."""
    directory = tmp_path_factory.mktemp("idor")
    database = conftest.fresh_database(request.param, pg_template, sqlite_template, directory)
    async with database as url, api_with(url, **GENEROUS_LIMITS, **LOCAL_WEBHOOKS) as api:
        yield await seed_world(api)


# --- the paths ------------------------------------------------------------------------------------

Variables = Callable[[World, str], dict[str, Any]]


@dataclass(frozen=True)
class AccessPath:
    """One way to name a victim's object: ``target`` says which identifier ``variables`` receive.

    ``control``: who gets a different answer for the real identifier than for the missing one
    ("owner": the victim; "admin"), proving the row reaches the object; None where even an
    admin cannot tell the two apart without a destructive write.
    """

    name: str
    target: str
    document: str
    variables: Variables
    control: str | None = "owner"


def _id(w: World, value: str) -> dict[str, Any]:
    return {"id": value}


NODE_FIELDS = """
    __typename id
    ... on User { email name }
    ... on Enrollment { status user { id } certificate { code } }
    ... on Progress { notes user { id } }
    ... on Certificate { code user { id } }
    ... on StudyPlan { title owner { id } }
    ... on StudyPlanInstance { user { id } completionPercentage }
    ... on WebhookEndpoint { url }
    ... on ApiKey { label prefix lastUsedAt }
"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ {NODE_FIELDS} }} }}"
NODES = f"query($id: ID!, $mine: ID!) {{ nodes(ids: [$mine, $id, $id]) {{ {NODE_FIELDS} }} }}"
USER_FIELDS = "id email name externalId enrollmentsConnection { totalCount nodes { id } }"
LESSON_FIELDS = "id progress { id notes } progressStatus locked"
ERROR = "__typename ... on Error { code message } ... on ValidationError { fields { path message } }"
BUNDLE_PROGRESS_FIELDS = f"""
    {ERROR}
    ... on BundleProgress {{
      title completionPercentage weightedCompletionPercentage user {{ id }}
      items {{ __typename ... on ProductItemProgress {{ completed completedAt }} }}
    }}
"""
LEARNER_PROGRESS_FIELDS = """
    status user { id name } enrollment { id certificate { code } } summary { userId completedLessons }
    course { lessons { progress { id notes } } }
"""
# Nested fields reached from the intruder's own enrollment: the course they share with the victim.
NESTED = "query($id: ID) {{ me {{ enrollmentsConnection {{ nodes {{ course {{ {} }} }} }} }} }}"


def _nested(selection: str) -> str:
    return NESTED.format(selection)


def _node(target: str, control: str = "owner") -> list[AccessPath]:
    return [
        AccessPath(f"node({target})", target, NODE, _id, control),
        AccessPath(f"nodes({target})", target, NODES, lambda w, v: {"id": v, "mine": w.course.id}, control),
    ]


def _user_refs(kind: str, target: str) -> list[AccessPath]:
    def ref(value: str) -> dict[str, str]:
        return {kind: value}

    return [
        AccessPath(
            f"bundleProgress(user.{kind})",
            target,
            'query($u: UserRefInput!) { bundleProgress(bundle: {slug: "idor-bundle"}, user: $u) '
            f"{{ {BUNDLE_PROGRESS_FIELDS} }} }}",
            lambda w, v: {"u": ref(v)},
        ),
        AccessPath(
            f"bundleProgressBatch(user.{kind})",
            target,
            "query($u: UserRefInput!) { bundleProgressBatch(requests: ["
            '{bundle: {slug: "idor-bundle"}}, {bundle: {slug: "idor-bundle"}, user: $u}, '
            '{bundle: {slug: "no-such-bundle"}, user: $u}'
            f"]) {{ {BUNDLE_PROGRESS_FIELDS} }} }}",
            lambda w, v: {"u": ref(v)},
        ),
        AccessPath(
            f"setProductCompletion(user.{kind})",
            target,
            "mutation($u: UserRefInput!) { setProductCompletion(input: "
            '{product: {productId: "idor-ebook"}, completed: true, user: $u}) '
            f"{{ {ERROR} ... on ProductCompletionPayload {{ completed completedAt }} }} }}",
            lambda w, v: {"u": ref(v)},
        ),
        AccessPath(
            f"learnerProgress(learner.{kind})",
            target,
            "query($u: UserRefInput!, $c: ID!) { learnerProgress(learner: $u, course: {id: $c}) "
            f"{{ {ERROR} ... on LearnerProgress {{ {LEARNER_PROGRESS_FIELDS} }} }} }}",
            lambda w, v: {"u": ref(v), "c": w.course.id},
        ),
        AccessPath(
            f"learnerProgress(learner.{kind}, the instructor's course)",
            target,
            "query($u: UserRefInput!, $c: ID!) { learnerProgress(learner: $u, course: {id: $c}) "
            f"{{ {ERROR} ... on LearnerProgress {{ {LEARNER_PROGRESS_FIELDS} }} }} }}",
            lambda w, v: {"u": ref(v), "c": w.other_course.id},
            control=None,  # the victim is not enrolled there: NOT_FOUND for everyone
        ),
        AccessPath(
            f"apiKeys(user.{kind})",
            target,
            "query($u: UserRefInput!) { apiKeys(user: $u, includeRevoked: true) "
            "{ totalCount nodes { id label prefix } } }",
            lambda w, v: {"u": ref(v)},
        ),
        AccessPath(
            f"enrollInBundle(user.{kind})",
            target,
            'mutation($u: UserRefInput!) { enrollInBundle(bundle: {slug: "idor-bundle"}, user: $u) '
            f"{{ {ERROR} ... on EnrollInBundlePayload {{ enrolledAt created }} }} }}",
            lambda w, v: {"u": ref(v)},
            control="admin",
        ),
    ]


PATHS: list[AccessPath] = [
    # --- the victim as a user ---------------------------------------------------------------------
    AccessPath("user(id)", "user_id", f"query($id: ID!) {{ user(id: $id) {{ {USER_FIELDS} }} }}", _id),
    AccessPath(
        "user(email)",
        "user_email",
        f"query($v: String!) {{ user(email: $v) {{ {USER_FIELDS} }} }}",
        lambda w, v: {"v": v.upper()},  # emails match in any case
    ),
    AccessPath(
        "user(externalId)",
        "user_external_id",
        f"query($v: String!) {{ user(externalId: $v) {{ {USER_FIELDS} }} }}",
        lambda w, v: {"v": v},
    ),
    *_node("user_id"),
    AccessPath(
        "progress(userId)",
        "user_id",
        "query($id: ID) { progress(userId: $id) { totalCount nodes { id notes user { id } } } }",
        _id,
    ),
    AccessPath(
        "completionStatus(userId)",
        "user_id",
        "query($id: ID, $lessons: [ID!]!) "
        "{ completionStatus(lessonIds: $lessons, userId: $id) { lessonId found completed completedAt } }",
        lambda w, v: {"id": v, "lessons": w.course.lesson_ids},
    ),
    AccessPath(
        "courseSummary(userId)",
        "user_id",
        "query($id: ID, $c: ID!) { courseSummary(courseId: $c, userId: $id) "
        "{ userId completedLessons completionPercentage } }",
        lambda w, v: {"id": v, "c": w.course.id},
    ),
    AccessPath(
        "course(slug, userId)",
        "user_id",
        "query($id: ID, $slug: String!) { course(slug: $slug, userId: $id) "
        f"{{ lessons {{ {LESSON_FIELDS} }} "
        "summary { completedLessons } enrollment { id certificate { code } } } }",
        lambda w, v: {"id": v, "slug": w.course.slug},
    ),
    AccessPath(
        "course(id, userId)",
        "user_id",
        "query($id: ID, $c: ID!) { course(id: $c, userId: $id) { summary { userId } } }",
        lambda w, v: {"id": v, "c": w.course.id},
    ),
    AccessPath(
        "lesson(id, userId)",
        "user_id",
        f"query($id: ID, $l: ID!) {{ lesson(id: $l, userId: $id) {{ {LESSON_FIELDS} }} }}",
        lambda w, v: {"id": v, "l": w.course.lesson_ids[0]},
    ),
    AccessPath(
        "Course.summary(userId)", "user_id", _nested("summary(userId: $id) { userId completedLessons }"), _id
    ),
    AccessPath(
        "Course.enrollment(userId)",
        "user_id",
        _nested("enrollment(userId: $id) { id status certificate { code } }"),
        _id,
    ),
    AccessPath(
        "Lesson.progress(userId)", "user_id", _nested("lessons { progress(userId: $id) { id notes } }"), _id
    ),
    AccessPath(
        "Lesson.progressStatus(userId)", "user_id", _nested("lessons { progressStatus(userId: $id) }"), _id
    ),
    AccessPath(
        "Lesson.locked(userId)",
        "user_id",
        "query($id: ID, $c: ID!) { course(id: $c) { lessons { locked(userId: $id) } } }",
        lambda w, v: {"id": v, "c": w.course.id},
        control=None,  # the course is not sequential: locked is false for everyone
    ),
    AccessPath(
        "Course.lessonsConnection.progress(userId)",
        "user_id",
        _nested("lessonsConnection { nodes { progress(userId: $id) { id notes } } }"),
        _id,
    ),
    AccessPath(
        "courses.summary(userId)",
        "user_id",
        "query($id: ID) { courses { nodes { summary(userId: $id) { userId completedLessons } } } }",
        _id,
    ),
    AccessPath(
        "studyPlans(userId)",
        "user_id",
        "query($id: ID) { studyPlans(userId: $id) { totalCount nodes { id title } } }",
        _id,
    ),
    AccessPath(
        "events(userId)",
        "user_id",
        "query($id: ID) { events(userId: $id) { totalCount nodes { id type userId } } }",
        _id,
        control="admin",
    ),
    AccessPath(
        "upsertProgress(userId)",
        "user_id",
        "mutation($id: ID, $l: ID!) "
        "{ upsertProgress(input: {lessonId: $l, userId: $id, timeSpentMinutes: 7}) "
        f"{{ {ERROR} ... on UpsertProgressSuccess {{ progress {{ id notes }} }} }} }}",
        lambda w, v: {"id": v, "l": w.course.lesson_ids[0]},
    ),
    AccessPath(
        "bulkSetCompletion(userId)",
        "user_id",
        "mutation($id: ID, $l: [ID!]!) "
        "{ bulkSetCompletion(input: {lessonIds: $l, completed: true, userId: $id}) "
        f"{{ {ERROR} ... on BulkSetCompletionSuccess {{ succeeded results {{ progress {{ id notes }} }} }} "
        "} }",
        lambda w, v: {"id": v, "l": w.course.lesson_ids},
    ),
    AccessPath(
        "createStudyPlan(userId)",
        "user_id",
        "mutation($id: ID, $l: [ID!]!) "
        '{ createStudyPlan(input: {title: "Hijack", lessonIds: $l, userId: $id}) '
        f"{{ {ERROR} ... on StudyPlanPayload {{ studyPlan {{ title }} }} }} }}",
        lambda w, v: {"id": v, "l": w.course.lesson_ids[:1]},
    ),
    AccessPath(
        "enroll(userId)",
        "user_id",
        f"mutation($id: ID!, $c: ID!) {{ enroll(courseId: $c, userId: $id) {{ {ERROR} "
        "... on EnrollPayload { created } } }",
        lambda w, v: {"id": v, "c": w.course.id},
        control="admin",
    ),
    AccessPath(
        "resetProgress(userId)",
        "user_id",
        'mutation($id: ID!, $c: ID!) { resetProgress(input: {userId: $id, courseId: $c, reason: "idor"}) '
        f"{{ {ERROR} ... on ResetProgressPayload {{ clearedRecords }} }} }}",
        # The other course: the victim is not enrolled there, so the admin's control writes nothing.
        lambda w, v: {"id": v, "c": w.other_course.id},
        control="admin",
    ),
    AccessPath(
        "grantCompletion(userId)",
        "user_id",
        "mutation($id: ID!, $l: [ID!]!) "
        '{ grantCompletion(input: {userId: $id, lessonIds: $l, reason: "idor"}) '
        f"{{ {ERROR} ... on BulkSetCompletionSuccess {{ succeeded }} }} }}",
        lambda w, v: {"id": v, "l": w.course.lesson_ids},  # already completed: the control changes nothing
        control="admin",
    ),
    AccessPath(
        "updateUser(id)",
        "user_id",
        f"mutation($id: ID!, $name: String!) {{ updateUser(input: {{id: $id, name: $name}}) {{ {ERROR} "
        "... on UserPayload { user { name } } } }",
        lambda w, v: {"id": v, "name": VICTIM_NAME},
        control="admin",
    ),
    # --- the victim's bundle progress and product completion, by each user identifier ------------
    *_user_refs("id", "user_id"),
    *_user_refs("email", "user_email"),
    *_user_refs("externalId", "user_external_id"),
    # --- the victim's other objects ----------------------------------------------------------------
    *_node("enrollment"),
    *_node("progress"),
    *_node("certificate"),
    AccessPath(
        "studyPlan(id)",
        "study_plan",
        "query($id: ID!) { studyPlan(id: $id) { id title owner { id } lessons { progress { notes } } "
        "instances { totalCount nodes { id } } } }",
        _id,
    ),
    *_node("study_plan"),
    AccessPath(
        "updateStudyPlan(id)",
        "study_plan",
        f"mutation($id: ID!, $title: String!) {{ updateStudyPlan(input: {{id: $id, title: $title}}) "
        f"{{ {ERROR} ... on StudyPlanPayload {{ studyPlan {{ title }} }} }} }}",
        lambda w, v: {"id": v, "title": PLAN_TITLE},  # the owner's control keeps the title
    ),
    AccessPath(
        "startStudyPlanInstance(planId)",
        "study_plan",
        f"mutation($id: ID!) {{ startStudyPlanInstance(planId: $id) {{ {ERROR} "
        "... on StudyPlanInstancePayload { studyPlanInstance { id } } } }",
        _id,
    ),
    AccessPath(
        "studyPlanInstance(id)",
        "study_plan_instance",
        "query($id: ID!) { studyPlanInstance(id: $id) { id user { id } plan { title } "
        "resources { completed lesson { progress { notes } } } completedResources completionPercentage } }",
        _id,
    ),
    *_node("study_plan_instance"),
    *(
        AccessPath(
            f"upsertProgress(instanceId, {changes})",
            "study_plan_instance",
            "mutation($id: ID!, $l: ID!) "
            f"{{ upsertProgress(input: {{lessonId: $l, instanceId: $id, {changes}}}) "
            f"{{ {ERROR} ... on UpsertProgressSuccess {{ progress {{ id }} }} }} }}",
            lambda w, v: {"id": v, "l": w.course.lesson_ids[0]},
        )
        for changes in ("videoPositionSeconds: 40", "completed: true")
    ),
    *_node("api_key"),
    AccessPath(
        "revokeApiKey(id)",
        "api_key",
        f"mutation($id: ID!) {{ revokeApiKey(id: $id) {{ {ERROR} "
        "... on ApiKeyPayload { apiKey { id } } } }",
        _id,
        control=None,  # the owner's control would revoke the key the owner's other controls use
    ),
    # --- admin-only objects: a learner learns nothing of them either -------------------------------
    *_node("webhook_endpoint", control="admin"),
    AccessPath(
        "webhookDeliveries(endpointId)",
        "webhook_endpoint",
        "query($id: ID) { webhookDeliveries(endpointId: $id) { totalCount nodes { id } } }",
        _id,
        control=None,  # no deliveries yet: even an admin sees an empty page either way
    ),
    AccessPath(
        "updateWebhookEndpoint(id)",
        "webhook_endpoint",
        f'mutation($id: ID!) {{ updateWebhookEndpoint(input: {{id: $id, description: ""}}) {{ {ERROR} '
        "... on WebhookEndpointPayload { endpoint { url } } } }",
        _id,
        control="admin",
    ),
    AccessPath(
        "deleteWebhookEndpoint(id)",
        "webhook_endpoint",
        f"mutation($id: ID!) {{ deleteWebhookEndpoint(id: $id) {{ {ERROR} "
        "... on DeleteWebhookEndpointPayload { deletedId } } }",
        _id,
        control=None,  # an admin's control would delete the endpoint the other rows name
    ),
]


def test_every_path_has_a_distinct_name_and_a_known_target() -> None:
    names = [path.name for path in PATHS]
    assert len(names) == len(set(names))
    targets = {path.target for path in PATHS}
    assert targets == {
        "user_id",
        "user_email",
        "user_external_id",
        "enrollment",
        "progress",
        "certificate",
        "study_plan",
        "study_plan_instance",
        "webhook_endpoint",
        "api_key",
    }


# --- the checks -----------------------------------------------------------------------------------


_TABLES: dict[str, list[str]] = {}  # by database URL: reflected once


async def _snapshot(w: World) -> dict[str, list[str]]:
    """Every row of every table (the world is small): an intruder's call must change none."""
    async with w.api.db.read() as conn:
        url = str(conn.engine.url)
        if url not in _TABLES:
            _TABLES[url] = sorted(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        rows = {}
        for name in _TABLES[url]:
            result = await conn.execute(text(f'SELECT * FROM "{name}"'))
            rows[name] = sorted(repr(tuple(row)) for row in result)
    return rows


async def _answer(w: World, path: AccessPath, value: str, key: str) -> tuple[int, bytes]:
    response = await w.api.post(path.document, path.variables(w, value), key=key)
    return response.status_code, response.content.replace(value.encode(), PLACEHOLDER)


def _assert_reveals_nothing(w: World, body: bytes) -> None:
    for marker in w.markers():
        assert marker.encode() not in body, f"{marker!r} leaked: {body.decode()}"
    assert b"INTERNAL_SERVER_ERROR" not in body, body.decode()


@pytest.mark.parametrize("intruder", ["learner", "instructor"])
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
async def test_another_learners_object_answers_exactly_like_one_that_does_not_exist(
    world: World, path: AccessPath, intruder: str
) -> None:
    theirs, absent = world.targets[path.target]
    key = world.intruders[intruder].key
    before = await _snapshot(world)

    seen = await _answer(world, path, theirs, key)
    nothing = await _answer(world, path, absent, key)

    assert seen == nothing, f"\n{seen[1].decode()}\n!=\n{nothing[1].decode()}"
    _assert_reveals_nothing(world, seen[1])
    assert await _snapshot(world) == before, "the intruder's call changed rows"


@pytest.mark.parametrize("path", [p for p in PATHS if p.control is not None], ids=lambda p: p.name)
async def test_each_path_reaches_the_object_it_names(world: World, path: AccessPath) -> None:
    """Without this, a row whose document never reached the object would pass for nothing."""
    theirs, absent = world.targets[path.target]
    key = world.victim.key if path.control == "owner" else world.admin.key

    seen = await _answer(world, path, theirs, key)
    nothing = await _answer(world, path, absent, key)

    assert seen != nothing
    assert b"INTERNAL_SERVER_ERROR" not in seen[1] + nothing[1]


# --- lists: another learner's objects never appear --------------------------------------------------

# Each list with who must see the victim's objects in it (so that the check can fail).
LISTS: dict[str, tuple[str, str]] = {
    "me": (
        """{ me { id name
        enrollments { id certificate { code } }
        enrollmentsConnection { totalCount nodes { id user { id name } certificate { id code }
          course { lessons { progress { id notes user { id } } } summary { userId } } } }
        progress { totalCount nodes { id notes user { id } } }
        studyPlans { totalCount nodes { id title instances { nodes { id } } } }
        studyPlanInstances { totalCount nodes { id plan { title } user { id } } } } }""",
        "owner",
    ),
    "apiKeys": ("{ apiKeys(includeRevoked: true) { totalCount nodes { id label prefix } } }", "owner"),
    "progress": ("{ progress(first: 100) { totalCount nodes { id notes user { id name } } } }", "owner"),
    "studyPlans": ("{ studyPlans(first: 100) { totalCount nodes { id title owner { id name } } } }", "owner"),
    "courses": (
        """{ courses { nodes { id enrollment { id certificate { code } user { id } }
        summary { userId completedLessons } lessons { progress { id notes } }
        lessonsConnection { nodes { progress { id notes } } } } } }""",
        "owner",
    ),
    "bundles": (
        """{ bundles { nodes { items { __typename
        ... on Course { enrollment { id user { id } } lessons { progress { id notes } } } } } } }""",
        "owner",
    ),
    "bundleProgress": (
        '{ bundleProgress(bundle: {slug: "idor-bundle"}) { __typename ... on BundleProgress { '
        "user { id name } items { __typename ... on CourseItemProgress { course { lessons { progress "
        "{ id notes } } } } } } } }",
        "owner",
    ),
    # A course's learners are for its instructors and admins: the instructor here teaches the
    # other course only, where the victim is not enrolled.
    "Course.learners": (
        f"{{ courses {{ nodes {{ learners {{ totalCount nodes {{ {LEARNER_PROGRESS_FIELDS} }} }} "
        "instructors { nodes { id name } } } } }",
        "admin",
    ),
}


@pytest.mark.parametrize("intruder", ["learner", "instructor"])
@pytest.mark.parametrize("name", list(LISTS))
async def test_lists_never_hold_another_learners_objects(world: World, name: str, intruder: str) -> None:
    document, control = LISTS[name]

    theirs = await world.api.post(document, key=world.intruders[intruder].key)
    seen_by_control = await world.api.post(
        document, key=world.victim.key if control == "owner" else world.admin.key
    )

    assert theirs.status_code == seen_by_control.status_code == 200
    _assert_reveals_nothing(world, theirs.content)
    assert any(marker.encode() in seen_by_control.content for marker in world.markers()), seen_by_control.text


# --- the subscription -------------------------------------------------------------------------------

PROGRESS_UPDATED = """
subscription($c: ID!, $id: ID) { progressUpdated(courseId: $c, userId: $id) { progress { notes } } }
"""


@pytest.mark.parametrize("intruder", ["learner", "instructor"])
async def test_following_another_learners_progress_answers_like_following_no_one(
    world: World, intruder: str
) -> None:
    theirs, absent = world.targets["user_id"]
    answers = []
    async with AsgiWebSocket(world.api.app) as ws:
        assert (await init(ws, {"apiKey": world.intruders[intruder].key}))["type"] == "connection_ack"
        for op_id, value in (("1", theirs), ("1", absent)):
            await subscribe(ws, op_id, PROGRESS_UPDATED, {"c": world.course.id, "id": value})
            message = await next_message(ws, op_id)
            answers.append(repr(message).replace(value, PLACEHOLDER.decode()))

    assert answers[0] == answers[1]
    assert "FORBIDDEN" in answers[0]
