"""The gql-progress command, called in-process through cli.main.

cli.main runs its own event loop (asyncio.run), so the tests that call it are plain sync tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import graphql
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gql_progress.api.schema import build_graphql_schema
from gql_progress.cli import main
from gql_progress.db import migrate
from gql_progress.db.engine import Database
from gql_progress.db.revision import schema_revision
from gql_progress.demo import DEMO_CERTIFICATE_CODE, seed_demo
from gql_progress.edge.app import create_app
from gql_progress.settings import load_settings, with_async_driver
from tests.servers import free_port

REPO = Path(__file__).resolve().parent.parent
KEY = re.compile(r"gqlp_[A-Za-z0-9_-]+")
REVISIONS = [script.revision for script in reversed(list(migrate.scripts().walk_revisions()))]
HEAD = REVISIONS[-1]
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
    assert capsys.readouterr().out.rstrip().endswith(f"is now at {HEAD} (head)")
    return db_file


def _revision(path: Path) -> str | None:
    with closing(sqlite3.connect(path)) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


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


def test_migrate_creates_the_database_file_printing_each_revision_it_applies(
    db_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"upgrading sqlite+aiosqlite:///{db_file} from none to {HEAD} (head)"
    assert [line.split()[:2] for line in lines[1:-1]] == [["applied", r] for r in REVISIONS]
    assert lines[1].endswith("initial schema: users, courses, lessons, enrollments, progress, api keys")
    assert lines[-1] == f"database at sqlite+aiosqlite:///{db_file} is now at {HEAD} (head)"
    assert db_file.exists()
    assert _counts(db_file) == dict.fromkeys(DEMO_TABLES, 0)
    assert _revision(db_file) == HEAD


def test_migrate_again_says_there_is_nothing_to_do(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0

    assert capsys.readouterr().out == (
        f"database at sqlite+aiosqlite:///{migrated} is already at {HEAD} (head); nothing to do\n"
    )


def test_seed_demo_prints_the_demo_certificate_code(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["seed-demo"]) == 0

    assert f'verifyCertificate(code: "{DEMO_CERTIFICATE_CODE}")' in capsys.readouterr().out


def test_seed_demo_prints_an_admin_and_a_learner_key(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin, learner = _seed(capsys)

    assert admin.startswith("gqlp_")
    assert learner.startswith("gqlp_")
    assert admin != learner
    counts = _counts(migrated)
    assert counts["users"] == 3  # admin, learner and the demo course's instructor
    assert counts["courses"] == 4


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


# --- export-possible-types -----------------------------------------------------------------------


def test_export_possible_types_check_fails_on_a_stale_file_and_passes_after_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "possible-types.json"
    path.write_text('{"Error": ["NotFoundError"]}\n')

    assert main(["export-possible-types", "--check", "--path", str(path)]) == 1
    assert "run: gql-progress export-possible-types" in capsys.readouterr().err

    assert main(["export-possible-types", "--path", str(path)]) == 0
    assert main(["export-possible-types", "--check", "--path", str(path)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["export-possible-types", "--check", "--path", str(tmp_path / "missing.json")]) == 1


def test_possible_types_are_what_apollos_generator_makes_from_introspection() -> None:
    """The map Apollo's documentation builds from an introspection result (every type with
    possibleTypes, mapped to their names): the same, in name order."""
    schema = graphql.build_schema(build_graphql_schema().as_str())
    # As a client reads it: JSON, where every type has possibleTypes (null but for abstract ones).
    introspection = json.loads(json.dumps(graphql.introspection_from_schema(schema)))
    from_introspection = {
        t["name"]: sorted(s["name"] for s in t["possibleTypes"])
        for t in introspection["__schema"]["types"]
        if t["possibleTypes"]
    }

    written = json.loads((REPO / "possible-types.json").read_text())

    assert written == from_introspection
    assert list(written) == sorted(written)
    # What the README's `... on Error { code message }` needs the cache to know.
    assert {"NotFoundError", "ValidationError", "ForbiddenError"} <= set(written["Error"])
    assert "Contest" in written["Node"]  # through Product, an interface implementing Node


def test_repository_possible_types_json_is_up_to_date_with_the_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Drift: if this fails, run `gql-progress export-possible-types` and commit the file."""
    assert main(["export-possible-types", "--check", "--path", str(REPO / "possible-types.json")]) == 0, (
        capsys.readouterr().err
    )


# --- migrate, status and serve: what they say is what the database is ----------------------------


async def _cli(*argv: str) -> int:
    """main() in a thread: it runs its own event loop, and this test's loop is running."""
    return await asyncio.to_thread(main, list(argv))


async def _revision_of(url: str) -> tuple[str, ...]:
    db = Database(url)
    try:
        return (await schema_revision(db)).current
    finally:
        await db.dispose()


async def test_migrate_refuses_a_downgrade_without_the_flag_and_changes_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", database_url)

    assert await _cli("migrate", "base") == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith(f"gql-progress: refusing to downgrade {_masked(database_url)} from {HEAD} to base")
    assert line.endswith("run gql-progress migrate base --downgrade")
    assert await _revision_of(database_url) == (HEAD,)


async def test_migrate_downgrades_with_the_flag_reverting_each_revision_then_upgrades_again(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", database_url)
    url = _masked(database_url)

    assert await _cli("migrate", "0005", "--downgrade") == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"downgrading {url} from {HEAD} to 0005"
    assert [line.split()[:2] for line in lines[1:-1]] == [["reverted", r] for r in reversed(REVISIONS[5:])]
    assert lines[-1] == f"database at {url} is now at 0005"
    assert await _revision_of(database_url) == ("0005",)

    assert await _cli("migrate", "base", "--downgrade") == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"database at {url} is now at none"
    assert await _revision_of(database_url) == ()

    assert await _cli("migrate") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[1:-1]] == [["applied", r] for r in REVISIONS]
    assert await _revision_of(database_url) == (HEAD,)


def test_migrate_to_an_unknown_revision_is_one_line_and_changes_nothing(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "nope"]) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"gql-progress: unknown revision 'nope'; known: base, {', '.join(REVISIONS)} (head)\n"
    )
    assert _revision(migrated) == HEAD


def test_migrate_leaves_a_database_at_a_revision_it_does_not_know_alone(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with closing(sqlite3.connect(migrated)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")

    assert main(["migrate"]) == 1

    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        "gql-progress: the database is at revision 9999, which this version of gql-progress does not"
        f" know (it expects {HEAD}); nothing was changed"
    )
    assert _revision(migrated) == "9999"


def _masked(url: str) -> str:
    return make_url(with_async_driver(url)).render_as_string(hide_password=True)


async def test_status_shows_the_masked_url_the_revisions_and_the_counts(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = Database(database_url)
    try:
        await seed_demo(db)
        async with db.read() as conn:
            progress = await conn.scalar(text("SELECT count(*) FROM lesson_progress"))
    finally:
        await db.dispose()
    # PostgreSQL here trusts every local connection, so a password changes nothing but the URL.
    with_password = database_url.replace("postgres@", "postgres:s3cret-pw@")
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", with_password)

    assert await _cli("status") == 0

    out = capsys.readouterr().out
    assert "s3cret-pw" not in out
    assert out.splitlines() == [
        f"database  {_masked(with_password)}",
        f"revision  {HEAD} (expected {HEAD}: up to date)",
        "users     3",
        "courses   4",
        f"progress  {progress} lesson progress rows",
    ]
    assert progress
    if "postgres" in database_url:
        assert ":***@" in out


async def test_status_of_a_database_behind_says_so_and_exits_1(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await _downgrade(database_url, REVISIONS[-2])
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", database_url)

    assert await _cli("status") == 1

    assert f"revision  {REVISIONS[-2]} (expected {HEAD}: behind: run gql-progress migrate)" in (
        capsys.readouterr().out.splitlines()
    )


async def _downgrade(url: str, revision: str) -> None:
    db = Database(url)
    try:
        await migrate.downgrade(db, revision)
    finally:
        await db.dispose()


def _serve(database_url: str, port: int, *options: str) -> subprocess.CompletedProcess[str]:
    """A real `gql-progress serve` that is expected to refuse; it must not start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GQL_PROGRESS_")}
    env |= {"GQL_PROGRESS_DATABASE_URL": database_url, "GQL_PROGRESS_WEBHOOKS_ENABLED": "false"}
    command = [
        sys.executable,
        "-m",
        "gql_progress",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *options,
    ]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.slow
def test_serve_on_a_busy_port_says_so_in_one_line_naming_another_and_exits_1(migrated: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        result = _serve(f"sqlite:///{migrated}", port)

    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    suggested = re.fullmatch(
        rf"gql-progress: port {port} is in use on 127\.0\.0\.1: pick another, "
        r"e\.g\. PORT=(\d+) make run \(or serve --port \1\)",
        line,
    )
    assert suggested is not None, line
    assert int(suggested.group(1)) != port


@pytest.mark.slow
def test_serve_with_workers_counting_rate_limits_alone_warns_to_set_redis(migrated: Path) -> None:
    with socket.socket() as holder:  # a busy port: the server stops right after the warning
        holder.bind(("127.0.0.1", 0))
        holder.listen()

        result = _serve(f"sqlite:///{migrated}", holder.getsockname()[1], "--workers", "3")

    warning, refusal = result.stderr.splitlines()
    assert warning.startswith("gql-progress: warning: each of the 3 workers counts rate limits alone")
    assert "set it to a Redis URI to share one" in warning
    assert "is in use" in refusal


@pytest.mark.slow
async def test_serve_refuses_a_database_behind_in_one_line_naming_migrate(database_url: str) -> None:
    await _downgrade(database_url, REVISIONS[-2])

    result = await asyncio.to_thread(_serve, database_url, free_port())

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"gql-progress: the database is at revision {REVISIONS[-2]}, this version needs {HEAD}:"
        " run gql-progress migrate"
    ]
