"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL.

These tests start from an EMPTY database (not the migrated template of conftest), so they exercise
the migrations themselves: upgrade, downgrade to base, and upgrade again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from gql_progress.db import migrate
from gql_progress.db.engine import Database
from gql_progress.db.models import Base
from tests import conftest
from tests.conftest import REQUIRE_PG, _pg_admin, _pg_url

APP_TABLES = set(Base.metadata.tables)
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database with no tables at all, on each backend."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
        try:
            yield db
        finally:
            await db.dispose()
        return

    try:
        await _pg_admin("SELECT 1")
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        if REQUIRE_PG:
            pytest.fail(f"GQL_PROGRESS_REQUIRE_PG is set but PostgreSQL is unreachable: {exc}")
        pytest.skip("PostgreSQL is not reachable (set GQL_PROGRESS_REQUIRE_PG=1 to fail instead)")
    name = f"gqlp_mig_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        db = Database(_pg_url(name))
        try:
            yield db
        finally:
            await db.dispose()
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _table_names(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        names: list[str] = await conn.run_sync(lambda sync_conn: inspect(sync_conn).get_table_names())
    return set(names)


async def _schema_differences(db: Database) -> list[Any]:
    def compare(sync_conn: Connection) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with db.engine.connect() as conn:
        return await conn.run_sync(compare)


async def _current_revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )


def _head_revision() -> str | None:
    return ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


async def test_upgrade_on_an_empty_database_creates_every_model_table(empty_db: Database) -> None:
    assert await _table_names(empty_db) == set()

    await migrate.upgrade(empty_db)

    assert await _table_names(empty_db) == APP_TABLES | {"alembic_version"}
    assert await _current_revision(empty_db) == _head_revision()


async def test_migrated_schema_matches_the_models_exactly(empty_db: Database) -> None:
    await migrate.upgrade(empty_db)

    assert await _schema_differences(empty_db) == []


async def test_downgrade_to_base_removes_every_table_and_upgrade_works_again(empty_db: Database) -> None:
    await migrate.upgrade(empty_db)

    await migrate.downgrade(empty_db, "base")

    assert await _table_names(empty_db) <= {"alembic_version"}
    assert await _current_revision(empty_db) is None

    await migrate.upgrade(empty_db)

    assert await _table_names(empty_db) == APP_TABLES | {"alembic_version"}
    assert await _current_revision(empty_db) == _head_revision()
    assert await _schema_differences(empty_db) == []


# --- constraints are enforced by the database itself ------------------------------------------

_INSERT_PROGRESS = text(
    "INSERT INTO lesson_progress (user_id, lesson_id, completed, progress_percentage,"
    " video_position_seconds, last_position_seconds, quiz_attempts, time_spent_minutes,"
    " is_bookmarked, created_at, updated_at)"
    " VALUES (:user_id, :lesson_id, false, :pct, 0, 0, 0, 0, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


async def _user_and_lessons(db: Database) -> tuple[int, list[int]]:
    """A user and two lessons of one course, inserted with plain SQL."""
    async with db.write() as conn:
        user_id = await conn.scalar(
            text(
                "INSERT INTO users (external_id, email, name, role, created_at)"
                " VALUES ('ext-1', 'u1@example.com', 'U', 'LEARNER', CURRENT_TIMESTAMP) RETURNING id"
            )
        )
        course_id = await conn.scalar(
            text(
                "INSERT INTO courses (slug, title, description, requires_sequential_progress,"
                " certificate_enabled, created_at, updated_at)"
                " VALUES ('c', 'C', '', false, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
            )
        )
        lesson_ids = [
            await conn.scalar(
                text(
                    "INSERT INTO lessons (course_id, position, title, kind, is_required,"
                    " created_at, updated_at) VALUES (:course_id, :position, 'L', 'VIDEO', true,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
                ),
                {"course_id": course_id, "position": position},
            )
            for position in (0, 1)
        ]
    assert user_id is not None
    assert all(lesson_id is not None for lesson_id in lesson_ids)
    return int(user_id), [int(lesson_id) for lesson_id in lesson_ids]


async def _progress_count(db: Database) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM lesson_progress")) or 0)


async def test_database_rejects_progress_percentage_above_100(database_url: str) -> None:
    db = Database(database_url)
    try:
        user_id, (lesson_id, _) = await _user_and_lessons(db)

        with pytest.raises(IntegrityError, match="progress_percentage_range"):
            async with db.write() as conn:
                await conn.execute(_INSERT_PROGRESS, {"user_id": user_id, "lesson_id": lesson_id, "pct": 150})
        assert await _progress_count(db) == 0

        # The boundary itself is allowed: the failure above is the range check, nothing else.
        async with db.write() as conn:
            await conn.execute(_INSERT_PROGRESS, {"user_id": user_id, "lesson_id": lesson_id, "pct": 100})
        assert await _progress_count(db) == 1
    finally:
        await db.dispose()


async def test_database_rejects_a_second_progress_row_for_the_same_user_and_lesson(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        user_id, (lesson_id, other_lesson_id) = await _user_and_lessons(db)
        async with db.write() as conn:
            await conn.execute(_INSERT_PROGRESS, {"user_id": user_id, "lesson_id": lesson_id, "pct": 10})
            # Another lesson of the same user is fine.
            await conn.execute(
                _INSERT_PROGRESS, {"user_id": user_id, "lesson_id": other_lesson_id, "pct": 10}
            )

        with pytest.raises(
            IntegrityError,
            match=r"uq_lesson_progress_user_id_lesson_id|UNIQUE constraint failed: lesson_progress\.user_id",
        ):
            async with db.write() as conn:
                await conn.execute(_INSERT_PROGRESS, {"user_id": user_id, "lesson_id": lesson_id, "pct": 20})
        assert await _progress_count(db) == 2
    finally:
        await db.dispose()


# --- the test databases themselves (tests/conftest.py) --------------------------------------------
# Each PostgreSQL test gets a migrated database of its pytest process's pool: a clone of the
# template, emptied between tests. These prove the emptying leaves nothing a test could see.


async def _first_user_id(url: str) -> int:
    db = Database(url)
    try:
        user_id, _ = await _user_and_lessons(db)
        return user_id
    finally:
        await db.dispose()


async def _row_counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        tables = [
            row["tablename"]
            for row in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        return {table: await conn.fetchval(f'SELECT count(*) FROM "{table}"') for table in tables}
    finally:
        await conn.close()


async def _exists(name: str) -> bool:
    conn = await asyncpg.connect(conftest.PG_ADMIN_URL, timeout=5)
    try:
        return bool(await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


def _pool(pg_template: str | None) -> conftest.PgPool:
    if pg_template is None:
        pytest.skip("PostgreSQL is not reachable (set GQL_PROGRESS_REQUIRE_PG=1 to fail instead)")
    return conftest._pools[pg_template]


@pytest.mark.postgres_only
async def test_a_reused_test_database_has_no_rows_and_its_sequences_start_again(
    pg_template: str | None,
) -> None:
    pool = _pool(pg_template)
    name = await pool.take()
    url = _pg_url(name)
    first = await _first_user_id(url)  # users, courses, lessons; their ids from the sequences
    conn = await asyncpg.connect(url, timeout=5)
    try:
        second = await conn.fetchval(
            "INSERT INTO users (external_id, email, name, role, created_at)"
            " VALUES ('ext-2', 'u2@example.com', 'U', 'LEARNER', CURRENT_TIMESTAMP) RETURNING id"
        )
    finally:
        await conn.close()
    assert second == first + 1
    assert (await _row_counts(url))["users"] == 2
    await pool.give_back(name)

    again = await pool.take()
    try:
        assert again == name  # the same database, emptied
        counts = await _row_counts(_pg_url(again))
        assert counts.pop("alembic_version") == 1
        assert set(counts.values()) == {0}, counts
        assert await _first_user_id(_pg_url(again)) == first
    finally:
        await pool.give_back(again)


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    "change",
    [
        "ALTER TABLE users ADD COLUMN extra integer",
        "CREATE TABLE extra (id integer)",
        "CREATE INDEX ix_extra ON courses (title)",
        "ALTER TABLE users DROP CONSTRAINT uq_users_email",
        "ALTER SEQUENCE users_id_seq INCREMENT BY 2",
        "ALTER TABLE users ALTER COLUMN name SET DEFAULT 'x'",
        "GRANT SELECT ON users TO PUBLIC",
        "CREATE FUNCTION extra() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
        "CREATE SCHEMA extra",
        "UPDATE alembic_version SET version_num = 'other'",
        "DROP TABLE alembic_version",
    ],
)
async def test_a_test_database_whose_shape_changed_is_dropped_not_reused(
    pg_template: str | None, change: str
) -> None:
    pool = _pool(pg_template)
    name = await pool.take()
    conn = await asyncpg.connect(_pg_url(name), timeout=5)
    try:
        await conn.execute(change)
    finally:
        await conn.close()

    await pool.give_back(name)

    assert name not in pool.free
    assert not await _exists(name)


@pytest.mark.postgres_only
async def test_a_test_database_still_in_use_is_dropped_not_reused(pg_template: str | None) -> None:
    pool = _pool(pg_template)
    name = await pool.take()
    left_open = await asyncpg.connect(_pg_url(name), timeout=5)
    try:
        await pool.give_back(name)

        assert name not in pool.free
        assert not await _exists(name)
        assert left_open.is_closed() or not await _alive(left_open)
    finally:
        left_open.terminate()


async def _alive(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1")
    except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
        return False
    return True


# --- what a migration run tells ---------------------------------------------------------------


async def test_each_revision_is_reported_as_it_is_applied_and_reverted(empty_db: Database) -> None:
    steps: list[migrate.Step] = []
    revisions = [script.revision for script in reversed(list(migrate.scripts().walk_revisions()))]

    await migrate.upgrade(empty_db, on_step=steps.append)

    assert [(s.revision, s.upgraded) for s in steps] == [(r, True) for r in revisions]
    assert steps[0].title == "initial schema: users, courses, lessons, enrollments, progress, api keys"
    assert all(s.title for s in steps)

    steps.clear()
    await migrate.downgrade(empty_db, revisions[-3], on_step=steps.append)

    assert [(s.revision, s.upgraded) for s in steps] == [(r, False) for r in reversed(revisions[-2:])]


@pytest.mark.slow
def test_alembic_from_a_shell_logs_each_revision_with_alembic_ini(tmp_path: Path) -> None:
    """`alembic upgrade head` reads alembic.ini, whose logging section migrations/env.py loads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GQL_PROGRESS_")}
    env["GQL_PROGRESS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'shell.db'}"
    alembic = Path(sys.executable).parent / "alembic"

    result = subprocess.run(
        [str(alembic), "upgrade", "0002"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert "Running upgrade  -> 0001, initial schema" in result.stderr
    assert "Running upgrade 0001 -> 0002" in result.stderr
