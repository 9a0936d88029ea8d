from __future__ import annotations

from tests.support import Api


async def test_learner_reads_own_course_page(api: Api) -> None:
    learner = await api.user()
    course = await api.course(lessons=2)
    await api.enroll(learner, course)
    data = await api.data(
        "query($slug: String!) { course(slug: $slug) { title lessons { id progress { status } } } }",
        {"slug": course.slug},
        key=learner.key,
    )
    assert [lesson["id"] for lesson in data["course"]["lessons"]] == course.lesson_ids
    assert all(lesson["progress"] is None for lesson in data["course"]["lessons"])


async def test_graphiql_page_is_served_without_a_key(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
