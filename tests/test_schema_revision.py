"""A database behind the code's migrations is refused at start-up and reported by /readyz; one
that cannot be reached yet, or that a newer release migrated, does not stop the server."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gql_progress.db import migrate
from gql_progress.db.engine import Database
from gql_progress.db.revision import SchemaBehind
from tests.apps import api_with, running_app

REVISIONS = [script.revision for script in reversed(list(migrate.scripts().walk_revisions()))]
HEAD, PREVIOUS = REVISIONS[-1], REVISIONS[-2]


async def _migrate(url: str, revision: str) -> None:
    """Down to ``revision``, or up to the head."""
    db = Database(url)
    try:
        await (migrate.upgrade(db) if revision == HEAD else migrate.downgrade(db, revision))
    finally:
        await db.dispose()


async def test_the_app_refuses_to_start_on_a_database_behind(database_url: str) -> None:
    await _migrate(database_url, PREVIOUS)

    with pytest.raises(SchemaBehind) as refused:
        async with running_app(database_url):
            pytest.fail("the app started")

    assert str(refused.value) == (
        f"the database is at revision {PREVIOUS}, this version needs {HEAD}: run gql-progress migrate"
    )


async def test_the_app_refuses_to_start_on_a_database_never_migrated(tmp_path: Path) -> None:
    with pytest.raises(SchemaBehind, match=f"not migrated .*needs revision {HEAD}.*gql-progress migrate"):
        async with running_app(f"sqlite:///{tmp_path / 'empty.db'}"):
            pytest.fail("the app started")


async def test_readyz_fails_with_the_reason_while_the_database_is_behind(database_url: str) -> None:
    async with api_with(database_url) as api:
        assert (await api.client.get("/readyz")).status_code == 200

        await _migrate(database_url, PREVIOUS)
        behind = await api.client.get("/readyz")

        assert behind.status_code == 503
        assert behind.json() == {
            "status": "unavailable",
            "database": "behind",
            "reason": f"the database is at revision {PREVIOUS}, this version needs {HEAD}: "
            "run gql-progress migrate",
        }

        await _migrate(database_url, HEAD)
        again = await api.client.get("/readyz")
        assert (again.status_code, again.json()) == (200, {"status": "ok", "database": "reachable"})


async def test_a_database_a_newer_release_migrated_starts_with_a_warning(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(database_url)
    try:
        async with db.write() as conn:
            await conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    finally:
        await db.dispose()

    with caplog.at_level(logging.WARNING, logger="gql_progress.app"):
        async with api_with(database_url) as api:
            ready = await api.client.get("/readyz")

    assert ready.status_code == 200
    assert f"at revision 9999, which this version of gql-progress does not know (it expects {HEAD})" in (
        caplog.text
    )


async def test_a_database_unreachable_at_start_up_does_not_stop_the_server() -> None:
    # Port 1 refuses at once: the server starts, and /readyz says why it is not ready.
    url = "postgresql://postgres@127.0.0.1:1/nowhere"
    async with api_with(url, live_updates_enabled=False) as api:
        response = await api.client.get("/readyz")

    assert (response.status_code, response.json()) == (
        503,
        {"status": "unavailable", "database": "unreachable"},
    )
