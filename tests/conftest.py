"""Fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL, and the real app.

Each backend is migrated once per session into a template; every test gets a copy
(PostgreSQL: CREATE DATABASE … TEMPLATE; SQLite: a file copy), so tests never see each
other's rows and never depend on leftovers.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from starlette.applications import Starlette

from gql_progress.db import migrate
from gql_progress.db.engine import Database
from tests.apps import GENEROUS_LIMITS, client_for, running_app
from tests.support import Api

PG_ADMIN_URL = os.environ.get("GQL_PROGRESS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("GQL_PROGRESS_REQUIRE_PG", "") not in {"", "0", "false"}


def _pg_url(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def pg_template() -> AsyncIterator[str | None]:
    try:
        await _pg_admin("SELECT 1")
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        if REQUIRE_PG:
            pytest.fail(f"GQL_PROGRESS_REQUIRE_PG is set but PostgreSQL is unreachable: {exc}")
        yield None
        return
    name = f"gqlp_tpl_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    db = Database(_pg_url(name))
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()  # a template must have no open connections to be copied
    yield name
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    db = Database(f"sqlite:///{path}")
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()
    return path


async def _fresh_pg(pg_template: str | None) -> AsyncIterator[str]:
    if pg_template is None:
        pytest.skip("PostgreSQL is not reachable (set GQL_PROGRESS_REQUIRE_PG=1 to fail instead)")
    name = f"gqlp_test_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    try:
        yield _pg_url(name)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, pg_template: str | None, sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[str]:
    """A fresh, migrated database; every test using it runs once per backend."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
    else:
        async for url in _fresh_pg(pg_template):
            yield url


@pytest.fixture
async def pg_database_url(pg_template: str | None) -> AsyncIterator[str]:
    """A fresh PostgreSQL database, for behaviour that only PostgreSQL has (row locks)."""
    async for url in _fresh_pg(pg_template):
        yield url


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[Starlette]:
    async with running_app(database_url, **GENEROUS_LIMITS) as running:
        yield running


@pytest.fixture
async def pg_app(pg_database_url: str) -> AsyncIterator[Starlette]:
    async with running_app(pg_database_url, **GENEROUS_LIMITS) as running:
        yield running


@pytest.fixture
async def api(app: Starlette) -> AsyncIterator[Api]:
    """The app over HTTP (in-process ASGI), plus helpers that seed data through the domain layer."""
    async with client_for(app) as value:
        yield value


@pytest.fixture
async def pg_api(pg_app: Starlette) -> AsyncIterator[Api]:
    async with client_for(pg_app) as value:
        yield value


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GQL_PROGRESS_* variables from the developer's shell leak into settings tests."""
    for name in list(os.environ):
        if name.startswith("GQL_PROGRESS_") and name != "GQL_PROGRESS_REQUIRE_PG":
            monkeypatch.delenv(name)
