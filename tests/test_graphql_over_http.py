"""GraphQL over HTTP: every refusal is JSON with a code, application/graphql-response+json is
served when asked for with the spec's statuses, 405s carry Allow, and graphql-http's server
audit passes against a real server process.

The audit needs Node.js and npm: its pinned packages (tests/http_audit) are installed with
``npm ci`` from the npm registry on first use. Without npm the audit is skipped, except in CI
(CI=true), where that is a failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gql_progress.auth import issue_api_key
from gql_progress.domain.scopes import Scope
from gql_progress.edge.media_types import GRAPHQL_RESPONSE, wants_graphql_response
from tests.npm import npm_installed
from tests.servers import serve
from tests.support import Api

AUDIT_DIR = Path(__file__).resolve().parent / "http_audit"
JSON_ACCEPT = {"Accept": "application/json"}
# What the GraphQL over HTTP spec recommends a client send.
NEW_ACCEPT = {"Accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"}


def _codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


async def _refused_without_sql(api: Api, send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    api.db.statements.reset()
    response = await send()
    assert api.db.statements.count == 0, "a refused request must not reach the database"
    return response


def _post(
    api: Api, body: Any, key: str, accept: dict[str, str] = JSON_ACCEPT
) -> Callable[[], Awaitable[httpx.Response]]:
    return lambda: api.client.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {key}", **accept}
    )


def _get(
    api: Api, params: dict[str, str], key: str, accept: dict[str, str] = JSON_ACCEPT
) -> Callable[[], Awaitable[httpx.Response]]:
    return lambda: api.client.get(
        "/graphql", params=params, headers={"Authorization": f"Bearer {key}", **accept}
    )


# --- request parameters: JSON 400s with a code, before the key is looked up ----------------------


@pytest.mark.parametrize(
    "body",
    [
        {"notquery": "{ me { id } }"},
        {"query": None},
        {"query": ""},
        {"query": 0},
        {"query": {"obj": "ect"}},
        {"query": ["{ me { id } }"]},
        {"query": "{ me { id } }", "variables": "{}"},
        {"query": "{ me { id } }", "variables": ["array"]},
        {"query": "{ me { id } }", "variables": 0},
        {"query": "{ me { id } }", "operationName": {"obj": "ect"}},
        {"query": "{ me { id } }", "operationName": False},
        {"query": "{ me { id } }", "extensions": "string"},
        {"query": "{ me { id } }", "extensions": ["array"]},
    ],
    ids=[
        "query-missing",
        "query-null",
        "query-empty",
        "query-number",
        "query-object",
        "query-array",
        "variables-string",
        "variables-array",
        "variables-number",
        "operationName-object",
        "operationName-boolean",
        "extensions-string",
        "extensions-array",
    ],
)
async def test_a_missing_or_mistyped_parameter_is_a_json_400_with_a_code(
    api: Api, body: dict[str, Any]
) -> None:
    learner = await api.user()

    response = await _refused_without_sql(api, _post(api, body, learner.key))

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert _codes(response) == ["BAD_REQUEST"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"query": "{ me { id } }", "variables": "{not json"},
        {"query": "{ me { id } }", "extensions": "[1]"},
    ],
    ids=["no-query", "variables-not-json", "extensions-not-an-object"],
)
async def test_a_get_without_a_query_or_with_bad_json_parameters_is_a_json_400(
    api: Api, params: dict[str, str]
) -> None:
    learner = await api.user()

    response = await _refused_without_sql(api, _get(api, params, learner.key))

    assert response.status_code == 400
    assert _codes(response) == ["BAD_REQUEST"]


async def test_an_unknown_operation_name_is_refused_without_quoting_it_back(api: Api) -> None:
    learner = await api.user()
    name = "Evil<script>alert(1)</script>"
    body = {"query": "query Mine { me { id } }", "operationName": name}

    response = await _refused_without_sql(api, _post(api, body, learner.key))

    assert response.status_code == 400
    assert _codes(response) == ["OPERATION_NOT_FOUND"]
    assert "Evil" not in response.text
    assert "script" not in response.text


async def test_a_document_without_an_operation_is_refused_with_a_code(api: Api) -> None:
    learner = await api.user()
    body = {"query": "fragment F on User { id }"}

    response = await _refused_without_sql(api, _post(api, body, learner.key))

    assert response.status_code == 400
    assert _codes(response) == ["OPERATION_NOT_FOUND"]


async def test_a_named_operation_of_several_still_runs(api: Api) -> None:
    learner = await api.user()
    body = {"query": "query A { me { id } } query B { me { email } }", "operationName": "B"}

    response = await _post(api, body, learner.key)()

    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"email": learner.email}}}


async def test_an_unknown_persisted_query_hash_is_not_found_without_sql(api: Api) -> None:
    # Automatic persisted queries (tests/test_persisted_documents.py): the client then sends
    # the document with its hash. Before they were supported: PERSISTED_QUERY_NOT_SUPPORTED.
    learner = await api.user()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(b"{ me { id } }").hexdigest()}}

    posted = await _refused_without_sql(api, _post(api, {"extensions": persisted}, learner.key))
    fetched = await _refused_without_sql(api, _get(api, {"extensions": json.dumps(persisted)}, learner.key))

    for response in (posted, fetched):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert _codes(response) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_validation_that_gives_up_says_so_and_what_to_do(api: Api) -> None:
    learner = await api.user()
    # More unknown fields than graphql-core validates before it stops (100).
    document = "{ me { " + " ".join(f"f{i}" for i in range(150)) + " } }"

    body = await api.gql(document, key=learner.key)

    errors = body["errors"]
    assert body["data"] is None
    assert {error["extensions"]["code"] for error in errors} == {"GRAPHQL_VALIDATION_FAILED"}
    assert not any("Validation aborted" in error["message"] for error in errors)
    assert "fix" in errors[-1]["message"]


# --- 405 and Allow ---------------------------------------------------------------------------------


async def test_a_mutation_over_get_is_405_with_allow_post(api: Api) -> None:
    admin = await api.admin()
    query = (
        'mutation { createUser(input: {externalId: "g", email: "g@example.com", name: "G"}) { __typename } }'
    )

    response = await _refused_without_sql(api, _get(api, {"query": query}, admin.key))

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert _codes(response) == ["METHOD_NOT_ALLOWED"]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_other_methods_are_a_json_405_with_allow_get_post(api: Api, method: str) -> None:
    learner = await api.user()
    headers = {"Authorization": f"Bearer {learner.key}", "Content-Type": "application/json"}

    response = await _refused_without_sql(
        api,
        lambda: api.client.request(
            method, "/graphql", content=b'{"query": "{ me { id } }"}', headers=headers
        ),
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert _codes(response) == ["METHOD_NOT_ALLOWED"]


async def test_head_is_405_with_allow_get_post(api: Api) -> None:
    response = await _refused_without_sql(
        api, lambda: api.client.head("/graphql", params={"query": "{ me { id } }"})
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


# --- application/graphql-response+json ------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        (GRAPHQL_RESPONSE, True),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", True),
        (f"application/json, {GRAPHQL_RESPONSE}", True),
        (f"{GRAPHQL_RESPONSE};q=0.5, application/json", False),
        (f"{GRAPHQL_RESPONSE};q=0, */*", False),
        (f"text/html, {GRAPHQL_RESPONSE};q=0.8, */*;q=0.1", True),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON;Q=1", True),
    ],
)
def test_the_new_media_type_is_chosen_when_the_accept_header_prefers_it(
    accept: str | None, expected: bool
) -> None:
    assert wants_graphql_response(accept) is expected


async def test_graphql_response_json_is_served_when_asked_for(api: Api) -> None:
    learner = await api.user()

    asked = await _post(api, {"query": "{ me { email } }"}, learner.key, NEW_ACCEPT)()
    plain = await _post(api, {"query": "{ me { email } }"}, learner.key, {"Accept": "*/*"})()

    assert asked.status_code == 200
    assert asked.headers["content-type"] == GRAPHQL_RESPONSE
    assert asked.json() == {"data": {"me": {"email": learner.email}}}
    assert plain.headers["content-type"] == "application/json"
    assert "accept" in asked.headers["vary"].lower()


# Requests whose document runs nothing: 200 with data null under application/json (GraphQL's
# own validation answers so), 400 without a data entry under application/graphql-response+json.
NOTHING_RAN = [
    ({"query": "{"}, "GRAPHQL_VALIDATION_FAILED"),
    ({"query": "{ me { nosuchfield } }"}, "GRAPHQL_VALIDATION_FAILED"),
    ({"query": "query($n: Int!) { courses(first: $n) { totalCount } }", "variables": {"n": None}}, None),
    ({"query": "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(31)) + " }"}, "TOO_MANY_ALIASES"),
    ({"query": "subscription { __typename }"}, "WEBSOCKET_REQUIRED"),
]


@pytest.mark.parametrize(
    ("body", "code"), NOTHING_RAN, ids=["syntax", "validation", "variables", "limit", "subscription"]
)
async def test_a_request_that_ran_nothing_is_400_without_data_under_graphql_response_json(
    api: Api, body: dict[str, Any], code: str | None
) -> None:
    learner = await api.user()

    asked = await _post(api, body, learner.key, NEW_ACCEPT)()
    plain = await _post(api, body, learner.key)()

    assert asked.status_code == 400, asked.text
    assert asked.headers["content-type"] == GRAPHQL_RESPONSE
    assert "data" not in asked.json()
    assert all(error["extensions"]["code"] for error in asked.json()["errors"])
    assert plain.status_code == 200, plain.text
    assert plain.json()["data"] is None
    if code is not None:
        assert code in _codes(asked)
        assert _codes(plain) == _codes(asked)


async def test_a_document_limit_under_graphql_response_json_still_runs_no_sql(api: Api) -> None:
    learner = await api.user()
    body = {"query": "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(31)) + " }"}

    response = await _refused_without_sql(api, _post(api, body, learner.key, NEW_ACCEPT))

    assert response.status_code == 400
    assert _codes(response) == ["TOO_MANY_ALIASES"]


async def test_an_execution_error_with_data_stays_200_under_graphql_response_json(api: Api) -> None:
    learner = await api.user()
    # course() with neither id nor slug is an error of that field only: me still has its data.
    body = {"query": "{ me { email } course { id } }"}

    response = await _post(api, body, learner.key, NEW_ACCEPT)()

    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    payload = response.json()
    assert payload["data"] == {"me": {"email": learner.email}, "course": None}
    assert [error["path"] for error in payload["errors"]] == [["course"]]


async def test_a_missing_scope_is_403_without_data_under_graphql_response_json(api: Api) -> None:
    learner = await api.user()
    write_only = await issue_api_key(api.db, learner.pk, "write only", scopes=[Scope.PROGRESS_WRITE])

    asked = await _post(api, {"query": "{ me { id } }"}, write_only.secret, NEW_ACCEPT)()
    plain = await _post(api, {"query": "{ me { id } }"}, write_only.secret)()

    assert asked.status_code == 403
    assert "data" not in asked.json()
    assert _codes(asked) == ["FORBIDDEN"]
    assert plain.status_code == 200
    assert plain.json()["data"] is None
    assert _codes(plain) == ["FORBIDDEN"]


async def test_refusals_before_graphql_take_the_asked_media_type_and_drop_data(api: Api) -> None:
    learner = await api.user()
    no_key = await api.client.post("/graphql", json={"query": "{ me { id } }"}, headers=NEW_ACCEPT)
    shape = await _post(api, {"query": 0}, learner.key, NEW_ACCEPT)()

    for response, status, code in ((no_key, 401, "UNAUTHENTICATED"), (shape, 400, "BAD_REQUEST")):
        assert response.status_code == status
        assert response.headers["content-type"] == GRAPHQL_RESPONSE
        assert "data" not in response.json()
        assert _codes(response) == [code]


# --- graphql-http's server audit, against a real server process ------------------------------------


@pytest.fixture(scope="session")
def http_audit() -> Path:
    """tests/http_audit/audit.mjs, its packages installed (``npm ci``, once per lockfile)."""
    npm_installed(AUDIT_DIR, "the GraphQL over HTTP audit")
    return AUDIT_DIR / "audit.mjs"


@pytest.mark.slow
async def test_graphql_http_server_audit_reports_no_error_and_no_warning(
    api: Api, database_url: str, http_audit: Path
) -> None:
    learner = await api.user()
    async with serve(database_url) as server:
        process = await asyncio.create_subprocess_exec(
            "node",
            str(http_audit),
            f"{server.base}/graphql",
            env={**os.environ, "AUDIT_KEY": learner.key},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()
    results = json.loads(stdout)

    assert len(results) >= 60, "graphql-http ran fewer audits than its 1.23 release has"
    failed = [f"{r['status']} {r['id']} {r['name']}: {r['reason']}" for r in results if r["status"] != "ok"]
    # Every audit passes, the MAYs (notices) included: no error, no warning, nothing to excuse.
    assert failed == [], "\n".join(failed)
