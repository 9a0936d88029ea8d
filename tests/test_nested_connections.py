"""Connections nested under other objects (User.progress, User.enrollmentsConnection,
Course.lessonsConnection): correct pages for every parent, and a statement count that does not
grow with the number of parents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gql_progress.api.pagination import encode_cursor
from gql_progress.domain import catalog
from gql_progress.domain.completion.upsert import upsert_progress
from gql_progress.domain.ids import encode_id
from tests.support import Api, SeededCourse, SeededUser

PAGE_FIELDS = "totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"

USER_PROGRESS = f"""
query($id: ID!, $courseId: ID, $first: Int, $after: String) {{
  user(id: $id) {{
    progress(courseId: $courseId, first: $first, after: $after) {{
      {PAGE_FIELDS} edges {{ cursor node {{ id lesson {{ id }} }} }}
    }}
  }}
}}
"""
# The top-level connection pages with `paginate`, one user at a time: the reference answer.
TOP_PROGRESS = f"""
query($id: ID!, $courseId: ID, $first: Int, $after: String) {{
  progress(userId: $id, courseId: $courseId, first: $first, after: $after) {{
    {PAGE_FIELDS} edges {{ cursor node {{ id lesson {{ id }} }} }}
  }}
}}
"""
MY_ENROLLMENTS = f"""
query($first: Int, $after: String) {{
  me {{
    enrollmentsConnection(first: $first, after: $after) {{
      {PAGE_FIELDS} edges {{ cursor node {{ id status course {{ id }} }} }}
    }}
  }}
}}
"""
COURSE_LESSONS = f"""
query($slug: String!, $first: Int, $after: String) {{
  course(slug: $slug) {{
    lessonsConnection(first: $first, after: $after) {{
      {PAGE_FIELDS} edges {{ cursor node {{ id position title progressStatus progress {{ status }} }} }}
    }}
  }}
}}
"""
COURSE_LESSON_LIST = """
query($slug: String!) {
  course(slug: $slug) { lessons { id position title progressStatus progress { status } } }
}
"""

Connection = dict[str, Any]


async def record(api: Api, user: SeededUser, lesson_pk: int, **changes: Any) -> None:
    await upsert_progress(api.db, user_id=user.pk, lesson_id=lesson_pk, changes=changes)


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or []]


async def walk(
    api: Api,
    query: str,
    variables: dict[str, Any],
    first: int,
    connection_of: Callable[[dict[str, Any]], Connection],
    *,
    key: str,
) -> list[Connection]:
    """Every page of a connection, following endCursor, checking each page's PageInfo."""
    pages: list[Connection] = []
    after = None
    while True:
        data = await api.data(query, {**variables, "first": first, "after": after}, key=key)
        page = connection_of(data)
        edges, info = page["edges"], page["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        assert info["startCursor"] == (edges[0]["cursor"] if edges else None)
        assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)
        pages.append(page)
        if not info["hasNextPage"]:
            return pages
        assert len(edges) == first  # only a full page can have more after it
        after = info["endCursor"]


def nodes_of(pages: list[Connection]) -> list[dict[str, Any]]:
    return [edge["node"] for page in pages for edge in page["edges"]]


# --- User.progress -------------------------------------------------------------------------------


async def _learners_with_records(api: Api) -> tuple[SeededUser, SeededUser, SeededCourse, list[int]]:
    """A learner with 7 records over two courses, another learner's records in between.

    Returns the learner, the other learner, the first course and the learner's lesson pks in
    the order their records were created.
    """
    learner, other = await api.user(), await api.user()
    first, second = await api.course(lessons=4), await api.course(lessons=3)
    for user in (learner, other):
        await api.enroll(user, first)
        await api.enroll(user, second)
    order = [
        first.lesson_pks[2],
        second.lesson_pks[0],
        first.lesson_pks[0],
        second.lesson_pks[2],
        first.lesson_pks[3],
        first.lesson_pks[1],
        second.lesson_pks[1],
    ]
    for lesson_pk in order:
        await record(api, learner, lesson_pk, time_spent_minutes=1)
        await record(api, other, lesson_pk, completed=True)
    return learner, other, first, order


@pytest.mark.parametrize("first", [1, 3, 7])
async def test_user_progress_pages_through_every_record_once_as_the_top_level_connection_does(
    api: Api, first: int
) -> None:
    learner, _, course, order = await _learners_with_records(api)
    in_course = [pk for pk in order if pk in course.lesson_pks]

    for course_id, expected in ((None, order), (course.id, in_course)):
        variables = {"id": learner.id, "courseId": course_id}
        nested = await walk(
            api, USER_PROGRESS, variables, first, lambda d: d["user"]["progress"], key=learner.key
        )
        top = await walk(api, TOP_PROGRESS, variables, first, lambda d: d["progress"], key=learner.key)

        lessons = [node["lesson"]["id"] for node in nodes_of(nested)]
        assert lessons == [encode_id("Lesson", pk) for pk in expected]
        assert len(nested) == -(-len(expected) // first)  # ceil: no empty trailing page
        assert {page["totalCount"] for page in nested} == {len(expected)}
        # Same records, same cursors, same PageInfo as the one-user connection.
        assert nested == top


# --- User.enrollmentsConnection ------------------------------------------------------------------


async def test_enrollments_connection_pages_oldest_enrollment_first(api: Api) -> None:
    learner = await api.user()
    courses = [await api.course(lessons=1) for _ in range(5)]
    for course in reversed(courses):  # enrollment order differs from course order
        await api.enroll(learner, course)
    expected = [course.id for course in reversed(courses)]

    for first in (2, 5):
        pages = await walk(
            api, MY_ENROLLMENTS, {}, first, lambda d: d["me"]["enrollmentsConnection"], key=learner.key
        )
        assert [node["course"]["id"] for node in nodes_of(pages)] == expected
        assert [len(page["edges"]) for page in pages] == ([2, 2, 1] if first == 2 else [5])
        assert {page["totalCount"] for page in pages} == {5}
    # Without first: the default page size (20) holds them all.
    whole = await api.data(MY_ENROLLMENTS, key=learner.key)
    assert len(whole["me"]["enrollmentsConnection"]["edges"]) == 5


async def test_enrollments_list_is_deprecated_and_still_answers(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=1)
    await api.enroll(learner, course)

    data = await api.data(
        '{ __type(name: "User") { fields(includeDeprecated: true) '
        "{ name isDeprecated deprecationReason } } "
        "me { enrollments { course { id } } enrollmentsConnection { nodes { course { id } } } } }",
        key=learner.key,
    )

    fields = {field["name"]: field for field in data["__type"]["fields"]}
    assert fields["enrollments"]["isDeprecated"] is True
    assert fields["enrollments"]["deprecationReason"] == "Use enrollmentsConnection, which pages."
    assert fields["enrollmentsConnection"]["isDeprecated"] is False
    assert data["me"]["enrollments"] == data["me"]["enrollmentsConnection"]["nodes"]


async def test_an_empty_or_exhausted_connection_has_no_cursors_and_no_next_page(api: Api) -> None:
    learner = await api.user()
    empty = (await api.data(MY_ENROLLMENTS, key=learner.key))["me"]["enrollmentsConnection"]
    assert empty == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None},
        "edges": [],
    }

    for _ in range(2):
        await api.enroll(learner, await api.course(lessons=1))
    zero = (await api.data(MY_ENROLLMENTS, {"first": 0}, key=learner.key))["me"]["enrollmentsConnection"]
    assert zero["edges"] == []
    assert zero["pageInfo"]["hasNextPage"] is True  # as paginate: items exist beyond the empty page
    last = (await api.data(MY_ENROLLMENTS, {"first": 2}, key=learner.key))["me"]["enrollmentsConnection"]
    past = await api.data(MY_ENROLLMENTS, {"after": last["pageInfo"]["endCursor"]}, key=learner.key)
    assert past["me"]["enrollmentsConnection"]["edges"] == []
    assert past["me"]["enrollmentsConnection"]["pageInfo"]["hasPreviousPage"] is True
    assert past["me"]["enrollmentsConnection"]["pageInfo"]["hasNextPage"] is False


# --- Course.lessonsConnection --------------------------------------------------------------------


async def test_lessons_connection_pages_current_lessons_by_position_with_the_users_progress(
    api: Api,
) -> None:
    learner = await api.user()
    course = await api.course(lessons=7)
    await api.enroll(learner, course)
    await record(api, learner, course.lesson_pks[2], completed=True)  # kept, no longer listed
    await catalog.remove_lesson(api.db, course.lesson_pks[2])
    current = [pk for pk in course.lesson_pks if pk != course.lesson_pks[2]]
    # Positions no longer follow ids: paging must follow positions.
    await catalog.reorder_lessons(api.db, course.pk, list(reversed(current)))
    await record(api, learner, current[0], completed=True)
    await record(api, learner, current[3], video_position_seconds=30)

    listed = (await api.data(COURSE_LESSON_LIST, {"slug": course.slug}, key=learner.key))["course"]["lessons"]
    assert [lesson["id"] for lesson in listed] == [encode_id("Lesson", pk) for pk in reversed(current)]
    for first in (2, 6):
        pages = await walk(
            api,
            COURSE_LESSONS,
            {"slug": course.slug},
            first,
            lambda d: d["course"]["lessonsConnection"],
            key=learner.key,
        )
        # The same lessons with the same progress as the list, a page at a time.
        assert nodes_of(pages) == listed
        assert {page["totalCount"] for page in pages} == {6}
    statuses = [lesson["progressStatus"] for lesson in listed]
    assert statuses.count("COMPLETED") == 1
    assert statuses.count("IN_PROGRESS") == 1


async def test_lessons_under_several_users_show_each_users_own_progress(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(lessons=3)
    done, started = await api.user(), await api.user()
    for learner in (done, started):
        await api.enroll(learner, course)
    for pk in course.lesson_pks:
        await record(api, done, pk, completed=True)
    await record(api, started, course.lesson_pks[0], video_position_seconds=5)
    query = """
      query($ids: [ID!]!) { nodes(ids: $ids) { ... on User {
        enrollmentsConnection { nodes { course { lessonsConnection(first: 2) {
          nodes { progressStatus } edges { node { progress { status } } } } } } }
      } } }
    """

    data = await api.data(query, {"ids": [done.id, started.id]}, key=admin.key)

    lessons = [
        user["enrollmentsConnection"]["nodes"][0]["course"]["lessonsConnection"] for user in data["nodes"]
    ]
    assert [n["progressStatus"] for n in lessons[0]["nodes"]] == ["COMPLETED", "COMPLETED"]
    assert [n["progressStatus"] for n in lessons[1]["nodes"]] == ["IN_PROGRESS", "NOT_STARTED"]
    assert [e["node"]["progress"] for e in lessons[1]["edges"]] == [{"status": "IN_PROGRESS"}, None]


# --- arguments -----------------------------------------------------------------------------------

FOREIGN_CURSORS = [
    "not base64!",
    "bm90IGEgY3Vyc29y",  # base64("not a cursor")
    encode_id("Course", 1),  # a global id is not a cursor
    "Y3Vyc29yOi0x",  # base64("cursor:-1")
    encode_cursor(2**63),  # beyond any key
]


async def test_bad_first_or_after_on_a_nested_connection_is_a_validation_error(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=2)
    await api.enroll(learner, course)
    connections = [
        (USER_PROGRESS, {"id": learner.id}),
        (MY_ENROLLMENTS, {}),
        (COURSE_LESSONS, {"slug": course.slug}),
    ]
    for query, variables in connections:
        bad: list[tuple[str, dict[str, Any]]] = [("first", {"first": n}) for n in (-1, 101, 10_000)]
        bad += [("after", {"after": cursor}) for cursor in FOREIGN_CURSORS]
        for argument, values in bad:
            body = await api.gql(query, {**variables, **values}, key=learner.key)
            assert error_codes(body) == ["VALIDATION_FAILED"], (query, values)
            assert body["errors"][0]["extensions"]["fields"][0]["path"] == [argument]


async def test_a_cursor_beyond_a_columns_range_is_past_every_item(api: Api) -> None:
    # Lesson positions and enrollment ids are 32-bit: the cursor must not overflow the bind.
    learner = await api.user()
    course = await api.course(lessons=2)
    await api.enroll(learner, course)
    far = encode_cursor(2**40)

    lessons = await api.data(COURSE_LESSONS, {"slug": course.slug, "after": far}, key=learner.key)
    enrollments = await api.data(MY_ENROLLMENTS, {"after": far}, key=learner.key)

    assert lessons["course"]["lessonsConnection"]["edges"] == []
    assert lessons["course"]["lessonsConnection"]["totalCount"] == 2
    assert enrollments["me"]["enrollmentsConnection"]["edges"] == []


# --- several parents in one request --------------------------------------------------------------

PAGE = f"""
fragment Page on ProgressConnection {{ {PAGE_FIELDS} edges {{ cursor node {{ id lesson {{ id }} }} }} }}
"""


async def test_parents_with_different_page_arguments_in_one_request_each_get_their_own_page(
    api: Api,
) -> None:
    admin = await api.admin()
    learner, other, course, _ = await _learners_with_records(api)
    third = await api.user()
    top_after = (await api.data(TOP_PROGRESS, {"id": other.id, "first": 2}, key=admin.key))["progress"]
    after = top_after["pageInfo"]["endCursor"]
    query = (
        PAGE
        + """
      query($a: ID!, $b: ID!, $c: ID!, $after: String!, $courseId: ID!) {
        a: user(id: $a) { progress(first: 1) { ...Page } }
        b: user(id: $b) { progress(first: 2, after: $after) { ...Page } }
        c: user(id: $c) { progress(first: 2) { ...Page } }
        all: nodes(ids: [$a, $b, $c]) { ... on User {
          three: progress(first: 3) { ...Page }
          one: progress(first: 1, after: $after) { ...Page }
          inCourse: progress(courseId: $courseId, first: 2) { ...Page }
        } }
      }
    """
    )
    data = await api.data(
        query,
        {"a": learner.id, "b": other.id, "c": third.id, "after": after, "courseId": course.id},
        key=admin.key,
    )

    async def reference(user: SeededUser, **arguments: Any) -> Connection:
        answer = await api.data(TOP_PROGRESS, {"id": user.id, **arguments}, key=admin.key)
        page: Connection = answer["progress"]
        return page

    assert data["a"]["progress"] == await reference(learner, first=1)
    assert data["b"]["progress"] == await reference(other, first=2, after=after)
    assert data["c"]["progress"] == await reference(third, first=2)
    for user, answer in zip((learner, other, third), data["all"], strict=True):
        assert answer["three"] == await reference(user, first=3)
        assert answer["one"] == await reference(user, first=1, after=after)
        assert answer["inCourse"] == await reference(user, first=2, courseId=course.id)
    # The pages differ, so the comparison above compared something.
    assert len(data["a"]["progress"]["edges"]) == 1
    assert data["b"]["progress"]["pageInfo"]["hasPreviousPage"] is True
    assert data["c"]["progress"]["totalCount"] == 0


# --- statement counts ----------------------------------------------------------------------------

USERS_WITH_CONNECTIONS = """
query($ids: [ID!]!) {
  nodes(ids: $ids) { ... on User {
    progress(first: 3) { totalCount nodes { id } }
    enrollmentsConnection { totalCount nodes { course { title } } }
  } }
}
"""
COURSES_WITH_LESSONS = """
query($first: Int!) {
  courses(first: $first) { nodes { lessonsConnection(first: 5) { nodes { title progress { status } } } } }
}
"""


async def test_nested_user_connections_cost_the_same_for_2_and_10_users(api: Api) -> None:
    admin = await api.admin()
    courses = [await api.course(lessons=2) for _ in range(2)]
    learners = [await api.user() for _ in range(10)]
    for learner in learners:
        for course in courses:
            await api.enroll(learner, course)
            for pk in course.lesson_pks:
                await record(api, learner, pk, time_spent_minutes=1)
    ids = [learner.id for learner in learners]

    data = await api.data(USERS_WITH_CONNECTIONS, {"ids": ids}, key=admin.key)
    for user in data["nodes"]:
        assert user["progress"]["totalCount"] == 4
        assert len(user["progress"]["nodes"]) == 3
        assert user["enrollmentsConnection"]["totalCount"] == 2
        assert [e["course"]["title"] for e in user["enrollmentsConnection"]["nodes"]] == [
            "Course " + course.slug.removeprefix("course-") for course in courses
        ]

    two = await api.statements(USERS_WITH_CONNECTIONS, {"ids": ids[:2]}, key=admin.key)
    ten = await api.statements(USERS_WITH_CONNECTIONS, {"ids": ids}, key=admin.key)

    assert two == ten
    # key, users, progress pages, progress counts, enrollment pages, enrollment counts, courses
    assert ten <= 7


async def test_lessons_connection_under_courses_costs_the_same_for_2_and_20_courses(api: Api) -> None:
    learner = await api.user()
    courses = [await api.course(lessons=6) for _ in range(10)]
    for course in courses[::2]:
        await api.enroll(learner, course)
        await record(api, learner, course.lesson_pks[1], completed=True)

    data = await api.data(COURSES_WITH_LESSONS, {"first": 20}, key=learner.key)
    for index, course in enumerate(data["courses"]["nodes"]):
        lessons = course["lessonsConnection"]["nodes"]
        assert [lesson["title"] for lesson in lessons] == [f"Lesson {i}" for i in range(5)]
        expected = [None, {"status": "COMPLETED"}, None, None, None] if index % 2 == 0 else [None] * 5
        assert [lesson["progress"] for lesson in lessons] == expected

    two = await api.statements(COURSES_WITH_LESSONS, {"first": 2}, key=learner.key)
    twenty = await api.statements(COURSES_WITH_LESSONS, {"first": 20}, key=learner.key)

    assert two == twenty
    assert twenty <= 4  # key, courses, lesson pages, the learner's records in those courses
