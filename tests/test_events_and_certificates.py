"""The event log and certificates, checked over HTTP: what each write logs (and what it must not),
the admin's `events` connection a poller reads, the certificate an enrollment earns once, and
the public `verifyCertificate` that anyone holding a code may call without a key.

Every test seeds users, courses and enrollments with the helpers of tests.support, then talks
GraphQL only. Tests taking ``api`` run on SQLite and on PostgreSQL; those taking ``pg_api`` need
PostgreSQL's real parallel writers. Two of those force one interleaving of two writers by holding
one of them at a seam of the domain layer (monkeypatched for that test only); what they assert is
still only what the API answers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from gql_progress.domain.completion.enrollment import lock_enrollments
from gql_progress.domain.events import NewEvent, record_events
from gql_progress.domain.ids import encode_id
from tests.support import Api, SeededCourse, SeededUser

# --- GraphQL documents -------------------------------------------------------------------------

ERROR_FIELDS = """
    __typename
    ... on Error { code message }
    ... on ValidationError { fields { path message } }
"""

EVENT_FIELDS = "id type occurredAt userId userExternalId courseId courseProductId lessonId actorId data"

EVENTS = f"""
query Events($types: [EventType!], $userId: ID, $courseId: ID, $first: Int, $after: String) {{
  events(types: $types, userId: $userId, courseId: $courseId, first: $first, after: $after) {{
    edges {{ cursor node {{ {EVENT_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

UPSERT = f"""
mutation Upsert($input: UpsertProgressInput!) {{
  upsertProgress(input: $input) {{
    {ERROR_FIELDS}
    ... on UpsertProgressSuccess {{ progress {{ id completed }} summary {{ isComplete }} }}
  }}
}}
"""

BULK = f"""
mutation Bulk($input: BulkSetCompletionInput!) {{
  bulkSetCompletion(input: $input) {{
    {ERROR_FIELDS}
    ... on BulkSetCompletionSuccess {{ succeeded failed results {{ lessonId success error {{ code }} }} }}
  }}
}}
"""

UPDATE_LESSON = f"""
mutation UpdateLesson($input: UpdateLessonInput!) {{
  updateLesson(input: $input) {{ {ERROR_FIELDS} ... on LessonPayload {{ lesson {{ id isRequired }} }} }}
}}
"""

ADD_LESSON = f"""
mutation AddLesson($input: AddLessonInput!) {{
  addLesson(input: $input) {{ {ERROR_FIELDS} ... on LessonPayload {{ lesson {{ id isRequired }} }} }}
}}
"""

REMOVE_LESSON = f"""
mutation RemoveLesson($id: ID!) {{
  removeLesson(id: $id) {{ {ERROR_FIELDS} ... on LessonPayload {{ lesson {{ id removedAt }} }} }}
}}
"""

ENROLLMENT = """
query Enrollment($courseId: ID!, $userId: ID) {
  course(id: $courseId) {
    enrollment(userId: $userId) {
      status completedAt
      certificate { id code issuedAt user { id } course { id } }
    }
  }
}
"""

COURSE_TITLE = "query Title($id: ID!) { course(id: $id) { title } }"

NODE = """
query Node($id: ID!) { node(id: $id) { __typename id ... on Certificate { code user { id } } } }
"""

VERIFY = """
query Verify($code: String!) { verifyCertificate(code: $code) { learnerName courseTitle issuedAt } }
"""

RECORDS = "query Records($userId: ID) { progress(userId: $userId) { totalCount } }"

LESSON_COMPLETIONS = """
query Lessons($id: ID!, $userId: ID) {
  course(id: $id) { lessons { id progress(userId: $userId) { completedAt } } }
}
"""

# --- helpers -------------------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(UTC)


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or []]


async def mutate(api: Api, user: SeededUser, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run a one-field mutation without GraphQL errors; return its result object."""
    data = await api.data(document, variables, key=user.key)
    [result] = data.values()
    assert isinstance(result, dict)
    return result


async def upsert(
    api: Api, caller: SeededUser, lesson_id: str, *, user_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    """upsertProgress by ``caller`` (for ``user_id`` when given); the result, any union member."""
    return await mutate(api, caller, UPSERT, {"input": {"lessonId": lesson_id, "userId": user_id, **fields}})


async def bulk(
    api: Api, caller: SeededUser, lesson_ids: list[str], *, completed: bool, user_id: str | None = None
) -> dict[str, Any]:
    variables = {"input": {"lessonIds": lesson_ids, "completed": completed, "userId": user_id}}
    return await mutate(api, caller, BULK, variables)


async def set_completed(
    api: Api,
    caller: SeededUser,
    lesson_ids: list[str],
    completed: bool,
    *,
    via: str,
    user_id: str | None = None,
) -> None:
    """Set the completion of these lessons through one bulk call or one upsert per lesson."""
    if via == "bulk":
        result = await bulk(api, caller, lesson_ids, completed=completed, user_id=user_id)
        assert result["__typename"] == "BulkSetCompletionSuccess", result
        assert result["failed"] == 0, result
        return
    for lesson_id in lesson_ids:
        result = await upsert(api, caller, lesson_id, user_id=user_id, completed=completed)
        assert result["__typename"] == "UpsertProgressSuccess", result


async def event_page(
    api: Api, admin: SeededUser, *, first: int | None = None, after: str | None = None, **filters: Any
) -> dict[str, Any]:
    data = await api.data(EVENTS, {"first": first, "after": after, **filters}, key=admin.key)
    page: dict[str, Any] = data["events"]
    return page


async def all_events(api: Api, admin: SeededUser, **filters: Any) -> list[dict[str, Any]]:
    """Every event matching ``filters``, oldest first, following the pages to the end."""
    events: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = await event_page(api, admin, first=100, after=after, **filters)
        events += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return events
        after = page["pageInfo"]["endCursor"]


def content(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events without their own id and time, to compare with ``expected``."""
    return [{k: v for k, v in e.items() if k not in {"id", "occurredAt"}} for e in events]


def expected(
    kind: str,
    learner: SeededUser,
    course: SeededCourse,
    *,
    actor: SeededUser | None,
    lesson: str | None = None,
    product: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "type": kind,
        "userId": learner.id,
        "userExternalId": learner.external_id,
        "courseId": course.id,
        "courseProductId": product,
        "lessonId": lesson,
        "actorId": None if actor is None else actor.id,
        "data": data,
    }


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """(type, lessonId) of each event: the order of what happened, in brief."""
    return [(e["type"], e["lessonId"]) for e in events]


async def enrolled_learner(api: Api, course: SeededCourse, name: str = "Test User") -> SeededUser:
    learner = await api.user(name=name)
    await api.enroll(learner, course)
    return learner


async def enrollment(
    api: Api, viewer: SeededUser, course: SeededCourse, learner: SeededUser
) -> dict[str, Any]:
    data = await api.data(ENROLLMENT, {"courseId": course.id, "userId": learner.id}, key=viewer.key)
    value: dict[str, Any] = data["course"]["enrollment"]
    return value


async def certificate(
    api: Api, viewer: SeededUser, course: SeededCourse, learner: SeededUser
) -> dict[str, Any]:
    """The learner's certificate for the course, which must exist."""
    cert: dict[str, Any] | None = (await enrollment(api, viewer, course, learner))["certificate"]
    assert cert is not None
    return cert


def anonymous(
    query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None
) -> dict[str, Any]:
    """The JSON body of a request to /graphql (sent without a key by the tests that use it)."""
    body: dict[str, Any] = {"query": query, "variables": variables or {}}
    if operation_name is not None:
        body["operationName"] = operation_name
    return body


def product_id() -> str:
    return f"prod-{uuid.uuid4().hex[:12]}"


# --- 1. what each write logs -----------------------------------------------------------------------


async def test_completing_a_lesson_logs_lesson_completed_with_every_identifier(api: Api) -> None:
    admin = await api.admin()
    product = product_id()
    course = await api.course(2, product_id=product)
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]

    before = now()
    result = await upsert(api, learner, lesson, completed=True)
    after = now()

    assert result["__typename"] == "UpsertProgressSuccess", result
    events = await all_events(api, admin)
    assert content(events) == [
        expected("LESSON_COMPLETED", learner, course, actor=learner, lesson=lesson, product=product)
    ]
    assert before <= at(events[0]["occurredAt"]) <= after


async def test_completing_the_last_required_lesson_logs_lesson_course_and_certificate_in_order(
    api: Api,
) -> None:
    admin = await api.admin()
    product = product_id()
    course = await api.course(3, required=[True, True, False], certificate_enabled=True, product_id=product)
    learner = await enrolled_learner(api, course)
    first, last, optional = course.lesson_ids

    for lesson in (first, last):
        result = await upsert(api, learner, lesson, completed=True)
        assert result["__typename"] == "UpsertProgressSuccess", result

    events = await all_events(api, admin)
    cert = await certificate(api, learner, course, learner)
    assert kinds(events) == [
        ("LESSON_COMPLETED", first),
        ("LESSON_COMPLETED", last),
        ("COURSE_COMPLETED", None),
        ("CERTIFICATE_ISSUED", None),
    ]
    *lessons, course_completed, issued = events
    assert content([course_completed]) == [
        expected("COURSE_COMPLETED", learner, course, actor=learner, product=product)
    ]
    assert set(issued["data"]) == {"certificateId", "code"}
    assert issued["data"]["code"] == cert["code"]
    assert content([issued]) == [
        expected("CERTIFICATE_ISSUED", learner, course, actor=learner, product=product, data=issued["data"])
    ]
    # The course completed in the same write as its last lesson, at the same instant.
    assert course_completed["occurredAt"] == issued["occurredAt"] == lessons[1]["occurredAt"]
    assert at(issued["occurredAt"]) == at(cert["issuedAt"])

    # The optional lesson afterwards, done and undone: its own events, the course stays completed.
    await upsert(api, learner, optional, completed=True)
    await upsert(api, learner, optional, completed=False)
    await upsert(api, learner, optional, completed=True)
    assert kinds(await all_events(api, admin))[4:] == [
        ("LESSON_COMPLETED", optional),
        ("LESSON_UNCOMPLETED", optional),
        ("LESSON_COMPLETED", optional),
    ]
    assert (await enrollment(api, learner, course, learner))["status"] == "COMPLETED"


async def test_bulk_logs_one_lesson_completed_per_newly_completed_lesson(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(4, certificate_enabled=True)
    elsewhere = await api.course(1)
    learner = await enrolled_learner(api, course)
    a, b, c, d = course.lesson_ids
    await set_completed(api, learner, [a], True, via="upsert")

    # Already completed (a), repeated (c), unknown, malformed and not-enrolled ids among new ones.
    requested = [c, a, "not-an-id", encode_id("Lesson", 999_999), elsewhere.lesson_ids[0], b, c]
    result = await bulk(api, learner, requested, completed=True)

    assert (result["succeeded"], result["failed"]) == (4, 3), result
    events = await all_events(api, admin)
    assert kinds(events) == [("LESSON_COMPLETED", a), ("LESSON_COMPLETED", b), ("LESSON_COMPLETED", c)]
    assert content(events[1:]) == [
        expected("LESSON_COMPLETED", learner, course, actor=learner, lesson=lesson) for lesson in (b, c)
    ]
    assert events[1]["occurredAt"] == events[2]["occurredAt"]

    # The call that completes the course logs its lessons, then the course and the certificate.
    await bulk(api, learner, [a, b, c, d], completed=True)
    assert kinds(await all_events(api, admin))[3:] == [
        ("LESSON_COMPLETED", d),
        ("COURSE_COMPLETED", None),
        ("CERTIFICATE_ISSUED", None),
    ]


async def test_one_bulk_call_completing_two_courses_logs_each_and_certifies_only_where_offered(
    api: Api,
) -> None:
    admin = await api.admin()
    certified = await api.course(2, certificate_enabled=True)
    plain = await api.course(1, certificate_enabled=False)
    learner = await enrolled_learner(api, certified)
    await api.enroll(learner, plain)

    await bulk(api, learner, plain.lesson_ids + certified.lesson_ids, completed=True)

    events = await all_events(api, admin)
    assert sorted(kinds(events[:3])) == sorted(
        ("LESSON_COMPLETED", lesson) for lesson in certified.lesson_ids + plain.lesson_ids
    )
    assert sorted((e["type"], e["courseId"]) for e in events[3:]) == [
        ("CERTIFICATE_ISSUED", certified.id),
        ("COURSE_COMPLETED", certified.id),
        ("COURSE_COMPLETED", plain.id),
    ]
    assert events[-1]["type"] == "CERTIFICATE_ISSUED"
    assert events[-1]["data"]["code"] == (await certificate(api, learner, certified, learner))["code"]
    assert (await enrollment(api, learner, plain, learner))["certificate"] is None


@pytest.mark.parametrize("via", ["upsert", "bulk"])
async def test_writes_that_do_not_change_completion_log_nothing(api: Api, via: str) -> None:
    admin = await api.admin()
    course = await api.course(3)
    learner = await enrolled_learner(api, course)
    done, touched, untouched = course.lesson_ids
    await set_completed(api, learner, [done], True, via=via)
    assert len(await all_events(api, admin)) == 1
    # A heartbeat (no completion sent) on another lesson: a record exists, not completed.
    heartbeat = await upsert(api, learner, touched, notes="watching", videoPositionSeconds=30)
    assert heartbeat["__typename"] == "UpsertProgressSuccess", heartbeat

    await set_completed(api, learner, [done], True, via=via)  # completed again
    await set_completed(api, learner, [touched, untouched], False, via=via)  # never completed
    await upsert(api, learner, done, notes="still done", completed=True)

    assert kinds(await all_events(api, admin)) == [("LESSON_COMPLETED", done)]


@pytest.mark.parametrize("via", ["upsert", "bulk"])
async def test_lesson_uncompleted_is_logged_only_when_the_lesson_was_completed(api: Api, via: str) -> None:
    admin = await api.admin()
    course = await api.course(2)
    learner = await enrolled_learner(api, course)
    lesson, never = course.lesson_ids

    await set_completed(api, learner, [lesson], True, via=via)
    await set_completed(api, learner, [lesson, never], False, via=via)
    await set_completed(api, learner, [lesson], False, via=via)  # already not completed
    await set_completed(api, learner, [lesson], True, via=via)  # completed anew: logged anew

    events = await all_events(api, admin)
    assert kinds(events) == [
        ("LESSON_COMPLETED", lesson),
        ("LESSON_UNCOMPLETED", lesson),
        ("LESSON_COMPLETED", lesson),
    ]
    assert content(events[1:2]) == [
        expected("LESSON_UNCOMPLETED", learner, course, actor=learner, lesson=lesson)
    ]


@pytest.mark.parametrize("via", ["upsert", "bulk"])
async def test_an_admin_writing_for_a_learner_is_the_actor_and_the_learner_the_user(
    api: Api, via: str
) -> None:
    admin = await api.admin()
    course = await api.course(2, certificate_enabled=True)
    learner = await enrolled_learner(api, course)
    first, last = course.lesson_ids

    await set_completed(api, admin, [first, last], True, via=via, user_id=learner.id)
    await set_completed(api, admin, [last], False, via=via, user_id=learner.id)

    events = await all_events(api, admin)
    cert = await certificate(api, admin, course, learner)
    assert content(events) == [
        expected("LESSON_COMPLETED", learner, course, actor=admin, lesson=first),
        expected("LESSON_COMPLETED", learner, course, actor=admin, lesson=last),
        expected("COURSE_COMPLETED", learner, course, actor=admin),
        expected("CERTIFICATE_ISSUED", learner, course, actor=admin, data=events[3]["data"]),
        expected("LESSON_UNCOMPLETED", learner, course, actor=admin, lesson=last),
    ]
    assert events[3]["data"]["code"] == cert["code"]
    assert cert["user"] == {"id": learner.id}


async def remove_last_lesson(api: Api, admin: SeededUser, course: SeededCourse) -> None:
    result = await mutate(api, admin, REMOVE_LESSON, {"id": course.lesson_ids[-1]})
    assert result["__typename"] == "LessonPayload", result


async def make_last_lesson_optional(api: Api, admin: SeededUser, course: SeededCourse) -> None:
    variables = {"input": {"id": course.lesson_ids[-1], "isRequired": False}}
    result = await mutate(api, admin, UPDATE_LESSON, variables)
    assert result["__typename"] == "LessonPayload", result


COURSE_CHANGES: dict[str, Callable[[Api, SeededUser, SeededCourse], Awaitable[None]]] = {
    "removeLesson": remove_last_lesson,
    "updateLesson-optional": make_last_lesson_optional,
}


@pytest.mark.parametrize("change", list(COURSE_CHANGES))
async def test_a_course_change_that_completes_enrollments_logs_them_without_actor_and_issues_certificates(
    api: Api, change: str
) -> None:
    admin = await api.admin()
    product = product_id()
    course = await api.course(2, certificate_enabled=True, product_id=product)
    finished = await enrolled_learner(api, course)  # did all but the lesson that goes
    behind = await enrolled_learner(api, course)  # did nothing: stays ACTIVE
    await set_completed(api, finished, course.lesson_ids[:1], True, via="bulk")
    before = now()

    await COURSE_CHANGES[change](api, admin, course)

    events = await all_events(api, admin, types=["COURSE_COMPLETED", "CERTIFICATE_ISSUED"])
    cert = await certificate(api, admin, course, finished)
    assert content(events) == [
        expected("COURSE_COMPLETED", finished, course, actor=None, product=product),
        expected("CERTIFICATE_ISSUED", finished, course, actor=None, product=product, data=events[1]["data"]),
    ]
    assert events[1]["data"]["code"] == cert["code"]
    assert before <= at(cert["issuedAt"]) <= now()
    state = await enrollment(api, admin, course, finished)
    assert state["status"] == "COMPLETED"
    assert at(state["completedAt"]) == at(cert["issuedAt"])
    assert await enrollment(api, admin, course, behind) == {
        "status": "ACTIVE",
        "completedAt": None,
        "certificate": None,
    }


async def test_a_course_change_completing_an_enrollment_again_keeps_the_first_certificate(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(1, certificate_enabled=True, keep_completion_on_change=False)
    learner = await enrolled_learner(api, course)
    await set_completed(api, learner, course.lesson_ids, True, via="bulk")
    first_cert = await certificate(api, admin, course, learner)

    added = await mutate(
        api, admin, ADD_LESSON, {"input": {"courseId": course.id, "title": "New", "kind": "VIDEO"}}
    )
    reopened = await enrollment(api, admin, course, learner)
    removed = await mutate(api, admin, REMOVE_LESSON, {"id": added["lesson"]["id"]})

    assert removed["__typename"] == "LessonPayload", removed
    assert reopened["status"] == "ACTIVE"
    assert (await enrollment(api, admin, course, learner))["status"] == "COMPLETED"
    assert await certificate(api, admin, course, learner) == first_cert
    course_events = await all_events(api, admin, types=["COURSE_COMPLETED", "CERTIFICATE_ISSUED"])
    assert [(e["type"], e["actorId"]) for e in course_events] == [
        ("COURSE_COMPLETED", learner.id),
        ("CERTIFICATE_ISSUED", learner.id),
        ("COURSE_COMPLETED", None),
    ]


async def test_a_course_change_that_completes_nobody_logs_nothing(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(3, certificate_enabled=True)
    done = await enrolled_learner(api, course)
    await set_completed(api, done, course.lesson_ids, True, via="bulk")
    await enrolled_learner(api, course)
    logged = len(await all_events(api, admin))

    await make_last_lesson_optional(api, admin, course)  # the one already COMPLETED stays so
    await remove_last_lesson(api, admin, course)

    assert len(await all_events(api, admin)) == logged


async def test_failed_writes_log_nothing_and_write_nothing(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(2, certificate_enabled=True)
    stranger = await api.user()  # not enrolled
    learner = await enrolled_learner(api, course)
    lesson = course.lesson_ids[0]
    missing_user = encode_id("User", 999_999)

    refused = [
        await upsert(api, stranger, lesson, completed=True),
        await upsert(api, learner, encode_id("Lesson", 999_999), completed=True),
        await upsert(api, learner, lesson, completed=True, progressPercentage=101.0),
        await upsert(api, learner, lesson, completed=True, user_id=stranger.id),
        await upsert(api, admin, lesson, completed=True, user_id=missing_user),
        await bulk(api, learner, course.lesson_ids, completed=True, user_id=stranger.id),
        await bulk(api, admin, course.lesson_ids, completed=True, user_id=missing_user),
        await bulk(api, learner, [lesson] * 501, completed=True),
    ]
    partial = await bulk(api, stranger, course.lesson_ids, completed=True)

    assert [r.get("code") for r in refused] == [
        "NOT_ENROLLED",
        "NOT_FOUND",
        "VALIDATION_FAILED",
        "FORBIDDEN",
        "NOT_FOUND",
        "FORBIDDEN",
        "NOT_FOUND",
        "VALIDATION_FAILED",
    ]
    assert partial["__typename"] == "BulkSetCompletionSuccess"
    assert [r["error"]["code"] for r in partial["results"]] == ["NOT_ENROLLED", "NOT_ENROLLED"]
    assert await all_events(api, admin) == []
    for user in (learner, stranger):
        records = await api.data(RECORDS, {"userId": user.id}, key=admin.key)
        assert records["progress"]["totalCount"] == 0
        assert await enrollment(api, admin, course, user) in (
            None,
            {"status": "ACTIVE", "completedAt": None, "certificate": None},
        )


# --- 2. the events connection ------------------------------------------------------------------------


async def test_events_are_for_admins_only(api: Api) -> None:
    course = await api.course(1)
    learner = await enrolled_learner(api, course)
    await set_completed(api, learner, course.lesson_ids, True, via="bulk")

    body = await api.gql(EVENTS, {"userId": learner.id}, key=learner.key)

    assert error_codes(body) == ["FORBIDDEN"]
    assert body["data"] is None or body["data"].get("events") is None


async def test_events_filter_by_types_user_and_course(api: Api) -> None:
    admin = await api.admin()
    one = await api.course(1, certificate_enabled=True)
    two = await api.course(2)
    alice = await enrolled_learner(api, one)
    bob = await enrolled_learner(api, one)
    await api.enroll(alice, two)
    await set_completed(api, alice, one.lesson_ids, True, via="upsert")
    await set_completed(api, bob, one.lesson_ids, True, via="upsert")
    await set_completed(api, alice, two.lesson_ids[:1], True, via="bulk")
    await set_completed(api, alice, two.lesson_ids[:1], False, via="bulk")
    everything = await all_events(api, admin)
    assert len(everything) == 8

    def matching(predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [e for e in everything if predicate(e)]

    assert await all_events(api, admin, userId=bob.id) == matching(lambda e: e["userId"] == bob.id)
    assert await all_events(api, admin, courseId=two.id) == matching(lambda e: e["courseId"] == two.id)
    completions = await all_events(api, admin, types=["COURSE_COMPLETED", "LESSON_UNCOMPLETED"])
    assert kinds(completions) == [
        ("COURSE_COMPLETED", None),
        ("COURSE_COMPLETED", None),
        ("LESSON_UNCOMPLETED", two.lesson_ids[0]),
    ]
    assert [e["userId"] for e in completions] == [alice.id, bob.id, alice.id]
    combined = await all_events(api, admin, types=["LESSON_COMPLETED"], userId=alice.id, courseId=one.id)
    assert kinds(combined) == [("LESSON_COMPLETED", one.lesson_ids[0])]
    assert combined[0]["userId"] == alice.id
    assert await all_events(api, admin, types=["PROGRESS_RESET"]) == []
    assert await all_events(api, admin, userId=admin.id) == []


async def test_paging_with_after_returns_each_event_once_in_order_and_resumes_for_new_ones(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(5, certificate_enabled=True)
    learner = await enrolled_learner(api, course)
    await set_completed(api, learner, course.lesson_ids, True, via="upsert")
    everything = await all_events(api, admin)
    assert len(everything) == 7

    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await event_page(api, admin, first=2, after=cursor)
        pages += 1
        seen += [edge["node"] for edge in page["edges"]]
        assert [edge["cursor"] for edge in page["edges"]][-1:] == [page["pageInfo"]["endCursor"]]
        cursor = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert pages == 4
    assert seen == everything
    assert len({e["id"] for e in seen}) == 7

    # A poller that kept the last cursor sees nothing until something happens, then only that.
    idle = await event_page(api, admin, first=2, after=cursor)
    assert idle["edges"] == []
    assert idle["pageInfo"]["hasNextPage"] is False
    await set_completed(api, learner, course.lesson_ids[:1], False, via="bulk")
    fresh = await event_page(api, admin, first=2, after=cursor)
    assert kinds([edge["node"] for edge in fresh["edges"]]) == [("LESSON_UNCOMPLETED", course.lesson_ids[0])]


@pytest.mark.parametrize(
    "variables",
    [
        pytest.param({"after": "not a cursor"}, id="garbage-cursor"),
        pytest.param({"after": encode_id("Event", 1)}, id="an-id-not-a-cursor"),
        pytest.param({"first": -1}, id="negative-first"),
        pytest.param({"first": 1001}, id="first-too-large"),
        pytest.param({"userId": encode_id("Course", 1)}, id="user-id-of-a-course"),
        pytest.param({"courseId": "nope"}, id="malformed-course-id"),
    ],
)
async def test_bad_paging_or_filter_arguments_are_validation_failed(
    api: Api, variables: dict[str, Any]
) -> None:
    admin = await api.admin()
    course = await api.course(1)
    learner = await enrolled_learner(api, course)
    await set_completed(api, learner, course.lesson_ids, True, via="bulk")

    body = await api.gql(EVENTS, variables, key=admin.key)

    assert error_codes(body) == ["VALIDATION_FAILED"]


# --- 3. certificates -------------------------------------------------------------------------------


async def test_a_certificate_is_issued_once_per_learner_with_an_unguessable_distinct_code(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(2, certificate_enabled=True)
    alice = await enrolled_learner(api, course)
    bob = await enrolled_learner(api, course)

    await set_completed(api, alice, course.lesson_ids[:1], True, via="upsert")
    assert (await enrollment(api, alice, course, alice))["certificate"] is None  # not complete yet
    await set_completed(api, alice, course.lesson_ids[1:], True, via="upsert")
    await set_completed(api, bob, course.lesson_ids, True, via="bulk")
    await set_completed(api, alice, course.lesson_ids, True, via="bulk")  # again: nothing new

    mine = await enrollment(api, alice, course, alice)
    theirs = await certificate(api, bob, course, bob)
    cert = mine["certificate"]
    assert cert["user"] == {"id": alice.id}
    assert cert["course"] == {"id": course.id}
    assert at(cert["issuedAt"]) == at(mine["completedAt"])
    assert len(cert["code"]) >= 32
    assert len(theirs["code"]) >= 32
    assert cert["code"] != theirs["code"]
    assert cert["id"] != theirs["id"]
    issued = await all_events(api, admin, types=["CERTIFICATE_ISSUED"])
    assert [(e["userId"], e["data"]["code"]) for e in issued] == [
        (alice.id, cert["code"]),
        (bob.id, theirs["code"]),
    ]


async def test_no_certificate_when_the_course_does_not_offer_one(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(2, certificate_enabled=False)
    learner = await enrolled_learner(api, course)

    await set_completed(api, learner, course.lesson_ids, True, via="bulk")

    state = await enrollment(api, learner, course, learner)
    assert state["status"] == "COMPLETED"
    assert state["certificate"] is None
    assert kinds(await all_events(api, admin))[-1] == ("COURSE_COMPLETED", None)
    assert await all_events(api, admin, types=["CERTIFICATE_ISSUED"]) == []


@pytest.mark.parametrize("via", ["upsert", "bulk"])
async def test_the_certificate_is_kept_through_uncompletion_and_not_issued_again(api: Api, via: str) -> None:
    admin = await api.admin()
    course = await api.course(2, certificate_enabled=True)
    learner = await enrolled_learner(api, course)
    last = course.lesson_ids[-1]
    await set_completed(api, learner, course.lesson_ids, True, via=via)
    first_cert = await certificate(api, learner, course, learner)

    await set_completed(api, learner, [last], False, via=via)
    reopened = await enrollment(api, learner, course, learner)
    await set_completed(api, learner, [last], True, via=via)

    assert reopened["status"] == "ACTIVE"
    assert reopened["certificate"] == first_cert  # earned once, kept while the course is reopened
    assert await certificate(api, learner, course, learner) == first_cert
    assert (await enrollment(api, learner, course, learner))["status"] == "COMPLETED"
    course_events = await all_events(api, admin, types=["COURSE_COMPLETED", "CERTIFICATE_ISSUED"])
    assert kinds(course_events) == [
        ("COURSE_COMPLETED", None),
        ("CERTIFICATE_ISSUED", None),
        ("COURSE_COMPLETED", None),
    ]
    assert course_events[1]["data"]["code"] == first_cert["code"]


async def test_a_certificate_node_is_visible_to_its_owner_and_admins_only(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(1, certificate_enabled=True)
    owner = await enrolled_learner(api, course)
    other = await enrolled_learner(api, course)
    await set_completed(api, owner, course.lesson_ids, True, via="bulk")
    cert = await certificate(api, owner, course, owner)
    expected_node = {
        "__typename": "Certificate",
        "id": cert["id"],
        "code": cert["code"],
        "user": {"id": owner.id},
    }

    assert (await api.data(NODE, {"id": cert["id"]}, key=owner.key))["node"] == expected_node
    assert (await api.data(NODE, {"id": cert["id"]}, key=admin.key))["node"] == expected_node
    # Another learner learns nothing, not even that it exists: the same answer as for no certificate.
    hidden = await api.gql(NODE, {"id": cert["id"]}, key=other.key)
    absent = await api.gql(NODE, {"id": encode_id("Certificate", 999_999)}, key=other.key)
    assert hidden == absent == {"data": {"node": None}}


async def test_certificate_issued_names_the_certificate_by_its_global_id(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(1, certificate_enabled=True)
    learner = await enrolled_learner(api, course)
    await set_completed(api, learner, course.lesson_ids, True, via="bulk")
    cert = await certificate(api, learner, course, learner)

    [issued] = await all_events(api, admin, types=["CERTIFICATE_ISSUED"])

    assert issued["data"] == {"certificateId": cert["id"], "code": cert["code"]}


# --- 4. verifyCertificate, public -------------------------------------------------------------------


async def issued_certificate(api: Api, name: str = "Ada Lovelace") -> tuple[dict[str, Any], str]:
    """A learner called ``name`` completes a course with certificates: (their certificate, title)."""
    course = await api.course(1, certificate_enabled=True)
    learner = await enrolled_learner(api, course, name=name)
    await set_completed(api, learner, course.lesson_ids, True, via="bulk")
    title: str = (await api.data(COURSE_TITLE, {"id": course.id}, key=learner.key))["course"]["title"]
    return await certificate(api, learner, course, learner), title


async def test_verify_certificate_without_a_key_gives_exactly_name_title_and_date(api: Api) -> None:
    cert, title = await issued_certificate(api, name="Ada Lovelace")

    response = await api.client.post("/graphql", json=anonymous(VERIFY, {"code": cert["code"]}))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data"}
    verification = body["data"]["verifyCertificate"]
    assert set(verification) == {"learnerName", "courseTitle", "issuedAt"}
    assert verification["learnerName"] == "Ada Lovelace"
    assert verification["courseTitle"] == title
    assert at(verification["issuedAt"]) == at(cert["issuedAt"])


async def test_verify_certificate_works_with_any_key_too(api: Api) -> None:
    cert, title = await issued_certificate(api, name="Grace Hopper")
    someone = await api.user()

    data = await api.data(VERIFY, {"code": cert["code"]}, key=someone.key)

    assert data["verifyCertificate"]["learnerName"] == "Grace Hopper"
    assert data["verifyCertificate"]["courseTitle"] == title


async def test_verify_certificate_of_an_unknown_code_is_null(api: Api) -> None:
    cert, _ = await issued_certificate(api)
    code = cert["code"]
    unknown = [
        "",
        "x",
        code[:-1],
        code + "x",
        code.upper() if code.upper() != code else code.lower(),
        "A" * len(code),
        "A" * 10_000,
        "' OR '1'='1",
    ]

    for candidate in unknown:
        response = await api.client.post("/graphql", json=anonymous(VERIFY, {"code": candidate}))
        assert response.status_code == 200, response.text
        assert response.json() == {"data": {"verifyCertificate": None}}, candidate


async def test_the_verification_type_has_only_name_title_and_date(api: Api) -> None:
    admin = await api.admin()
    query = """
    {
      __type(name: "CertificateVerification") { fields { name } }
      __schema { queryType { fields { name type { name kind ofType { name } } } } }
    }
    """

    data = await api.data(query, key=admin.key)

    assert sorted(f["name"] for f in data["__type"]["fields"]) == ["courseTitle", "issuedAt", "learnerName"]
    [verify] = [f for f in data["__schema"]["queryType"]["fields"] if f["name"] == "verifyCertificate"]
    assert verify["type"] == {"name": "CertificateVerification", "kind": "OBJECT", "ofType": None}
    # Asking an anonymous verification for more fails validation: nothing comes back.
    cert, _ = await issued_certificate(api)
    more = "query($c: String!) { verifyCertificate(code: $c) { learnerName email code user { id } } }"
    response = await api.client.post("/graphql", json=anonymous(more, {"c": cert["code"]}))
    body = response.json()
    assert body.get("data") is None
    assert body["errors"]


PUBLIC_DOCUMENTS = {
    "plain": ('{ verifyCertificate(code: "nope") { learnerName } }', None),
    "typename-too": ('{ __typename verifyCertificate(code: "nope") { __typename issuedAt } }', None),
    "aliases": (
        '{ a: verifyCertificate(code: "x") { learnerName } b: verifyCertificate(code: "y") { courseTitle } }',
        None,
    ),
    "named-operation": (
        'query Check { verifyCertificate(code: "nope") { learnerName } } query Other { __typename }',
        "Check",
    ),
}


@pytest.mark.parametrize("name", list(PUBLIC_DOCUMENTS))
async def test_documents_selecting_only_verify_certificate_need_no_key(api: Api, name: str) -> None:
    query, operation = PUBLIC_DOCUMENTS[name]
    response = await api.client.post("/graphql", json=anonymous(query, operation_name=operation))

    assert response.status_code == 200, response.text
    assert not response.json().get("errors"), response.text


PRIVATE_DOCUMENTS = {
    "me": ("{ me { id } }", None),
    "mixed-with-me": ('{ verifyCertificate(code: "x") { learnerName } me { id } }', None),
    "events": ("{ events { edges { cursor } } }", None),
    "node": ('{ node(id: "Q2VydGlmaWNhdGU6MQ==") { id } }', None),
    "alias-named-like-the-public-field": ("{ verifyCertificate: me { id } }", None),
    "introspection-schema": ("{ __schema { queryType { name } } }", None),
    "introspection-type": ('{ __type(name: "User") { name } }', None),
    "inline-fragment": ("{ ... on Query { me { id } } }", None),
    "fragment-spread": ("{ ...F } fragment F on Query { me { id } }", None),
    "mutation": ('mutation { upsertProgress(input: {lessonId: "x", completed: true}) { __typename } }', None),
    "mutation-named-verify": (
        "mutation verifyCertificate"
        " { bulkSetCompletion(input: {lessonIds: [], completed: true}) { __typename } }",
        None,
    ),
    "two-operations-unnamed": (
        'query A { verifyCertificate(code: "x") { learnerName } } query B { me { id } }',
        None,
    ),
    "operation-name-picks-private": (
        'query A { verifyCertificate(code: "x") { learnerName } } query B { me { id } }',
        "B",
    ),
    "syntax-error": ("{ verifyCertificate(code: ", None),
    # The whole document must be public: validating the private operation beside the public one
    # would tell a caller without a key about the rest of the schema (issue 13, finding 3).
    "public-operation-beside-a-private-one": (
        'query Check { verifyCertificate(code: "nope") { learnerName } } query Other { me { id } }',
        "Check",
    ),
}


@pytest.mark.parametrize("name", list(PRIVATE_DOCUMENTS))
async def test_anything_else_without_a_key_is_unauthenticated(api: Api, name: str) -> None:
    query, operation = PRIVATE_DOCUMENTS[name]
    response = await api.client.post("/graphql", json=anonymous(query, operation_name=operation))

    assert response.status_code == 401, response.text
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAUTHENTICATED"]
    assert response.json()["data"] is None


async def test_anonymous_get_requests_are_unauthenticated_unless_public_and_batches_are_refused(
    api: Api,
) -> None:
    cert, title = await issued_certificate(api, name="Alan Turing")
    public = anonymous(VERIFY, {"code": cert["code"]})

    batch = await api.client.post("/graphql", json=[public, anonymous("{ me { id } }")])
    private_get = await api.client.get("/graphql", params={"query": "{ me { id } }"})
    mutation_get = await api.client.get(
        "/graphql",
        params={
            "query": "mutation { bulkSetCompletion(input: {lessonIds: [], completed: true}) { __typename } }"
        },
    )
    mixed_get = await api.client.get(
        "/graphql", params={"query": '{ verifyCertificate(code: "x") { learnerName } me { id } }'}
    )
    public_get = await api.client.get(
        "/graphql",
        params={
            "query": "query($c: String!) { verifyCertificate(code: $c) { learnerName courseTitle } }",
            "variables": f'{{"c": "{cert["code"]}"}}',
        },
    )

    for refused in (private_get, mixed_get):
        assert refused.status_code == 401, refused.text
        assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["UNAUTHENTICATED"]
    # The request's shape is judged before the key: these are refused whoever sends them.
    assert batch.status_code == 400, batch.text
    assert [e["extensions"]["code"] for e in batch.json()["errors"]] == ["BATCHING_NOT_SUPPORTED"]
    assert mutation_get.status_code == 405, mutation_get.text
    assert [e["extensions"]["code"] for e in mutation_get.json()["errors"]] == ["METHOD_NOT_ALLOWED"]
    assert public_get.status_code == 200, public_get.text
    assert public_get.json() == {
        "data": {"verifyCertificate": {"learnerName": "Alan Turing", "courseTitle": title}}
    }


# --- 5. PostgreSQL: parallel writers -----------------------------------------------------------------

RACE_ROUNDS = 50


def _race_requests(
    api: Api, learner: SeededUser, lessons: list[str], variant: int
) -> list[Callable[[], Awaitable[dict[str, Any]]]]:
    """The parallel requests that finish the course, mixing upserts and bulk calls; some overlap."""
    one, two, three = lessons

    def up(lesson: str) -> Callable[[], Awaitable[dict[str, Any]]]:
        return lambda: upsert(api, learner, lesson, completed=True)

    def many(*ids: str) -> Callable[[], Awaitable[dict[str, Any]]]:
        return lambda: bulk(api, learner, list(ids), completed=True)

    variants = [
        [up(one), up(two), up(three)],
        [many(one), many(two), up(three)],
        [up(one), many(two, three), up(three)],
        [many(one, two, three), up(one), many(three), up(two)],
    ]
    return variants[variant % len(variants)]


async def released(
    barrier: asyncio.Barrier, request: Callable[[], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """Send the request once every racer is ready: they all start together."""
    await barrier.wait()
    return await request()


@pytest.mark.postgres_only
async def test_parallel_final_completions_issue_one_certificate_and_one_course_completed(pg_api: Api) -> None:
    admin = await pg_api.admin()
    course = await pg_api.course(4, certificate_enabled=True)
    first, *last = course.lesson_ids

    # A fresh learner per round, each with the first lesson done (also their key's first request,
    # so the racers start even): prepared together, only the races run one after the other.
    learners = await asyncio.gather(*(enrolled_learner(pg_api, course) for _ in range(RACE_ROUNDS)))
    await asyncio.gather(*(set_completed(pg_api, learner, [first], True, via="bulk") for learner in learners))

    for round_, learner in enumerate(learners):
        requests = _race_requests(pg_api, learner, last, round_)
        barrier = asyncio.Barrier(len(requests))

        results = await asyncio.gather(*(released(barrier, request) for request in requests))

        for result in results:
            assert result["__typename"] in {"UpsertProgressSuccess", "BulkSetCompletionSuccess"}, result

    # Checked once every round ran: each round had its own learner, so no round disturbs another.
    events = await all_events(pg_api, admin, courseId=course.id)
    states = await asyncio.gather(*(enrollment(pg_api, admin, course, learner) for learner in learners))
    for round_, (learner, state) in enumerate(zip(learners, states, strict=True)):
        where = f"round {round_}"
        mine = [e for e in events if e["userId"] == learner.id]
        assert sorted(kinds(mine)) == sorted(
            [("LESSON_COMPLETED", lesson) for lesson in course.lesson_ids]
            + [("COURSE_COMPLETED", None), ("CERTIFICATE_ISSUED", None)]
        ), where
        assert kinds(mine)[-2:] == [("COURSE_COMPLETED", None), ("CERTIFICATE_ISSUED", None)], where
        assert state["status"] == "COMPLETED", where
        assert state["certificate"] is not None, where
        assert state["certificate"]["code"] == mine[-1]["data"]["code"], where


@pytest.mark.postgres_only
async def test_a_poller_following_end_cursor_sees_an_event_committed_out_of_id_order(
    pg_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await pg_api.admin()
    course = await pg_api.course(2)
    slow = await enrolled_learner(pg_api, course)
    fast = await enrolled_learner(pg_api, course)
    lesson = course.lesson_ids[0]
    # Hold the slow learner's transaction open after it wrote its event (its id is taken), as a
    # busy server would for a moment; the fast learner's event gets the next id and commits first.
    written, release = asyncio.Event(), asyncio.Event()

    async def held(conn: Any, events: list[NewEvent], at_time: datetime) -> None:
        await record_events(conn, events, at_time)
        if any(event.user_id == slow.pk for event in events):
            written.set()
            await release.wait()

    monkeypatch.setattr("gql_progress.domain.completion.enrollment.record_events", held)
    slow_write = asyncio.create_task(upsert(pg_api, slow, lesson, completed=True))
    await asyncio.wait_for(written.wait(), 10)
    await upsert(pg_api, fast, lesson, completed=True)

    seen: list[dict[str, Any]] = []
    cursor: str | None = None

    async def poll() -> None:
        nonlocal cursor
        page = await event_page(pg_api, admin, first=100, after=cursor)
        seen.extend(edge["node"] for edge in page["edges"])
        cursor = page["pageInfo"]["endCursor"] or cursor

    await poll()
    release.set()
    assert (await slow_write)["__typename"] == "UpsertProgressSuccess"
    await poll()

    everything = await all_events(pg_api, admin)
    assert sorted(e["userId"] for e in everything) == sorted([slow.id, fast.id])
    assert sorted(e["id"] for e in seen) == sorted(e["id"] for e in everything)


@pytest.mark.postgres_only
async def test_course_completion_is_never_dated_before_the_lessons_that_led_to_it(
    pg_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await pg_api.admin()
    course = await pg_api.course(2)
    learner = await enrolled_learner(pg_api, course)
    first, last = course.lesson_ids
    # Two requests of the learner at once; the one that started first (the last lesson) reaches
    # the enrollment lock second, as when it waits for the other to release the lock.
    waiting, go = asyncio.Event(), asyncio.Event()
    calls = 0

    async def late_for_the_lock(conn: Any, user_id: int, course_ids: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            waiting.set()
            await go.wait()
        return await lock_enrollments(conn, user_id, course_ids)

    monkeypatch.setattr("gql_progress.domain.completion.enrollment.lock_enrollments", late_for_the_lock)
    finishing = asyncio.create_task(upsert(pg_api, learner, last, completed=True))
    await asyncio.wait_for(waiting.wait(), 10)
    assert (await upsert(pg_api, learner, first, completed=True))["__typename"] == "UpsertProgressSuccess"
    go.set()
    assert (await finishing)["__typename"] == "UpsertProgressSuccess"

    events = await all_events(pg_api, admin)
    assert kinds(events) == [
        ("LESSON_COMPLETED", first),
        ("LESSON_COMPLETED", last),
        ("COURSE_COMPLETED", None),
    ]
    times = [at(e["occurredAt"]) for e in events]
    assert times == sorted(times), "the log, oldest first, goes back in time"
    data = await pg_api.data(LESSON_COMPLETIONS, {"id": course.id, "userId": learner.id}, key=admin.key)
    completed_at = at((await enrollment(pg_api, admin, course, learner))["completedAt"])
    assert all(at(lesson["progress"]["completedAt"]) <= completed_at for lesson in data["course"]["lessons"])
