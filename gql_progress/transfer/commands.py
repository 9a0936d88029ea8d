"""``gql-progress import`` and ``gql-progress export``: their arguments, their output, their exit
codes. The work is importer.py's and exporter.py's."""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from gql_progress.settings import Settings
from gql_progress.transfer.meter import Meter

if TYPE_CHECKING:  # the command line stays quick to start: the database is imported when used
    from gql_progress.db.engine import Database

T = TypeVar("T")
SHOWN_ERRORS = 50


def _run(settings: Settings, action: Callable[[Database], Awaitable[T]]) -> T:
    from gql_progress.db.engine import Database

    async def run() -> T:
        # No live channel: a migration's rows are history, not news for subscribers.
        db = Database(settings.database_url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        try:
            return await action(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


KINDS = ("users", "courses", "lessons", "enrollments", "progress")  # transfer/columns.py's
DEFAULT_BATCH_SIZE = 10_000


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
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="rows per transaction")
    parser.add_argument(
        "--certificates", action="store_true", help="issue certificates for the enrollments it completes"
    )
    parser.add_argument(
        "--events",
        action="store_true",
        help="record COURSE_COMPLETED (and CERTIFICATE_ISSUED) events, which webhooks deliver",
    )
    parser.add_argument("--dry-run", action="store_true", help="check everything, then roll back")
    parser.add_argument("--errors", metavar="FILE", help="write every refused row to this CSV file")
    parser.set_defaults(handler=import_command)


def import_command(settings: Settings, args: argparse.Namespace) -> int:
    from gql_progress.transfer.importer import ImportOptions, ImportReport, run_import
    from gql_progress.transfer.reading import FileRefused, find_sources

    if args.batch_size < 1:
        print("gql-progress: --batch-size must be at least 1", file=sys.stderr)
        return 2
    try:
        sources = find_sources(Path(args.path), args.kind)
    except FileRefused as exc:
        print(f"gql-progress: {exc}", file=sys.stderr)
        return 2
    options = ImportOptions(
        batch_size=args.batch_size, certificates=args.certificates, events=args.events, dry_run=args.dry_run
    )
    meter = Meter(sys.stderr)
    report: ImportReport = _run(settings, lambda db: run_import(db, sources, options, meter))

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
