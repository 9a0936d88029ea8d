"""Authentication, the HTTP surface around /graphql, health checks and request ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from gql_progress.auth import hash_key
from gql_progress.auth.authenticator import Authenticator
from gql_progress.auth.keys import new_key
from gql_progress.db.engine import Database
from gql_progress.db.models import ApiKey, UserRole
from gql_progress.db.types import utcnow
from tests.support import Api, SeededUser

ME = "query { me { id email role } }"
ME_ID = "{ me { id } }"
COURSE_BY_SLUG = "query($slug: String!) { course(slug: $slug) { id } }"
CREATE_COURSE_MUTATION = (
    'mutation { createCourse(input: {slug: "made-over-get", title: "Made over GET"}) '
    "{ __typename ... on CoursePayload { course { id } } } }"
)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def key_column(api: Api, key: str, column: Any) -> Any:
    async with api.db.read() as conn:
        return await conn.scalar(select(column).where(ApiKey.key_hash == hash_key(key)))


def assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["data"] is None
    assert len(body["errors"]) == 1
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert body["errors"][0]["message"]


# --- the API key -----------------------------------------------------------------------------


async def test_request_without_authorization_header_is_401_with_graphql_shaped_body(api: Api) -> None:
    response = await api.client.post("/graphql", json={"query": ME})

    assert_unauthenticated(response)


BAD_AUTHORIZATIONS = [
    "Bearer",
    "Bearer    ",
    "Basic dXNlcjpwYXNz",
    "gqlp_no_scheme_given",
    "Bearer not-a-gqlp-key",
    "Bearer gqlp_" + "x" * 43,
    "Bearer gqlp_" + "x" * 300,
]


async def test_malformed_or_unknown_key_is_401(api: Api) -> None:
    learner = await api.user()  # a real key exists; the ones sent are not it

    for authorization in [*BAD_AUTHORIZATIONS, f"Bearer {learner.key}x", f"Bearer {learner.key[:-1]}"]:
        response = await api.client.post(
            "/graphql", json={"query": ME}, headers={"Authorization": authorization}
        )
        assert response.status_code == 401, authorization
        assert_unauthenticated(response)


async def test_revoked_key_is_401(api: Api) -> None:
    learner = await api.user()
    assert (await api.post(ME, key=learner.key)).status_code == 200

    async with api.db.write() as conn:
        await conn.execute(
            update(ApiKey).where(ApiKey.key_hash == hash_key(learner.key)).values(revoked_at=utcnow())
        )

    assert_unauthenticated(await api.post(ME, key=learner.key))


async def test_valid_key_acts_as_its_own_user(api: Api) -> None:
    learner = await api.user()
    admin = await api.admin()

    as_learner = await api.data(ME, key=learner.key)
    as_admin = await api.data(ME, key=admin.key)

    assert as_learner["me"] == {"id": learner.id, "email": learner.email, "role": "LEARNER"}
    assert as_admin["me"] == {"id": admin.id, "email": admin.email, "role": "ADMIN"}


async def test_bearer_scheme_is_case_insensitive(api: Api) -> None:
    learner = await api.user()

    response = await api.client.post(
        "/graphql", json={"query": ME_ID}, headers={"Authorization": f"bearer {learner.key}"}
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"id": learner.id}}}


async def test_key_last_used_at_is_recorded_on_use(api: Api) -> None:
    learner = await api.user()
    assert await key_column(api, learner.key, ApiKey.last_used_at) is None
    before = utcnow()

    await api.data(ME_ID, key=learner.key)
    # Uses are written in batches; the server flushes them every interval and at shutdown.
    await api.app.state.authenticator.flush()

    last_used = await key_column(api, learner.key, ApiKey.last_used_at)
    assert isinstance(last_used, datetime)
    assert last_used >= before.replace(microsecond=0)


# --- GET /graphql ----------------------------------------------------------------------------


async def test_graphiql_page_is_served_without_a_key(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_graphiql_page_is_served_to_a_browser_that_sends_a_key(api: Api) -> None:
    learner = await api.user()

    response = await api.client.get("/graphql", headers={"Accept": "text/html", **bearer(learner.key)})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_get_query_without_a_key_is_401(api: Api) -> None:
    response = await api.client.get("/graphql", params={"query": ME_ID})

    assert_unauthenticated(response)


async def test_get_query_with_a_key_is_executed(api: Api) -> None:
    learner = await api.user()

    response = await api.client.get("/graphql", params={"query": ME_ID}, headers=bearer(learner.key))

    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"id": learner.id}}}


async def test_mutation_over_get_is_refused_and_not_executed(api: Api) -> None:
    admin = await api.admin()

    response = await api.client.get(
        "/graphql", params={"query": CREATE_COURSE_MUTATION}, headers=bearer(admin.key)
    )

    assert 400 <= response.status_code < 500, response.text
    assert "createCourse" not in response.text
    data = await api.data(COURSE_BY_SLUG, {"slug": "made-over-get"}, key=admin.key)
    assert data["course"] is None


async def test_same_mutation_over_post_is_executed(api: Api) -> None:
    """The control for the GET refusal: the document itself is a working mutation."""
    admin = await api.admin()

    data = await api.data(CREATE_COURSE_MUTATION, key=admin.key)

    assert data["createCourse"]["__typename"] == "CoursePayload"
    found = await api.data(COURSE_BY_SLUG, {"slug": "made-over-get"}, key=admin.key)
    assert found["course"] == {"id": data["createCourse"]["course"]["id"]}


# --- health ----------------------------------------------------------------------------------


async def test_healthz_is_200_without_a_key(api: Api) -> None:
    response = await api.client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_200_when_the_database_is_reachable(api: Api) -> None:
    response = await api.client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "reachable"}


async def test_readyz_is_503_when_the_database_is_unreachable(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable() -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(api.db, "ping", unreachable)

    response = await api.client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}
    assert "connection refused" not in response.text


# --- request ids -----------------------------------------------------------------------------


async def _responses_of_every_kind(api: Api, user: SeededUser) -> list[httpx.Response]:
    return [
        await api.post(ME_ID, key=user.key),  # GraphQL success
        await api.client.post("/graphql", json={"query": ME_ID}),  # 401
        await api.client.get("/graphql", params={"query": CREATE_COURSE_MUTATION}, headers=bearer(user.key)),
        await api.client.get("/healthz"),
        await api.client.get("/readyz"),
        await api.client.get("/no-such-route"),  # 404
    ]


async def test_every_response_carries_a_fresh_request_id(api: Api) -> None:
    learner = await api.user()

    responses = await _responses_of_every_kind(api, learner)

    ids = [response.headers.get("x-request-id") for response in responses]
    assert all(ids), ids
    assert len(set(ids)) == len(ids), "each request gets its own id"


async def test_sane_incoming_request_id_is_echoed(api: Api) -> None:
    learner = await api.user()

    for request_id in ["abc-123", "trace:4bf92f35.77_ab", "x" * 128]:
        header = {"X-Request-ID": request_id}
        graphql = await api.client.post(
            "/graphql", json={"query": ME_ID}, headers={**bearer(learner.key), **header}
        )
        unauthenticated = await api.client.post("/graphql", json={"query": ME_ID}, headers=header)
        health = await api.client.get("/healthz", headers=header)

        echoed = [r.headers["x-request-id"] for r in (graphql, unauthenticated, health)]
        assert echoed == [request_id] * 3, request_id


async def test_unsafe_incoming_request_id_is_replaced(api: Api) -> None:
    for request_id in ["has space", "semi;colon", "x" * 129, "new\tline", "<script>", ""]:
        response = await api.client.get("/healthz", headers={"X-Request-ID": request_id})

        echoed = response.headers["x-request-id"]
        assert echoed != request_id
        assert len(echoed) == 32, request_id
        assert all(c in "0123456789abcdef" for c in echoed), request_id


async def test_key_uses_survive_a_failed_flush(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    learner = await api.user()
    await api.data(ME_ID, key=learner.key)
    authenticator = api.app.state.authenticator

    def refuse(*_: object, **__: object) -> object:
        raise OSError("database unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(api.db, "write", refuse)
        with pytest.raises(OSError, match="unreachable"):
            await authenticator.flush()
    assert await key_column(api, learner.key, ApiKey.last_used_at) is None

    await authenticator.flush()

    assert isinstance(await key_column(api, learner.key, ApiKey.last_used_at), datetime)


async def test_every_refused_credential_gets_the_same_answer(api: Api) -> None:
    """Which check failed (shape, checksum, unknown, revoked, token) is logged, never told."""
    learner = await api.user()
    revoked = await api.user()
    async with api.db.write() as conn:
        await conn.execute(
            update(ApiKey).where(ApiKey.key_hash == hash_key(revoked.key)).values(revoked_at=utcnow())
        )
    checksummed_but_unknown = learner.key[:-6] + "000000"

    bodies = set()
    for credential in [
        "gqlp_" + "x" * 43,  # legacy shape, unknown
        learner.key[:10] + ("A" if learner.key[10] != "A" else "B") + learner.key[11:],  # bad checksum
        checksummed_but_unknown,
        revoked.key,
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",  # a JWT, and JWTs are not configured
    ]:
        response = await api.post(ME_ID, key=credential)
        assert_unauthenticated(response)
        bodies.add(response.text)

    assert len(bodies) == 1, bodies


async def test_a_key_is_looked_up_alike_on_asyncpg_and_through_the_engine(pg_api: Api) -> None:
    """The key check of a key not yet cached goes on asyncpg directly (Database.read_alone);
    without the direct pool it goes through SQLAlchemy. Both find the same caller, typed alike."""
    learner, admin, revoked = await pg_api.user(), await pg_api.admin(), await pg_api.user()
    async with pg_api.db.write() as conn:
        await conn.execute(
            update(ApiKey).where(ApiKey.key_hash == hash_key(revoked.key)).values(revoked_at=utcnow())
        )
    engine_only = Database(pg_api.db.url, pool_size=1)
    try:
        assert pg_api.db.reads_alone
        assert not engine_only.reads_alone
        direct, through_engine = Authenticator(pg_api.db, 60), Authenticator(engine_only, 60)
        unknown = new_key()  # well-formed, so it reaches the lookup, and held by no one
        for key in (learner.key, admin.key, revoked.key, unknown):
            found = await direct.authenticate(key)
            assert found == await through_engine.authenticate(key)
            if found is not None:
                assert type(found.user.role) is UserRole
                assert type(found.user.created_at) is datetime
        found = await direct.authenticate(admin.key)
        assert found is not None
        assert found.user.role is UserRole.ADMIN
        assert await direct.authenticate(revoked.key) is None
    finally:
        await engine_only.dispose()
