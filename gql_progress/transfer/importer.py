"""The import: files in dependency order, each batch in its own transaction, then the completion
engine's rules for the courses the import touched.

A batch is all or nothing: its bad rows are refused before anything is written (and reported
with file, line, column and reason) and the rest is written in one transaction; should the
database still refuse the batch, it is rolled back whole and each of its rows reported. Every
write is an upsert keyed on the platform's identifiers, so a second run leaves the same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import DBAPIError

from gql_progress.db.engine import Database
from gql_progress.db.types import utcnow
from gql_progress.domain.certificates import course_completion_events
from gql_progress.domain.completion.enrollment import complete_enrollments
from gql_progress.domain.events import record_events
from gql_progress.transfer.loads import LOADS, Loaded, Refusal
from gql_progress.transfer.meter import Meter
from gql_progress.transfer.reading import Batch, FileRefused, RowError, Source, present_columns, read_batches
from gql_progress.transfer.staging import stage

DEFAULT_BATCH_SIZE = 10_000


@dataclass(frozen=True)
class ImportOptions:
    batch_size: int = DEFAULT_BATCH_SIZE
    # A migration's completions are history: they issue certificates and record events (which
    # webhooks deliver) only when asked.
    certificates: bool = False
    events: bool = False
    dry_run: bool = False


@dataclass
class FileReport:
    path: str
    kind: str
    rows: int = 0  # read, good or bad
    written: int = 0  # inserted or changed
    refused: int = 0
    rows_per_second: float = 0.0


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    refused_files: list[FileRefused] = field(default_factory=list)
    completed_enrollments: int = 0
    certificates_or_events: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors and not self.refused_files


async def run_import(
    db: Database, sources: Sequence[Source], options: ImportOptions, meter: Meter
) -> ImportReport:
    report = ImportReport()
    if not options.dry_run:
        await _run(db, sources, options, meter, report)
        return report
    # One transaction for the whole dry run, so that later files see the earlier ones' rows;
    # each batch is then a savepoint of it, and nothing is committed.
    async with db.transaction() as transaction:
        transaction.rollback_only = True
        await _run(db, sources, options, meter, report)
    return report


async def _run(
    db: Database, sources: Sequence[Source], options: ImportOptions, meter: Meter, report: ImportReport
) -> None:
    now = utcnow()
    courses: set[int] = set()
    for source in sources:
        try:
            present = frozenset(c.name for c in present_columns(source))
            file_report = FileReport(str(source.path), source.kind.name)
            meter.start(f"import {source.path.name}", None if source.path.suffix == ".gz" else source.size)
            errors: list[RowError] = []
            for batch in read_batches(source, options.batch_size):
                loaded = await _load_batch(db, source, batch, present, now)
                courses |= loaded.course_ids
                file_report.rows += len(batch.rows) + len(batch.errors)
                file_report.refused += len(batch.errors) + len(loaded.refused)
                file_report.written += loaded.written
                errors += batch.errors
                errors += [RowError(str(source.path), r.line, r.column, r.reason) for r in loaded.refused]
                meter.advance(len(batch.rows) + len(batch.errors), batch.bytes_read)
            # In the file's order: a reader fixes the file top to bottom.
            report.errors += sorted(errors, key=lambda e: e.line)
        except FileRefused as exc:
            report.refused_files.append(exc)
            meter.finish(note="refused")
            continue
        file_report.rows_per_second = meter.finish(
            note=f"{file_report.written:,} written, {file_report.refused:,} refused"
        )
        report.files.append(file_report)
    report.completed_enrollments = await _apply_completion(db, sorted(courses), options, now)
    report.certificates_or_events = options.certificates or options.events


async def _load_batch(
    db: Database, source: Source, batch: Batch, present: frozenset[str], now: datetime
) -> Loaded:
    if not batch.rows:
        return Loaded()
    try:
        async with db.write() as conn:
            staged = await stage(conn, source.kind, batch.rows)
            return await LOADS[source.kind.name](conn, staged, present, now)
    except DBAPIError as exc:
        # Rolled back whole: a constraint no check foresaw (a concurrent writer, two rows of the
        # batch swapping unique values). Every row is reported; none is half-written.
        reason = "its batch was rolled back: " + (str(exc.orig).strip().splitlines() or ["database error"])[0]
        return Loaded(refused=[Refusal(row[0], "", reason) for row in batch.rows])


async def _apply_completion(
    db: Database, course_ids: Sequence[int], options: ImportOptions, now: datetime
) -> int:
    """The completion engine's set-based rule per touched course: enrollments whose learner has
    completed what the course counts become COMPLETED, dated by the last counted completion."""
    completed = 0
    for course_id in course_ids:
        async with db.write() as conn:
            users = await complete_enrollments(conn, course_id, now, dated_by_lessons=True)
            completed += len(users)
            if users and (options.certificates or options.events):
                pairs = [(user_id, course_id) for user_id in users]
                offering = None if options.certificates else set[int]()
                events = await course_completion_events(conn, pairs, None, now, offering=offering)
                if options.events:
                    await record_events(conn, events, now)
    return completed
