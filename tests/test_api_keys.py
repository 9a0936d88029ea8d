"""API keys: the checksummed format, legacy keys, scopes, and managing keys (API and CLI)."""

from __future__ import annotations

import asyncio
import re
import secrets
import sqlite3
import zlib
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select, text

from gql_progress.auth import hash_key, issue_api_key
from gql_progress.auth.keys import (
    BASE62,
    CHECKSUM_LENGTH,
    KEY_LENGTH,
    KeyFormat,
    checksum,
    key_format,
    new_key,
)
from gql_progress.cli import main
from gql_progress.db import migrate
from gql_progress.db.engine import Database
from gql_progress.db.models import ApiKey, UserRole
from gql_progress.db.types import utcnow
from gql_progress.demo import seed_demo
from gql_progress.domain.scopes import Scope
from gql_progress.edge.app import create_app
from gql_progress.settings import load_settings
from tests.apps import GENEROUS_LIMITS, api_with
from tests.support import Api, SeededUser
from tests.ws import AsgiWebSocket, init, next_message, subscribe

ME = "{ me { id role } }"
CREATE_COURSE = """
mutation($slug: String!) {
  createCourse(input: {slug: $slug, title: "T"}) {
    __typename
    ... on Error { code message }
  }
}
"""
COURSE = "query($slug: String!) { course(slug: $slug) { id } }"
USER_BY_EMAIL = "query($email: String!) { user(email: $email) { id } }"
CREATE_KEY = """
mutation($user: UserRefInput!, $label: String!, $scopes: [ApiKeyScope!]) {
  createApiKey(user: $user, label: $label, scopes: $scopes) {
    __typename
    ... on CreateApiKeyPayload {
      secret
      apiKey { id label prefix scopes legacyFormat revoked revokedAt lastUsedAt user { id } }
    }
    ... on Error { code message }
    ... on ValidationError { fields { path message } }
  }
}
"""
REVOKE_KEY = """
mutation($id: ID!) {
  revokeApiKey(id: $id) {
    __typename
    ... on ApiKeyPayload { apiKey { id revoked revokedAt } }
    ... on Error { code message }
  }
}
"""
LIST_KEYS = """
query($user: UserRefInput, $revoked: Boolean!) {
  apiKeys(user: $user, includeRevoked: $revoked) {
    totalCount
    nodes { id label scopes revoked lastUsedAt user { id email } }
  }
}
"""
NODE = "query($id: ID!) { node(id: $id) { __typename ... on ApiKey { id label } } }"
CHECKSUMMED = re.compile(r"gqlp_[0-9A-Za-z]{49}")


def _tamper(key: str) -> str:
    """The key with one character of its random part changed (still base62, same length)."""
    i = 10
    return key[:i] + ("A" if key[i] != "A" else "B") + key[i + 1 :]


def _legacy_key() -> str:
    """A key as versions before the checksummed format issued them."""
    return "gqlp_" + secrets.token_urlsafe(32)


async def _insert_legacy_key(db: Database, user_id: int) -> str:
    """Stored as the old code did: prefix, hash, user, label, created_at; the rest from the
    database's defaults (as for rows that existed before migration 0006)."""
    key = _legacy_key()
    async with db.write() as conn:
        await conn.execute(
            insert(ApiKey).values(
                prefix=key[:12], key_hash=hash_key(key), user_id=user_id, label="old", created_at=utcnow()
            )
        )
    return key


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


def forbidden(body: dict[str, Any]) -> bool:
    return body["data"] is None and [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def scoped_user(api: Api, scopes: list[Scope], role: UserRole = UserRole.LEARNER) -> SeededUser:
    user = await api.user(role)
    key = await issue_api_key(api.db, user.pk, "scoped", scopes)
    return SeededUser(user.pk, user.id, key.secret, user.email, user.external_id)


# --- the format ------------------------------------------------------------------------------


def test_a_new_key_has_the_prefix_32_random_bytes_in_base62_and_a_crc32_checksum() -> None:
    keys = {new_key() for _ in range(200)}

    assert len(keys) == 200
    for key in keys:
        assert CHECKSUMMED.fullmatch(key), key
        assert len(key) == KEY_LENGTH == 54
        body, given = key[:-CHECKSUM_LENGTH], key[-CHECKSUM_LENGTH:]
        crc = sum(BASE62.index(c) * 62**i for i, c in enumerate(reversed(given)))
        assert crc == zlib.crc32(body.encode())
        assert key_format(key) is KeyFormat.CHECKSUMMED
    # 43 base62 digits hold 256 bits: the random parts are spread over the whole range.
    assert max(int.from_bytes(k[5:48].encode(), "big") for k in keys) > 0


def test_key_format_tells_checksummed_legacy_and_bad_keys_apart() -> None:
    key = new_key()
    legacy = _legacy_key()

    assert key_format(key) is KeyFormat.CHECKSUMMED
    assert key_format(_tamper(key)) is None
    assert key_format(key[:-1] + ("0" if key[-1] != "0" else "1")) is None
    assert key_format(legacy) is KeyFormat.LEGACY
    assert key_format(legacy, accept_legacy=False) is None
    assert key_format(key, accept_legacy=False) is KeyFormat.CHECKSUMMED
    assert key_format("gqlp_" + "x" * 300) is None
    assert key_format("gqlp_has space") is None
    assert key_format("ghp_" + key[5:]) is None
    assert checksum(key[:-CHECKSUM_LENGTH]) == key[-CHECKSUM_LENGTH:]


async def test_a_key_with_a_bad_checksum_is_401_without_any_sql(api: Api) -> None:
    learner = await api.user()
    assert CHECKSUMMED.fullmatch(learner.key)

    api.db.statements.reset()
    for bad in (_tamper(learner.key), learner.key[:-1] + ("0" if learner.key[-1] != "0" else "1")):
        assert_401(await api.post(ME, key=bad))
    assert api.db.statements.count == 0

    # The control: the real key costs its one lookup.
    api.db.statements.reset()
    assert (await api.post(ME, key=learner.key)).status_code == 200
    assert api.db.statements.count == 1


async def test_a_legacy_key_keeps_working_with_its_role_scopes(api: Api) -> None:
    learner = await api.user()
    legacy = await _insert_legacy_key(api.db, learner.pk)
    course = await api.course()
    await api.enroll(learner, course)

    assert (await api.data(ME, key=legacy))["me"]["id"] == learner.id
    upsert = await api.data(
        "mutation($l: ID!) { upsertProgress(input: {lessonId: $l, videoPositionSeconds: 5}) { __typename } }",
        {"l": course.lesson_ids[0]},
        key=legacy,
    )
    assert upsert["upsertProgress"]["__typename"] == "UpsertProgressSuccess"


@pytest.fixture
async def strict_app(database_url: str) -> AsyncIterator[Api]:
    """The app with legacy keys turned off."""
    async with api_with(database_url, **GENEROUS_LIMITS, api_key_legacy_enabled=False) as api:
        yield api


async def test_legacy_keys_are_refused_without_sql_when_turned_off(strict_app: Api) -> None:
    learner = await strict_app.user()
    legacy = await _insert_legacy_key(strict_app.db, learner.pk)

    strict_app.db.statements.reset()
    assert_401(await strict_app.post(ME, key=legacy))
    assert strict_app.db.statements.count == 0
    assert (await strict_app.post(ME, key=learner.key)).status_code == 200


# --- scopes ----------------------------------------------------------------------------------


async def test_a_read_only_key_runs_queries_but_no_mutation(api: Api) -> None:
    reader = await scoped_user(api, [Scope.PROGRESS_READ])
    course = await api.course()
    await api.enroll(reader, course)
    mutation = "mutation($l: ID!) { upsertProgress(input: {lessonId: $l, completed: true}) { __typename } }"

    assert (await api.data(ME, key=reader.key))["me"]["id"] == reader.id
    body = await api.gql(mutation, {"l": course.lesson_ids[0]}, key=reader.key)

    assert forbidden(body), body
    assert "progress:write" in body["errors"][0]["message"]
    progress = "query($l: ID!) { lesson(id: $l) { progress { completed } } }"
    assert (await api.data(progress, {"l": course.lesson_ids[0]}, key=reader.key))["lesson"][
        "progress"
    ] is None


async def test_a_write_only_key_runs_mutations_but_no_query(api: Api) -> None:
    writer = await scoped_user(api, [Scope.PROGRESS_WRITE])
    course = await api.course()
    await api.enroll(writer, course)
    mutation = "mutation($l: ID!) { upsertProgress(input: {lessonId: $l, completed: true}) { __typename } }"

    assert forbidden(await api.gql(ME, key=writer.key))
    data = await api.data(mutation, {"l": course.lesson_ids[0]}, key=writer.key)
    assert data["upsertProgress"]["__typename"] == "UpsertProgressSuccess"


async def test_an_admins_key_without_the_admin_scope_has_no_admin_power(api: Api) -> None:
    plain = await scoped_user(api, [Scope.PROGRESS_READ, Scope.PROGRESS_WRITE], UserRole.ADMIN)
    full = await api.admin()
    learner = await api.user()

    refused = await api.data(CREATE_COURSE, {"slug": "no-scope"}, key=plain.key)
    assert refused["createCourse"]["__typename"] == "ForbiddenError"
    assert "admin scope" in refused["createCourse"]["message"]
    assert (await api.data(COURSE, {"slug": "no-scope"}, key=full.key))["course"] is None
    # Acting for another user is an admin power too.
    body = await api.gql(USER_BY_EMAIL, {"email": learner.email}, key=plain.key)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Its own data it still reads.
    assert (await api.data(ME, key=plain.key))["me"] == {"id": plain.id, "role": "ADMIN"}

    # The control: the same operations with the admin scope.
    allowed = await api.data(CREATE_COURSE, {"slug": "with-scope"}, key=full.key)
    assert allowed["createCourse"]["__typename"] == "CoursePayload"
    assert (await api.data(USER_BY_EMAIL, {"email": learner.email}, key=full.key))["user"]["id"] == learner.id


async def test_the_admin_scope_does_nothing_once_the_user_is_no_longer_admin(api: Api) -> None:
    admin = await api.admin()
    async with api.db.write() as conn:
        await conn.execute(text("UPDATE users SET role = 'LEARNER' WHERE id = :id"), {"id": admin.pk})

    refused = await api.data(CREATE_COURSE, {"slug": "demoted"}, key=admin.key)

    assert refused["createCourse"]["__typename"] == "ForbiddenError"


async def test_public_verify_certificate_needs_no_key_and_no_scope(api: Api) -> None:
    query = '{ verifyCertificate(code: "no-such-code") { learnerName } }'

    response = await api.client.post("/graphql", json={"query": query})

    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"verifyCertificate": None}}


async def test_a_subscription_needs_the_read_scope(api: Api) -> None:
    writer = await scoped_user(api, [Scope.PROGRESS_WRITE])
    reader = await scoped_user(api, [Scope.PROGRESS_READ])
    course = await api.course()
    await api.enroll(writer, course)
    await api.enroll(reader, course)
    subscription = "subscription($c: ID!) { progressUpdated(courseId: $c) { progress { id } } }"

    async with AsgiWebSocket(api.app) as ws:
        assert await init(ws, {"Authorization": f"Bearer {writer.key}"}) == {"type": "connection_ack"}
        await subscribe(ws, "1", subscription, {"c": course.id})
        message = await next_message(ws, "1")
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"], message

    async with AsgiWebSocket(api.app) as ws:
        assert await init(ws, {"Authorization": f"Bearer {reader.key}"}) == {"type": "connection_ack"}
        await subscribe(ws, "1", subscription, {"c": course.id})
        broker = api.app.state.live.broker
        for _ in range(300):
            if broker.subscriber_count == 1:
                break
            await asyncio.sleep(0.01)
        assert broker.subscriber_count == 1


# --- managing keys through the API ------------------------------------------------------------


async def test_an_admin_creates_a_key_shown_once_that_works_at_once(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()

    data = await api.data(
        CREATE_KEY,
        {"user": {"email": learner.email}, "label": "lms", "scopes": ["PROGRESS_READ"]},
        key=admin.key,
    )

    created = data["createApiKey"]
    assert created["__typename"] == "CreateApiKeyPayload"
    secret = created["secret"]
    assert CHECKSUMMED.fullmatch(secret)
    assert created["apiKey"]["prefix"] == secret[:12]
    assert created["apiKey"]["scopes"] == ["PROGRESS_READ"]
    assert created["apiKey"]["user"] == {"id": learner.id}
    assert created["apiKey"]["legacyFormat"] is False
    assert created["apiKey"]["revoked"] is False
    assert (await api.data(ME, key=secret))["me"]["id"] == learner.id
    # Stored as its hash only.
    async with api.db.read() as conn:
        stored = (await conn.execute(select(ApiKey.key_hash, ApiKey.scopes))).all()
    assert (hash_key(secret), "progress:read") in [tuple(row) for row in stored]
    assert all(secret not in str(row) for row in stored)
    # Listing never shows it again.
    listed = await api.gql(LIST_KEYS, {"user": {"id": learner.id}, "revoked": True}, key=admin.key)
    assert secret not in str(listed)
    assert {"label": "lms", "scopes": ["PROGRESS_READ"]}.items() <= next(
        node for node in listed["data"]["apiKeys"]["nodes"] if node["id"] == created["apiKey"]["id"]
    ).items()


async def test_create_api_key_defaults_to_the_role_scopes_and_refuses_scopes_beyond_the_role(
    api: Api,
) -> None:
    admin = await api.admin()
    learner = await api.user()
    other_admin = await api.admin()

    default = await api.data(CREATE_KEY, {"user": {"id": learner.id}, "label": ""}, key=admin.key)
    assert default["createApiKey"]["apiKey"]["scopes"] == ["PROGRESS_READ", "PROGRESS_WRITE"]
    full = await api.data(
        CREATE_KEY, {"user": {"externalId": other_admin.external_id}, "label": ""}, key=admin.key
    )
    assert full["createApiKey"]["apiKey"]["scopes"] == ["PROGRESS_READ", "PROGRESS_WRITE", "ADMIN"]

    async with api.db.read() as conn:
        before = await conn.scalar(select(func.count()).select_from(ApiKey))
    beyond = await api.data(
        CREATE_KEY, {"user": {"id": learner.id}, "label": "", "scopes": ["ADMIN"]}, key=admin.key
    )
    empty = await api.data(CREATE_KEY, {"user": {"id": learner.id}, "label": "", "scopes": []}, key=admin.key)
    unknown = await api.data(
        CREATE_KEY, {"user": {"email": "nobody@example.com"}, "label": ""}, key=admin.key
    )
    assert beyond["createApiKey"]["__typename"] == "ValidationError"
    assert beyond["createApiKey"]["fields"][0]["path"] == ["scopes"]
    assert empty["createApiKey"]["__typename"] == "ValidationError"
    assert unknown["createApiKey"]["__typename"] == "NotFoundError"
    async with api.db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(ApiKey)) == before


async def test_only_admins_create_keys(api: Api) -> None:
    learner = await api.user()

    data = await api.data(CREATE_KEY, {"user": {"id": learner.id}, "label": "mine"}, key=learner.key)

    assert data["createApiKey"]["__typename"] == "ForbiddenError"


async def test_a_revoked_key_is_refused_on_its_next_request(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    key_id = await _key_id(api, learner)
    assert (await api.post(ME, key=learner.key)).status_code == 200

    data = await api.data(REVOKE_KEY, {"id": key_id}, key=admin.key)

    assert data["revokeApiKey"]["apiKey"]["revoked"] is True
    assert_401(await api.post(ME, key=learner.key))
    # Revoking again keeps the first time.
    again = await api.data(REVOKE_KEY, {"id": key_id}, key=admin.key)
    assert again["revokeApiKey"]["apiKey"]["revokedAt"] == data["revokeApiKey"]["apiKey"]["revokedAt"]


async def _key_id(api: Api, user: SeededUser) -> str:
    data = await api.data(LIST_KEYS, {"user": None, "revoked": False}, key=user.key)
    ids: list[str] = [node["id"] for node in data["apiKeys"]["nodes"]]
    assert len(ids) == 1
    return ids[0]


async def test_a_learner_lists_and_revokes_their_own_keys_only(api: Api) -> None:
    learner = await api.user()
    other = await api.user()
    admin = await api.admin()
    second = await issue_api_key(api.db, learner.pk, "second")

    mine = await api.data(LIST_KEYS, {"user": None, "revoked": False}, key=learner.key)
    assert mine["apiKeys"]["totalCount"] == 2
    assert {node["user"]["email"] for node in mine["apiKeys"]["nodes"]} == {learner.email}
    refused = await api.gql(LIST_KEYS, {"user": {"id": other.id}, "revoked": False}, key=learner.key)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # An admin sees everyone's.
    everyone = await api.data(LIST_KEYS, {"user": None, "revoked": False}, key=admin.key)
    assert {learner.email, other.email, admin.email} <= {
        node["user"]["email"] for node in everyone["apiKeys"]["nodes"]
    }

    own = await api.data(REVOKE_KEY, {"id": _global_id(second.id)}, key=learner.key)
    assert own["revokeApiKey"]["__typename"] == "ApiKeyPayload"
    assert_401(await api.post(ME, key=second.secret))
    assert (await api.post(ME, key=learner.key)).status_code == 200


def _global_id(pk: int) -> str:
    from gql_progress.domain.ids import encode_id

    return encode_id("ApiKey", pk)


async def test_another_users_key_looks_exactly_like_a_key_that_does_not_exist(api: Api) -> None:
    learner = await api.user()
    other = await api.user()
    theirs = _global_id(int(await _pk_of(api, other)))
    missing = _global_id(999_999)

    def same(body: dict[str, Any], key_id: str) -> str:
        return str(body).replace(key_id, "<id>")

    for document in (REVOKE_KEY, NODE):
        for_theirs = await api.gql(document, {"id": theirs}, key=learner.key)
        for_missing = await api.gql(document, {"id": missing}, key=learner.key)
        assert same(for_theirs, theirs) == same(for_missing, missing), document
    nodes = await api.data(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [theirs]}, key=learner.key
    )
    assert nodes == {"nodes": [None]}
    # Not revoked: their key still works.
    assert (await api.post(ME, key=other.key)).status_code == 200
    # The control: their own key through node(id).
    own = await api.data(NODE, {"id": theirs}, key=other.key)
    assert own["node"]["id"] == theirs


async def _pk_of(api: Api, user: SeededUser) -> int:
    async with api.db.read() as conn:
        pk = await conn.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(user.key)))
    assert pk is not None
    return int(pk)


async def test_last_used_at_is_listed_after_use(api: Api) -> None:
    learner = await api.user()
    listed = await api.data(LIST_KEYS, {"user": None, "revoked": False}, key=learner.key)
    assert listed["apiKeys"]["nodes"][0]["lastUsedAt"] is None

    await api.app.state.authenticator.flush()
    listed = await api.data(LIST_KEYS, {"user": None, "revoked": False}, key=learner.key)

    assert listed["apiKeys"]["nodes"][0]["lastUsedAt"] is not None


async def test_listing_keys_costs_the_same_statements_for_3_and_for_12_keys(api: Api) -> None:
    admin = await api.admin()
    users = [await api.user() for _ in range(12)]
    query = "{ apiKeys(first: 100) { totalCount nodes { id user { email } } } }"

    small = await api.statements(query, key=admin.key)
    for user in users:
        await issue_api_key(api.db, user.pk, "more")
    large = await api.statements(query, key=admin.key)

    assert small == large


# --- demo data and the migration --------------------------------------------------------------


async def test_demo_keys_have_every_scope_of_their_role(api: Api) -> None:
    keys = await seed_demo(api.db)

    async with api.db.read() as conn:
        rows = dict(
            (
                await conn.execute(select(ApiKey.key_hash, ApiKey.scopes).where(ApiKey.revoked_at.is_(None)))
            ).all()
        )
    assert rows[hash_key(keys.admin.secret)] == "progress:read progress:write admin"
    assert rows[hash_key(keys.learner.secret)] == "progress:read progress:write"


@pytest.fixture
async def db_at_0005(database_url: str) -> AsyncIterator[Database]:
    """A database at revision 0005 (before keys had scopes)."""
    db = Database(database_url)
    try:
        await migrate.downgrade(db, "0005")
        yield db
    finally:
        await db.dispose()


async def test_migration_0006_gives_existing_keys_their_roles_scopes(db_at_0005: Database) -> None:
    db = db_at_0005
    async with db.write() as conn:
        for n, role in enumerate(("ADMIN", "LEARNER", "INSTRUCTOR")):
            await conn.execute(
                text(
                    "INSERT INTO users (id, external_id, email, name, role, created_at)"
                    " VALUES (:n, :e, :m, 'U', :role, CURRENT_TIMESTAMP)"
                ),
                {"n": n + 1, "e": f"e{n}", "m": f"u{n}@example.com", "role": role},
            )
            await conn.execute(
                text(
                    "INSERT INTO api_keys (prefix, key_hash, user_id, label, created_at)"
                    " VALUES ('gqlp_x', :h, :u, '', CURRENT_TIMESTAMP)"
                ),
                {"h": f"{n:064d}", "u": n + 1},
            )

    await migrate.upgrade(db, "0006")

    async with db.read() as conn:
        rows = (
            await conn.execute(text("SELECT user_id, scopes, legacy_format FROM api_keys ORDER BY user_id"))
        ).all()
    assert [tuple(row) for row in rows] == [
        (1, "progress:read progress:write admin", True),
        (2, "progress:read progress:write", True),
        (3, "progress:read progress:write", True),
    ]


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    for name in ("GQL_PROGRESS_API_KEY_LEGACY_ENABLED", "GQL_PROGRESS_JWT_ALGORITHMS"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "cli.db"
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", f"sqlite:///{path}")
    assert main(["migrate"]) == 0
    assert main(["create-user", "--email", "l@example.com", "--name", "L", "--external-id", "l-1"]) == 0
    capsys.readouterr()
    return path


def _status(path: Path, key: str, query: str) -> tuple[int, Any]:
    async def call() -> tuple[int, Any]:
        app = create_app(load_settings(database_url=f"sqlite:///{path}", webhooks_enabled=False))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.post(
                    "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"}
                )
                return response.status_code, response.json()

    return asyncio.run(call())


def test_cli_creates_a_scoped_key_lists_it_and_revokes_it(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create-api-key", "--user", "l-1", "--label", "ro", "--scope", "progress:read"]) == 0
    key = capsys.readouterr().out.strip()
    assert CHECKSUMMED.fullmatch(key)
    assert _status(cli_db, key, "{ me { email } }")[0] == 200
    status, body = _status(
        cli_db, key, 'mutation { createStudyPlan(input: {title: "x", lessonIds: []}) { __typename } }'
    )
    assert status == 200
    assert forbidden(body), body

    assert main(["list-api-keys", "--user", "l@example.com"]) == 0
    out = capsys.readouterr().out
    assert key not in out
    line = next(line for line in out.splitlines() if "\tro\t" in line)
    key_id, prefix = line.split("\t")[:2]
    assert prefix == key[:12] + "…"
    assert "progress:read" in line
    assert "checksummed" in line

    assert main(["revoke-api-key", key_id]) == 0
    assert f"revoked key {key_id}" in capsys.readouterr().out
    assert _status(cli_db, key, "{ me { email } }")[0] == 401
    assert main(["list-api-keys"]) == 0
    assert "\tro\t" not in capsys.readouterr().out
    assert main(["list-api-keys", "--include-revoked"]) == 0
    assert "\tro\t" in capsys.readouterr().out


def test_cli_refuses_a_scope_beyond_the_users_role_and_an_unknown_key(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create-api-key", "--user", "l-1", "--scope", "admin"]) == 1
    captured = capsys.readouterr()
    assert "scopes" in captured.err
    assert "gqlp_" not in captured.out
    with closing(sqlite3.connect(cli_db)) as conn:
        assert conn.execute("SELECT count(*) FROM api_keys").fetchone()[0] == 0

    assert main(["revoke-api-key", "12345"]) == 1
    assert "not found" in capsys.readouterr().err
