"""Statements over lesson_progress: the upsert that encodes the completion transitions, and reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from gql_progress.db.models import Course, Enrollment, Lesson, LessonKind, LessonProgress
from gql_progress.db.rows import ProgressRow, columns, every
from gql_progress.db.write_alone import refusing
from gql_progress.domain.completion import active_time

PROGRESS_COLUMNS = columns(ProgressRow)

# The written record's course, returned after its columns: the live notice names it. Spelled out
# because SQLAlchemy does not correlate a subquery in RETURNING with the table being written;
# one primary-key lookup per row.
COURSE_OF_WRITTEN = literal_column(
    "(SELECT written_lesson.course_id FROM lessons AS written_lesson"
    " WHERE written_lesson.id = lesson_progress.lesson_id)",
    Integer,
).label("course_id")

# Columns a client may set directly (completion and timestamps follow their own rules below).
WRITABLE_COLUMNS = frozenset(
    {
        "completed",
        "progress_percentage",
        "video_position_seconds",
        "last_position_seconds",
        "quiz_score",
        "quiz_attempts",
        "quiz_passed",
        "time_spent_minutes",
        "notes",
        "is_bookmarked",
        "metadata",
    }
)

# Written only by grantCompletion: who completed the lesson for the learner, and why.
GRANT_COLUMNS = frozenset({"granted_by_user_id", "grant_reason"})

_DEFAULTS: dict[str, Any] = {
    "completed": False,
    "progress_percentage": 0.0,
    "video_position_seconds": 0,
    "last_position_seconds": 0,
    "quiz_attempts": 0,
    "time_spent_minutes": 0,
    "is_bookmarked": False,
}


def upsert_statement(
    conn: AsyncConnection,
    rows: Sequence[Mapping[str, Any]],
    given: frozenset[str],
    now: datetime,
    *,
    active_window: int | None = None,
) -> BoundUpsert:
    """INSERT … ON CONFLICT (user_id, lesson_id) DO UPDATE for rows that all set the same columns,
    RETURNING each record's columns (ProgressRow) and its course.

    ``given`` names the columns the caller set; the others keep their stored values. The
    transitions are computed by the database from the old row, inside the row lock, so two
    racing writers cannot both decide "this is the first completion":

    - completed_at: set to now on false→true, kept on true→true, cleared on →false;
    - progress_percentage: 100 whenever the resulting record is completed;
    - last_accessed_at and updated_at: now;
    - with ``active_window`` (a learner's own write through upsertProgress, not a bulk one):
      active time, as active_time.py counts it.

    The statement depends only on ``given`` (and the window); the rows are bound as an executemany, which
    SQLAlchemy sends as one multi-row INSERT ("insertmanyvalues"). Built from the rows'
    values instead, a 50-row statement was compiled afresh on every call: two thirds of a
    50-lesson bulkSetCompletion's CPU.
    """
    records = [_new_record(row, given, now) for row in rows]
    return BoundUpsert(_upsert(conn.dialect.name, given, active_window), records)


@lru_cache(maxsize=64)
def _upsert(dialect: str, given: frozenset[str], active_window: int | None) -> Any:
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(LessonProgress)
    active = None
    if active_window is not None:
        # SQL, not parameters: the database's clock (active_time.py says why).
        insert = insert.values(active_time.first_write(dialect))
        active = active_time.counted_write(dialect, active_window)
    # "now" is the new record's completed_at (set when it completes), not a parameter of the
    # SET clause: with one there, SQLAlchemy sends an executemany upsert row by row.
    return _on_conflict(insert, given, insert.excluded.completed_at, active=active)


@dataclass(frozen=True)
class BoundUpsert:
    """A cached statement and the values of one execution (see upsert_if_enrolled_statement)."""

    statement: Any
    params: dict[str, Any] | list[dict[str, Any]]  # a list: one execution per row (executemany)
    # Whether the write may complete the lesson by itself (a heartbeat's video position or quiz
    # score): then what follows a completion must run in its transaction.
    may_complete: bool = False


@lru_cache(maxsize=256)
def refusing_completion(statement: Any) -> Any:
    """A heartbeat ``statement`` that refuses to commit alone the write that completes its lesson
    (db/write_alone.py): the row it returns completed, at the write's ``now``, is the case where
    the enrollment and the events must follow in the same transaction."""
    written = LessonProgress.__table__.c
    now = bindparam("now", type_=written.completed_at.type)
    return refusing(statement, and_(written.completed, written.completed_at == now))


def upsert_if_enrolled_statement(
    dialect: str,
    user_id: int,
    lesson_id: int,
    changes: Mapping[str, Any],
    now: datetime,
    *,
    active_window: int,
) -> BoundUpsert:
    """The same upsert for one record, written only if the user is enrolled in the lesson's course.

    The enrollment check is the INSERT's own SELECT, so a heartbeat is one statement; no row
    comes back when the lesson does not exist or the user is not enrolled.

    A write of ``video_position_seconds`` or ``quiz_score`` may also complete the lesson (the
    course's video threshold, the quiz's pass score), decided in the same statement from the
    joined lesson and course (see _automatic_completion). A completion it causes shows as a
    returned completed_at equal to ``now``: the caller then updates the enrollment.

    The statement depends only on the write's shape (which columns, which rules apply); the
    values are bound parameters. Shapes are few, so each statement is built once per process:
    building it (an INSERT's ``excluded`` alias, the nested EXISTS) cost more than running it.

    A heartbeat is active time: the gap since the record's previous write counts when it is at
    most ``active_window`` seconds (active_time.py), computed in this same statement.
    """
    given = frozenset(changes)
    record = _new_record({"user_id": user_id, "lesson_id": lesson_id, **changes}, given, now)
    if changes.get("quiz_score") is not None:
        record.setdefault("quiz_passed", None)  # a column of the INSERT: the pass score decides it
    shape = _HeartbeatShape(
        dialect=dialect,
        columns=tuple(sorted(record)),
        given=tuple(sorted(given)),
        score=changes.get("quiz_score") is not None,
        claimed_pass=changes.get("quiz_score") is None and changes.get("quiz_passed") is not None,
        position=changes.get("video_position_seconds") is not None,
        active_window=active_window,
    )
    params = {f"v_{column}": value for column, value in record.items()}
    params.update(
        now=now,
        user_id=user_id,
        lesson_id=lesson_id,
        claimed_passed=changes.get("quiz_passed"),
    )
    return BoundUpsert(_heartbeat_statement(shape), params, may_complete=shape.score or shape.position)


@dataclass(frozen=True)
class _HeartbeatShape:
    dialect: str
    columns: tuple[str, ...]  # the record's columns, in INSERT order
    given: tuple[str, ...]  # the columns the caller set
    score: bool  # a quiz score is written: a pass score decides quizPassed
    claimed_pass: bool  # the client sends quizPassed without a score
    position: bool  # a video position is written: the threshold may complete the lesson
    active_window: int  # seconds: a gap between writes up to this long is active time


@lru_cache(maxsize=256)
def _heartbeat_statement(shape: _HeartbeatShape) -> Any:
    table = LessonProgress.__table__
    given = frozenset(shape.given)
    now = bindparam("now", type_=table.c.completed_at.type)

    def value(column: str) -> Any:
        return bindparam(f"v_{column}", type_=table.c[column].type)

    automatic = _automatic_completion(shape) if shape.score or shape.position else None
    passed = None
    if shape.score:
        # The server decides a quiz's pass when the lesson has a pass score.
        passed = case((Lesson.pass_score.is_not(None), value("quiz_score") >= Lesson.pass_score), else_=None)
        if "quiz_passed" in given:
            passed = case(
                (Lesson.pass_score.is_not(None), value("quiz_score") >= Lesson.pass_score),
                else_=bindparam("claimed_passed", type_=table.c.quiz_passed.type),
            )
    if shape.claimed_pass:
        # Without a score, a client's quizPassed stands only where no pass score decides it.
        passed = case(
            (Lesson.pass_score.is_not(None), None),
            else_=bindparam("claimed_passed", type_=table.c.quiz_passed.type),
        )

    def value_of(column: str) -> Any:
        if column == "lesson_id":
            return Lesson.id
        if passed is not None and column == "quiz_passed":
            return passed
        if automatic is not None and column == "completed":
            return automatic
        if automatic is not None and column == "completed_at":
            return case((automatic, now), else_=None)
        if automatic is not None and column == "progress_percentage":
            return case((automatic, 100.0), else_=value(column))
        return value(column)

    first = active_time.first_write(shape.dialect)
    source = (
        select(*(value_of(column) for column in shape.columns), *first.values())
        .join(
            Enrollment,
            (Enrollment.course_id == Lesson.course_id)
            & (Enrollment.user_id == bindparam("user_id", type_=Integer())),
        )
        .where(Lesson.id == bindparam("lesson_id", type_=Integer()), Lesson.removed_at.is_(None))
    )
    if automatic is not None:
        source = source.join(Course, Course.id == Lesson.course_id)
    insert = (postgresql.insert if shape.dialect == "postgresql" else sqlite.insert)(LessonProgress)
    return _on_conflict(
        insert.from_select([*shape.columns, *first], source),
        given,
        now,
        active=active_time.counted_write(shape.dialect, shape.active_window),
        automatic=automatic is not None,
        server_passed=passed is not None and not shape.claimed_pass,
        claimed_pass=shape.claimed_pass,
    )


# Built once: an alias sets up its column collections on first use, which cost ~5 ms per
# heartbeat when they were made per call (the M1 regression in bench/RESULTS.md).
_EARLIER_LESSON = aliased(Lesson)
_REQUIRED_LESSON = aliased(Lesson)
_EARLIER_RECORD = aliased(LessonProgress)


def _automatic_completion(shape: _HeartbeatShape) -> ColumnElement[bool]:
    """Whether this write completes the lesson by itself: the video position reached the
    course's threshold share of the duration, or the quiz score reached the pass score; and,
    in a sequential course, every earlier counted lesson is completed (only completion is
    gated there, so the position is still recorded)."""
    reasons: list[ColumnElement[bool]] = []
    table = LessonProgress.__table__
    if shape.position:
        position = bindparam("v_video_position_seconds", type_=table.c.video_position_seconds.type)
        reasons.append(
            and_(
                Course.video_completion_threshold.is_not(None),
                Lesson.duration_seconds.is_not(None),
                Lesson.duration_seconds > 0,
                position * 100.0 >= Lesson.duration_seconds * Course.video_completion_threshold,
            )
        )
    if shape.score:
        score = bindparam("v_quiz_score", type_=table.c.quiz_score.type)
        reasons.append(
            and_(
                Lesson.kind == LessonKind.QUIZ.value,
                Lesson.pass_score.is_not(None),
                score >= Lesson.pass_score,
            )
        )
    if not reasons:
        return false()
    earlier, required, record = _EARLIER_LESSON, _REQUIRED_LESSON, _EARLIER_RECORD
    # Correlated explicitly: nested two EXISTS deep, it must still mean the written lesson's course.
    counts_every_lesson = ~(
        exists()
        .where(required.course_id == Lesson.course_id, required.removed_at.is_(None), required.is_required)
        .correlate(Lesson)
    )
    missing_earlier = exists().where(
        earlier.course_id == Lesson.course_id,
        earlier.removed_at.is_(None),
        earlier.position < Lesson.position,
        or_(earlier.is_required, counts_every_lesson),
        ~exists().where(
            record.user_id == bindparam("user_id", type_=Integer()),
            record.lesson_id == earlier.id,
            record.completed,
        ),
    )
    in_order = or_(~Course.requires_sequential_progress, ~missing_earlier)
    # NULL-safe: an unknown (NULL) condition must read as "not completed", never reach the column.
    return func.coalesce(and_(or_(*reasons), in_order), false())


def _new_record(row: Mapping[str, Any], given: frozenset[str], now: datetime) -> dict[str, Any]:
    unknown = given - WRITABLE_COLUMNS - GRANT_COLUMNS
    if unknown:
        raise ValueError(f"not writable: {sorted(unknown)}")
    completed = bool(row.get("completed", False))
    record = {**_DEFAULTS, **{k: row[k] for k in given}}
    record.update(
        user_id=row["user_id"],
        lesson_id=row["lesson_id"],
        progress_percentage=100.0 if completed else record["progress_percentage"],
        completed_at=now if completed else None,
        last_accessed_at=now,
        created_at=now,
        updated_at=now,
    )
    return record


def _on_conflict(
    insert: Any,
    given: frozenset[str],
    now: datetime | ColumnElement[Any],
    *,
    active: Mapping[str, Any] | None = None,
    automatic: bool = False,
    server_passed: bool = False,
    claimed_pass: bool = False,
) -> Any:
    table = LessonProgress.__table__
    new = insert.excluded
    new_completed = new.completed if "completed" in given else table.c.completed
    updates: dict[str, Any] = {
        column: new[column]
        for column in given
        if column not in {"completed", "progress_percentage"} | GRANT_COLUMNS
    }
    if "completed" in given:
        updates["completed"] = new.completed
        updates["completed_at"] = case((new.completed, _coalesce(table.c.completed_at, now)), else_=None)
        for column in GRANT_COLUMNS:
            if column in given:
                # A lesson completed before (by the learner, or an earlier grant) keeps its story.
                updates[column] = case((table.c.completed, table.c[column]), else_=new[column])
            else:
                # Un-completing ends a grant; completing again is the learner's own doing.
                updates[column] = case((new.completed, table.c[column]), else_=None)
    if automatic:
        # An automatic completion only ever completes: it never takes a completion back.
        new_completed = or_(table.c.completed, new.completed)
        updates["completed"] = new_completed
        updates["completed_at"] = case(
            (new.completed, _coalesce(table.c.completed_at, now)), else_=table.c.completed_at
        )
        updates["progress_percentage"] = case(
            (new_completed, 100.0),
            else_=new.progress_percentage if "progress_percentage" in given else table.c.progress_percentage,
        )
    if claimed_pass:
        # NULL here means "a pass score decides, not the client": keep the stored value.
        updates["quiz_passed"] = func.coalesce(new.quiz_passed, table.c.quiz_passed)
    if server_passed:
        # A passed quiz stays passed whatever later scores are; without a pass score the
        # client's value (or the stored one) stands.
        updates["quiz_passed"] = case(
            (new.quiz_passed.is_(None), new.quiz_passed if "quiz_passed" in given else table.c.quiz_passed),
            else_=or_(func.coalesce(table.c.quiz_passed, false()), new.quiz_passed),
        )
    if given & {"completed", "progress_percentage"} and not automatic:
        new_percentage = (
            new.progress_percentage if "progress_percentage" in given else table.c.progress_percentage
        )
        updates["progress_percentage"] = case((new_completed, 100.0), else_=new_percentage)
    updates["last_accessed_at"] = new.last_accessed_at
    updates["updated_at"] = new.updated_at
    if active is not None:
        updates.update(active)
    return insert.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.lesson_id], set_=updates
    ).returning(*PROGRESS_COLUMNS, COURSE_OF_WRITTEN)


def _coalesce(column: Any, now: datetime | ColumnElement[Any]) -> Any:
    return func.coalesce(column, literal(now, type_=column.type) if isinstance(now, datetime) else now)


async def progress_for(
    conn: AsyncConnection, user_ids: Iterable[int], lesson_ids: Iterable[int]
) -> list[ProgressRow]:
    """Records of these users for these lessons (a superset when several users are asked for)."""
    statement = select(*PROGRESS_COLUMNS).where(
        LessonProgress.user_id.in_(sorted(set(user_ids))),
        LessonProgress.lesson_id.in_(sorted(set(lesson_ids))),
    )
    return every(ProgressRow, await conn.execute(statement))
