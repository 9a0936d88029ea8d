"""The credential cache (auth/credential_cache.py): a checked key costs no statement on its next
requests, and whatever could change the answer (a revocation through the API, an operator's SQL,
a change to the user, another process's write) drops it.

Other test modules run their apps without the cache (tests/apps.py, QUIET), so that the statement
counts they assert are each request's own; here it is on, on PostgreSQL, where it exists.

A change made through the API is seen by the next request of any process (the revoking request
waits for every cache to confirm); one made elsewhere (an operator's SQL) arrives as a PostgreSQL
notice, a few milliseconds later, so those tests wait for it (``eventually``) within a bound far
below the cache's lifetime: an entry that was not dropped by the notice would still be served
when the bound runs out, and the test would fail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import jwt
import pytest
from sqlalchemy import text

from gql_progress.auth.credential_cache import CredentialCache
from gql_progress.auth.credential_sync import CACHE_LISTENER, SETTLE_SECONDS
from tests.apps import GENEROUS_LIMITS, api_with
from tests.support import Api, SeededUser
from tests.test_api_keys import LIST_KEYS, ME, REVOKE_KEY, assert_401

pytestmark = pytest.mark.postgres_only

CACHED = {**GENEROUS_LIMITS, "api_key_cache_seconds": 60}
# Far below the cache's 60 s: only a notice can drop an entry this fast.
NOTICE_BOUND_SECONDS = 5.0
ME_NAME = "{ me { id role name } }"


@pytest.fixture
async def cached(pg_database_url: str) -> AsyncIterator[Api]:
    async with api_with(pg_database_url, **CACHED) as api:
        yield api


def cache_of(api: Api) -> CredentialCache[object]:
    cache = api.app.state.credentials
    assert isinstance(cache, CredentialCache)
    return cache


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + NOTICE_BOUND_SECONDS
    while not await check():
        assert time.monotonic() < deadline, "the database's notice did not reach the cache"
        await asyncio.sleep(0.02)


async def refused(api: Api, key: str) -> bool:
    return (await api.post(ME, key=key)).status_code == 401


async def key_id(api: Api, user: SeededUser) -> str:
    data = await api.data(LIST_KEYS, {"user": None, "revoked": False}, key=user.key)
    return str(data["apiKeys"]["nodes"][0]["id"])


async def test_a_checked_key_costs_no_statement_on_its_next_requests(cached: Api) -> None:
    learner = await cached.user()

    # me is answered from the key's own row: once the key is cached, from no statement at all.
    assert await cached.statements(ME, key=learner.key) == 0
    assert len(cache_of(cached)) == 1


async def test_a_key_revoked_through_the_api_is_refused_on_the_next_request(cached: Api) -> None:
    admin = await cached.admin()
    learner = await cached.user()
    revoked = await key_id(cached, learner)
    assert await cached.statements(ME, key=learner.key) == 0  # cached

    data = await cached.data(REVOKE_KEY, {"id": revoked}, key=admin.key)

    assert data["revokeApiKey"]["apiKey"]["revoked"] is True
    assert_401(await cached.post(ME, key=learner.key))  # no wait: this process knew at commit


async def test_a_revocation_in_another_process_is_refused_there_on_the_next_request(
    pg_database_url: str,
) -> None:
    async with api_with(pg_database_url, **CACHED) as here, api_with(pg_database_url, **CACHED) as there:
        admin = await here.admin()
        learner = await here.user()
        assert await there.statements(ME, key=learner.key) == 0  # cached over there

        await here.data(REVOKE_KEY, {"id": await key_id(here, learner)}, key=admin.key)

        # No wait: the revocation answered once the other cache confirmed it had dropped the key
        # (auth/credential_sync.py).
        assert_401(await there.post(ME, key=learner.key))


async def test_a_revocation_sent_with_an_idempotency_key_waits_for_the_caches_too(
    pg_database_url: str,
) -> None:
    # A keyed mutation commits with its stored answer in one explicit transaction: the wait
    # follows that commit. Seen by its length, with a cache that never answers (as below).
    stuck = await asyncpg.connect(
        pg_database_url.replace("+asyncpg", ""),
        server_settings={"application_name": f"{CACHE_LISTENER}stuck"},
    )
    try:
        async with api_with(pg_database_url, **CACHED) as here:
            admin = await here.admin()
            learner = await here.user()
            started = time.monotonic()

            response = await here.client.post(
                "/graphql",
                json={"query": REVOKE_KEY, "variables": {"id": await key_id(here, learner)}},
                headers={"Authorization": f"Bearer {admin.key}", "Idempotency-Key": "revoke-once"},
            )

            assert response.json()["data"]["revokeApiKey"]["apiKey"]["revoked"] is True
            assert time.monotonic() - started >= SETTLE_SECONDS
    finally:
        await stuck.close()


async def test_a_cache_that_never_confirms_delays_a_revocation_by_the_bound_only(
    pg_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A session named like a cache's LISTEN that never answers: a stuck process.
    stuck = await asyncpg.connect(
        pg_database_url.replace("+asyncpg", ""),
        server_settings={"application_name": f"{CACHE_LISTENER}stuck"},
    )
    try:
        async with api_with(pg_database_url, **CACHED) as here:
            admin = await here.admin()
            learner = await here.user()
            started = time.monotonic()

            data = await here.data(REVOKE_KEY, {"id": await key_id(here, learner)}, key=admin.key)

            waited = time.monotonic() - started
            assert data["revokeApiKey"]["apiKey"]["revoked"] is True
            assert SETTLE_SECONDS <= waited < SETTLE_SECONDS + 2
            assert "1 of 2 processes did not confirm a credential change" in caplog.text
            assert_401(await here.post(ME, key=learner.key))
    finally:
        await stuck.close()


async def test_a_revocation_waits_for_no_process_without_a_cache(pg_database_url: str) -> None:
    uncached = {**CACHED, "api_key_cache_seconds": 0}
    async with api_with(pg_database_url, **CACHED) as here, api_with(pg_database_url, **uncached):
        admin = await here.admin()
        learner = await here.user()
        started = time.monotonic()

        await here.data(REVOKE_KEY, {"id": await key_id(here, learner)}, key=admin.key)

        # Only listeners that feed a cache are waited for: the other app's would never answer.
        assert time.monotonic() - started < SETTLE_SECONDS / 2


async def test_an_operators_sql_reaches_the_cache(cached: Api) -> None:
    admin = await cached.admin()
    learner = await cached.user()
    assert await cached.statements(ME, key=admin.key) == 0
    assert await cached.statements(ME, key=learner.key) == 0

    async with cached.db.write() as conn:
        await conn.execute(text("UPDATE users SET role = 'LEARNER' WHERE id = :id"), {"id": admin.pk})
        revoke = text("UPDATE api_keys SET revoked_at = now() WHERE user_id = :id")
        await conn.execute(revoke, {"id": learner.pk})

    async def demoted() -> bool:
        return bool((await cached.data(ME, key=admin.key))["me"]["role"] == "LEARNER")

    await eventually(demoted)
    await eventually(lambda: refused(cached, learner.key))


async def test_a_renamed_user_is_seen_by_the_next_read_of_me(cached: Api) -> None:
    learner = await cached.user(name="Before")
    assert (await cached.data(ME_NAME, key=learner.key))["me"]["name"] == "Before"

    async with cached.db.write() as conn:
        await conn.execute(text("UPDATE users SET name = 'After' WHERE id = :id"), {"id": learner.pk})

    async def renamed() -> bool:
        return bool((await cached.data(ME_NAME, key=learner.key))["me"]["name"] == "After")

    await eventually(renamed)


async def test_recording_last_used_at_keeps_keys_cached(cached: Api) -> None:
    learner = await cached.user()
    assert await cached.statements(ME, key=learner.key) == 0

    await cached.app.state.authenticator.flush()  # UPDATE api_keys SET last_used_at = …
    await asyncio.sleep(0.3)  # a notice, had the write sent one, would have arrived

    assert len(cache_of(cached)) == 1
    assert await cached.statements(ME, key=learner.key) == 0


async def test_entries_expire_after_the_setting(pg_database_url: str) -> None:
    # A second of life: long enough that the next request finds the entry on a loaded machine
    # (CI's two workers), which a fifth of a second was not.
    async with api_with(pg_database_url, **{**CACHED, "api_key_cache_seconds": 1.0}) as api:
        learner = await api.user()
        await api.data(ME, key=learner.key)  # cached now, whatever the set-up took
        assert await api.statements(ME, key=learner.key) == 0

        await asyncio.sleep(1.2)

        api.db.statements.reset()
        await api.data(ME, key=learner.key)
        assert api.db.statements.count == 1


async def test_a_lost_listener_empties_the_cache_and_caching_resumes_once_it_listens(
    cached: Api,
) -> None:
    learner = await cached.user()
    assert await cached.statements(ME, key=learner.key) == 0

    async with cached.db.write() as conn:
        ended = await conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
            )
        )
    assert ended == 1

    async def emptied() -> bool:
        return len(cache_of(cached)) == 0

    await eventually(emptied)  # a notice may have been missed: nothing cached is trusted
    assert (await cached.post(ME, key=learner.key)).status_code == 200

    async def cached_again() -> bool:
        return await cached.statements(ME, key=learner.key) == 0

    await eventually(cached_again)  # reconnected (first retry after 0.5 s)


async def test_a_tokens_user_is_cached_and_dropped_when_the_user_changes(pg_database_url: str) -> None:
    secret = "s" * 32
    settings = {
        **CACHED,
        "jwt_algorithms": "HS256",
        "jwt_secret": secret,
        "jwt_issuer": "https://id.example.com",
        "jwt_audience": "gql-progress",
    }
    async with api_with(pg_database_url, **settings) as api:
        learner = await api.user(name="Before")
        now = int(time.time())
        claims = {"sub": learner.external_id, "iss": "https://id.example.com", "aud": "gql-progress"}
        token = jwt.encode({**claims, "iat": now, "exp": now + 300}, secret, "HS256")
        assert await api.statements(ME, key=token) == 0

        async with api.db.write() as conn:
            await conn.execute(text("DELETE FROM api_keys WHERE user_id = :id"), {"id": learner.pk})
            await conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": learner.pk})

        await eventually(lambda: refused(api, token))


async def test_a_commit_that_changed_credentials_outdates_this_process_entries_at_once(
    cached: Api,
) -> None:
    # A cache of its own, following no channel: only the commit itself can outdate its entries.
    cache: CredentialCache[str] = CredentialCache(cached.db, 60)
    cache.resume()
    cache.put("a", "row a", 1, cached.db.credentials_epoch)
    async with cached.db.write() as conn:
        await conn.execute(text("SELECT 1"))
    assert cache.get("a") == "row a"  # an unrelated write keeps it

    async with cached.db.write() as conn:
        cached.db.note_credentials_changed(conn)
        epoch_inside = cached.db.credentials_epoch
        cache.put("b", "row b", 2, epoch_inside)
        assert cache.get("a") == "row a"  # not before the commit…

    assert cache.get("a") is None  # …but at once after it
    assert cache.get("b") is None
    # A lookup that began before the commit finished cannot store what it found.
    cache.put("c", "row c", 3, epoch_inside)
    assert cache.get("c") is None


async def test_a_rolled_back_change_outdates_nothing(cached: Api) -> None:
    cache: CredentialCache[str] = CredentialCache(cached.db, 60)
    cache.resume()
    cache.put("a", "row a", 1, cached.db.credentials_epoch)

    async def change_then_fail() -> None:
        async with cached.db.write() as conn:
            cached.db.note_credentials_changed(conn)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await change_then_fail()

    assert cache.get("a") == "row a"
