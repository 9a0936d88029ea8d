"""The notices a write sends to live subscribers, derived from what it wrote.

One notice per progress record written (heartbeats included) and one per enrollment that
became COMPLETED. Their JSON is small (ids and a time), far below PostgreSQL's 8000-byte
NOTIFY payload limit.

The write's statements only return what the notices are made of (a record's id and course,
the events): the notices wait in the transaction's WriteScope, and once it committed the
Database announces them (``Database.announce``): on PostgreSQL a per-process notifier sends them
with NOTIFY in batches, outside the write's transaction (db/notifier.py says why and what it
costs: delivery after the commit, at most once); on SQLite, which has no NOTIFY, to this
process's broker. A rolled-back write announces nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.engine import Database, write_scope
from gql_progress.db.models import Event, EventType
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
    """The one notice in ``payload``; None (logged) for anything else on the channel."""
    notice = _notice(_json(payload))
    if notice is None:
        _ignore(payload)
    return notice


def decode_batch(payload: str) -> list[Notice]:
    """The notices in ``payload``: a batch (a JSON array, db/notifier.py) or one notice alone,
    as processes sent them before batching (rolling deploys). A batch with anything that is not
    ours in it is ignored whole (logged)."""
    body = _json(payload)
    items = body if isinstance(body, list) else [body]
    notices = [_notice(item) for item in items]
    if None in notices:
        _ignore(payload)
        return []
    return [notice for notice in notices if notice is not None]


def _json(payload: str) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None


def _ignore(payload: str) -> None:
    # Anyone allowed to connect may NOTIFY the channel: a stranger's payload is not ours to crash on.
    logger.warning("ignoring a live notification that is not ours: %.200r", payload)


def _notice(body: Any) -> Notice | None:
    try:
        if body["kind"] == PROGRESS:
            return ProgressWritten(_int(body["user"]), _int(body["course"]), _int(body["record"]))
        if body["kind"] == COURSE_COMPLETED:
            return CourseCompleted(
                _int(body["user"]), _int(body["course"]), datetime.fromisoformat(body["at"])
            )
    except (KeyError, TypeError, ValueError):
        pass
    return None


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


async def write_progress(
    conn: AsyncConnection,
    statement: Any,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> list[ProgressRow]:
    """Run an upsert of lesson_progress (completion/statements.py: RETURNING the record's columns,
    then its course) and announce every record it wrote once the transaction commits; returns
    the records."""
    rows = (await conn.execute(statement, params)).all()
    records = _records(rows)
    scope = write_scope(conn)
    if scope is not None and scope.live_channel is not None:
        scope.committed.extend(_notices(records, rows))
    return records


async def write_progress_alone(db: Database, statement: Any, params: Mapping[str, Any]) -> list[ProgressRow]:
    """``write_progress`` for an upsert that is the whole write, committed by itself
    (``Database.write_alone``, on PostgreSQL)."""
    rows = await db.write_alone(statement, params)
    records = _records(rows)
    if db.live_channel is not None:
        db.announce(_notices(records, rows))
    return records


_COURSE = len(ProgressRow._fields)  # the returned course follows the record's columns


def _records(rows: Sequence[Sequence[Any]]) -> list[ProgressRow]:
    return [make(ProgressRow, row[:_COURSE]) for row in rows]


def _notices(records: Sequence[ProgressRow], rows: Sequence[Sequence[Any]]) -> list[str]:
    return [
        encode(ProgressWritten(record.user_id, row[_COURSE], record.id))
        for record, row in zip(records, rows, strict=True)
    ]


async def log_events(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert event rows (domain.events) and announce the COURSE_COMPLETED ones once the
    transaction commits."""
    await conn.execute(insert(Event), list(rows))
    scope = write_scope(conn)
    if scope is not None and scope.live_channel is not None:
        scope.committed.extend(
            encode(CourseCompleted(r["user_id"], r["course_id"], r["occurred_at"]))
            for r in rows
            if r["type"] is EventType.COURSE_COMPLETED
        )
