"""Behind PgBouncer in transaction-pooling mode (GQL_PROGRESS_DB_POOLER=transaction): the races
of the suite, run again through a real PgBouncer (tests/pgbouncer.py) whose few server sessions
every transaction of every client shares.

The races are the suite's own tests, called here with an app whose pool goes through the
bouncer, rather than copies: what they assert is the same whichever way the connections go.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gql_progress.db.engine import Database
from gql_progress.db.listener import ListenMisconfigured
from tests.apps import GENEROUS_LIMITS, api_with, running_app
from tests.conftest import _pg_admin, _pg_url, pg_database
from tests.pgbouncer import PooledDatabase, pgbouncer
from tests.servers import REPO, free_port
from tests.support import Api
from tests.test_events_and_certificates import (
    test_parallel_final_completions_issue_one_certificate_and_one_course_completed as one_certificate,
)
from tests.test_idempotency import (
    test_a_repeat_gets_the_first_body_back_and_applies_nothing_again as replayed,
)
from tests.test_idempotency import (
    test_a_repeat_while_the_first_runs_gets_409_on_postgresql as repeat_while_running,
)
from tests.test_progress_rules import (
    test_concurrent_completions_of_one_pair_share_the_first_completed_at as first_completed_at,
)
from tests.test_progress_rules import (
    test_fifty_concurrent_upserts_of_one_pair_leave_one_record as fifty_upserts,
)
from tests.test_progress_rules import (
    test_parallel_final_completions_always_complete_the_enrollment_on_postgresql as enrollment_race,
)
from tests.test_subscriptions import a_write_through_one_process_reaches_a_subscriber_of_another

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]


@pytest.fixture
async def pooled(pg_database_url: str) -> AsyncIterator[PooledDatabase]:
    async with pgbouncer(pg_database_url) as database:
        yield database


@pytest.fixture
async def pooled_api(pooled: PooledDatabase) -> AsyncIterator[Api]:
    # The credential cache on, as in production: it follows revocations over LISTEN.
    settings: dict[str, Any] = {**GENEROUS_LIMITS, **pooled.settings(), "api_key_cache_seconds": 30}
    async with api_with(**settings) as api:
        yield api


# --- the control: the bouncer really hands transactions to other sessions -------------------------


async def test_prepared_statements_fail_through_the_bouncer_so_the_races_below_prove_something(
    pooled: PooledDatabase,
) -> None:
    db = Database(pooled.url, pool_size=6, prepared_statements=True)

    async def read(i: int) -> Any:
        async with db.read() as conn:
            return (await conn.execute(text("SELECT CAST(:i AS int)"), {"i": i})).scalar()

    async def concurrent_reads() -> None:
        for _ in range(20):
            await asyncio.gather(*(read(i) for i in range(30)))

    try:
        with pytest.raises(DBAPIError, match="prepared statement"):
            await concurrent_reads()
    finally:
        await db.dispose()


# --- the races ---------------------------------------------------------------------------------


async def test_fifty_concurrent_upserts_of_one_pair_leave_one_record(pooled_api: Api) -> None:
    await fifty_upserts(pooled_api)
    # Each heartbeat was one statement sent alone on asyncpg's pool (Database.write_alone),
    # unprepared, in an implicit transaction the bouncer hands to any session.
    assert pooled_api.db.alone_committed == 50


async def test_concurrent_completions_of_one_pair_share_the_first_completed_at(pooled_api: Api) -> None:
    await first_completed_at(pooled_api)


async def test_parallel_final_completions_always_complete_the_enrollment(pooled_api: Api) -> None:
    await enrollment_race(pooled_api)


async def test_parallel_final_completions_issue_one_certificate_and_one_course_completed(
    pooled_api: Api,
) -> None:
    await one_certificate(pooled_api)


async def test_a_repeat_gets_the_first_body_back_and_applies_nothing_again(pooled_api: Api) -> None:
    await replayed(pooled_api)


async def test_a_repeat_while_the_first_runs_gets_409(pooled_api: Api) -> None:
    # The advisory lock that refuses the repeat is transaction-scoped: it holds through a
    # transaction pooler, where a session-level lock would be left on a session the next
    # transaction may not get.
    await repeat_while_running(pooled_api)


async def test_a_write_through_one_server_process_reaches_a_subscriber_of_another(
    pooled: PooledDatabase,
) -> None:
    await a_write_through_one_process_reaches_a_subscriber_of_another(pooled.direct_url, pooled.env())


# --- LISTEN goes to PostgreSQL itself ------------------------------------------------------------


async def test_the_listen_connection_is_the_direct_one_and_revocations_reach_the_cache(
    pooled_api: Api, pooled: PooledDatabase
) -> None:
    learner = await pooled_api.user()
    course = await pooled_api.course(lessons=1)
    read = "query($slug: String!) { course(slug: $slug) { id title } }"
    assert (await pooled_api.data(read, {"slug": course.slug}, key=learner.key))["course"]["id"] == course.id
    # Answered by a compiled read: asyncpg's own pool (db/direct.py) goes through the bouncer too.
    assert pooled_api.app.state.compiled.answered == 1
    me = "{ me { id } }"
    cache = pooled_api.app.state.credentials
    assert cache is not None
    assert len(cache) == 1  # the key is cached: the next request skips the lookup

    # Revoked by another process: the trigger's NOTIFY reaches this one's LISTEN.
    conn = await asyncpg.connect(pooled.direct_url.replace("+asyncpg", ""))
    try:
        await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE user_id = $1", learner.pk)
    finally:
        await conn.close()
    for _ in range(100):
        if len(cache) == 0:
            break
        await asyncio.sleep(0.02)
    response = await pooled_api.post(me, key=learner.key)
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("where", ["the bouncer", "another database"])
async def test_a_listen_url_the_pools_notifications_do_not_reach_stops_start_up(
    pooled: PooledDatabase, pg_template: str | None, where: str
) -> None:
    async with pg_database(pg_template) as elsewhere:
        # The bouncer under another spelling than GQL_PROGRESS_DATABASE_URL's, which settings
        # refuse as it is: only the notice that never arrives can tell.
        listen = f"{pooled.url}?application_name=listener" if where == "the bouncer" else elsewhere
        settings = {**pooled.settings(), "db_listen_url": listen}
        with pytest.raises(ListenMisconfigured, match="GQL_PROGRESS_DB_LISTEN_URL"):
            async with running_app(**settings):
                pass


async def test_serve_refuses_a_listen_url_through_the_bouncer_in_one_line(pooled: PooledDatabase) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GQL_PROGRESS_")},
        **pooled.env(),
        "GQL_PROGRESS_DB_LISTEN_URL": f"{pooled.url}?application_name=listener",
    }
    command = ("-m", "gql_progress", "serve", "--host", "127.0.0.1", "--port", str(free_port()))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 1
    lines = stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert "did not reach a LISTEN on GQL_PROGRESS_DB_LISTEN_URL" in lines[0]


# --- the commands ------------------------------------------------------------------------------


async def test_migrate_and_status_run_through_the_bouncer() -> None:
    name = f"gqlp_test_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        async with pgbouncer(_pg_url(name)) as pooled:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("GQL_PROGRESS_")},
                **pooled.env(),
            }
            for command in (["migrate"], ["status"]):
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "gql_progress",
                    *command,
                    cwd=REPO,
                    env=env,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                )
                output, _ = await asyncio.wait_for(process.communicate(), 120)
                assert process.returncode == 0, (command, output.decode())
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
