"""node(id) / nodes(ids): any object by global id, with the typed fields' access rules."""

from __future__ import annotations

from typing import Any

import pytest

from gql_progress.domain.ids import encode_id
from tests.support import Api, SeededCourse, SeededUser

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on User { email }
    ... on Course { slug }
    ... on Lesson { title }
    ... on Enrollment { status }
    ... on Progress { videoPositionSeconds notes }
  }
}
"""
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
RECORD = """
mutation($lesson: ID!) {
  upsertProgress(input: {lessonId: $lesson, videoPositionSeconds: 42, notes: "private"}) {
    ... on UpsertProgressSuccess { progress { id } }
  }
}
"""
MY_ENROLLMENT = "query($c: ID!) { course(id: $c) { enrollment { id } } }"


async def _owner_with_records(api: Api) -> tuple[SeededUser, SeededCourse, str, str]:
    owner = await api.user()
    course = await api.course(lessons=2)
    await api.enroll(owner, course)
    written = await api.data(RECORD, {"lesson": course.lesson_ids[0]}, key=owner.key)
    progress_id = written["upsertProgress"]["progress"]["id"]
    enrollment = await api.data(MY_ENROLLMENT, {"c": course.id}, key=owner.key)
    return owner, course, progress_id, enrollment["course"]["enrollment"]["id"]


async def test_the_owner_fetches_each_of_their_objects_by_id(api: Api) -> None:
    owner, course, progress_id, enrollment_id = await _owner_with_records(api)
    expected: dict[str, dict[str, Any]] = {
        owner.id: {"__typename": "User", "email": owner.email},
        course.id: {"__typename": "Course", "slug": course.slug},
        course.lesson_ids[0]: {"__typename": "Lesson", "title": "Lesson 0"},
        enrollment_id: {"__typename": "Enrollment", "status": "ACTIVE"},
        progress_id: {"__typename": "Progress", "videoPositionSeconds": 42, "notes": "private"},
    }
    for global_id, fields in expected.items():
        data = await api.data(NODE, {"id": global_id}, key=owner.key)
        assert data["node"] == {"id": global_id, **fields}


@pytest.mark.parametrize("kind", ["User", "Enrollment", "Progress"])
async def test_another_learners_object_answers_exactly_like_an_id_that_does_not_exist(
    api: Api, kind: str
) -> None:
    owner, _, progress_id, enrollment_id = await _owner_with_records(api)
    stranger = await api.user()
    theirs = {"User": owner.id, "Enrollment": enrollment_id, "Progress": progress_id}[kind]
    nobodys = encode_id(kind, 2_000_000_000)

    seen = await api.post(NODE, {"id": theirs}, key=stranger.key)
    missing = await api.post(NODE, {"id": nobodys}, key=stranger.key)

    assert seen.status_code == missing.status_code == 200
    assert seen.json() == missing.json() == {"data": {"node": None}}
    listed = await api.data(NODES, {"ids": [theirs, nobodys]}, key=stranger.key)
    assert listed == {"nodes": [None, None]}


async def test_an_admin_fetches_any_learners_objects(api: Api) -> None:
    owner, _, progress_id, enrollment_id = await _owner_with_records(api)
    admin = await api.admin()

    data = await api.data(NODES, {"ids": [owner.id, enrollment_id, progress_id]}, key=admin.key)

    assert [n["__typename"] for n in data["nodes"]] == ["User", "Enrollment", "Progress"]


@pytest.mark.parametrize("bad_id", ["not-an-id", encode_id("Nothing", 1), encode_id("Lesson", 2**40), ""])
async def test_malformed_or_foreign_ids_resolve_to_null(api: Api, bad_id: str) -> None:
    learner = await api.user()
    assert await api.data(NODE, {"id": bad_id}, key=learner.key) == {"node": None}


async def test_nodes_answers_in_request_order_with_duplicates(api: Api) -> None:
    owner, course, progress_id, _ = await _owner_with_records(api)
    ids = [progress_id, course.id, "junk", progress_id, owner.id]

    data = await api.data(NODES, {"ids": ids}, key=owner.key)

    assert [None if n is None else n["id"] for n in data["nodes"]] == [
        progress_id,
        course.id,
        None,
        progress_id,
        owner.id,
    ]


async def test_nodes_refuses_more_than_100_ids(api: Api) -> None:
    learner = await api.user()
    body: dict[str, Any] = await api.gql(NODES, {"ids": ["x"] * 101}, key=learner.key)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"


async def test_nodes_cost_does_not_grow_with_the_number_of_ids(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=30)
    await api.enroll(learner, course)
    progress_ids = []
    for lesson in course.lesson_ids:
        written = await api.data(RECORD, {"lesson": lesson}, key=learner.key)
        progress_ids.append(written["upsertProgress"]["progress"]["id"])
    mixed = [*progress_ids, *course.lesson_ids]

    five = await api.statements(NODES, {"ids": mixed[:3] + mixed[-2:]}, key=learner.key)
    sixty = await api.statements(NODES, {"ids": mixed}, key=learner.key)

    assert five == sixty
