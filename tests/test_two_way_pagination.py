"""Paging backward (`last`/`before`) on every connection but the event log, on both databases:
the same keyset pages as forward, reached from the other end, at the same statement cost."""

from __future__ import annotations

from typing import Any

from tests.support import Api, SeededCourse, SeededUser
from tests.test_nested_connections import FOREIGN_CURSORS

PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
COURSES = f"""
query($first: Int, $after: String, $last: Int, $before: String) {{
  courses(first: $first, after: $after, last: $last, before: $before) {{
    totalCount {PAGE_INFO} nodes {{ slug }}
  }}
}}
"""
LESSONS = f"""
query($slug: String!, $first: Int, $after: String, $last: Int, $before: String) {{
  course(slug: $slug) {{
    lessonsConnection(first: $first, after: $after, last: $last, before: $before) {{
      {PAGE_INFO} nodes {{ title progress {{ completed }} }}
    }}
  }}
}}
"""
LAST_LESSONS_OF_COURSES = """
query($first: Int) {
  courses(first: $first) {
    nodes { lessonsConnection(last: 2) { pageInfo { hasPreviousPage hasNextPage } nodes { title } } }
  }
}
"""
MY_ENROLLMENTS = f"""
query($last: Int, $before: String) {{
  me {{ enrollmentsConnection(last: $last, before: $before) {{ {PAGE_INFO} nodes {{ course {{ slug }} }} }} }}
}}
"""


async def walk(
    api: Api, key: str, query: str, variables: dict[str, Any], path: list[str], *, backward: bool
) -> list[Any]:
    """Every page of the connection at ``path``, walked one way; each page's nodes and flags."""
    pages: list[Any] = []
    cursor: str | None = None
    while True:
        step = {"last": 3, "before": cursor} if backward else {"first": 3, "after": cursor}
        data: Any = await api.data(query, {**variables, **step}, key=key)
        for name in path:
            data = data[name]
        info = data["pageInfo"]
        pages.append((data["nodes"], info["hasPreviousPage"], info["hasNextPage"]))
        more = info["hasPreviousPage"] if backward else info["hasNextPage"]
        if not more:
            return pages
        cursor = info["startCursor"] if backward else info["endCursor"]


async def test_a_top_level_list_pages_backward_through_the_same_items(api: Api) -> None:
    learner = await api.user()
    slugs = [(await api.course(lessons=0)).slug for _ in range(7)]

    backward = await walk(api, learner.key, COURSES, {}, ["courses"], backward=True)
    forward = await walk(api, learner.key, COURSES, {}, ["courses"], backward=False)

    # From the end: the last three, then the three before them, then the first one.
    assert [[n["slug"] for n in nodes] for nodes, _, _ in backward] == [slugs[4:], slugs[1:4], slugs[:1]]
    assert [(before, after) for _, before, after in backward] == [(True, False), (True, True), (False, True)]
    assert [n["slug"] for nodes, _, _ in forward for n in nodes] == slugs


async def test_a_nested_list_pages_backward_with_the_users_progress(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=5)
    await api.enroll(learner, course)
    await api.data(
        "mutation($id: ID!) { upsertProgress(input: {lessonId: $id, completed: true}) { __typename } }",
        {"id": course.lesson_ids[3]},
        key=learner.key,
    )

    pages = await walk(
        api, learner.key, LESSONS, {"slug": course.slug}, ["course", "lessonsConnection"], backward=True
    )

    titles = [[n["title"] for n in nodes] for nodes, _, _ in pages]
    assert titles == [["Lesson 2", "Lesson 3", "Lesson 4"], ["Lesson 0", "Lesson 1"]]
    assert [n["progress"] for n in pages[0][0]] == [None, {"completed": True}, None]


async def test_after_and_before_bound_a_page_from_both_sides(api: Api) -> None:
    learner = await api.user()
    slugs = [(await api.course(lessons=0)).slug for _ in range(6)]
    everything = (await api.data(COURSES, {"first": 6}, key=learner.key))["courses"]
    cursors = [None] * 6
    page = await api.data(COURSES, {"first": 1}, key=learner.key)
    cursors[0] = page["courses"]["pageInfo"]["endCursor"]
    last = await api.data(COURSES, {"last": 1}, key=learner.key)
    cursors[5] = last["courses"]["pageInfo"]["startCursor"]

    between = await api.data(
        COURSES, {"after": cursors[0], "before": cursors[5], "last": 10}, key=learner.key
    )
    forward = await api.data(
        COURSES, {"after": cursors[0], "before": cursors[5], "first": 2}, key=learner.key
    )

    assert [n["slug"] for n in between["courses"]["nodes"]] == slugs[1:5]
    assert [n["slug"] for n in forward["courses"]["nodes"]] == slugs[1:3]
    assert everything["totalCount"] == between["courses"]["totalCount"] == 6


async def test_last_under_many_parents_costs_the_same_for_2_and_8_courses(api: Api) -> None:
    learner = await api.user()
    for _ in range(8):
        await api.course(lessons=4)

    data = await api.data(LAST_LESSONS_OF_COURSES, {"first": 8}, key=learner.key)
    for course in data["courses"]["nodes"]:
        connection = course["lessonsConnection"]
        assert [n["title"] for n in connection["nodes"]] == ["Lesson 2", "Lesson 3"]
        assert connection["pageInfo"] == {"hasPreviousPage": True, "hasNextPage": False}

    # The resolver path's batching is what this measures: a directive keeps the compiled reads
    # out on PostgreSQL, where either page is one statement (tests/test_compiled_reads.py).
    resolvers = LAST_LESSONS_OF_COURSES.replace("nodes { title }", "nodes { title @include(if: true) }")
    two = await api.statements(resolvers, {"first": 2}, key=learner.key)
    eight = await api.statements(resolvers, {"first": 8}, key=learner.key)
    # The same page forward, on the resolver path too.
    resolvers_forward = resolvers.replace("last: 2", "first: 2")
    forward = await api.statements(resolvers_forward, {"first": 8}, key=learner.key)
    assert two == eight == forward


async def test_first_with_last_and_bad_last_or_before_are_validation_errors(api: Api) -> None:
    learner = await api.user()
    course: SeededCourse = await api.course(lessons=2)
    await api.enroll(learner, course)
    bad: list[tuple[str, dict[str, Any]]] = [("last", {"first": 1, "last": 1})]
    bad += [("last", {"last": n}) for n in (-1, 101)]
    bad += [("before", {"last": 1, "before": cursor}) for cursor in FOREIGN_CURSORS[:4]]
    for query, variables in ((COURSES, {}), (LESSONS, {"slug": course.slug}), (MY_ENROLLMENTS, {})):
        for argument, values in bad:
            if query is MY_ENROLLMENTS and "first" in values:
                continue  # that document has no $first
            body = await api.gql(query, {**variables, **values}, key=learner.key)
            assert [e["extensions"]["code"] for e in body["errors"]] == ["VALIDATION_FAILED"], (query, values)
            assert body["errors"][0]["extensions"]["fields"][0]["path"] == [argument]


async def test_my_enrollments_page_backward_newest_last(api: Api) -> None:
    learner: SeededUser = await api.user()
    courses = [await api.course(lessons=1) for _ in range(4)]
    for course in courses:
        await api.enroll(learner, course)

    data = await api.data(MY_ENROLLMENTS, {"last": 2}, key=learner.key)

    connection = data["me"]["enrollmentsConnection"]
    assert [n["course"]["slug"] for n in connection["nodes"]] == [c.slug for c in courses[2:]]
    assert connection["pageInfo"]["hasPreviousPage"] is True
