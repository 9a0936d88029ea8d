"""``gql-progress import`` and ``gql-progress export``: their arguments, their output, their exit
codes. The work is importer.py's and exporter.py's."""

from __future__ import annotations

import argparse
import asyncio
import csv
import importlib.util
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from gql_progress.settings import Settings
from gql_progress.transfer.meter import Meter

if TYPE_CHECKING:  # the command line stays quick to start: the database is imported when used
    from gql_progress.db.engine import Database
    from gql_progress.transfer.exporter import ExportFilter
    from gql_progress.transfer.writers import Writer

T = TypeVar("T")
SHOWN_ERRORS = 50


class DatabaseProblem(Exception):
    """The database could not be reached or read: told in one line, not a traceback."""


def _run(settings: Settings, action: Callable[[Database], Awaitable[T]]) -> T:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from gql_progress.db.engine import Database
    from gql_progress.db.revision import schema_revision

    async def run() -> T:
        # No live channel: a migration's rows are history, not news for subscribers.
        db = Database(settings.database_url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        try:
            # A database at another revision would fail every batch, each row reported: once.
            problem = (await schema_revision(db)).problem()
            if problem is not None:
                raise DatabaseProblem(problem)
            return await action(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except (OSError, OperationalError, ProgrammingError) as exc:
        url = make_url(settings.database_url).render_as_string(hide_password=True)
        first = (str(getattr(exc, "orig", exc)).strip().splitlines() or [type(exc).__name__])[0]
        raise DatabaseProblem(
            f"cannot use the database at {url}: {first} (is it migrated? gql-progress migrate)"
        ) from exc


KINDS = ("users", "courses", "lessons", "enrollments", "progress")  # transfer/columns.py's
# Rows per import transaction: on 100,000 progress rows with two writers, 10,000 ran at ~37,000
# rows/s and 25,000 at ~48,000 (each statement's fixed cost spread wider); 50,000 gained nothing.
IMPORT_BATCH_SIZE = 25_000
EXPORT_BATCH_SIZE = 10_000


def add_import_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "import",
        help="import users, courses, lessons, enrollments and progress from CSV or JSON Lines "
        "(docs/migration.md)",
    )
    parser.add_argument(
        "path", help="a directory of users.csv, courses.csv… (or .jsonl, .gz), or one such file"
    )
    parser.add_argument("--kind", choices=KINDS, help="the kind of a file whose name does not say")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=IMPORT_BATCH_SIZE,
        help=f"rows per transaction (default {IMPORT_BATCH_SIZE})",
    )
    parser.add_argument(
        "--certificates", action="store_true", help="issue certificates for the enrollments it completes"
    )
    parser.add_argument(
        "--events",
        action="store_true",
        help="record COURSE_COMPLETED (and CERTIFICATE_ISSUED) events, which webhooks deliver",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="concurrent write transactions for enrollments and progress on PostgreSQL (default 2)",
    )
    parser.add_argument("--dry-run", action="store_true", help="check everything, then roll back")
    parser.add_argument("--errors", metavar="FILE", help="write every refused row to this CSV file")
    parser.set_defaults(handler=import_command)


def import_command(settings: Settings, args: argparse.Namespace) -> int:
    from gql_progress.transfer.importer import ImportOptions, ImportReport, run_import
    from gql_progress.transfer.reading import FileRefused, find_sources

    if args.batch_size < 1 or args.jobs < 1:
        print("gql-progress: --batch-size and --jobs must be at least 1", file=sys.stderr)
        return 2
    try:
        sources = find_sources(Path(args.path), args.kind)
    except FileRefused as exc:
        print(f"gql-progress: {exc}", file=sys.stderr)
        return 2
    options = ImportOptions(
        batch_size=args.batch_size,
        certificates=args.certificates,
        events=args.events,
        dry_run=args.dry_run,
        jobs=args.jobs,
    )
    meter = Meter(sys.stderr)
    try:
        report: ImportReport = _run(settings, lambda db: run_import(db, sources, options, meter))
    except DatabaseProblem as exc:
        print(f"\ngql-progress: {exc}", file=sys.stderr)
        return 2

    for refused in report.refused_files:
        print(f"gql-progress: refused {refused.path}: {refused.reason}", file=sys.stderr)
    for error in report.errors[:SHOWN_ERRORS]:
        column = f" {error.column}:" if error.column else ""
        print(f"{error.file}:{error.line}:{column} {error.reason}", file=sys.stderr)
    if len(report.errors) > SHOWN_ERRORS and not args.errors:
        print(
            f"… and {len(report.errors) - SHOWN_ERRORS} more (--errors FILE lists them all)", file=sys.stderr
        )
    if args.errors:
        with open(args.errors, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "line", "column", "reason"])
            writer.writerows((e.file, e.line, e.column, e.reason) for e in report.errors)
    verb = "checked (dry run, nothing written)" if args.dry_run else "imported"
    for file in report.files:
        print(
            f"{verb} {file.path}: {file.rows} rows, {file.written} written, {file.refused} refused "
            f"({file.rows_per_second:,.0f} rows/s)"
        )
    print(f"completed enrollments: {report.completed_enrollments}")
    return 0 if report.ok else 1


def add_export_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "export",
        help="export progress, enrollments or events as CSV, JSON Lines or Parquet (docs/migration.md)",
    )
    parser.add_argument("what", choices=("progress", "enrollments", "events"), help="which rows")
    parser.add_argument("--format", choices=("csv", "jsonl", "parquet"), default="csv", help="default: csv")
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="where to write (default: standard output; Parquet needs a file)",
    )
    parser.add_argument("--course", help="only this course: its slug or product id")
    parser.add_argument("--user", help="only this user: their email or external id")
    parser.add_argument(
        "--since",
        metavar="TIMESTAMP",
        help="only rows whose time (progress: updatedAt, enrollments: enrolledAt, events: occurredAt) "
        "is at or after this ISO 8601 time",
    )
    parser.add_argument("--until", metavar="TIMESTAMP", help="… and before this one")
    parser.add_argument("--batch-size", type=int, default=EXPORT_BATCH_SIZE, help="rows per fetch")
    parser.set_defaults(handler=export_command)


def export_command(settings: Settings, args: argparse.Namespace) -> int:
    from gql_progress.domain.errors import InvalidInput
    from gql_progress.transfer.columns import CellError, timestamp
    from gql_progress.transfer.exporter import ExportFilter

    try:
        since = None if args.since is None else timestamp(args.since)
        until = None if args.until is None else timestamp(args.until)
    except CellError as exc:
        print(f"gql-progress: --since/--until {exc}", file=sys.stderr)
        return 2
    if args.format == "parquet" and args.output in (None, "-"):
        print("gql-progress: Parquet is written to a file: pass --output FILE", file=sys.stderr)
        return 2
    if args.format == "parquet" and importlib.util.find_spec("pyarrow") is None:
        print(
            "gql-progress: Parquet needs the parquet extra: pip install 'gql-progress[parquet]'",
            file=sys.stderr,
        )
        return 2
    if args.batch_size < 1:
        print("gql-progress: --batch-size must be at least 1", file=sys.stderr)
        return 2
    wanted = ExportFilter(course=args.course, user=args.user, since=since, until=until)
    meter = Meter(sys.stderr)
    meter.start(f"export {args.what}")
    to_stdout = args.output in (None, "-")
    # A file appears only once whole: written beside it, renamed at the end.
    partial = Path(f"{args.output}.partial")
    binary = args.format != "csv"
    if to_stdout:
        handle: Any = sys.stdout.buffer if binary else sys.stdout
    else:
        try:
            handle = partial.open("wb") if binary else partial.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            print(f"gql-progress: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return 2
    try:
        writer = _writer(args.format, handle, args.what)
        rows = _run(settings, lambda db: _pump(db, args.what, wanted, args.batch_size, writer, meter))
        writer.close()
    except BaseException as exc:
        if not to_stdout:
            handle.close()
            partial.unlink()
        if isinstance(exc, InvalidInput):
            problems = "; ".join(f"{p.path[0]}: {p.message}" for p in exc.problems)
            print(f"gql-progress: {problems}", file=sys.stderr)
            return 2
        if isinstance(exc, DatabaseProblem):
            print(f"\ngql-progress: {exc}", file=sys.stderr)
            return 2
        raise
    if to_stdout:
        handle.flush()
    else:
        handle.close()
        partial.replace(args.output)
    meter.finish(note=f"{rows:,} exported{'' if to_stdout else ' to ' + args.output}")
    return 0


def _writer(format: str, handle: Any, what: str) -> Writer:
    from gql_progress.transfer.exporter import SHAPES
    from gql_progress.transfer.writers import CsvWriter, JsonLinesWriter, ParquetWriter

    fields = SHAPES[what].fields
    if format == "csv":
        return CsvWriter(handle, fields)
    if format == "jsonl":
        return JsonLinesWriter(handle, fields)
    return ParquetWriter(handle, fields)


async def _pump(
    db: Database, what: str, wanted: ExportFilter, batch_size: int, writer: Writer, meter: Meter
) -> int:
    from gql_progress.transfer.exporter import export_rows

    count = 0
    async for rows in export_rows(db, what, wanted, batch_size):
        writer.write(rows)
        count += len(rows)
        meter.advance(len(rows))
    return count
