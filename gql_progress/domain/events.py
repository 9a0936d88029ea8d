"""The event log: one append-only row per thing that happened, written by the transaction that
made it happen, so the log never claims a change that was rolled back nor misses one that was not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.models import EventType
from gql_progress.domain.completion.notices import log_events

__all__ = [
    "GAP_SETTLE",
    "EventType",
    "NewEvent",
    "record_events",
    "settled_upper_id",
    "settled_upper_id_sql",
]

# Longer than any write transaction of this service runs: an id gap older than this was a
# rollback (sequence values are never reused), not a writer still about to commit.
GAP_SETTLE = timedelta(seconds=60)


@dataclass(frozen=True)
class NewEvent:
    type: EventType
    user_id: int
    course_id: int | None = None
    lesson_id: int | None = None
    actor_user_id: int | None = None
    data: dict[str, Any] | None = field(default=None)


async def record_events(conn: AsyncConnection, events: Sequence[NewEvent], now: datetime) -> None:
    """Append ``events`` in one statement, inside the caller's write transaction."""
    if not events:
        return
    # The same statement announces the COURSE_COMPLETED ones to live subscribers.
    await log_events(
        conn,
        [
            {
                "type": event.type,
                "occurred_at": now,
                "user_id": event.user_id,
                "course_id": event.course_id,
                "lesson_id": event.lesson_id,
                "actor_user_id": event.actor_user_id,
                "data": event.data,
            }
            for event in events
        ],
    )


def settled_upper_id(after_id: int, ids: Sequence[tuple[int, datetime]], now: datetime) -> int | None:
    """The highest id up to which a reader may advance its cursor past ``after_id``.

    Ids are assigned at INSERT but become visible at COMMIT, and on PostgreSQL transactions do
    not commit in id order: event 11 can be visible while 10 is still being written. A reader
    that moved past the gap would never see 10. So the cursor moves through contiguous ids only,
    or over a gap once the event after it is older than GAP_SETTLE. ``ids`` are every event id
    (unfiltered) above ``after_id`` in order, with their times; None means no limit.
    """
    previous = after_id
    for event_id, occurred_at in ids:
        if event_id != previous + 1 and now - occurred_at < GAP_SETTLE:
            return previous
        previous = event_id
    return None


def settled_upper_id_sql(after_id: str, last_id: str, now: str, events: str = "events") -> str:
    """``settled_upper_id`` in SQL (PostgreSQL), given the SQL of ``after_id``, of the last id the
    page would show (``ids`` are the ``events`` rows between the two) and of ``now``: NULL for no
    limit. tests/test_event_twins.py holds it to the Python on generated logs.

    The first id that breaks the run (not its predecessor + 1) while younger than GAP_SETTLE
    stops the cursor at its predecessor; predecessors grow with the ids, so the first such
    break's is the smallest.
    """
    settle = f"interval '{int(GAP_SETTLE.total_seconds())} seconds'"
    return (
        "(SELECT min(gp.previous) FROM (SELECT ge.id, ge.occurred_at, "
        f"lag(ge.id, 1, {after_id}) OVER (ORDER BY ge.id) AS previous FROM {events} ge "
        f"WHERE ge.id > {after_id} AND ge.id <= {last_id}) gp "
        f"WHERE gp.id <> gp.previous + 1 AND {now} - gp.occurred_at < {settle})"
    )
