"""WebSocket subscriptions get the protections HTTP requests get (api/socket_guard.py): the
credential is checked again while the socket is open, each subscribe passes the request gate,
the per-connection cap and the rate limit, and each subscription leaves an access record and
metrics.

Sockets are driven as in test_subscriptions.py (tests.ws, in this event loop). Re-checks run
every 0.2 s here; what must happen is waited for, and nothing waits on "nothing happened".
Withdrawing a credential runs on SQLite and PostgreSQL; the rest does not depend on the database.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
from sqlalchemy import delete, update

from gql_progress.auth import issue_api_key
from gql_progress.db.models import ApiKey, User, UserRole
from gql_progress.domain.ids import encode_id
from gql_progress.settings import LogFormat, SettingsError, load_settings
from tests.apps import GENEROUS_LIMITS, api_with
from tests.support import Api, SeededCourse, SeededUser
from tests.test_observability import sample, samples, server_logging
from tests.ws import AsgiWebSocket, Closed, init, next_data, next_message, subscribe, subscribed, until

RECHECK = 0.2
ISSUER = "https://id.example.com/"
AUDIENCE = "gql-progress"
JWT_SECRET = "a-shared-secret-of-at-least-32-bytes!!"
JWT_SETTINGS = {
    "jwt_algorithms": "HS256",
    "jwt_secret": JWT_SECRET,
    "jwt_issuer": ISSUER,
    "jwt_audience": AUDIENCE,
}

PROGRESS = """
subscription Progress($c: ID!) {
  progressUpdated(courseId: $c) { progress { id videoPositionSeconds notes } }
}
"""
NOTES = "my-private-notes-41c2e8: the learner's own words"
UPSERT = """
mutation Upsert($input: UpsertProgressInput!) {
  upsertProgress(input: $input) { __typename ... on Error { code message } }
}
"""
REVOKE_KEY = "mutation Revoke($id: ID!) { revokeApiKey(id: $id) { __typename ... on Error { code } } }"
LOWER_ROLE = """
mutation Lower($id: ID!) {
  updateUser(input: {id: $id, role: LEARNER}) { __typename ... on Error { code message } }
}
"""
ME = "query Me { me { id } }"


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh SQLite database, for behaviour that does not depend on the database."""
    path = tmp_path / "sockets.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@asynccontextmanager
async def connected(api: Api, credential: str) -> AsyncIterator[AsgiWebSocket]:
    async with AsgiWebSocket(api.app) as ws:
        assert await init(ws, {"Authorization": f"Bearer {credential}"}) == {"type": "connection_ack"}
        yield ws


async def enrolled(api: Api, role: UserRole = UserRole.LEARNER) -> tuple[SeededUser, SeededCourse]:
    user = await api.user(role)
    course = await api.course(lessons=2)
    await api.enroll(user, course)
    return user, course


async def heartbeat(api: Api, key: str, lesson_id: str, video: int, **extra: Any) -> None:
    data = await api.data(
        UPSERT, {"input": {"lessonId": lesson_id, "videoPositionSeconds": video, **extra}}, key=key
    )
    assert data["upsertProgress"]["__typename"] == "UpsertProgressSuccess", data


def error_codes(message: dict[str, Any]) -> list[str]:
    assert message["type"] == "error", message
    return [error["extensions"]["code"] for error in message["payload"]]


def token_for(user: SeededUser, expires_in: int = 300) -> str:
    now = int(time.time())
    claims = {"sub": user.external_id, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + expires_in}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def access_records(written: str) -> list[dict[str, Any]]:
    lines = [orjson.loads(line) for line in written.splitlines() if line.strip()]
    return [line for line in lines if line["logger"] == "gql_progress.access"]


def subscription_records(written: str) -> list[dict[str, Any]]:
    return [record for record in access_records(written) if record["method"] == "WS"]


async def scrape(api: Api) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await api.client.get("/metrics")
    assert response.status_code == 200, response.text
    return samples(response.text)


# --- the credential, checked again while the socket is open --------------------------------------

# How a credential stops holding: the credential the socket connects with, and what then
# withdraws it (run after the socket subscribed).
Withdraw = Callable[[], Awaitable[None]]


async def _revoked_key(api: Api, user: SeededUser) -> tuple[str, Withdraw]:
    issued = await issue_api_key(api.db, user.pk, "socket")

    async def withdraw() -> None:
        data = await api.data(REVOKE_KEY, {"id": encode_id("ApiKey", issued.id)}, key=user.key)
        assert data["revokeApiKey"]["__typename"] == "ApiKeyPayload"

    return issued.secret, withdraw


async def _deleted_user(api: Api, user: SeededUser) -> tuple[str, Withdraw]:
    async def withdraw() -> None:
        async with api.db.write() as conn:
            await conn.execute(delete(User).where(User.id == user.pk))

    return user.key, withdraw


async def _token_user_gone(api: Api, user: SeededUser) -> tuple[str, Withdraw]:
    async def withdraw() -> None:
        # The identity provider's subject no longer names a user here.
        async with api.db.write() as conn:
            await conn.execute(update(User).where(User.id == user.pk).values(external_id=f"gone-{user.pk}"))

    return token_for(user), withdraw


async def _lowered_role(api: Api, user: SeededUser) -> tuple[str, Withdraw]:
    other_admin = await api.admin()

    async def withdraw() -> None:
        data = await api.data(LOWER_ROLE, {"id": user.id}, key=other_admin.key)
        assert data["updateUser"]["__typename"] == "UserPayload", data

    return user.key, withdraw


async def _read_scope_removed(api: Api, user: SeededUser) -> tuple[str, Withdraw]:
    issued = await issue_api_key(api.db, user.pk, "socket")

    async def withdraw() -> None:
        async with api.db.write() as conn:
            await conn.execute(update(ApiKey).where(ApiKey.id == issued.id).values(scopes="progress:write"))

    return issued.secret, withdraw


REFUSED = "The API key or token is invalid, expired or revoked"
# name: (whose credential, how it is withdrawn, the close code and reason the socket gets)
WITHDRAWALS: dict[
    str, tuple[UserRole, Callable[[Api, SeededUser], Awaitable[tuple[str, Withdraw]]], int, str]
] = {
    "key-revoked": (UserRole.LEARNER, _revoked_key, 4401, REFUSED),
    "user-deleted": (UserRole.LEARNER, _deleted_user, 4401, REFUSED),
    "token-user-gone": (UserRole.LEARNER, _token_user_gone, 4401, REFUSED),
    "role-lowered": (
        UserRole.ADMIN,
        _lowered_role,
        4403,
        "The credential's role or scopes were lowered; connect again",
    ),
    "read-scope-removed": (
        UserRole.LEARNER,
        _read_scope_removed,
        4403,
        "The credential no longer grants progress:read",
    ),
}


async def test_a_withdrawn_credential_closes_its_open_socket_within_one_interval(database_url: str) -> None:
    settings = {**GENEROUS_LIMITS, **JWT_SETTINGS, "ws_recheck_seconds": RECHECK}
    closes = {}
    async with api_with(database_url, **settings) as api:
        for name, (role, withdrawn, _, _) in WITHDRAWALS.items():
            user, course = await enrolled(api, role)
            credential, withdraw = await withdrawn(api, user)
            async with connected(api, credential) as ws:
                await subscribe(ws, "1", PROGRESS, {"c": course.id})
                await subscribed(api, 1)
                api.db.statements.reset()
                await until(lambda: api.db.statements.count >= 1, "a re-check ran")
                # While the credential holds, the socket stays open and delivers.
                await heartbeat(api, user.key, course.lesson_ids[0], 5)
                assert (await next_data(ws, "1"))["progressUpdated"]["progress"]["videoPositionSeconds"] == 5
                started = time.monotonic()
                await withdraw()

                with pytest.raises(Closed) as closed:
                    await next_message(ws, "1")
                # Within one interval, and the time of one lookup.
                in_time = time.monotonic() - started < RECHECK + 2
            await subscribed(api, 0)
            closes[name] = (closed.value.code, closed.value.reason, in_time)

    assert closes == {name: (code, reason, True) for name, (_, _, code, reason) in WITHDRAWALS.items()}


async def test_an_update_being_sent_when_the_recheck_fails_is_withheld(sqlite_url: str) -> None:
    async with api_with(sqlite_url, **GENEROUS_LIMITS, ws_recheck_seconds=RECHECK) as api:
        learner, course = await enrolled(api)
        socket_key = await issue_api_key(api.db, learner.pk, "socket")
        with server_logging("INFO", LogFormat.JSON) as logs:
            async with connected(api, socket_key.secret) as ws:
                await subscribe(ws, "1", PROGRESS, {"c": course.id})
                await subscribed(api, 1)
                ws.reading.clear()  # the client stops reading: the server's sends block
                await heartbeat(api, learner.key, course.lesson_ids[0], 5)
                await until(lambda: ws.blocked_sends == 1, "the update is being sent")
                data = await api.data(REVOKE_KEY, {"id": encode_id("ApiKey", socket_key.id)}, key=learner.key)
                assert data["revokeApiKey"]["__typename"] == "ApiKeyPayload"
                await until(
                    lambda: any(
                        r["outcome"] == "unauthenticated" for r in subscription_records(logs.getvalue())
                    ),
                    "the re-check ended the subscription",
                )
                ws.reading.set()

                # The close, and not the update whose sending had not finished.
                with pytest.raises(Closed) as closed:
                    await ws.receive_json()

    assert closed.value.code == 4401
    [record] = subscription_records(logs.getvalue())
    assert (record["outcome"], record["events"]) == ("unauthenticated", 0)


async def test_a_token_socket_closes_when_the_token_expires(sqlite_url: str) -> None:
    # Leeway 0: the socket closes at exp (with a leeway, at exp + leeway, when HTTP refuses the
    # token too). The re-check interval is far longer: the expiry alone closes it.
    settings = {**GENEROUS_LIMITS, **JWT_SETTINGS, "jwt_leeway_seconds": 0}
    async with api_with(sqlite_url, **settings) as api:
        learner, course = await enrolled(api)
        # Long enough to connect, subscribe and get one update first on a loaded machine.
        token = token_for(learner, expires_in=6)
        expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
        async with connected(api, token) as ws:
            await subscribe(ws, "1", PROGRESS, {"c": course.id})
            await subscribed(api, 1)
            await heartbeat(api, learner.key, course.lesson_ids[0], 5)
            assert (await next_data(ws, "1"))["progressUpdated"]["progress"]["videoPositionSeconds"] == 5

            with pytest.raises(Closed) as closed:
                await next_message(ws, "1", within=10)
            closed_at = time.time()

    assert (closed.value.code, closed.value.reason) == (4401, "The token expired")
    assert expires_at <= closed_at < expires_at + 2


async def test_a_valid_credential_costs_one_statement_per_interval_and_keeps_its_socket(
    sqlite_url: str,
) -> None:
    async with api_with(sqlite_url, **GENEROUS_LIMITS, ws_recheck_seconds=RECHECK) as api:
        learner, course = await enrolled(api)
        async with connected(api, learner.key) as ws:
            await subscribe(ws, "1", PROGRESS, {"c": course.id})
            await subscribed(api, 1)
            await until(lambda: api.db.statements.count >= 1, "the first re-check ran")
            first, started = api.db.statements.count, time.monotonic()
            await until(lambda: api.db.statements.count >= first + 3, "three more re-checks ran")
            elapsed = time.monotonic() - started
            assert api.db.statements.count == first + 3
            # Three re-checks after the first take three intervals: one statement each.
            assert elapsed >= 2.5 * RECHECK

            await heartbeat(api, learner.key, course.lesson_ids[0], 9)
            assert (await next_data(ws, "1"))["progressUpdated"]["progress"]["videoPositionSeconds"] == 9


# --- each subscribe: the request gate, the cap, the rate limit -----------------------------------

DEEP = (
    "subscription Deep($c: ID!) { progressUpdated(courseId: $c) { progress { lesson { course { id } } } } }"
)
ALIASED = "subscription Aliased($c: ID!) { p: progressUpdated(courseId: $c) { progress { id } } }"
COSTLY = """
subscription Costly($c: ID!) {
  courseCompleted(courseId: $c) { enrollment { course { lessons { id title kind isRequired } } } }
}
"""
_MANY_IDS = " ".join(["id"] * 100)
LARGE = f"subscription Large($c: ID!) {{ progressUpdated(courseId: $c) {{ progress {{ {_MANY_IDS} }} }} }}"


@pytest.mark.parametrize(
    ("limit", "document", "code"),
    [
        ({"max_query_tokens": 100}, LARGE, "QUERY_TOO_LARGE"),
        ({"max_query_depth": 4}, DEEP, "QUERY_TOO_DEEP"),
        ({"max_query_aliases": 0}, ALIASED, "TOO_MANY_ALIASES"),
        ({"max_query_cost": 100}, COSTLY, "QUERY_TOO_COSTLY"),
    ],
    ids=["tokens", "depth", "aliases", "cost"],
)
async def test_a_subscribe_over_a_document_limit_is_an_error_message_without_sql_and_the_socket_stays_open(
    sqlite_url: str, limit: dict[str, int], document: str, code: str
) -> None:
    async with api_with(sqlite_url, **GENEROUS_LIMITS, **limit) as api:
        learner, course = await enrolled(api)
        async with connected(api, learner.key) as ws:
            api.db.statements.reset()
            await subscribe(ws, "refused", document, {"c": course.id})
            message = await next_message(ws, "refused")
            assert api.db.statements.count == 0

            await subscribe(ws, "1", PROGRESS, {"c": course.id})
            await subscribed(api, 1)
            await heartbeat(api, learner.key, course.lesson_ids[0], 7)
            assert (await next_data(ws, "1"))["progressUpdated"]["progress"]["videoPositionSeconds"] == 7

        over_http = await api.gql(document, {"c": course.id}, key=learner.key)

    assert error_codes(message) == [code]
    # The same settings, the same code and message as over HTTP.
    assert message["payload"] == over_http["errors"]


async def test_each_subscribe_spends_one_operation_of_the_keys_budget_shared_with_http(
    sqlite_url: str,
) -> None:
    async with api_with(sqlite_url, rate_limit_learner="3/minute") as api:
        learner, course = await enrolled(api)
        admin = await api.admin()
        async with connected(api, learner.key) as ws:
            await subscribe(ws, "1", PROGRESS, {"c": course.id})
            await subscribe(ws, "2", PROGRESS, {"c": course.id})
            await subscribed(api, 2)
            assert (await api.post(ME, key=learner.key)).status_code == 200  # the third operation

            api.db.statements.reset()
            await subscribe(ws, "3", PROGRESS, {"c": course.id})
            refused = await next_message(ws, "3")
            assert api.db.statements.count == 0
            # One budget: HTTP is refused too now.
            assert (await api.post(ME, key=learner.key)).status_code == 429

            # The socket stays open and its subscriptions run (the admin writes for the learner).
            await heartbeat(api, admin.key, course.lesson_ids[0], 3, userId=learner.id)
            assert (await next_data(ws, "1", skip_others=True))["progressUpdated"]["progress"][
                "videoPositionSeconds"
            ] == 3
        found = await scrape(api)

    assert error_codes(refused) == ["RATE_LIMITED"]
    retry_after = refused["payload"][0]["extensions"]["retryAfterSeconds"]
    assert isinstance(retry_after, int)
    assert 0 < retry_after <= 60
    assert (
        sample(found, "gql_progress_subscriptions_total", operation="Progress", outcome="rate_limited") == 1
    )
    assert sample(found, "gql_progress_rate_limited_total", role="learner") == 2  # the socket's and the 429


async def test_a_connection_runs_at_most_ws_max_subscriptions_at_once(sqlite_url: str) -> None:
    async with api_with(sqlite_url, **GENEROUS_LIMITS, ws_max_subscriptions=2) as api:
        learner, course = await enrolled(api)
        async with connected(api, learner.key) as ws, connected(api, learner.key) as other:
            for op_id in ("a", "b"):
                await subscribe(ws, op_id, PROGRESS, {"c": course.id})
            await subscribed(api, 2)
            await subscribe(ws, "c", PROGRESS, {"c": course.id})
            refused = await next_message(ws, "c")
            # Per connection: another one has its own.
            await subscribe(other, "x", PROGRESS, {"c": course.id})
            await subscribed(api, 3)

            await ws.send_json({"id": "a", "type": "complete"})
            await subscribed(api, 2)
            await subscribe(ws, "c", PROGRESS, {"c": course.id})
            await subscribed(api, 3)
            await heartbeat(api, learner.key, course.lesson_ids[0], 4)
            assert (await next_data(ws, "c", skip_others=True))["progressUpdated"]["progress"][
                "videoPositionSeconds"
            ] == 4

    assert error_codes(refused) == ["TOO_MANY_SUBSCRIPTIONS"]
    assert refused["payload"][0]["extensions"]["limit"] == 2


# --- what each subscription leaves behind --------------------------------------------------------


async def test_each_subscription_leaves_one_access_record_and_its_metrics(sqlite_url: str) -> None:
    async with api_with(sqlite_url, **GENEROUS_LIMITS, max_query_depth=4) as api:
        learner, course = await enrolled(api)
        with server_logging("DEBUG", LogFormat.JSON) as logs:
            async with connected(api, learner.key) as ws:
                await subscribe(ws, "1", PROGRESS, {"c": course.id})
                await subscribed(api, 1)
                running = await scrape(api)
                for video in (5, 6):
                    await heartbeat(api, learner.key, course.lesson_ids[0], video, notes=NOTES)
                    update = (await next_data(ws, "1"))["progressUpdated"]["progress"]
                    assert update["notes"] == NOTES  # the payloads hold the notes; no log line may
                await subscribe(ws, "2", DEEP, {"c": course.id})
                assert error_codes(await next_message(ws, "2")) == ["QUERY_TOO_DEEP"]
                await ws.send_json({"id": "1", "type": "complete"})
                await subscribed(api, 0)
                await until(
                    lambda: len(subscription_records(logs.getvalue())) == 2, "both records are written"
                )
            async with connected(api, learner.key) as second:
                await subscribe(second, "1", DEEP, {"c": course.id})
                await next_message(second, "1")
                # The record is written as the refusal ends, which may come just after the reply.
                await until(
                    lambda: len(subscription_records(logs.getvalue())) == 3, "the third record is written"
                )
            written = logs.getvalue()
        ended = await scrape(api)

    records = subscription_records(written)
    [first] = [r for r in records if r["operation"] == "Progress"]
    [deep] = [r for r in records if r["operation"] == "Deep" and r["request_id"] == first["request_id"]]
    [elsewhere] = [r for r in records if r["request_id"] != first["request_id"]]
    assert first["operation_type"] == "subscription"
    assert first["outcome"] == "ok"
    assert first["events"] == 2
    assert first["statements"] > 0  # its own reads: the course, then each update
    assert 0 < first["duration_ms"] < 60_000
    assert first["caller"] == {
        "user_id": learner.pk,
        "api_key_id": first["caller"]["api_key_id"],
        "role": "LEARNER",
    }
    assert (deep["operation"], deep["outcome"], deep["code"], deep["events"], deep["statements"]) == (
        "Deep",
        "rejected",
        "QUERY_TOO_DEEP",
        0,
        0,
    )
    # The connection's request id, on every record of the connection; another has its own.
    assert len(records) == 3
    assert first["request_id"] is not None
    assert elsewhere["operation"] == "Deep"
    http_ids = {r["request_id"] for r in access_records(written) if r["method"] == "POST"}
    assert first["request_id"] not in http_ids
    # Never the document, the variables, the payloads or the key.
    server_lines = "\n".join(
        line for line in written.splitlines() if line.strip() and orjson.loads(line)["logger"] != "httpx"
    )
    for secret in (NOTES, "my-private-notes", learner.key, learner.key[8:24], "progressUpdated", course.id):
        assert secret not in server_lines

    assert sample(running, "gql_progress_subscriptions_active", operation="Progress") == 1
    assert sample(ended, "gql_progress_subscriptions_active", operation="Progress") == 0
    assert sample(ended, "gql_progress_subscriptions_total", operation="Progress", outcome="ok") == 1
    assert sample(ended, "gql_progress_subscriptions_total", operation="Deep", outcome="rejected") == 2


# --- settings ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("clean_env")
def test_websocket_settings_default_to_a_minute_and_20_and_are_checked_at_start_up() -> None:
    settings = load_settings()
    assert (settings.ws_recheck_seconds, settings.ws_max_subscriptions) == (60, 20)
    bad: Sequence[tuple[str, object]] = [
        ("ws_recheck_seconds", 0),
        ("ws_recheck_seconds", 7200),
        ("ws_max_subscriptions", 0),
    ]
    for name, value in bad:
        with pytest.raises(SettingsError, match=f"GQL_PROGRESS_{name.upper()}"):
            load_settings(**{name: value})
