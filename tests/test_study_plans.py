"""Study plans (issue 4): a learner's own ordered lists of lessons and the instances they start.

Progress stays one record per (user, lesson): an instance only shows it. Every test talks GraphQL
over HTTP, on SQLite and on PostgreSQL; data is seeded with the helpers of tests.support.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from gql_progress.db.models import LessonProgress
from gql_progress.domain.completion.summary import completion_percentage
from gql_progress.domain.ids import encode_id
from gql_progress.domain.study_plan_progress import PlanLesson, instance_progress
from tests.support import Api, SeededCourse, SeededUser

# --- GraphQL documents -------------------------------------------------------------------------

ERROR_FIELDS = """
    __typename
    ... on Error { code message }
    ... on ValidationError { fields { path message } }
"""

PLAN_FIELDS = "id title createdAt updatedAt owner { id } lessons { id }"

CREATE_PLAN = f"""
mutation($input: CreateStudyPlanInput!) {{
  createStudyPlan(input: $input) {{
    {ERROR_FIELDS}
    ... on StudyPlanPayload {{ studyPlan {{ {PLAN_FIELDS} }} }}
  }}
}}
"""

UPDATE_PLAN = f"""
mutation($input: UpdateStudyPlanInput!) {{
  updateStudyPlan(input: $input) {{
    {ERROR_FIELDS}
    ... on StudyPlanPayload {{ studyPlan {{ {PLAN_FIELDS} }} }}
  }}
}}
"""

START = f"""
mutation($planId: ID!) {{
  startStudyPlanInstance(planId: $planId) {{
    {ERROR_FIELDS}
    ... on StudyPlanInstancePayload {{ studyPlanInstance {{ id user {{ id }} plan {{ id }} }} }}
  }}
}}
"""

INSTANCE_FIELDS = """
    id startedAt
    plan { id title }
    user { id }
    resources { position lesson { id } completed completedAt }
    completedResources
    completionPercentage
"""

INSTANCE = f"query($id: ID!) {{ studyPlanInstance(id: $id) {{ {INSTANCE_FIELDS} }} }}"
PLAN = (
    "query($id: ID!) { studyPlan(id: $id) { id title lessons { id } instances { totalCount nodes { id } } } }"
)
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
MY_PLANS = """
{ me { studyPlans { totalCount nodes { id } } studyPlanInstances { totalCount nodes { id } } } }
"""
PLANS_OF = "query($userId: ID) { studyPlans(userId: $userId) { totalCount nodes { id title } } }"
USER_PLANS = """
query($id: ID!) { user(id: $id) { studyPlans { nodes { id } } studyPlanInstances { nodes { id } } } }
"""

UPSERT = f"""
mutation($input: UpsertProgressInput!) {{
  upsertProgress(input: $input) {{
    {ERROR_FIELDS}
    ... on UpsertProgressSuccess {{ progress {{ completed completedAt }} }}
  }}
}}
"""

BULK_COMPLETE = """
mutation($ids: [ID!]!) { bulkSetCompletion(input: {lessonIds: $ids, completed: true}) { __typename } }
"""
REMOVE_LESSON = f"mutation($id: ID!) {{ removeLesson(id: $id) {{ {ERROR_FIELDS} }} }}"

MISSING_PLAN = encode_id("StudyPlan", 2_000_000_000)
MISSING_INSTANCE = encode_id("StudyPlanInstance", 2_000_000_000)
MISSING_LESSON = encode_id("Lesson", 2_000_000_000)


# --- helpers -----------------------------------------------------------------------------------


async def _create(
    api: Api, user: SeededUser, lesson_ids: list[str], title: str = "My plan", **extra: Any
) -> dict[str, Any]:
    data = await api.data(
        CREATE_PLAN, {"input": {"title": title, "lessonIds": lesson_ids, **extra}}, key=user.key
    )
    result: dict[str, Any] = data["createStudyPlan"]
    return result


async def _plan(api: Api, user: SeededUser, lesson_ids: list[str], title: str = "My plan") -> str:
    result = await _create(api, user, lesson_ids, title)
    assert result["__typename"] == "StudyPlanPayload", result
    plan_id: str = result["studyPlan"]["id"]
    return plan_id


async def _start(api: Api, user: SeededUser, plan_id: str) -> str:
    data = await api.data(START, {"planId": plan_id}, key=user.key)
    result = data["startStudyPlanInstance"]
    assert result["__typename"] == "StudyPlanInstancePayload", result
    instance_id: str = result["studyPlanInstance"]["id"]
    return instance_id


async def _instance(api: Api, user: SeededUser, instance_id: str) -> dict[str, Any]:
    data = await api.data(INSTANCE, {"id": instance_id}, key=user.key)
    instance: dict[str, Any] = data["studyPlanInstance"]
    return instance


async def _upsert(api: Api, user: SeededUser, **fields: Any) -> dict[str, Any]:
    data = await api.data(UPSERT, {"input": fields}, key=user.key)
    result: dict[str, Any] = data["upsertProgress"]
    return result


async def _progress_rows(api: Api) -> list[tuple[int, int]]:
    """(user id, lesson id) of every progress record in the database."""
    async with api.db.read() as conn:
        rows = await conn.execute(select(LessonProgress.user_id, LessonProgress.lesson_id))
        return [(row.user_id, row.lesson_id) for row in rows]


async def _learner_in(api: Api, *courses: SeededCourse) -> SeededUser:
    learner = await api.user()
    for course in courses:
        await api.enroll(learner, course)
    return learner


def _paths(result: dict[str, Any]) -> list[list[str]]:
    return sorted(field["path"] for field in result["fields"])


# --- the seed flow: progress through one instance shows in every instance ---------------------


async def test_completing_a_lesson_through_one_instance_completes_it_in_every_instance(api: Api) -> None:
    sql, git = await api.course(lessons=3), await api.course(lessons=1)
    learner = await _learner_in(api, sql, git)
    # Lessons from two courses, in an order of the learner's own.
    order = [git.lesson_ids[0], sql.lesson_ids[2], sql.lesson_ids[0]]
    plan_id = await _plan(api, learner, order, title="Databases, then tools")
    first = await _start(api, learner, plan_id)
    second = await _start(api, learner, plan_id)
    assert first != second

    before = await _instance(api, learner, second)
    assert [r["completed"] for r in before["resources"]] == [False, False, False]
    assert before["completedResources"] == []
    assert before["completionPercentage"] == 0.0

    written = await _upsert(api, learner, lessonId=sql.lesson_ids[2], completed=True, instanceId=first)
    assert written["__typename"] == "UpsertProgressSuccess", written
    completed_at = written["progress"]["completedAt"]
    assert completed_at is not None
    # Started but not completed, through the other instance: not a completed resource anywhere.
    heartbeat = await _upsert(api, learner, lessonId=order[0], videoPositionSeconds=30, instanceId=second)
    assert heartbeat["__typename"] == "UpsertProgressSuccess", heartbeat

    for instance_id in (first, second):
        instance = await _instance(api, learner, instance_id)
        assert instance["plan"] == {"id": plan_id, "title": "Databases, then tools"}
        assert instance["user"] == {"id": learner.id}
        assert instance["resources"] == [
            {"position": 0, "lesson": {"id": order[0]}, "completed": False, "completedAt": None},
            {"position": 1, "lesson": {"id": order[1]}, "completed": True, "completedAt": completed_at},
            {"position": 2, "lesson": {"id": order[2]}, "completed": False, "completedAt": None},
        ]
        assert instance["completedResources"] == [sql.lesson_ids[2]]
        assert instance["completionPercentage"] == 33.33

    # One record per (learner, lesson), not one per instance.
    assert sorted(await _progress_rows(api)) == sorted(
        [(learner.pk, sql.lesson_pks[2]), (learner.pk, git.lesson_pks[0])]
    )
    plan = (await api.data(PLAN, {"id": plan_id}, key=learner.key))["studyPlan"]
    assert plan["lessons"] == [{"id": lesson_id} for lesson_id in order]
    assert plan["instances"] == {"totalCount": 2, "nodes": [{"id": first}, {"id": second}]}


async def test_progress_written_without_an_instance_shows_in_the_instances_too(api: Api) -> None:
    course = await api.course(lessons=2)
    learner = await _learner_in(api, course)
    instance_id = await _start(api, learner, await _plan(api, learner, course.lesson_ids))

    await api.data(BULK_COMPLETE, {"ids": course.lesson_ids}, key=learner.key)

    instance = await _instance(api, learner, instance_id)
    assert instance["completedResources"] == course.lesson_ids
    assert instance["completionPercentage"] == 100.0


# --- upsertProgress(instanceId) refusals --------------------------------------------------------


@pytest.mark.parametrize("changes", [{"videoPositionSeconds": 30}, {"completed": True}])
async def test_an_instance_that_does_not_exist_is_not_found_and_nothing_is_written(
    api: Api, changes: dict[str, Any]
) -> None:
    course = await api.course(lessons=1)
    learner = await _learner_in(api, course)

    result = await _upsert(
        api, learner, lessonId=course.lesson_ids[0], instanceId=MISSING_INSTANCE, **changes
    )

    assert result["__typename"] == "NotFoundError"
    assert result["code"] == "NOT_FOUND"
    assert await _progress_rows(api) == []


@pytest.mark.parametrize("changes", [{"videoPositionSeconds": 30}, {"completed": True}])
async def test_another_learners_instance_is_not_found_exactly_like_a_missing_one_and_writes_nothing(
    api: Api, changes: dict[str, Any]
) -> None:
    course = await api.course(lessons=1)
    owner, intruder = await _learner_in(api, course), await _learner_in(api, course)
    secret_title = "Owner's secret plan"
    theirs = await _start(api, owner, await _plan(api, owner, course.lesson_ids, title=secret_title))

    result = await _upsert(api, intruder, lessonId=course.lesson_ids[0], instanceId=theirs, **changes)
    missing = await _upsert(
        api, intruder, lessonId=course.lesson_ids[0], instanceId=MISSING_INSTANCE, **changes
    )

    assert result == missing
    assert result["__typename"] == "NotFoundError"
    assert result["code"] == "NOT_FOUND"
    for revealing in (secret_title, owner.email, owner.external_id, owner.id, str(owner.pk), theirs):
        assert revealing not in result["message"]
    assert await _progress_rows(api) == []


async def test_an_admin_writing_for_one_learner_through_anothers_instance_is_not_found(api: Api) -> None:
    course = await api.course(lessons=1)
    admin = await api.admin()
    learner, other = await _learner_in(api, course), await _learner_in(api, course)
    others = await _start(api, other, await _plan(api, other, course.lesson_ids))

    result = await _upsert(
        api, admin, lessonId=course.lesson_ids[0], userId=learner.id, instanceId=others, completed=True
    )

    assert result["__typename"] == "NotFoundError"
    assert result["code"] == "NOT_FOUND"
    assert await _progress_rows(api) == []


@pytest.mark.parametrize("changes", [{"videoPositionSeconds": 30}, {"completed": True}])
async def test_a_lesson_outside_the_instances_plan_is_a_validation_error_and_nothing_is_written(
    api: Api, changes: dict[str, Any]
) -> None:
    course = await api.course(lessons=2)
    learner = await _learner_in(api, course)  # enrolled: without the instance the write would succeed
    instance_id = await _start(api, learner, await _plan(api, learner, course.lesson_ids[:1]))

    result = await _upsert(api, learner, lessonId=course.lesson_ids[1], instanceId=instance_id, **changes)

    assert result["__typename"] == "ValidationError"
    assert _paths(result) == [["input", "lessonId"]]
    assert await _progress_rows(api) == []


async def test_a_malformed_instance_id_is_reported_with_the_other_bad_fields(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await _learner_in(api, course)

    result = await _upsert(
        api, learner, lessonId=course.lesson_ids[0], instanceId=course.id, videoPositionSeconds=-1
    )

    assert result["__typename"] == "ValidationError"
    assert _paths(result) == [["input", "instanceId"], ["input", "videoPositionSeconds"]]
    assert await _progress_rows(api) == []


# --- createStudyPlan / updateStudyPlan validation ----------------------------------------------


async def test_create_study_plan_lists_every_bad_field_at_once_and_creates_nothing(api: Api) -> None:
    course = await api.course(lessons=3)
    admin = await api.admin()
    learner = await _learner_in(api, course)
    removed = course.lesson_ids[2]
    assert (await api.data(REMOVE_LESSON, {"id": removed}, key=admin.key))["removeLesson"][
        "__typename"
    ] == "LessonPayload"

    lesson_ids = [
        course.lesson_ids[0],  # fine
        "nonsense",  # 1: not an id
        course.id,  # 2: an id of another type
        course.lesson_ids[0],  # 3: listed twice
        MISSING_LESSON,  # 4: names no lesson
        removed,  # 5: no longer part of its course
        course.lesson_ids[1],  # fine
    ]
    result = await _create(api, learner, lesson_ids, title="bad\x00title")

    assert result["__typename"] == "ValidationError"
    assert result["code"] == "VALIDATION_FAILED"
    assert _paths(result) == [
        ["input", "lessonIds", "1"],
        ["input", "lessonIds", "2"],
        ["input", "lessonIds", "3"],
        ["input", "lessonIds", "4"],
        ["input", "lessonIds", "5"],
        ["input", "title"],
    ]
    assert (await api.data(MY_PLANS, key=learner.key))["me"]["studyPlans"]["totalCount"] == 0


@pytest.mark.parametrize(
    ("title", "count", "bad_paths"),
    [
        ("", 1, [["input", "title"]]),
        ("   ", 1, [["input", "title"]]),
        ("x" * 501, 1, [["input", "title"]]),
        ("ok", 0, [["input", "lessonIds"]]),
        ("", 0, [["input", "lessonIds"], ["input", "title"]]),
    ],
)
async def test_create_study_plan_refuses_bad_titles_and_lesson_counts(
    api: Api, title: str, count: int, bad_paths: list[list[str]]
) -> None:
    course = await api.course(lessons=1)
    learner = await _learner_in(api, course)

    result = await _create(api, learner, course.lesson_ids[:count], title=title)

    assert result["__typename"] == "ValidationError"
    assert _paths(result) == bad_paths


async def test_create_study_plan_refuses_more_than_500_lessons(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await _learner_in(api, course)
    # Well-formed ids; the count is refused before any of them is looked up.
    too_many = [encode_id("Lesson", pk) for pk in range(1, 502)]

    result = await _create(api, learner, too_many)

    assert result["__typename"] == "ValidationError"
    assert _paths(result) == [["input", "lessonIds"]]


async def test_a_title_of_500_characters_is_accepted(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await _learner_in(api, course)
    result = await _create(api, learner, course.lesson_ids, title="é" * 500)
    assert result["__typename"] == "StudyPlanPayload"
    assert result["studyPlan"]["title"] == "é" * 500


async def test_update_study_plan_replaces_title_and_ordered_lessons(api: Api) -> None:
    course = await api.course(lessons=4)
    learner = await _learner_in(api, course)
    created = await _create(api, learner, course.lesson_ids[:2], title="Before")
    plan = created["studyPlan"]
    instance_id = await _start(api, learner, plan["id"])

    new_order = [course.lesson_ids[3], course.lesson_ids[0], course.lesson_ids[2]]
    updated = (
        await api.data(UPDATE_PLAN, {"input": {"id": plan["id"], "lessonIds": new_order}}, key=learner.key)
    )["updateStudyPlan"]
    assert updated["__typename"] == "StudyPlanPayload", updated
    assert updated["studyPlan"]["title"] == "Before"
    assert updated["studyPlan"]["lessons"] == [{"id": i} for i in new_order]
    assert updated["studyPlan"]["updatedAt"] > plan["updatedAt"]
    assert updated["studyPlan"]["createdAt"] == plan["createdAt"]
    # The existing instance follows the plan.
    resources = (await _instance(api, learner, instance_id))["resources"]
    assert [(r["position"], r["lesson"]["id"]) for r in resources] == list(enumerate(new_order))

    renamed = (await api.data(UPDATE_PLAN, {"input": {"id": plan["id"], "title": "After"}}, key=learner.key))[
        "updateStudyPlan"
    ]
    assert renamed["studyPlan"]["title"] == "After"
    assert renamed["studyPlan"]["lessons"] == [{"id": i} for i in new_order]


async def test_update_study_plan_lists_every_bad_field_and_changes_nothing(api: Api) -> None:
    course = await api.course(lessons=2)
    learner = await _learner_in(api, course)
    plan_id = await _plan(api, learner, course.lesson_ids, title="Kept")

    bad = {
        "id": plan_id,
        "title": "",
        "lessonIds": [course.lesson_ids[1], MISSING_LESSON, course.lesson_ids[1]],
    }
    result = (await api.data(UPDATE_PLAN, {"input": bad}, key=learner.key))["updateStudyPlan"]

    assert result["__typename"] == "ValidationError"
    assert _paths(result) == [["input", "lessonIds", "1"], ["input", "lessonIds", "2"], ["input", "title"]]
    plan = (await api.data(PLAN, {"id": plan_id}, key=learner.key))["studyPlan"]
    assert plan["title"] == "Kept"
    assert plan["lessons"] == [{"id": i} for i in course.lesson_ids]

    nulls = (
        await api.data(
            UPDATE_PLAN, {"input": {"id": "junk", "title": None, "lessonIds": None}}, key=learner.key
        )
    )["updateStudyPlan"]
    assert _paths(nulls) == [["input", "id"], ["input", "lessonIds"], ["input", "title"]]


async def test_unknown_plans_are_not_found_for_update_and_start(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await _learner_in(api, course)

    updated = (await api.data(UPDATE_PLAN, {"input": {"id": MISSING_PLAN, "title": "x"}}, key=learner.key))[
        "updateStudyPlan"
    ]
    started = (await api.data(START, {"planId": MISSING_PLAN}, key=learner.key))["startStudyPlanInstance"]
    malformed = (await api.data(START, {"planId": course.id}, key=learner.key))["startStudyPlanInstance"]

    assert updated["__typename"] == started["__typename"] == "NotFoundError"
    assert malformed["__typename"] == "ValidationError"
    assert _paths(malformed) == [["planId"]]


# --- another learner's plans answer like ids that do not exist ---------------------------------


async def test_another_learners_plan_and_instance_answer_exactly_like_ids_that_do_not_exist(api: Api) -> None:
    course = await api.course(lessons=2)
    owner, stranger = await _learner_in(api, course), await _learner_in(api, course)
    plan_id = await _plan(api, owner, course.lesson_ids, title="Owner's")
    instance_id = await _start(api, owner, plan_id)
    pairs = [(plan_id, MISSING_PLAN), (instance_id, MISSING_INSTANCE)]

    for theirs, missing in pairs:
        by_id = (PLAN, "studyPlan") if theirs == plan_id else (INSTANCE, "studyPlanInstance")
        for query, variables, expected in (
            (by_id[0], lambda i: {"id": i}, {by_id[1]: None}),
            (NODE, lambda i: {"id": i}, {"node": None}),
            (NODES, lambda i: {"ids": [i]}, {"nodes": [None]}),
        ):
            seen = await api.post(query, variables(theirs), key=stranger.key)
            absent = await api.post(query, variables(missing), key=stranger.key)
            assert seen.status_code == absent.status_code == 200
            assert seen.json() == absent.json() == {"data": expected}

    # Their own lists do not hold it; another user's lists answer as for a user that does not exist.
    mine = (await api.data(MY_PLANS, key=stranger.key))["me"]
    assert mine == {
        "studyPlans": {"totalCount": 0, "nodes": []},
        "studyPlanInstances": {"totalCount": 0, "nodes": []},
    }
    nobody = encode_id("User", 2_000_000_000)
    for query, arg in ((USER_PLANS, "id"), (PLANS_OF, "userId")):
        seen = (await api.post(query, {arg: owner.id}, key=stranger.key)).json()
        absent = (await api.post(query, {arg: nobody}, key=stranger.key)).json()
        assert seen == absent
        assert seen["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # Writes: the plan is not found, exactly like one that does not exist, and stays unchanged.
    for mutation, variables, field in (
        (UPDATE_PLAN, lambda p: {"input": {"id": p, "title": "Hijacked"}}, "updateStudyPlan"),
        (START, lambda p: {"planId": p}, "startStudyPlanInstance"),
    ):
        seen = (await api.data(mutation, variables(plan_id), key=stranger.key))[field]
        absent = (await api.data(mutation, variables(MISSING_PLAN), key=stranger.key))[field]
        assert seen == absent
        assert seen["__typename"] == "NotFoundError"
    plan = (await api.data(PLAN, {"id": plan_id}, key=owner.key))["studyPlan"]
    assert plan["title"] == "Owner's"
    assert plan["instances"]["totalCount"] == 1


async def test_the_owner_sees_their_plan_and_instance_everywhere(api: Api) -> None:
    course = await api.course(lessons=1)
    owner = await _learner_in(api, course)
    plan_id = await _plan(api, owner, course.lesson_ids)
    instance_id = await _start(api, owner, plan_id)

    listed = await api.data(NODES, {"ids": [plan_id, instance_id]}, key=owner.key)
    mine = (await api.data(MY_PLANS, key=owner.key))["me"]
    own = await api.data(PLANS_OF, {"userId": owner.id}, key=owner.key)

    assert listed["nodes"] == [
        {"__typename": "StudyPlan", "id": plan_id},
        {"__typename": "StudyPlanInstance", "id": instance_id},
    ]
    assert mine["studyPlans"] == {"totalCount": 1, "nodes": [{"id": plan_id}]}
    assert mine["studyPlanInstances"] == {"totalCount": 1, "nodes": [{"id": instance_id}]}
    assert own["studyPlans"]["nodes"] == [{"id": plan_id, "title": "My plan"}]


# --- admins act for learners --------------------------------------------------------------------


async def test_an_admin_creates_updates_starts_and_records_for_a_learner(api: Api) -> None:
    course = await api.course(lessons=2)
    admin = await api.admin()
    learner = await _learner_in(api, course)

    created = await _create(api, admin, course.lesson_ids, title="Assigned", userId=learner.id)
    assert created["__typename"] == "StudyPlanPayload", created
    assert created["studyPlan"]["owner"] == {"id": learner.id}
    plan_id = created["studyPlan"]["id"]

    renamed = (
        await api.data(UPDATE_PLAN, {"input": {"id": plan_id, "title": "Assigned v2"}}, key=admin.key)
    )["updateStudyPlan"]
    assert renamed["studyPlan"]["title"] == "Assigned v2"
    started = (await api.data(START, {"planId": plan_id}, key=admin.key))["startStudyPlanInstance"]
    # The instance is the plan owner's, not the admin's.
    assert started["studyPlanInstance"]["user"] == {"id": learner.id}
    instance_id = started["studyPlanInstance"]["id"]

    written = await _upsert(
        api, admin, lessonId=course.lesson_ids[1], userId=learner.id, instanceId=instance_id, completed=True
    )
    assert written["__typename"] == "UpsertProgressSuccess", written

    seen_by_learner = await _instance(api, learner, instance_id)
    assert seen_by_learner["completedResources"] == [course.lesson_ids[1]]
    assert seen_by_learner["completionPercentage"] == 50.0
    listed = await api.data(PLANS_OF, {"userId": learner.id}, key=admin.key)
    assert listed["studyPlans"] == {"totalCount": 1, "nodes": [{"id": plan_id, "title": "Assigned v2"}]}
    admins_view = await api.data(USER_PLANS, {"id": learner.id}, key=admin.key)
    assert admins_view["user"]["studyPlanInstances"]["nodes"] == [{"id": instance_id}]
    assert (await api.data(NODE, {"id": instance_id}, key=admin.key))["node"]["id"] == instance_id
    assert (await api.data(MY_PLANS, key=admin.key))["me"]["studyPlans"]["totalCount"] == 0


async def test_only_admins_create_plans_for_others_and_only_for_users_that_exist(api: Api) -> None:
    course = await api.course(lessons=1)
    admin = await api.admin()
    learner, other = await _learner_in(api, course), await _learner_in(api, course)

    refused = await _create(api, learner, course.lesson_ids, userId=other.id)
    missing = await _create(api, admin, course.lesson_ids, userId=encode_id("User", 2_000_000_000))

    assert refused["__typename"] == "ForbiddenError"
    assert missing["__typename"] == "NotFoundError"
    assert (await api.data(MY_PLANS, key=other.key))["me"]["studyPlans"]["totalCount"] == 0


# --- removed lessons ----------------------------------------------------------------------------


async def test_a_lesson_removed_from_its_course_stops_counting_as_a_resource(api: Api) -> None:
    course = await api.course(lessons=3)
    admin = await api.admin()
    learner = await _learner_in(api, course)
    l0, l1, l2 = course.lesson_ids
    plan_id = await _plan(api, learner, [l0, l1, l2])
    instance_id = await _start(api, learner, plan_id)
    await api.data(BULK_COMPLETE, {"ids": [l0, l1]}, key=learner.key)
    assert (await _instance(api, learner, instance_id))["completionPercentage"] == 66.67

    await api.data(REMOVE_LESSON, {"id": l2}, key=admin.key)  # the one not completed

    instance = await _instance(api, learner, instance_id)
    assert [r["lesson"]["id"] for r in instance["resources"]] == [l0, l1]
    assert instance["completedResources"] == [l0, l1]
    assert instance["completionPercentage"] == 100.0
    plan = (await api.data(PLAN, {"id": plan_id}, key=learner.key))["studyPlan"]
    assert plan["lessons"] == [{"id": l0}, {"id": l1}]

    for lesson_id in (l0, l1):
        await api.data(REMOVE_LESSON, {"id": lesson_id}, key=admin.key)
    emptied = await _instance(api, learner, instance_id)
    assert emptied["resources"] == []
    assert emptied["completedResources"] == []
    assert emptied["completionPercentage"] == 0.0


# --- pagination ---------------------------------------------------------------------------------


async def test_plan_and_instance_lists_page_with_cursors(api: Api) -> None:
    course = await api.course(lessons=1)
    learner = await _learner_in(api, course)
    plans = [await _plan(api, learner, course.lesson_ids, title=f"Plan {i}") for i in range(3)]
    instances = [await _start(api, learner, plans[0]) for _ in range(3)]
    query = """
      query($plan: ID!, $after: String) {
        studyPlans(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } }
        me { studyPlanInstances(first: 2, after: $after) { nodes { id } } }
        studyPlan(id: $plan) { instances(first: 2) { totalCount pageInfo { hasNextPage } nodes { id } } }
      }
    """

    first = await api.data(query, {"plan": plans[0], "after": None}, key=learner.key)
    assert first["studyPlans"]["nodes"] == [{"id": p} for p in plans[:2]]
    assert first["studyPlans"]["totalCount"] == 3
    assert first["studyPlans"]["pageInfo"]["hasNextPage"] is True
    assert first["me"]["studyPlanInstances"]["nodes"] == [{"id": i} for i in instances[:2]]
    assert first["studyPlan"]["instances"]["totalCount"] == 3
    assert first["studyPlan"]["instances"]["nodes"] == [{"id": i} for i in instances[:2]]
    cursor = first["studyPlans"]["pageInfo"]["endCursor"]
    rest = await api.data(query, {"plan": plans[0], "after": cursor}, key=learner.key)
    assert rest["studyPlans"]["nodes"] == [{"id": plans[2]}]
    assert rest["studyPlans"]["pageInfo"]["hasNextPage"] is False


# --- statement counts ---------------------------------------------------------------------------

MY_INSTANCES = """
{
  me {
    studyPlanInstances {
      nodes {
        plan { title }
        resources { lesson { title } completed completedAt }
        completionPercentage
      }
    }
  }
}
"""


async def test_my_instances_cost_the_same_statements_for_2_and_for_10_instances(api: Api) -> None:
    counts = []
    for instances in (2, 10):
        first, second = await api.course(lessons=3), await api.course(lessons=2)
        learner = await _learner_in(api, first, second)
        plans = [
            await _plan(api, learner, [*first.lesson_ids, second.lesson_ids[0]]),
            await _plan(api, learner, [second.lesson_ids[1], first.lesson_ids[0]]),
        ]
        for n in range(instances):
            await _start(api, learner, plans[n % 2])
        await api.data(BULK_COMPLETE, {"ids": [first.lesson_ids[0]]}, key=learner.key)

        data = await api.data(MY_INSTANCES, key=learner.key)
        nodes = data["me"]["studyPlanInstances"]["nodes"]
        assert len(nodes) == instances
        assert {n["completionPercentage"] for n in nodes} == {25.0, 50.0}
        counts.append(await api.statements(MY_INSTANCES, key=learner.key))

    assert counts[0] == counts[1]
    # key, the instances page, their plans, the plans' lessons, the learner's records
    assert counts[1] <= 5


PLANS_WITH_INSTANCES = """
{
  me {
    studyPlans(first: 20) {
      totalCount
      nodes { title instances(first: 5) { totalCount nodes { completionPercentage } } }
    }
  }
}
"""


async def test_plans_with_their_instances_cost_the_same_statements_for_2_and_for_8_plans(api: Api) -> None:
    counts = []
    for plans in (2, 8):
        course = await api.course(lessons=2)
        learner = await _learner_in(api, course)
        for _ in range(plans):
            plan = await _plan(api, learner, course.lesson_ids)
            await _start(api, learner, plan)
            await _start(api, learner, plan)

        data = await api.data(PLANS_WITH_INSTANCES, key=learner.key)
        listed = data["me"]["studyPlans"]
        assert listed["totalCount"] == plans
        assert [p["instances"]["totalCount"] for p in listed["nodes"]] == [2] * plans
        counts.append(await api.statements(PLANS_WITH_INSTANCES, key=learner.key))

    # The instances of every plan come from one batch, not one statement per plan.
    assert counts[0] == counts[1]


# --- the domain rule, on its own ---------------------------------------------------------------


NOW = datetime(2024, 5, 1, tzinfo=UTC)


def _lesson(pk: int, position: int) -> Any:
    lesson: Any = SimpleNamespace(id=pk)  # instance_progress reads only its id
    return PlanLesson(position, lesson)


def _record(completed: bool) -> Any:
    return SimpleNamespace(completed=completed, completed_at=NOW if completed else None)


def test_an_instance_counts_only_completed_records_and_never_rounds_up_to_100() -> None:
    lessons = [_lesson(pk, position) for position, pk in enumerate((7, 3, 9))]
    progress = instance_progress(lessons, [_record(True), _record(False), None])

    assert [(r.position, r.lesson.id, r.completed, r.completed_at) for r in progress.resources] == [
        (0, 7, True, NOW),
        (1, 3, False, None),
        (2, 9, False, None),
    ]
    assert [r.lesson.id for r in progress.completed] == [7]
    assert progress.completion_percentage == 33.33
    assert instance_progress([], []).completion_percentage == 0.0
    assert completion_percentage(2, 3) == 66.67
    assert completion_percentage(19_999, 20_000) == 99.99
    assert completion_percentage(3, 3) == 100.0
