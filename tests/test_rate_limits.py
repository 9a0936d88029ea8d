"""Rate limits per API key, over HTTP, against apps built with small limits.

A refused request answers 429 with Retry-After and RATE_LIMITED, and runs nothing past the key
lookup; a mutation counts once per top-level field; budgets are per key and per role; apps that
share a Redis share one budget; the moving window frees up again. The Redis tests need the
Redis at GQL_PROGRESS_TEST_REDIS_URL (default redis://127.0.0.1:6379/0) and are skipped without
it, or fail when GQL_PROGRESS_REQUIRE_PG=1 (CI: "the services are required").
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from gql_progress.db.models import LessonProgress
from tests.apps import api_with
from tests.redis_keys import REDIS_URL, unique_redis_prefix
from tests.support import Api, SeededCourse, SeededUser

ME = "{ me { id } }"


@asynccontextmanager
async def limited_api(database_url: str, **settings: Any) -> AsyncIterator[Api]:
    """The app over HTTP with the given rate-limit settings (the fixtures' app has generous ones)."""
    async with api_with(database_url, **{"live_updates_enabled": False, **settings}) as api:
        yield api


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """For behaviour that does not depend on the database (budgets, windows, storage)."""
    path = tmp_path / "test.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    async for prefix in unique_redis_prefix():
        yield prefix


@pytest.fixture(params=["memory", "redis"])
async def storage(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, str]]:
    """Settings for counting in process memory, then in Redis."""
    if request.param == "memory":
        yield {"rate_limit_storage": "memory://"}
        return
    async for prefix in unique_redis_prefix():
        yield {"rate_limit_storage": REDIS_URL, "rate_limit_key_prefix": prefix}


def _codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


def _upserts(lesson_ids: list[str]) -> str:
    fields = " ".join(
        f'u{i}: upsertProgress(input: {{lessonId: "{lesson}", timeSpentMinutes: 1}}) {{ __typename }}'
        for i, lesson in enumerate(lesson_ids)
    )
    return f"mutation {{ {fields} }}"


async def _progress_rows(api: Api) -> int:
    async with api.db.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(LessonProgress)) or 0)


async def _enrolled(api: Api, lessons: int = 1) -> tuple[SeededUser, SeededCourse]:
    learner = await api.user()
    course = await api.course(lessons=lessons)
    await api.enroll(learner, course)
    return learner, course


def _assert_refused(response: httpx.Response, *, retry_after: bool = True) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["data"] is None
    assert _codes(response) == ["RATE_LIMITED"]
    if retry_after:
        assert int(response.headers["Retry-After"]) >= 1
    else:
        assert "Retry-After" not in response.headers


# --- one key's budget ----------------------------------------------------------------------------


async def test_the_sixth_operation_of_a_key_is_refused_with_429_and_writes_nothing(
    database_url: str,
) -> None:
    async with limited_api(database_url, rate_limit_learner="5/minute") as api:
        learner, course = await _enrolled(api)
        remaining = []
        for _ in range(5):
            response = await api.post(ME, key=learner.key)
            assert response.status_code == 200, response.text
            assert response.headers["RateLimit-Limit"] == "5"
            assert 1 <= int(response.headers["RateLimit-Reset"]) <= 60
            remaining.append(int(response.headers["RateLimit-Remaining"]))
        assert remaining == [4, 3, 2, 1, 0]

        api.db.statements.reset()
        refused = await api.post(_upserts(course.lesson_ids), key=learner.key)

        _assert_refused(refused)
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.json()["errors"][0]["extensions"]["retryAfterSeconds"] == int(
            refused.headers["Retry-After"]
        )
        assert refused.headers["RateLimit-Remaining"] == "0"
        assert api.db.statements.count == 1, "only the key lookup may run for a refused request"
        assert await _progress_rows(api) == 0


async def test_other_keys_keep_their_budget_and_an_admin_has_the_admin_rate(sqlite_url: str) -> None:
    async with limited_api(sqlite_url, rate_limit_learner="5/minute", rate_limit_admin="20/minute") as api:
        spent, other = await api.user(), await api.user()
        admin = await api.admin()
        for _ in range(5):
            assert (await api.post(ME, key=spent.key)).status_code == 200
        _assert_refused(await api.post(ME, key=spent.key))

        assert (await api.post(ME, key=other.key)).status_code == 200
        for _ in range(8):
            response = await api.post(ME, key=admin.key)
            assert response.status_code == 200, response.text
        assert response.headers["RateLimit-Limit"] == "20"
        assert response.headers["RateLimit-Remaining"] == "12"


async def test_a_query_counts_one_whatever_its_number_of_fields(sqlite_url: str) -> None:
    async with limited_api(sqlite_url, rate_limit_learner="5/minute") as api:
        learner = await api.user()
        response = await api.post("{ a: me { id } b: me { name } c: me { email } }", key=learner.key)
        assert response.status_code == 200
        assert response.headers["RateLimit-Remaining"] == "4"


# --- mutations count per top-level field ---------------------------------------------------------


async def test_ten_aliased_mutations_spend_ten(database_url: str) -> None:
    async with limited_api(database_url, rate_limit_learner="10/minute") as api:
        learner, course = await _enrolled(api, lessons=10)

        response = await api.post(_upserts(course.lesson_ids), key=learner.key)
        assert response.status_code == 200, response.text
        assert not response.json().get("errors"), response.json()
        assert response.headers["RateLimit-Remaining"] == "0"
        assert await _progress_rows(api) == 10

        _assert_refused(await api.post(ME, key=learner.key))


async def test_a_request_costing_more_than_the_whole_budget_is_refused_and_writes_nothing(
    database_url: str,
) -> None:
    async with limited_api(database_url, rate_limit_learner="5/minute") as api:
        learner, course = await _enrolled(api, lessons=10)

        api.db.statements.reset()
        refused = await api.post(_upserts(course.lesson_ids), key=learner.key)

        # No wait would let it pass: no Retry-After, and the message says to split it.
        _assert_refused(refused, retry_after=False)
        assert "fewer mutations" in refused.json()["errors"][0]["message"]
        assert api.db.statements.count == 1
        assert await _progress_rows(api) == 0
        # Nothing was spent: the budget is whole.
        response = await api.post(ME, key=learner.key)
        assert response.headers["RateLimit-Remaining"] == "4"


async def test_mutations_hidden_in_fragments_count_too(sqlite_url: str) -> None:
    async with limited_api(sqlite_url, rate_limit_learner="5/minute") as api:
        learner, course = await _enrolled(api, lessons=6)
        spread = " ".join(
            f'u{i}: upsertProgress(input: {{lessonId: "{lesson}"}}) {{ __typename }}'
            for i, lesson in enumerate(course.lesson_ids)
        )
        query = f"mutation {{ ...Writes }} fragment Writes on Mutation {{ ... on Mutation {{ {spread} }} }}"

        _assert_refused(await api.post(query, key=learner.key), retry_after=False)
        assert await _progress_rows(api) == 0


async def test_a_refused_request_spends_nothing_so_a_smaller_one_still_fits(sqlite_url: str) -> None:
    async with limited_api(sqlite_url, rate_limit_learner="10/minute") as api:
        learner, course = await _enrolled(api, lessons=6)
        for _ in range(5):
            assert (await api.post(ME, key=learner.key)).status_code == 200

        _assert_refused(await api.post(_upserts(course.lesson_ids), key=learner.key))

        response = await api.post(_upserts(course.lesson_ids[:5]), key=learner.key)
        assert response.status_code == 200, response.text
        assert response.headers["RateLimit-Remaining"] == "0"


# --- the window --------------------------------------------------------------------------------------


async def test_the_window_frees_up_after_it_passes(sqlite_url: str, storage: dict[str, str]) -> None:
    async with limited_api(sqlite_url, rate_limit_learner="3/2second", **storage) as api:
        learner = await api.user()
        started = time.time()
        for _ in range(3):
            assert (await api.post(ME, key=learner.key)).status_code == 200
        refused = await api.post(ME, key=learner.key)
        _assert_refused(refused)
        assert int(refused.headers["Retry-After"]) <= 2

        await asyncio.sleep(max(0.0, started + 2.1 - time.time()))

        response = await api.post(ME, key=learner.key)
        assert response.status_code == 200, response.text


async def test_retry_after_is_when_enough_budget_for_this_request_is_free(
    sqlite_url: str, storage: dict[str, str]
) -> None:
    # Two operations at t0 and two at t0+1 fill "4/2second". One more operation fits when the
    # first leaves (t0+2, in 1 s); three more only when the third leaves (t0+3, in 2 s).
    async with limited_api(sqlite_url, rate_limit_learner="4/2second", **storage) as api:
        learner, course = await _enrolled(api, lessons=3)
        for _ in range(2):
            assert (await api.post(ME, key=learner.key)).status_code == 200
        await asyncio.sleep(1.0)
        for _ in range(2):
            assert (await api.post(ME, key=learner.key)).status_code == 200

        one = await api.post(ME, key=learner.key)
        three = await api.post(_upserts(course.lesson_ids), key=learner.key)

        _assert_refused(one)
        _assert_refused(three)
        assert one.headers["Retry-After"] == "1"
        assert three.headers["Retry-After"] == "2"


# --- where the counts live -----------------------------------------------------------------------


async def test_two_apps_sharing_redis_share_one_budget(sqlite_url: str, redis_prefix: str) -> None:
    shared = {
        "rate_limit_learner": "5/minute",
        "rate_limit_storage": REDIS_URL,
        "rate_limit_key_prefix": redis_prefix,
    }
    async with limited_api(sqlite_url, **shared) as first, limited_api(sqlite_url, **shared) as second:
        learner = await first.user()
        for api in (first, second, first, second, first):
            assert (await api.post(ME, key=learner.key)).status_code == 200

        _assert_refused(await second.post(ME, key=learner.key))
        _assert_refused(await first.post(ME, key=learner.key))


async def test_apps_counting_in_memory_each_have_their_own_budget(sqlite_url: str) -> None:
    async with (
        limited_api(sqlite_url, rate_limit_learner="5/minute") as first,
        limited_api(sqlite_url, rate_limit_learner="5/minute") as second,
    ):
        learner = await first.user()
        for _ in range(5):
            assert (await first.post(ME, key=learner.key)).status_code == 200
        _assert_refused(await first.post(ME, key=learner.key))

        response = await second.post(ME, key=learner.key)
        assert response.status_code == 200
        assert response.headers["RateLimit-Remaining"] == "4"


async def test_an_unreachable_storage_lets_requests_through_and_warns(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    async with limited_api(
        sqlite_url, rate_limit_learner="1/minute", rate_limit_storage="redis://127.0.0.1:1/0"
    ) as api:
        learner = await api.user()
        with caplog.at_level(logging.WARNING, logger="gql_progress.rate_limits"):
            for _ in range(3):
                response = await api.post(ME, key=learner.key)
                assert response.status_code == 200, response.text
                assert "RateLimit-Limit" not in response.headers
        warnings = [r for r in caplog.records if r.name == "gql_progress.rate_limits"]
        assert len(warnings) == 1, "one warning per interval, not one per request"


# --- requests without a key, and turning the limits off -----------------------------------------------


async def test_anonymous_requests_are_limited_per_client_address_at_the_learner_rate(sqlite_url: str) -> None:
    verify = '{ verifyCertificate(code: "NO-SUCH-CODE") { courseTitle } }'
    async with limited_api(sqlite_url, rate_limit_learner="2/minute") as api:
        for _ in range(2):
            assert (await api.post(verify)).status_code == 200
        _assert_refused(await api.post(verify))
        assert "this address" in (await api.post(verify)).json()["errors"][0]["message"]

        elsewhere = httpx.ASGITransport(app=api.app, client=("203.0.113.7", 4000))
        async with httpx.AsyncClient(transport=elsewhere, base_url="http://testserver") as client:
            response = await client.post("/graphql", json={"query": verify})
        assert response.status_code == 200, response.text
        learner = await api.user()
        assert (await api.post(ME, key=learner.key)).status_code == 200


async def test_turned_off_nothing_is_counted(sqlite_url: str) -> None:
    async with limited_api(sqlite_url, rate_limit_enabled=False, rate_limit_learner="1/minute") as api:
        learner = await api.user()
        for _ in range(3):
            response = await api.post(ME, key=learner.key)
            assert response.status_code == 200
            assert "RateLimit-Limit" not in response.headers
