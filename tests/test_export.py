"""gql-progress export (issue 18, part 4), and the round trip: a generated platform imported, then
exported, gives back the cells it was made of; the export imports elsewhere as it is."""

from __future__ import annotations

import asyncio
import csv
import importlib.util
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from bench.transfer_data import Shape, stamp, write_dataset
from gql_progress.db.engine import Database
from gql_progress.domain.ids import decode_any_id
from gql_progress.transfer.exporter import SHAPES, ExportFilter, export_rows
from tests.conftest import fresh_database
from tests.transfer_support import cli, scalar, snapshot

pytestmark = pytest.mark.usefixtures("clean_env")

SHAPE = Shape(users=10, courses=3, lessons_per_course=4, courses_per_user=2)


@pytest.fixture
async def platform(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A database holding a generated platform, imported with its certificates and events."""
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", database_url)
    write_dataset(tmp_path / "lms", SHAPE)
    assert await cli("import", tmp_path / "lms", "--certificates", "--events") == 0
    return database_url


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


async def test_import_then_export_gives_back_every_cell_of_the_generated_files(
    platform: str, tmp_path: Path
) -> None:
    for what, key in (
        ("progress", ("user_external_id", "lesson_external_id")),
        ("enrollments", ("user_external_id", "course_slug")),
    ):
        assert await cli("export", what, "--output", tmp_path / f"{what}.csv") == 0
        given = _read_csv(tmp_path / "lms" / f"{what}.csv")
        exported = {tuple(row[k] for k in key): row for row in _read_csv(tmp_path / f"{what}.csv")}

        assert len(exported) == len(given)
        for row in given:
            back = exported[tuple(row[k] for k in key)]
            assert {column: back[column] for column in row} == row


async def test_an_exported_platform_imports_elsewhere_into_the_same_rows(
    platform: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    pg_template: str | None,
    sqlite_template: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for what in ("progress", "enrollments"):
        assert await cli("export", what, "--format", "jsonl", "--output", out / f"{what}.jsonl") == 0
    for kind in ("users", "courses", "lessons"):
        (out / f"{kind}.csv").write_bytes((tmp_path / "lms" / f"{kind}.csv").read_bytes())

    backend = "postgresql" if platform.startswith("postgresql") else "sqlite"
    (tmp_path / "other").mkdir()
    async with fresh_database(backend, pg_template, sqlite_template, tmp_path / "other") as other:
        monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", other)
        assert await cli("import", out) == 0
        assert await cli("export", "progress", "--output", tmp_path / "again.csv") == 0
        ours = {"progress_id", "user_id", "course_id", "lesson_id", "created_at", "updated_at"}
        monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", platform)
        assert await cli("export", "progress", "--output", tmp_path / "first.csv") == 0

        def cells(path: Path) -> list[dict[str, str]]:
            rows = [{k: v for k, v in row.items() if k not in ours} for row in _read_csv(path)]
            return sorted(rows, key=lambda r: (r["user_external_id"], r["lesson_external_id"]))

        assert cells(tmp_path / "again.csv") == cells(tmp_path / "first.csv")
        assert await scalar(
            other, "SELECT count(*) FROM enrollments WHERE status = 'COMPLETED'"
        ) == await scalar(platform, "SELECT count(*) FROM enrollments WHERE status = 'COMPLETED'")


async def test_csv_json_lines_and_parquet_hold_the_same_rows(platform: str, tmp_path: Path) -> None:
    for fmt in ("csv", "jsonl", "parquet"):
        assert await cli("export", "progress", "--format", fmt, "--output", tmp_path / f"p.{fmt}") == 0

    as_csv = _read_csv(tmp_path / "p.csv")
    as_jsonl = [orjson.loads(line) for line in (tmp_path / "p.jsonl").read_bytes().splitlines()]
    as_parquet = pq.read_table(tmp_path / "p.parquet").to_pylist()

    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if hasattr(value, "isoformat"):
            return stamp(value)
        if isinstance(value, dict):
            return orjson.dumps(value).decode()
        return str(value)

    assert len(as_csv) == len(as_jsonl) == len(as_parquet) == SHAPE.progress_rows
    assert [{k: text(v) for k, v in row.items()} for row in as_jsonl] == as_csv
    assert [{k: text(v) for k, v in row.items()} for row in as_parquet] == as_csv
    schema = pq.read_schema(tmp_path / "p.parquet")
    assert str(schema.field("completed_at").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("time_spent_minutes").type) == "int64"


async def test_filters_by_course_user_and_time(platform: str, tmp_path: Path) -> None:
    out = tmp_path / "f.csv"

    assert (
        await cli("export", "progress", "--course", "prod-1", "--user", "Learner3@Example.com", "-o", out)
        == 0
    )
    rows = _read_csv(out)
    assert {(r["course_slug"], r["user_external_id"]) for r in rows} == {("course-1", "u-3")}
    assert len(rows) == SHAPE.lessons_per_course

    assert (
        await cli(
            "export",
            "enrollments",
            "--since",
            "2024-01-02T00:00:00Z",
            "--until",
            "2024-01-03T00:00:00Z",
            "-o",
            out,
        )
        == 0
    )
    assert {r["course_slug"] for r in _read_csv(out)} == {"course-1"}

    assert await cli("export", "events", "--user", "u-0", "-o", out) == 0
    events = _read_csv(out)
    assert events
    assert {e["user_external_id"] for e in events} == {"u-0"}
    assert {e["type"] for e in events} <= {"COURSE_COMPLETED", "CERTIFICATE_ISSUED"}
    # Ids as the API gives them: the event's own, and a certificate's inside its data.
    assert {(decode_any_id(e["event_id"]) or ("?",))[0] for e in events} == {"Event"}
    issued = [orjson.loads(e["data"]) for e in events if e["type"] == "CERTIFICATE_ISSUED"]
    assert issued, "u-0 finished course-0, which offers a certificate"
    assert {(decode_any_id(d["certificateId"]) or ("?",))[0] for d in issued} == {"Certificate"}


async def test_an_unknown_course_is_refused_and_leaves_no_file(
    platform: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "none.csv"

    assert await cli("export", "progress", "--course", "nope", "--output", out) == 2

    assert "--course: no course has slug or product_id 'nope'" in capsys.readouterr().err
    left = await asyncio.to_thread(lambda: [p.name for p in tmp_path.iterdir() if p.name.startswith("none")])
    assert left == []


async def test_rows_come_a_batch_at_a_time_from_one_cursor(platform: str) -> None:
    db = Database(platform)
    try:
        batches = [len(rows) async for rows in export_rows(db, "progress", ExportFilter(), batch_size=7)]
    finally:
        await db.dispose()

    assert sum(batches) == SHAPE.progress_rows
    assert max(batches) == 7
    assert len(batches) == -(-SHAPE.progress_rows // 7)


async def test_the_import_and_export_leave_the_database_unchanged_by_a_read(
    platform: str, tmp_path: Path
) -> None:
    before = await snapshot(platform)
    assert await cli("export", "events", "--format", "jsonl", "-o", tmp_path / "e.jsonl") == 0
    assert await snapshot(platform) == before
    assert len(SHAPES["events"].fields) == len(
        orjson.loads((tmp_path / "e.jsonl").read_bytes().splitlines()[0])
    )


async def test_progress_exports_the_active_time_the_server_measured(platform: str, tmp_path: Path) -> None:
    # An import never sets active time (the old LMS did not measure it); a row that has some, as
    # the heartbeats of the API give it, carries it into the export.
    first = await scalar(platform, "SELECT min(id) FROM lesson_progress")
    db = Database(platform)
    try:
        async with db.write() as conn:
            await conn.exec_driver_sql(
                f"UPDATE lesson_progress SET active_seconds = 37 WHERE id = {int(first)}"
            )
    finally:
        await db.dispose()
    assert await cli("export", "progress", "--output", tmp_path / "p.csv") == 0

    rows = _read_csv(tmp_path / "p.csv")
    seconds = {decode_any_id(row["progress_id"]): row["active_seconds"] for row in rows}
    assert seconds[("Progress", first)] == "37"
    assert set(seconds.values()) == {"0", "37"}


async def test_parquet_without_its_extra_is_refused_in_one_line(
    platform: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real_find_spec(name, *a)
    )

    assert await cli("export", "progress", "--format", "parquet", "-o", tmp_path / "p.parquet") == 2

    assert capsys.readouterr().err.strip().splitlines() == [
        "gql-progress: Parquet needs the parquet extra: pip install 'gql-progress[parquet]'"
    ]
    assert not (tmp_path / "p.parquet").exists()
    assert not (tmp_path / "p.parquet.partial").exists()
