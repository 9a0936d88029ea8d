"""The notices a write sends, and how they ride along with the write's own statements.

One notice per progress record written (heartbeats included) and one per enrollment that
became COMPLETED. Their JSON is small (ids and a time), far below PostgreSQL's 8000-byte
NOTIFY payload limit, and the same whichever database built it.

On PostgreSQL the ``pg_notify`` calls are part of the statement that writes (expressions in
its RETURNING clause), so a heartbeat stays one statement and the notice exists exactly when
the write commits. SQLite has no NOTIFY: the notices wait in the transaction's WriteScope and the
Database hands them to this process's broker after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Integer, Text, case, cast, func, insert, literal_column
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.engine import Database, write_scope
from gql_progress.db.models import Event, EventType, LessonProgress
from gql_progress.db.rows import ProgressRow, make

logger = logging.getLogger("gql_progress.live")

PROGRESS = "progress"
COURSE_COMPLETED = "course_completed"


@dataclass(frozen=True)
class ProgressWritten:
    user_id: int
    course_id: int
    record_id: int


@dataclass(frozen=True)
class CourseCompleted:
    user_id: int
    course_id: int
    completed_at: datetime


Notice = ProgressWritten | CourseCompleted


def encode(notice: Notice) -> str:
    if isinstance(notice, ProgressWritten):
        body: dict[str, Any] = {
            "kind": PROGRESS,
            "user": notice.user_id,
            "course": notice.course_id,
            "record": notice.record_id,
        }
    else:
        body = {
            "kind": COURSE_COMPLETED,
            "user": notice.user_id,
            "course": notice.course_id,
            "at": notice.completed_at.isoformat(),
        }
    return orjson.dumps(body).decode()


def decode(payload: str) -> Notice | None:
    """The notice in ``payload``; None (logged) for anything else on the channel."""
    try:
        body = orjson.loads(payload)
        if body["kind"] == PROGRESS:
            return ProgressWritten(_int(body["user"]), _int(body["course"]), _int(body["record"]))
        if body["kind"] == COURSE_COMPLETED:
            return CourseCompleted(
                _int(body["user"]), _int(body["course"]), datetime.fromisoformat(body["at"])
            )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        pass
    # Anyone allowed to connect may NOTIFY the channel: a stranger's payload is not ours to crash on.
    logger.warning("ignoring a live notification that is not ours: %.200r", payload)
    return None


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


# The written record's course. Spelled out because SQLAlchemy does not correlate a subquery in
# RETURNING with the table being written; one primary-key lookup per row.
_COURSE_OF_WRITTEN_SQL = (
    "(SELECT written_lesson.course_id FROM lessons AS written_lesson"
    " WHERE written_lesson.id = lesson_progress.lesson_id)"
)
_COURSE_OF_WRITTEN = literal_column(_COURSE_OF_WRITTEN_SQL, Integer)


def _pg_notify(channel: str, payload: Any) -> Any:
    return func.pg_notify(channel, cast(payload, Text))


async def write_progress(
    conn: AsyncConnection,
    statement: Any,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> list[ProgressRow]:
    """Run an upsert of lesson_progress (INSERT … RETURNING the record's columns, first) and
    announce every record it wrote; returns the records.

    On PostgreSQL the announcement is an expression of the RETURNING clause: evaluated once per
    row written, in the same statement, and queued by the database until the commit.

    ``params`` marks ``statement`` as a long-lived, cached one (completion/statements.py, BoundUpsert): its
    announcing variant is then cached too, instead of being rebuilt per call.
    """
    scope = write_scope(conn)
    channel = scope.live_channel if scope is not None else None
    if channel is not None:
        is_pg = conn.dialect.name == "postgresql"
        statement = (
            _announcing_cached(statement, channel, is_pg)
            if params is not None
            else _announcing(statement, channel, is_pg)
        )
    rows = (await conn.execute(statement, params)).all()
    if channel is not None and conn.dialect.name != "postgresql":
        assert scope is not None
        scope.committed.extend(encode(ProgressWritten(r.user_id, r.course_id, r.id)) for r in rows)
    # The announcing variants return course_id and the notice after the record's columns.
    return [make(ProgressRow, row[:_RECORD_COLUMNS]) for row in rows]


_RECORD_COLUMNS = len(ProgressRow._fields)


async def write_progress_alone(db: Database, statement: Any, params: Mapping[str, Any]) -> list[ProgressRow]:
    """``write_progress`` for an upsert that is the whole write (``Database.write_alone``, on
    PostgreSQL): the same announcing statement, committed by itself."""
    channel = db.live_channel
    if channel is not None:
        statement = _announcing_cached(statement, channel, True)
    rows = await db.write_alone(statement, params)
    return [make(ProgressRow, row[:_RECORD_COLUMNS]) for row in rows]


def _announcing(statement: Any, channel: str, is_pg: bool) -> Any:
    statement = statement.returning(_COURSE_OF_WRITTEN.label("course_id"))
    if not is_pg:
        return statement  # announced after the commit, from the returned course_id
    written = LessonProgress.__table__.c
    payload = func.json_build_object(
        "kind", PROGRESS, "user", written.user_id, "course", _COURSE_OF_WRITTEN, "record", written.id
    )
    return statement.returning(_pg_notify(channel, payload).label("live_notified"))


_announcing_cached = lru_cache(maxsize=256)(_announcing)


async def log_events(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert event rows (domain.events) and announce the COURSE_COMPLETED ones."""
    scope = write_scope(conn)
    completions = [r for r in rows if r["type"] is EventType.COURSE_COMPLETED]
    if not completions or scope is None or scope.live_channel is None:
        await conn.execute(insert(Event), list(rows))
        return
    if conn.dialect.name != "postgresql":
        await conn.execute(insert(Event), list(rows))
        scope.committed.extend(
            encode(CourseCompleted(r["user_id"], r["course_id"], r["occurred_at"])) for r in completions
        )
        return
    # An executemany, sent as one multi-row INSERT: the statement is built and compiled once.
    await conn.execute(_announcing_events(scope.live_channel), list(rows))


@lru_cache(maxsize=8)
def _announcing_events(channel: str) -> Any:
    logged = Event.__table__.c
    payload = func.json_build_object(
        "kind", COURSE_COMPLETED, "user", logged.user_id, "course", logged.course_id, "at", logged.occurred_at
    )
    # CASE evaluates pg_notify only for the rows that are completions.
    notify = case((logged.type == EventType.COURSE_COMPLETED, _pg_notify(channel, payload)))
    return insert(Event).returning(notify)
