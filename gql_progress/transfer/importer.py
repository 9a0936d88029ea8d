"""The import: files in dependency order, each batch in its own transaction, then the completion
engine's rules for the courses the import touched.

A batch is all or nothing: its bad rows are refused before anything is written (and reported
with file, line, column and reason) and the rest is written in one transaction; should the
database still refuse the batch, it is rolled back whole and each of its rows reported. Every
write is an upsert keyed on the platform's identifiers, so a second run leaves the same state.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
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
from gql_progress.transfer.resolving import resolve_progress
from gql_progress.transfer.staging import stage

DEFAULT_BATCH_SIZE = 25_000  # see transfer/commands.py


@dataclass(frozen=True)
class ImportOptions:
    batch_size: int = DEFAULT_BATCH_SIZE
    # A migration's completions are history: they issue certificates and record events (which
    # webhooks deliver) only when asked.
    certificates: bool = False
    events: bool = False
    dry_run: bool = False
    # Concurrent write transactions for enrollments and progress on PostgreSQL: a fresh
    # record's insert is bound by the database's foreign-key checks, which run per row.
    jobs: int = 2


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
    # each batch is then a savepoint of it (the run is given its handle), and nothing is committed.
    async with db.transaction() as transaction:
        transaction.rollback_only = True
        await _run(transaction.db, sources, options, meter, report)
    return report


async def _run(
    db: Database, sources: Sequence[Source], options: ImportOptions, meter: Meter, report: ImportReport
) -> None:
    now = utcnow()
    courses: set[int] = set()
    for source in sources:
        file_report = FileReport(str(source.path), source.kind.name)
        errors: list[RowError] = []
        meter.start(f"import {source.path.name}", None if source.path.suffix == ".gz" else source.size)
        try:
            await _load_file(db, source, options, now, meter, file_report, errors, courses)
        except FileRefused as exc:
            # Refused at its header, nothing of it was written; refused further down (invalid
            # CSV), the batches before that line were, and are reported as usual.
            report.refused_files.append(exc)
        # In the file's order: a reader fixes the file top to bottom.
        report.errors += sorted(errors, key=lambda e: e.line)
        file_report.rows_per_second = meter.finish(
            note=f"{file_report.written:,} written, {file_report.refused:,} refused"
        )
        if file_report.rows:
            report.files.append(file_report)
    report.completed_enrollments = await _apply_completion(db, sorted(courses), options, now)
    report.certificates_or_events = options.certificates or options.events


async def _load_file(
    db: Database,
    source: Source,
    options: ImportOptions,
    now: datetime,
    meter: Meter,
    file_report: FileReport,
    errors: list[RowError],
    courses: set[int],
) -> None:
    """The file's batches, written by ``jobs`` concurrent transactions on PostgreSQL; what
    they refused goes to ``errors``, the courses they touched to ``courses``.

    A learner's rows always go to the same writer, which takes them in file order, so where a
    file repeats a (learner, lesson) the later row still wins, as with one writer; and two
    writers never touch the same record.
    """
    present = frozenset(c.name for c in present_columns(source))
    jobs = _jobs(db, source, options)
    # One batch waiting per writer: enough to keep it busy, and memory stays a few batches.
    queues: list[asyncio.Queue[Batch | None]] = [asyncio.Queue(maxsize=1) for _ in range(jobs)]

    async def writer(queue: asyncio.Queue[Batch | None]) -> None:
        while (batch := await queue.get()) is not None:
            loaded = await _load_batch(db, source, batch, present, now)
            courses.update(loaded.course_ids)
            file_report.refused += len(loaded.refused)
            file_report.written += loaded.written
            errors.extend(RowError(str(source.path), r.line, r.column, r.reason) for r in loaded.refused)
            meter.advance(len(batch.rows))

    writers = [asyncio.create_task(writer(queue)) for queue in queues]
    refused: FileRefused | None = None
    try:
        try:
            async for batch in _prefetched(read_batches(source, options.batch_size)):
                file_report.rows += len(batch.rows) + len(batch.errors)
                file_report.refused += len(batch.errors)
                errors.extend(batch.errors)
                meter.advance(len(batch.errors), batch.bytes_read)
                if any(task.done() for task in writers):
                    break  # a writer failed: its exception is raised below
                for queue, part in zip(queues, _by_learner(source, batch, jobs), strict=True):
                    if part.rows:
                        await queue.put(part)
        except FileRefused as exc:
            refused = exc  # the batches read before the bad line are still written
        for queue, task in zip(queues, writers, strict=True):
            if not task.done():  # a failed writer takes nothing more: its queue may be full
                await queue.put(None)
        await asyncio.gather(*writers)
    finally:
        for task in writers:
            task.cancel()
    if refused is not None:
        raise refused


def _jobs(db: Database, source: Source, options: ImportOptions) -> int:
    """Concurrent writers: one on SQLite (one writer at a time there) and in a dry run (one
    transaction); on PostgreSQL ``options.jobs`` for the kinds whose files are large."""
    if db.dialect != "postgresql" or options.dry_run or source.kind.name not in ("enrollments", "progress"):
        return 1
    return options.jobs


def _by_learner(source: Source, batch: Batch, jobs: int) -> list[Batch]:
    if jobs == 1:
        return [batch]
    names = [c.name for c in source.kind.columns]
    # Slots in a row: 0 is the line.
    slots = [names.index(name) + 1 for name in ("user_external_id", "user_email")]
    parts = [Batch() for _ in range(jobs)]
    for row in batch.rows:
        parts[hash((row[slots[0]], row[slots[1]])) % jobs].rows.append(row)
    return parts


async def _prefetched(batches: Iterator[Batch]) -> AsyncIterator[Batch]:
    """The batches, the next one read and parsed in a thread while the database writes this
    one: parsing is the import's Python work and writing mostly waiting, so the two overlap."""
    pending = asyncio.create_task(asyncio.to_thread(next, batches, None))
    try:
        while (batch := await pending) is not None:
            pending = asyncio.create_task(asyncio.to_thread(next, batches, None))
            yield batch
    finally:
        if not pending.done():
            # A batch the consumer will not take: let its thread finish before the file closes.
            await asyncio.gather(pending, return_exceptions=True)


async def _load_batch(
    db: Database, source: Source, batch: Batch, present: frozenset[str], now: datetime
) -> Loaded:
    if not batch.rows:
        return Loaded()
    try:
        async with db.write() as conn:
            rows, early = batch.rows, Loaded()
            if source.kind.name == "progress":
                rows, early = await resolve_progress(conn, source.kind, batch.rows, present)
            staged = await stage(conn, source.kind, rows)
            loaded = await LOADS[source.kind.name](conn, staged, present, now)
            loaded.refused += early.refused
            loaded.course_ids |= early.course_ids
            return loaded
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
