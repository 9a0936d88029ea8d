"""N+1 guards: the statements a request costs must not grow with the number of items returned."""

from __future__ import annotations

from tests.support import Api, SeededCourse, SeededUser

COURSE_PAGE = """
query CoursePage($slug: String!) {
  course(slug: $slug) {
    title
    summary { completionPercentage completedLessons totalLessons }
    lessons {
      id title kind durationSeconds isRequired
      progress { status progressPercentage videoPositionSeconds lastPositionSeconds completedAt }
    }
  }
}
"""

DASHBOARD = """
{ me { enrollments { status course { title } summary { completionPercentage } } } }
"""

COURSE_LIST = """
query Courses($first: Int!) {
  courses(first: $first) {
    totalCount
    nodes { slug enrollment { status } summary { completionPercentage } lessons { progressStatus } }
  }
}
"""


async def _learner_with_progress(api: Api, lessons: int) -> tuple[SeededUser, SeededCourse]:
    learner = await api.user()
    course = await api.course(lessons=lessons)
    await api.enroll(learner, course)
    # Some lessons completed, one in progress, the rest untouched: every branch is exercised.
    done = course.lesson_ids[: lessons // 2]
    await api.data(
        "mutation($ids: [ID!]!) { bulkSetCompletion(input: {lessonIds: $ids, completed: true}) "
        "{ __typename } }",
        {"ids": done},
        key=learner.key,
    )
    await api.data(
        "mutation($id: ID!) { upsertProgress(input: {lessonId: $id, videoPositionSeconds: 30}) "
        "{ __typename } }",
        {"id": course.lesson_ids[-1]},
        key=learner.key,
    )
    return learner, course


async def test_course_page_costs_the_same_for_5_and_50_lessons_and_at_most_5(api: Api) -> None:
    small_learner, small = await _learner_with_progress(api, 5)
    large_learner, large = await _learner_with_progress(api, 50)

    small_count = await api.statements(COURSE_PAGE, {"slug": small.slug}, key=small_learner.key)
    large_count = await api.statements(COURSE_PAGE, {"slug": large.slug}, key=large_learner.key)

    assert small_count == large_count
    # key lookup, course, lessons, the learner's records in the course (the summary uses them)
    assert large_count <= 4


async def test_dashboard_cost_does_not_grow_with_enrollments(api: Api) -> None:
    counts = []
    for enrollments in (1, 8):
        learner = await api.user()
        for _ in range(enrollments):
            await api.enroll(learner, await api.course(lessons=2))
        counts.append(await api.statements(DASHBOARD, {}, key=learner.key))
    assert counts[0] == counts[1]


async def test_course_listing_cost_does_not_grow_with_page_size(api: Api) -> None:
    learner = await api.user()
    for _ in range(6):
        course = await api.course(lessons=3)
        await api.enroll(learner, course)
    two = await api.statements(COURSE_LIST, {"first": 2}, key=learner.key)
    six = await api.statements(COURSE_LIST, {"first": 6}, key=learner.key)
    assert two == six


async def test_lesson_progress_via_a_fragment_is_fetched_with_the_lessons(api: Api) -> None:
    learner, course = await _learner_with_progress(api, 6)
    query = """
      fragment Row on Lesson { id progress { status } }
      query($slug: String!) { course(slug: $slug) { lessons { ...Row ... on Lesson { progressStatus } } } }
    """
    data = await api.data(query, {"slug": course.slug}, key=learner.key)
    statuses = [lesson["progressStatus"] for lesson in data["course"]["lessons"]]
    assert statuses.count("COMPLETED") == 3
    assert statuses[-1] == "IN_PROGRESS"
    assert await api.statements(query, {"slug": course.slug}, key=learner.key) <= 4
