"""The gql-progress command, called in-process through cli.main.

cli.main runs its own event loop (asyncio.run), so the tests that call it are plain sync tests.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from gql_progress.app import create_app
from gql_progress.cli import main
from gql_progress.db.engine import Database
from gql_progress.domain.demo import seed_demo
from gql_progress.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
KEY = re.compile(r"gqlp_[A-Za-z0-9_-]+")
DEMO_TABLES = ("users", "courses", "lessons", "enrollments", "lesson_progress")

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def db_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """GQL_PROGRESS_DATABASE_URL points at a (not yet created) SQLite file."""
    path = tmp_path / "cli.db"
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", f"sqlite:///{path}")
    return path


@pytest.fixture
def migrated(db_file: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["migrate"]) == 0
    assert "migrated to head" in capsys.readouterr().out
    return db_file


def _counts(path: Path, tables: tuple[str, ...] = DEMO_TABLES) -> dict[str, int]:
    with closing(sqlite3.connect(path)) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in tables}


def _seed(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """Run seed-demo; return the (admin, learner) keys it printed."""
    assert main(["seed-demo"]) == 0
    out = capsys.readouterr().out
    admin = re.search(rf"admin\b.*?({KEY.pattern})", out)
    learner = re.search(rf"learner\b.*?({KEY.pattern})", out)
    assert admin is not None, out
    assert learner is not None, out
    return admin.group(1), learner.group(1)


async def _me_email(database_url: str, key: str) -> tuple[int, str | None]:
    """Ask the real app `{ me { email } }` with the key; return (HTTP status, email or None)."""
    app = create_app(load_settings(database_url=database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.post(
                "/graphql",
                json={"query": "{ me { email } }"},
                headers={"Authorization": f"Bearer {key}"},
            )
    if response.status_code != 200:
        return response.status_code, None
    body = response.json()
    assert not body.get("errors"), body
    return response.status_code, body["data"]["me"]["email"]


# --- migrate and seed-demo ---------------------------------------------------------------------


def test_migrate_creates_the_database_file(db_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0

    assert "migrated to head" in capsys.readouterr().out
    assert db_file.exists()
    assert _counts(db_file) == dict.fromkeys(DEMO_TABLES, 0)


def test_seed_demo_prints_an_admin_and_a_learner_key(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin, learner = _seed(capsys)

    assert admin.startswith("gqlp_")
    assert learner.startswith("gqlp_")
    assert admin != learner
    counts = _counts(migrated)
    assert counts["users"] == 3  # admin, learner and the demo course's instructor
    assert counts["courses"] == 3


def test_seed_demo_twice_issues_new_keys_without_duplicating_demo_data(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _seed(capsys)
    counts_after_first = _counts(migrated)

    second = _seed(capsys)

    assert set(first).isdisjoint(second)
    assert _counts(migrated) == counts_after_first
    with closing(sqlite3.connect(migrated)) as conn:
        live, revoked = conn.execute(
            "SELECT sum(revoked_at IS NULL), sum(revoked_at IS NOT NULL) FROM api_keys"
        ).fetchone()
    # The first run's keys are revoked; only the three just printed still work.
    assert (live, revoked) == (3, 3)


def test_keys_printed_by_seed_demo_authenticate_against_the_app(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{migrated}"
    old_admin, _ = _seed(capsys)
    admin, learner = _seed(capsys)

    assert asyncio.run(_me_email(url, admin)) == (200, "admin@example.com")
    assert asyncio.run(_me_email(url, learner)) == (200, "learner@example.com")
    # Re-seeding revoked the earlier key.
    assert asyncio.run(_me_email(url, old_admin)) == (401, None)


def test_seed_demo_in_production_mode_refuses_with_exit_2_and_writes_nothing(
    migrated: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GQL_PROGRESS_MODE", "production")

    assert main(["seed-demo"]) == 2

    captured = capsys.readouterr()
    assert "production" in captured.err
    assert "gqlp_" not in captured.out
    assert _counts(migrated)["users"] == 0


async def test_seed_demo_keys_authenticate_as_the_demo_users(database_url: str) -> None:
    db = Database(database_url)
    try:
        keys = await seed_demo(db)
    finally:
        await db.dispose()

    assert await _me_email(database_url, keys.admin.secret) == (200, "admin@example.com")
    assert await _me_email(database_url, keys.learner.secret) == (200, "learner@example.com")


# --- users and keys ------------------------------------------------------------------------------


def test_create_user_then_create_api_key_prints_a_working_key(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create-user", "--email", "Zoe@Example.com", "--name", "Zoe", "--external-id", "z-1"]) == 0
    assert "zoe@example.com" in capsys.readouterr().out

    assert main(["create-api-key", "--user", "Zoe@Example.com"]) == 0
    captured = capsys.readouterr()
    key = captured.out.strip()
    assert KEY.fullmatch(key), captured.out
    assert asyncio.run(_me_email(f"sqlite:///{migrated}", key)) == (200, "zoe@example.com")

    # The external id finds the user too.
    assert main(["create-api-key", "--user", "z-1", "--label", "ci"]) == 0
    assert KEY.fullmatch(capsys.readouterr().out.strip())


def test_create_api_key_for_an_unknown_user_exits_1(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create-api-key", "--user", "nobody@example.com"]) == 1

    captured = capsys.readouterr()
    assert "nobody@example.com" in captured.err
    assert "gqlp_" not in captured.out
    assert _counts(migrated, ("api_keys",)) == {"api_keys": 0}


def test_create_user_with_a_bad_email_exits_1_with_a_message(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create-user", "--email", "not-an-email", "--name", "X", "--external-id", "x-1"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("error:")
    assert "email" in err
    assert _counts(migrated, ("users",)) == {"users": 0}


def test_create_user_with_a_taken_email_exits_1(migrated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create-user", "--email", "a@example.com", "--name", "A", "--external-id", "a-1"]) == 0
    capsys.readouterr()

    assert main(["create-user", "--email", "A@example.com", "--name", "B", "--external-id", "a-2"]) == 1

    assert capsys.readouterr().err.startswith("error:")
    assert _counts(migrated, ("users",)) == {"users": 1}


# --- export-schema -------------------------------------------------------------------------------


def test_export_schema_check_fails_on_a_stale_file_and_passes_after_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "schema.graphql"
    path.write_text("type Query { stale: Int }\n")

    assert main(["export-schema", "--check", "--path", str(path)]) == 1
    assert "out of date" in capsys.readouterr().err

    assert main(["export-schema", "--path", str(path)]) == 0
    assert "type Query" in path.read_text()
    assert path.read_text() != "type Query { stale: Int }\n"

    assert main(["export-schema", "--check", "--path", str(path)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_export_schema_check_fails_when_the_file_is_missing(tmp_path: Path) -> None:
    assert main(["export-schema", "--check", "--path", str(tmp_path / "missing.graphql")]) == 1


def test_repository_schema_graphql_is_up_to_date_with_the_code(capsys: pytest.CaptureFixture[str]) -> None:
    """Schema drift: if this fails, run `gql-progress export-schema` and commit schema.graphql."""
    assert main(["export-schema", "--check", "--path", str(REPO / "schema.graphql")]) == 0, (
        capsys.readouterr().err
    )
