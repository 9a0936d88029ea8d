"""gql-progress import (issue 18, part 3): the real command against real SQLite and PostgreSQL
databases, then the app asked as a client would."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench.transfer_data import Shape, write_dataset
from gql_progress.auth import issue_api_key
from gql_progress.db.engine import Database
from gql_progress.transfer import commands
from gql_progress.transfer.columns import BY_NAME, KINDS
from tests.apps import running_app
from tests.support import Api
from tests.transfer_support import cli, scalar, snapshot, write

pytestmark = pytest.mark.usefixtures("clean_env")

SMALL = Shape(users=12, courses=3, lessons_per_course=4, courses_per_user=2)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "migration.md"

CATALOG = {
    "users.csv": "external_id,email,name\nu-1,Ada@Example.com,Ada\nu-2,bob@example.com,Bob\n",
    "courses.csv": "slug,title,product_id,certificate_enabled\nsql,SQL,prod-sql,true\nart,Art,,false\n",
    "lessons.csv": (
        "external_id,course_slug,position,title,kind,is_required\n"
        "l-1,sql,0,Select,VIDEO,true\nl-2,sql,1,Join,VIDEO,true\nl-3,sql,2,Extra,ARTICLE,false\n"
        "l-4,art,0,Colour,VIDEO,true\n"
    ),
    "enrollments.csv": (
        "user_external_id,user_email,course_slug,course_product_id,enrolled_at\n"
        "u-1,,sql,,2024-01-01T00:00:00Z\n,bob@example.com,,prod-sql,\nu-1,ada@example.com,art,,\n"
    ),
    "progress.csv": (
        "user_external_id,lesson_external_id,completed,completed_at,time_spent_minutes\n"
        "u-1,l-1,true,2024-02-01T10:00:00Z,10\nu-1,l-2,true,2024-02-03T09:30:00+02:00,20\n"
        "u-2,l-1,,2024-02-05T00:00:00Z,5\nu-1,l-4,false,,1\n"
    ),
}


@pytest.fixture
def cli_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", database_url)
    return database_url


def _files(directory: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        write(directory, name, content)
    return directory


async def _my_enrollments(url: str, external_id: str) -> list[dict[str, object]]:
    db = Database(url)
    try:
        user_id = await scalar(url, f"SELECT id FROM users WHERE external_id = '{external_id}'")
        key = (await issue_api_key(db, user_id, "test")).secret
    finally:
        await db.dispose()
    async with running_app(url) as app:
        from tests.apps import client_for

        async with client_for(app) as api:
            assert isinstance(api, Api)
            data = await api.data("{ me { enrollments { status completedAt course { slug } } } }", key=key)
    enrollments: list[dict[str, object]] = data["me"]["enrollments"]
    return enrollments


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_a_generated_platform_imports_whole_and_a_second_run_changes_nothing(
    cli_db: str, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_dataset(tmp_path / "lms", SMALL, fmt=fmt)

    assert await cli("import", tmp_path / "lms") == 0
    first = await snapshot(cli_db)
    capsys.readouterr()
    assert await cli("import", tmp_path / "lms") == 0
    second = await snapshot(cli_db)

    counts = {table: len(rows) for table, rows in first.items()}
    assert counts == {
        "users": SMALL.users,
        "courses": SMALL.courses,
        "lessons": SMALL.courses * SMALL.lessons_per_course,
        "enrollments": SMALL.users * SMALL.courses_per_user,
        "lesson_progress": SMALL.progress_rows,
        "certificates": 0,
        "events": 0,
    }
    assert second == first
    out = capsys.readouterr().out
    assert f"progress.{fmt}: {SMALL.progress_rows} rows, 0 written, 0 refused" in out


async def test_enrollments_are_completed_by_the_engine_dated_by_the_last_counted_lesson(
    cli_db: str, tmp_path: Path
) -> None:
    assert await cli("import", _files(tmp_path / "lms", CATALOG)) == 0

    enrollments = await _my_enrollments(cli_db, "u-1")

    # l-3 is optional: l-1 and l-2 complete the course, the later one (07:30 UTC) dates it.
    assert {e["course"]["slug"]: (e["status"], e["completedAt"]) for e in enrollments} == {  # type: ignore[index]
        "sql": ("COMPLETED", "2024-02-03T07:30:00+00:00"),
        "art": ("ACTIVE", None),
    }
    # A migration's completions are history: no certificate, no event (webhooks stay quiet).
    assert await scalar(cli_db, "SELECT count(*) FROM certificates") == 0
    assert await scalar(cli_db, "SELECT count(*) FROM events") == 0
    # completed_at alone means completed.
    assert await scalar(cli_db, "SELECT count(*) FROM lesson_progress WHERE completed") == 3


async def test_certificates_and_events_are_written_only_when_asked(cli_db: str, tmp_path: Path) -> None:
    assert await cli("import", _files(tmp_path / "lms", CATALOG), "--certificates", "--events") == 0

    assert await scalar(cli_db, "SELECT count(*) FROM certificates") == 1
    types = await scalar(
        cli_db, "SELECT count(*) FROM events WHERE type IN ('COURSE_COMPLETED', 'CERTIFICATE_ISSUED')"
    )
    assert types == 2
    assert await scalar(cli_db, "SELECT count(*) FROM events") == 2


async def test_bad_rows_are_reported_by_file_line_and_column_while_the_good_ones_load(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = dict(CATALOG)
    files["users.csv"] += "u-3,not-an-email,Carl\nu-4,dana@example.com,\nu-1,other@example.com,Ada Again\n"
    files["progress.csv"] += (
        "u-9,l-1,true,,1\n"  # line 6: no such user
        "u-2,l-9,true,,1\n"  # line 7: no such lesson
        "u-2,l-4,true,,1\n"  # line 8: not enrolled in art
        "u-1,l-1,true,yesterday,1\n"  # line 9: bad timestamp
        "u-1,l-2,false,2024-02-03T00:00:00Z,1\n"  # line 10: completed_at without completion
        "u-2,l-2,true,2024-02-03T00:00:00,1\n"  # line 11: no UTC offset
    )
    report = tmp_path / "errors.csv"

    assert await cli("import", _files(tmp_path / "lms", files), "--errors", report) == 1

    with report.open(newline="") as handle:
        rows = [(Path(r["file"]).name, r["line"], r["column"], r["reason"]) for r in csv.DictReader(handle)]
    assert rows == [
        ("users.csv", "4", "email", "must be an email address"),
        ("users.csv", "5", "name", "is required"),
        ("users.csv", "6", "external_id", "repeats an earlier row's"),
        ("progress.csv", "6", "user_external_id", "no user has external_id 'u-9'"),
        ("progress.csv", "7", "lesson_external_id", "no current lesson has external_id 'l-9'"),
        (
            "progress.csv",
            "8",
            "",
            "the learner is not enrolled in the lesson's course (import enrollments first)",
        ),
        (
            "progress.csv",
            "9",
            "completed_at",
            "must be an ISO 8601 timestamp with a UTC offset, e.g. 2024-05-01T09:30:00Z",
        ),
        ("progress.csv", "10", "completed_at", "is given but completed is false"),
        (
            "progress.csv",
            "11",
            "completed_at",
            "needs a UTC offset (Z or ±hh:mm): a time without one is ambiguous",
        ),
    ]
    err = capsys.readouterr().err
    assert "users.csv:4: email: must be an email address" in err
    # The good rows of the same files and batches are in.
    assert await scalar(cli_db, "SELECT count(*) FROM users") == 2
    assert await scalar(cli_db, "SELECT count(*) FROM lesson_progress") == 4


async def test_a_file_with_an_unknown_column_is_refused_whole_and_the_others_load(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = dict(CATALOG)
    files["courses.csv"] = "slug,title,colour\nsql,SQL,red\n"
    del files["lessons.csv"], files["enrollments.csv"], files["progress.csv"]

    assert await cli("import", _files(tmp_path / "lms", files)) == 1

    err = capsys.readouterr().err
    assert "courses.csv: unknown column(s) 'colour'; courses files have slug, title, product_id" in err
    assert await scalar(cli_db, "SELECT count(*) FROM courses") == 0
    assert await scalar(cli_db, "SELECT count(*) FROM users") == 2


async def test_a_user_named_by_both_identifiers_must_be_one_user(cli_db: str, tmp_path: Path) -> None:
    files = dict(CATALOG)
    files["enrollments.csv"] = "user_external_id,user_email,course_slug\nu-1,bob@example.com,sql\n"
    del files["progress.csv"]
    report = tmp_path / "errors.csv"

    assert await cli("import", _files(tmp_path / "lms", files), "--errors", report) == 1

    assert (
        "user_email,'bob@example.com' is not the email of the user user_external_id names"
        in report.read_text()
    )
    assert await scalar(cli_db, "SELECT count(*) FROM enrollments") == 0


async def test_a_dry_run_checks_everything_and_writes_nothing(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = dict(CATALOG)
    files["progress.csv"] += "u-9,l-1,true,,1\n"

    assert await cli("import", _files(tmp_path / "lms", files), "--dry-run", "--batch-size", "2") == 1

    out = capsys.readouterr()
    # Later files saw the earlier ones' rows: only the one bad row is refused.
    assert "progress.csv:6: user_external_id: no user has external_id 'u-9'" in out.err
    assert "checked (dry run, nothing written)" in out.out
    assert all(rows == [] for rows in (await snapshot(cli_db)).values())


async def test_refused_json_lines_are_reported_by_line_across_batches(cli_db: str, tmp_path: Path) -> None:
    lines = [
        '{"external_id": "u-1", "email": "ada@example.com", "name": "Ada"}',
        "[1, 2]",
        "",
        '{"external_id": "u-2", "email": "bob@example.com", "name": "Bob", "shoe_size": 42}',
        "{not json",
        "null",
        '{"external_id": "u-3", "name": "Carl"}',
        '{"external_id": "u-4", "email": "dana@example.com", "name": "Dana"}',
    ]
    write(tmp_path, "users.jsonl", "\n".join(lines) + "\n")
    report = tmp_path / "errors.csv"

    assert await cli("import", tmp_path / "users.jsonl", "--batch-size", "2", "--errors", report) == 1

    with report.open(newline="") as handle:
        rows = [(r["line"], r["column"], r["reason"]) for r in csv.DictReader(handle)]
    assert rows == [
        ("2", "", "is not a JSON object"),
        ("4", "shoe_size", "is not a known field"),
        ("5", "", "is not a JSON object"),
        ("7", "email", "is required"),
    ]
    assert await scalar(cli_db, "SELECT count(*) FROM users") == 2


async def test_lines_count_from_the_header_across_batches_and_multi_line_cells(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = (
        'external_id,email,name\nu-1,a@example.com,"Ada\nLovelace"\nu-2,bad,Bob\n'
        "u-3,c@example.com,Carl\nu-4,d@example.com\nu-5,e@example.com,Eve\n"
    )
    write(tmp_path, "users.csv", users)

    assert await cli("import", tmp_path / "users.csv", "--batch-size", "2") == 1

    err = capsys.readouterr().err.splitlines()
    assert [line.split(":", 2)[1:] for line in err if "users.csv:" in line and "rows" not in line] == [
        ["4", " email: must be an email address"],
        ["6", " has 2 cells; the header has 3"],
    ]
    assert await scalar(cli_db, "SELECT name FROM users WHERE external_id = 'u-1'") == "Ada\nLovelace"
    assert await scalar(cli_db, "SELECT count(*) FROM users") == 3


async def test_one_file_whose_name_does_not_say_its_kind_needs_kind(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "people.csv", CATALOG["users.csv"])

    assert await cli("import", path) == 2
    assert (
        "its name must start with one of users, courses, lessons, enrollments, progress"
        in capsys.readouterr().err
    )
    assert await cli("import", path, "--kind", "users") == 0
    assert await scalar(cli_db, "SELECT count(*) FROM users") == 2


def test_the_command_offers_every_kind_and_the_docs_describe_every_column() -> None:
    assert tuple(BY_NAME) == commands.KINDS
    docs = DOCS.read_text()
    for kind in KINDS:
        assert f"### {kind.name}" in docs
        for column in kind.columns:
            assert f"| `{column.name}` |" in docs, (kind.name, column.name)


async def test_a_database_not_migrated_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")

    assert await cli("import", _files(tmp_path / "lms", CATALOG)) == 2
    assert await cli("export", "progress") == 2

    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    expected = "gql-progress: the database is not migrated"
    assert len(err) == 2, err
    assert all(line.startswith(expected) for line in err), err


async def test_invalid_csv_stops_the_file_at_its_line_and_keeps_the_batches_before_it(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = 'external_id,email,name\nu-1,a@example.com,Ada\nu-2,b@example.com,Bob\nu-3,c@example.com,"Carl\n'
    write(tmp_path, "users.csv", users)

    assert await cli("import", tmp_path / "users.csv", "--batch-size", "2") == 1

    assert "users.csv: line 4: not valid CSV" in capsys.readouterr().err
    assert await scalar(cli_db, "SELECT count(*) FROM users") == 2


async def test_progress_rows_name_learners_by_email_or_by_both_identifiers_when_they_agree(
    cli_db: str, tmp_path: Path
) -> None:
    files = dict(CATALOG)
    files["progress.csv"] = (
        "user_external_id,user_email,lesson_external_id,completed\n"
        ",ADA@example.com,l-1,true\n"  # line 2: by email, any case
        "u-2,bob@example.com,l-1,true\n"  # line 3: both, agreeing
        "u-1,bob@example.com,l-2,true\n"  # line 4: both, naming two users
        ",nobody@example.com,l-2,true\n"  # line 5: no such email
    )
    report = tmp_path / "errors.csv"

    assert await cli("import", _files(tmp_path / "lms", files), "--errors", report) == 1

    with report.open(newline="") as handle:
        rows = [(r["line"], r["column"], r["reason"]) for r in csv.DictReader(handle)]
    assert rows == [
        ("4", "user_email", "'bob@example.com' is not the email of the user user_external_id names"),
        ("5", "user_email", "no user has email 'nobody@example.com'"),
    ]
    assert await scalar(cli_db, "SELECT count(*) FROM lesson_progress WHERE completed") == 2
