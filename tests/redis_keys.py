"""A Redis key prefix of a test's own, at GQL_PROGRESS_TEST_REDIS_URL (default
redis://127.0.0.1:6379/0): tests sharing one Redis never share a budget. Without that Redis the
test is skipped, or fails when GQL_PROGRESS_REQUIRE_PG=1 (CI: "the services are required")."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import coredis
import pytest

REDIS_URL = os.environ.get("GQL_PROGRESS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("GQL_PROGRESS_REQUIRE_PG", "") not in {"", "0", "false"}


async def unique_redis_prefix() -> AsyncIterator[str]:
    """A key prefix of the test's own, so parallel tests never share a budget; its keys are
    deleted afterwards."""
    client: coredis.Redis[bytes] = coredis.Redis.from_url(REDIS_URL, connect_timeout=1, stream_timeout=1)
    try:
        await client.ping()
    except (coredis.exceptions.RedisError, OSError, TimeoutError) as exc:
        client.connection_pool.disconnect()
        if REQUIRE_SERVICES:
            pytest.fail(f"GQL_PROGRESS_REQUIRE_PG is set but Redis is unreachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL} (set GQL_PROGRESS_REQUIRE_PG=1 to fail instead)")
    prefix = f"gqlp-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(tuple(keys))
        client.connection_pool.disconnect()
