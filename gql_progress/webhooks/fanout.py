"""Fan-out: new events become delivery records, by a cursor kept per endpoint.

Why the worker fans out, and not the transaction that records the event:
- The learners' hot write path (progress upserts, bulk completion) pays nothing: recording an
  event stays one INSERT into ``events`` whatever the number of endpoints, with no read of the
  endpoints and no insert per endpoint inside a transaction that holds enrollment locks.
- Registering, re-subscribing or disabling an endpoint changes one row. A new (or re-enabled)
  endpoint's cursor starts at the newest event, so it never receives the whole history.
- A pass reads the new events once for every endpoint (from the lowest cursor), so its cost
  grows with the events, not with events × endpoints reads.

Ids are assigned when a row is inserted but seen when its transaction commits, and on
PostgreSQL commits do not come in id order: event 11 can be visible while 10 is still being
written. A cursor that jumped past 10 would lose it for good. So a cursor only advances through
contiguous ids; a gap holds it until the gap fills (the writer commits) or until the event after
it is older than ``GAP_SETTLE`` (the writer rolled back: sequence values are never reused).
Events past a gap are fanned out at once all the same (the unique (endpoint, event) pair makes a
second insert a no-op), so a gap delays no delivery; it only makes later passes re-read the
events after it until it settles. SQLite commits one writer at a time, in id order: no gaps.

Several workers may fan out at once (one per server process, plus ``gql-progress deliver``):
each pass locks the endpoints it handles (FOR UPDATE SKIP LOCKED on PostgreSQL; on SQLite the
write lock serialises passes) and leaves an endpoint locked by another worker to that worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update

from gql_progress.db.dialect import insert_for
from gql_progress.db.engine import Database
from gql_progress.db.models import Event, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from gql_progress.domain.events import GAP_SETTLE  # the one rule for when an id gap is a rollback

# Events per pass; one pass is one short write transaction (on SQLite it holds the write lock).
BATCH = 500


@dataclass(frozen=True)
class FanOut:
    # The last event id read, and whether the batch was full (more events may follow it).
    last_event_id: int | None
    full: bool


class _Cursor:
    """One endpoint's position, advanced through contiguous or settled ids only."""

    def __init__(self, row: Any, scan_from: int, settled_before: datetime) -> None:
        self.endpoint_id: int = row.id
        self.types = frozenset(row.event_types)
        self.start: int = row.cursor_event_id
        self.position: int = row.cursor_event_id
        self.settled_before = settled_before
        # Events between the cursor and scan_from are not read in this pass, so the cursor
        # cannot know about them and must stay where it is.
        self.stuck = scan_from > row.cursor_event_id

    def wants(self, event: Any) -> bool:
        return event.id > self.start and event.type in self.types

    def see(self, event: Any) -> None:
        if self.stuck or event.id <= self.position:
            return
        if event.id == self.position + 1 or event.occurred_at <= self.settled_before:
            self.position = event.id
        else:
            self.stuck = True  # a young gap: a writer may still commit the ids below this event


async def fan_out(db: Database, now: datetime, after: int | None = None) -> FanOut:
    """Create the delivery records for up to BATCH events past the endpoints' cursors.

    ``after`` continues a drain past events already read this round (see FanOut.full).
    """
    async with db.read() as conn:
        # A read first: with nothing new, no write transaction (nor SQLite write lock) at all.
        lowest, newest = (
            await conn.execute(
                select(
                    select(func.min(WebhookEndpoint.cursor_event_id))
                    .where(WebhookEndpoint.enabled)
                    .scalar_subquery(),
                    select(func.max(Event.id)).scalar_subquery(),
                )
            )
        ).one()
    if lowest is None or newest is None or newest <= max(lowest, after or 0):
        return FanOut(last_event_id=None, full=False)

    async with db.write() as conn:
        endpoints = (
            await conn.execute(
                select(WebhookEndpoint.id, WebhookEndpoint.event_types, WebhookEndpoint.cursor_event_id)
                .where(WebhookEndpoint.enabled)
                .order_by(WebhookEndpoint.id)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not endpoints:
            return FanOut(last_event_id=None, full=False)
        scan_from = max(min(row.cursor_event_id for row in endpoints), after or 0)
        events = (
            await conn.execute(
                select(Event.id, Event.type, Event.occurred_at)
                .where(Event.id > scan_from)
                .order_by(Event.id)
                .limit(BATCH)
            )
        ).all()
        cursors = [_Cursor(row, scan_from, now - GAP_SETTLE) for row in endpoints]
        pending = {
            "status": WebhookDeliveryStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        deliveries: list[dict[str, Any]] = []
        for event in events:
            for cursor in cursors:
                if cursor.wants(event):
                    deliveries.append({"endpoint_id": cursor.endpoint_id, "event_id": event.id, **pending})
                cursor.see(event)
        if deliveries:
            await conn.execute(
                insert_for(conn, WebhookDelivery.__table__).on_conflict_do_nothing(
                    index_elements=["endpoint_id", "event_id"]
                ),
                deliveries,
            )
        moved = [
            {"endpoint": cursor.endpoint_id, "position": cursor.position}
            for cursor in cursors
            if cursor.position != cursor.start
        ]
        if moved:
            await conn.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == bindparam("endpoint"))
                .values(cursor_event_id=bindparam("position")),
                moved,
            )
    return FanOut(last_event_id=events[-1].id if events else None, full=len(events) == BATCH)
