"""What clients see of failures: masked internal errors tied to the log, and GraphQL's own errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from gql_progress.db.models import Course
from tests.support import Api, fail_loads_by_id

COURSE_BY_ID = "query($id: ID!) { course(id: $id) { id slug } }"
COURSE_AND_ME = "query($id: ID!) { me { id } course(id: $id) { id } }"
SYNTAX_ERROR = "{ me { id }"
UNKNOWN_FIELD = "{ me { id nope } }"
# `last` was the unknown argument here until connections paged backward (two-way pagination).
UNKNOWN_ARGUMENT = "{ courses(limit: 2) { totalCount } }"
COURSES_FIRST = "query($first: Int) { courses(first: $first) { totalCount } }"
LESSON_IDS = "query($ids: [ID!]!) { completionStatus(lessonIds: $ids) { found } }"
FORBIDDEN_READ = "query($userId: ID) { progress(userId: $userId) { totalCount } }"

ERROR_LOGGER = "gql_progress.errors"
LOG_FORMAT = "%(levelname)s %(name)s [request_id=%(request_id)s] %(message)s"


@pytest.fixture
def error_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    # The app stamps request_id on every record, so a formatter may show it.
    formatter = caplog.handler.formatter
    caplog.handler.setFormatter(logging.Formatter(LOG_FORMAT))
    with caplog.at_level(logging.INFO, logger=ERROR_LOGGER):
        yield caplog
    caplog.handler.setFormatter(formatter)


@pytest.fixture
def broken_course_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    fail_loads_by_id(monkeypatch, Course, "boom")


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or []]


# --- unexpected exceptions ------------------------------------------------------------------------


@pytest.mark.usefixtures("broken_course_loader")
async def test_unexpected_exception_is_masked_and_carries_the_request_id(
    api: Api, error_log: pytest.LogCaptureFixture
) -> None:
    learner = await api.user()
    course = await api.course(lessons=0)

    response = await api.post(COURSE_BY_ID, {"id": course.id}, key=learner.key)

    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    body = response.json()
    assert body["data"] == {"course": None}
    [error] = body["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert error["path"] == ["course"]
    assert "boom" not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text


@pytest.mark.usefixtures("broken_course_loader")
async def test_unexpected_exception_is_logged_with_traceback_under_the_same_request_id(
    api: Api, error_log: pytest.LogCaptureFixture
) -> None:
    learner = await api.user()
    course = await api.course(lessons=0)

    response = await api.post(COURSE_BY_ID, {"id": course.id}, key=learner.key)

    request_id = response.headers["x-request-id"]
    records = [r for r in error_log.records if r.name == ERROR_LOGGER]
    assert records
    for record in records:
        assert record.levelno == logging.ERROR
        assert getattr(record, "request_id", None) == request_id
        assert record.exc_info is not None
        assert isinstance(record.exc_info[1], RuntimeError)
        assert "course" in record.getMessage()
    assert f"[request_id={request_id}]" in error_log.text
    assert "Traceback" in error_log.text
    assert "RuntimeError: boom" in error_log.text


@pytest.mark.usefixtures("broken_course_loader")
async def test_unexpected_exception_is_logged_once(api: Api, error_log: pytest.LogCaptureFixture) -> None:
    learner = await api.user()
    course = await api.course(lessons=0)

    await api.post(COURSE_BY_ID, {"id": course.id}, key=learner.key)

    assert len([r for r in error_log.records if r.name == ERROR_LOGGER]) == 1


@pytest.mark.usefixtures("broken_course_loader")
async def test_masked_error_uses_the_callers_request_id(
    api: Api, error_log: pytest.LogCaptureFixture
) -> None:
    learner = await api.user()
    course = await api.course(lessons=0)

    response = await api.client.post(
        "/graphql",
        json={"query": COURSE_BY_ID, "variables": {"id": course.id}},
        headers={"Authorization": f"Bearer {learner.key}", "X-Request-ID": "client-req-42"},
    )

    assert response.headers["x-request-id"] == "client-req-42"
    assert response.json()["errors"][0]["extensions"]["requestId"] == "client-req-42"
    assert "[request_id=client-req-42]" in error_log.text


@pytest.mark.usefixtures("broken_course_loader")
async def test_unexpected_exception_spoils_only_its_own_field(
    api: Api, error_log: pytest.LogCaptureFixture
) -> None:
    learner = await api.user()
    course = await api.course(lessons=0)

    body = await api.gql(COURSE_AND_ME, {"id": course.id}, key=learner.key)

    assert body["data"] == {"me": {"id": learner.id}, "course": None}
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]


async def test_expected_errors_are_not_logged_as_errors(
    api: Api, error_log: pytest.LogCaptureFixture
) -> None:
    learner, other = await api.user(), await api.user()

    forbidden = await api.gql(FORBIDDEN_READ, {"userId": other.id}, key=learner.key)
    invalid = await api.gql(COURSES_FIRST, {"first": 10_000}, key=learner.key)

    assert error_codes(forbidden) == ["FORBIDDEN"]
    assert error_codes(invalid) == ["VALIDATION_FAILED"]
    assert [r for r in error_log.records if r.levelno >= logging.ERROR] == []


# --- GraphQL's own errors ---------------------------------------------------------------------


async def test_syntax_error_is_reported_with_a_code(api: Api) -> None:
    learner = await api.user()

    response = await api.post(SYNTAX_ERROR, key=learner.key)

    assert response.status_code < 500
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert "Syntax Error" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_syntax_error_is_a_client_error_not_a_500(api: Api) -> None:
    learner = await api.user()

    response = await api.post(SYNTAX_ERROR, key=learner.key)

    assert response.status_code < 500
    body = response.json()
    assert body["data"] is None
    assert "Syntax Error" in body["errors"][0]["message"]


async def test_unknown_field_or_argument_is_a_validation_error(api: Api) -> None:
    learner = await api.user()

    for document in (UNKNOWN_FIELD, UNKNOWN_ARGUMENT):
        response = await api.post(document, key=learner.key)

        assert response.status_code < 500, document
        body = response.json()
        assert body["data"] is None
        assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"], document
        assert body["errors"][0]["locations"]


WRONGLY_TYPED: list[tuple[str, dict[str, Any]]] = [
    (COURSES_FIRST, {"first": "ten"}),
    (COURSES_FIRST, {"first": 1.5}),
    (COURSES_FIRST, {"first": 2**40}),
    (LESSON_IDS, {"ids": {"not": "an id"}}),
    (LESSON_IDS, {"ids": [None]}),
    (LESSON_IDS, {"ids": None}),
    (LESSON_IDS, {}),
]


async def test_variables_of_the_wrong_type_are_refused(api: Api) -> None:
    learner = await api.user()

    for document, variables in WRONGLY_TYPED:
        response = await api.post(document, variables, key=learner.key)

        assert response.status_code < 500, variables
        body = response.json()
        assert body["data"] is None, variables
        assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"], variables
        assert "Internal server error" not in response.text


async def test_request_without_a_query_is_a_client_error(api: Api) -> None:
    learner = await api.user()

    response = await api.client.post(
        "/graphql", json={"variables": {}}, headers={"Authorization": f"Bearer {learner.key}"}
    )

    assert 400 <= response.status_code < 500


async def test_body_that_is_not_json_is_a_client_error(api: Api) -> None:
    learner = await api.user()

    response = await api.client.post(
        "/graphql",
        content=b"{not json",
        headers={"Authorization": f"Bearer {learner.key}", "Content-Type": "application/json"},
    )

    assert 400 <= response.status_code < 500
