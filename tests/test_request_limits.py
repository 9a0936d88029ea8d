"""What a request may be and cost: refused before the key is looked up or any SQL runs.

Each refusal is checked for its status, its stable code, and a statement count of zero; the
production-mode protections (no introspection, no field suggestions, no GraphiQL) run against
an app started in production mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gql_progress.edge.app import create_app
from gql_progress.settings import load_settings
from tests.support import Api


def _codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


async def _refused_without_sql(api: Api, send: Any) -> httpx.Response:
    api.db.statements.reset()
    response: httpx.Response = await send()
    assert api.db.statements.count == 0, "a refused request must not reach the database"
    return response


# --- the request's shape --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"query": "{ me { id } }"}'),
        ("application/x-www-form-urlencoded", b"query=%7B+me+%7B+id+%7D+%7D"),
        ("multipart/form-data; boundary=x", b"--x--"),
    ],
)
async def test_post_bodies_other_than_json_are_refused_with_415(
    api: Api, content_type: str, body: bytes
) -> None:
    learner = await api.user()
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {learner.key}"}

    response = await _refused_without_sql(
        api, lambda: api.client.post("/graphql", content=body, headers=headers)
    )

    assert response.status_code == 415
    assert _codes(response) == ["UNSUPPORTED_MEDIA_TYPE"]


async def test_json_with_a_charset_is_accepted(api: Api) -> None:
    learner = await api.user()
    response = await api.client.post(
        "/graphql",
        content=b'{"query": "{ me { email } }"}',
        headers={"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {learner.key}"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"email": learner.email}}}


async def test_a_body_over_the_limit_is_refused_with_413(api: Api) -> None:
    learner = await api.user()
    padding = "x" * (256 * 1024)
    body = {"query": "{ me { id } }", "variables": {"padding": padding}}

    response = await _refused_without_sql(
        api,
        lambda: api.client.post("/graphql", json=body, headers={"Authorization": f"Bearer {learner.key}"}),
    )

    assert response.status_code == 413
    assert _codes(response) == ["PAYLOAD_TOO_LARGE"]


async def test_json_array_batches_are_refused_with_400(api: Api) -> None:
    learner = await api.user()
    batch = [{"query": "{ me { id } }"}, {"query": "{ me { email } }"}]

    response = await _refused_without_sql(
        api,
        lambda: api.client.post("/graphql", json=batch, headers={"Authorization": f"Bearer {learner.key}"}),
    )

    assert response.status_code == 400
    assert _codes(response) == ["BATCHING_NOT_SUPPORTED"]


async def test_mutations_over_get_are_refused_with_405_and_nothing_is_written(api: Api) -> None:
    admin = await api.admin()
    query = (
        'mutation { createUser(input: {externalId: "g", email: "g@example.com", name: "G"}) { __typename } }'
    )

    response = await _refused_without_sql(
        api,
        lambda: api.client.get(
            "/graphql", params={"query": query}, headers={"Authorization": f"Bearer {admin.key}"}
        ),
    )

    assert response.status_code == 405
    assert _codes(response) == ["METHOD_NOT_ALLOWED"]
    found = await api.data('{ user(email: "g@example.com") { id } }', key=admin.key)
    assert found == {"user": None}


async def test_queries_over_get_still_work(api: Api) -> None:
    learner = await api.user()
    response = await api.client.get(
        "/graphql", params={"query": "{ me { email } }"}, headers={"Authorization": f"Bearer {learner.key}"}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"email": learner.email}}}


# --- the document's size and cost ----------------------------------------------------------------


def _nested(depth: int) -> str:
    """A query nesting course → lessons → course … to about ``depth`` levels."""
    inner = "id"
    for _ in range(depth // 2):
        inner = f"lessons {{ course {{ {inner} }} }}"
    return f'{{ course(slug: "x") {{ {inner} }} }}'


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (_nested(30), "QUERY_TOO_DEEP"),
        ("{ " + " ".join(f"a{i}: me {{ id }}" for i in range(31)) + " }", "TOO_MANY_ALIASES"),
        ("{ me { " + " ".join(["id"] * 6000) + " } }", "QUERY_TOO_LARGE"),
        (
            "{ courses(first: 100) { nodes { lessonsConnection(first: 100) { nodes { course {"
            " lessonsConnection(first: 100) { nodes { title } } } } } } } }",
            "QUERY_TOO_COSTLY",
        ),
    ],
    ids=["depth", "aliases", "tokens", "cost"],
)
async def test_documents_over_a_limit_are_refused_before_any_sql(api: Api, document: str, code: str) -> None:
    learner = await api.user()

    response = await _refused_without_sql(
        api,
        lambda: api.client.post(
            "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {learner.key}"}
        ),
    )

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert _codes(response) == [code]


async def test_the_cost_counts_page_sizes_sent_as_variables(api: Api) -> None:
    learner = await api.user()
    query = """
    query($n: Int) {
      courses(first: $n) { nodes { lessonsConnection(first: $n) { nodes { course {
        lessonsConnection(first: $n) { nodes { title } } } } } } }
    }
    """

    big = await _refused_without_sql(
        api,
        lambda: api.client.post(
            "/graphql",
            json={"query": query, "variables": {"n": 100}},
            headers={"Authorization": f"Bearer {learner.key}"},
        ),
    )
    small = await api.gql(query, {"n": 2}, key=learner.key)

    assert _codes(big) == ["QUERY_TOO_COSTLY"]
    assert "errors" not in small


async def test_a_large_but_legitimate_batch_is_within_the_default_cost(api: Api) -> None:
    # bundleProgressBatch admits 100 pairs; the limit must not refuse what the API promises.
    admin = await api.admin()
    requests = [{"bundle": {"slug": f"b{i}"}, "user": {"id": admin.id}} for i in range(100)]
    body = await api.gql(
        """query($r: [BundleProgressRequestInput!]!) { bundleProgressBatch(requests: $r) {
             __typename ... on BundleProgress { items { __typename ... on CourseItemProgress {
             completionPercentage course { title } } } } ... on Error { code } } }""",
        {"r": requests},
        key=admin.key,
    )
    assert "errors" not in body, body
    assert {r["__typename"] for r in body["data"]["bundleProgressBatch"]} == {"NotFoundError"}


async def test_circular_fragments_are_a_validation_error_not_a_crash(api: Api) -> None:
    learner = await api.user()
    document = """
    query { me { ...A } }
    fragment A on User { id ...B }
    fragment B on User { email ...A }
    """
    body = await api.gql(document, key=learner.key)
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert "cycle" in body["errors"][0]["message"].lower() or "spread" in body["errors"][0]["message"].lower()


# --- production mode ------------------------------------------------------------------------------


@pytest.fixture
async def production_api(database_url: str) -> AsyncIterator[Api]:
    app = create_app(load_settings(database_url=database_url, mode="production", webhooks_enabled=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client=client, db=app.state.db, app=app)


async def test_production_refuses_introspection(production_api: Api) -> None:
    learner = await production_api.user()
    body = await production_api.gql("{ __schema { types { name } } }", key=learner.key)
    assert body["data"] is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"GRAPHQL_VALIDATION_FAILED"}
    assert all("introspection" in e["message"].lower() for e in body["errors"])


async def test_production_gives_no_field_suggestions(production_api: Api, api: Api) -> None:
    learner = await production_api.user()
    hidden = await production_api.gql("{ me { emial } }", key=learner.key)
    developer = await api.gql("{ me { emial } }", key=(await api.user()).key)

    assert "Did you mean" not in hidden["errors"][0]["message"]
    assert "Cannot query field 'emial'" in hidden["errors"][0]["message"]
    assert "Did you mean 'email'?" in developer["errors"][0]["message"]


async def test_production_serves_no_graphiql(production_api: Api) -> None:
    response = await production_api.client.get("/graphql", headers={"Accept": "text/html"})
    assert "graphiql" not in response.text.lower()
    assert response.status_code in {400, 401}
    assert (await production_api.client.get("/graphiql/boot.js")).status_code == 404
