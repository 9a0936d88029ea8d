"""The insights page in headless Chromium with no network beyond 127.0.0.1, on SQLite and
PostgreSQL: an admin's key typed into the page draws charts carrying exactly the numbers the API
returns for that key; an instructor's shows their course without the platform's series; a
learner's and a refused key get a clear message in the page."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text

from gql_progress.db.models import CourseInstructor, UserRole
from tests.apps import GENEROUS_LIMITS, api_with
from tests.browser import Page, chromium, chromium_executable
from tests.servers import serve
from tests.support import Api, SeededCourse, SeededUser

pytestmark = pytest.mark.slow

UPSERT = """
mutation InsightsSeed($input: UpsertProgressInput!) {
  upsertProgress(input: $input) { __typename }
}
"""

# The test's own documents (not the page's), asking for what the charts must show.
COURSE_FIGURES = """
query ExpectedCourseFigures($slug: String!) {
  courseAnalytics(course: {slug: $slug}) {
    course { title }
    enrolledLearners activeLearners completedLearners completionRate averageCompletionPercentage
    medianTimeToCompletionDays p90TimeToCompletionDays totalActiveSeconds averageActiveSeconds
    dropOff { lesson { id } reached reachedRate lost dropOffRate }
    hardestLessons(limit: 5) { lesson { id } started completed completionRateAmongStarted }
  }
}
"""
DAILY = """
query ExpectedDaily($from: DateTime!, $to: DateTime!) {
  platformAnalytics(from: $from, to: $to) { daily { date activeLearners lessonsCompleted coursesCompleted } }
}
"""
FIGURES = (
    "enrolledLearners",
    "activeLearners",
    "completedLearners",
    "completionRate",
    "averageCompletionPercentage",
    "medianTimeToCompletionDays",
    "p90TimeToCompletionDays",
    "totalActiveSeconds",
    "averageActiveSeconds",
)

# What the page shows, read from the DOM (data-* attributes; "" is null).
READ_CHARTS = """
(() => {
  const value = (text) => (text === "" ? null : Number(text));
  const rows = (chart) => [...document.querySelectorAll(`[data-chart=${chart}] .bar`)].map((g) => g.dataset);
  return {
    title: document.getElementById("course-title").textContent,
    figures: Object.fromEntries(
      [...document.querySelectorAll("#figures dd")].map((dd) => [dd.dataset.figure, value(dd.dataset.value)])
    ),
    funnel: rows("funnel").map((d) => ({
      lesson: d.lessonId, reached: value(d.reached), reachedRate: value(d.reachedRate),
      lost: value(d.lost), dropOffRate: value(d.dropOffRate),
    })),
    funnelText: [...document.querySelectorAll("[data-chart=funnel] .bar text.value")]
      .map((t) => t.textContent),
    hardest: rows("hardest").map((d) => ({
      lesson: d.lessonId, started: value(d.started), completed: value(d.completed), rate: value(d.rate),
    })),
    completionTime: rows("completion-time").map((d) => [d.statistic, value(d.days)]),
    daily: [...document.querySelectorAll("[data-chart=daily] circle")].map((c) => [
      c.dataset.series, c.dataset.date, value(c.dataset.value),
    ]),
    platformShown: !document.getElementById("platform-insights").hidden,
    platformNote: !document.getElementById("platform-note").hidden,
  };
})()
"""


async def _seed(api: Api) -> tuple[SeededCourse, SeededUser, SeededUser, SeededUser]:
    """A course of 3 lessons and 4 learners: one completed it, one is two lessons in, one started
    the first, one did nothing; an admin and the course's instructor."""
    admin = await api.admin()
    instructor = await api.user(UserRole.INSTRUCTOR, name="Ines Instructor")
    course = await api.course(lessons=3)
    async with api.db.write() as conn:
        await conn.execute(insert(CourseInstructor).values(course_id=course.pk, user_id=instructor.pk))
    learners = [await api.user(name=f"Learner {n}") for n in range(4)]
    for learner, done, started in zip(learners, (3, 2, 0, 0), (0, 0, 1, 0), strict=True):
        await api.enroll(learner, course)
        for lesson in course.lesson_ids[:done]:
            await _upsert(api, learner, {"lessonId": lesson, "completed": True, "timeSpentMinutes": 4})
        for lesson in course.lesson_ids[done : done + started]:
            await _upsert(api, learner, {"lessonId": lesson, "videoPositionSeconds": 30})
            # 30 s later by the database's clock (tests/test_active_time.py moves it the same way)
            async with api.db.write() as conn:
                await conn.execute(
                    text(
                        "UPDATE lesson_progress SET activity_clock = activity_clock - 30 WHERE user_id = :u"
                    ),
                    {"u": learner.pk},
                )
            await _upsert(api, learner, {"lessonId": lesson, "videoPositionSeconds": 60})
    return course, admin, instructor, learners[0]


async def _upsert(api: Api, learner: SeededUser, values: dict[str, Any]) -> None:
    data = await api.data(UPSERT, {"input": values}, key=learner.key)
    assert data["upsertProgress"]["__typename"] == "UpsertProgressSuccess", data


async def _sign_in(page: Page, key: str) -> None:
    await page.evaluate(
        f"document.getElementById('key').value = {json.dumps(key)};"
        "document.getElementById('key-form').requestSubmit()"
    )


async def _settled(page: Page, state: str) -> None:
    expression = f"!!document.body && document.body.dataset.state === {json.dumps(state)}"
    await page.until(expression, f"the page to be {state}")


async def _sign_out(page: Page) -> None:
    await page.evaluate("document.getElementById('forget-key').click()")
    await _settled(page, "signed-out")


def _expected_charts(analytics: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": analytics["course"]["title"],
        "figures": {name: analytics[name] for name in FIGURES},
        "funnel": [{**step, "lesson": step["lesson"]["id"]} for step in analytics["dropOff"]],
        "hardest": [
            {
                "lesson": h["lesson"]["id"],
                "started": h["started"],
                "completed": h["completed"],
                "rate": h["completionRateAmongStarted"],
            }
            for h in analytics["hardestLessons"]
        ],
        "completionTime": [
            ["median", analytics["medianTimeToCompletionDays"]],
            ["p90", analytics["p90TimeToCompletionDays"]],
        ],
    }


def _console_errors(page: Page) -> list[Any]:
    return [
        e["params"]
        for e in page.events
        if e["method"] == "Runtime.exceptionThrown"
        or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
        or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
    ]


async def test_the_insights_page_draws_the_apis_numbers_for_each_key(database_url: str) -> None:
    executable = chromium_executable()
    # Every lesson with a starter is ranked among the hardest (the default needs 10 starters);
    # the courses' list comes a course per page, so the page must follow the cursors.
    settings = {"analytics_min_sample": 1, "insights_enabled": True, "default_page_size": 1}
    env = {f"GQL_PROGRESS_{name.upper()}": str(value).lower() for name, value in settings.items()}
    async with api_with(database_url, **settings, **GENEROUS_LIMITS) as api:
        course, admin, instructor, learner = await _seed(api)
        later = await api.course(lessons=0)
        expected = (await api.data(COURSE_FIGURES, {"slug": course.slug}, key=admin.key))["courseAnalytics"]
        today = datetime.now(UTC).date()
        window = {
            "from": f"{today - timedelta(days=29)}T00:00:00Z",
            "to": f"{today + timedelta(days=1)}T00:00:00Z",
        }
        daily = (await api.data(DAILY, window, key=admin.key))["platformAnalytics"]["daily"]
        as_instructor = await api.data(COURSE_FIGURES, {"slug": course.slug}, key=instructor.key)

        async with serve(database_url, env) as server, chromium(executable) as browser:
            page = await browser.new_page()
            await page.send("Page.navigate", url=f"{server.base}/insights")
            await _settled(page, "signed-out")

            # The admin: every course, the platform's series.
            await _sign_in(page, admin.key)
            await _settled(page, "ready")
            await page.evaluate(
                f"(() => {{ const s = document.getElementById('course'); s.value = {json.dumps(course.slug)};"
                " s.dispatchEvent(new Event('change')); })()"
            )
            await page.until(
                f"document.body.dataset.state === 'ready' && document.getElementById('course-title')"
                f".textContent === {json.dumps(expected['course']['title'])}",
                "the seeded course's charts",
            )
            as_admin = await page.evaluate(READ_CHARTS)
            admins_courses = await page.evaluate(
                "[...document.getElementById('course').options].map(o => o.value)"
            )
            stored = await page.evaluate(
                "[sessionStorage.length, sessionStorage.getItem('gql_progress.insights.key')]"
            )
            kept_elsewhere = await page.evaluate(
                "localStorage.length + location.href.split(/[?#]/).length - 1"
            )

            # The course's instructor: the course, and no platform series.
            await _sign_out(page)
            await _sign_in(page, instructor.key)
            await _settled(page, "ready")
            as_teacher = await page.evaluate(READ_CHARTS)
            teachers_courses = await page.evaluate(
                "[...document.getElementById('course').options].map(o => o.value)"
            )

            # A learner's key: a clear refusal in the page, no chart.
            await _sign_out(page)
            await _sign_in(page, learner.key)
            await _settled(page, "error")
            learner_error = await page.evaluate("document.getElementById('error').textContent")
            learner_charts = await page.evaluate(
                "document.getElementById('course-insights').hidden"
                " && document.getElementById('controls').hidden"
                " && !document.querySelector('[data-chart]')"
            )
            main_page_errors = _console_errors(page)

            # A key the server refuses (401), and a link carrying the key in its fragment.
            other = await browser.new_page()
            await other.send("Page.navigate", url=f"{server.base}/insights")
            await _settled(other, "signed-out")
            await _sign_in(other, "gqlp_not_a_key")
            await _settled(other, "error")
            refused = await other.evaluate("document.getElementById('error').textContent")
            linked = await browser.new_page()
            await linked.send("Page.navigate", url=f"{server.base}/insights#key={admin.key}")
            await _settled(linked, "ready")
            address_after_link = await linked.evaluate("location.href")

    assert as_admin == {
        **_expected_charts(expected),
        "funnelText": as_admin["funnelText"],
        "daily": [
            [series, day["date"], day[series]]
            for series in ("activeLearners", "lessonsCompleted", "coursesCompleted")
            for day in daily
        ],
        "platformShown": True,
        "platformNote": False,
    }
    # The dataset is what the charts were meant to show (not a page of zeros).
    assert [step["reached"] for step in as_admin["funnel"]] == [3, 2, 1]
    assert as_admin["figures"]["completedLearners"] == 1
    assert 30 <= as_admin["figures"]["totalActiveSeconds"] <= 31
    # Lesson 0: 2 of 3 starters completed it; lessons 1 and 2 every starter (more starters first).
    assert [h["rate"] for h in as_admin["hardest"]] == [0.6667, 1.0, 1.0]
    assert len(daily) == 30
    assert sum(v for series, _, v in as_admin["daily"] if series == "lessonsCompleted") == 5
    assert as_admin["funnelText"][0] == "3 reached (75 %), 1 lost"
    assert admins_courses == [course.slug, later.slug]
    assert teachers_courses == [course.slug]
    assert stored == [1, admin.key]
    assert kept_elsewhere == 0
    assert as_teacher["funnel"] == _expected_charts(as_instructor["courseAnalytics"])["funnel"]
    assert (as_teacher["platformShown"], as_teacher["platformNote"], as_teacher["daily"]) == (False, True, [])
    assert "learner's key" in learner_error
    for role in ("admin", "instructor"):
        assert role in learner_error
    assert learner_charts is True
    assert refused.startswith("The key was refused")
    assert address_after_link == f"{server.base}/insights"  # the key left the address bar
    # Nothing fetched from elsewhere, no script error, no Content-Security-Policy violation.
    requested = [
        e["params"]["request"]["url"]
        for p in (page, other, linked)
        for e in p.events
        if e["method"] == "Network.requestWillBeSent"
    ]
    assert [url for url in requested if not url.startswith((f"{server.base}/", "data:"))] == []
    assert main_page_errors == []
    assert not [e for e in _console_errors(other) if "Content Security Policy" in json.dumps(e)]
