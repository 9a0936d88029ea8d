"""One delivery attempt: claim what is due, POST it signed, record the outcome.

A claim is a short write transaction that moves the rows' ``next_attempt_at`` past the
request's deadline (a lease) and counts the attempt; the HTTP request runs after the commit,
with no transaction open, so a slow receiver never holds a lock (on SQLite: the write lock every
learner's write needs). A worker that dies mid-request leaves the lease to expire, and the
delivery is due again then.

On PostgreSQL the claim reads the due rows FOR UPDATE SKIP LOCKED, so concurrent workers take
disjoint rows without waiting for each other; the UPDATE also re-checks that each row is still
due, so a row claimed by another worker between the two statements is never taken twice. SQLite
has one writer at a time: ``db.write()`` begins IMMEDIATE, so the claim is already exclusive.

Delivery is at least once: a 2xx is recorded at once and never retried, but a worker that dies
between the receiver's 2xx and that record sends it again after the lease. Receivers that must
not act twice keep the event id (the X-GQL-Progress-Event-Id and webhook-id headers, also ``id``
in the body).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from gql_progress.db.engine import Database
from gql_progress.db.models import Event, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from gql_progress.webhooks.addresses import AddressNotAllowed
from gql_progress.webhooks.connections import ConnectionFailed, Connections
from gql_progress.webhooks.payload import event_body, event_columns_query, event_global_id
from gql_progress.webhooks.signing import (
    ATTEMPT_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    STANDARD_ID_HEADER,
    STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER,
    TIMESTAMP_HEADER,
    signature_header,
    standard_signature,
)

# Past the request's own deadline, time to record its outcome before anyone may claim it again.
LEASE_MARGIN = timedelta(seconds=30)
# Back-off doubles per attempt up to this: an endpoint down for a day is still retried 4×/day.
MAX_BACKOFF = timedelta(hours=6)
MAX_ERROR_LENGTH = 500
USER_AGENT = "gql-progress-webhooks/1"

PENDING = WebhookDeliveryStatus.PENDING


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float

    def delay(self, attempts: int) -> timedelta:
        """How long after failed attempt number ``attempts`` (1, 2, …) the next one is due."""
        seconds = self.base_seconds * 2 ** min(attempts - 1, 40)
        return min(timedelta(seconds=seconds), MAX_BACKOFF)


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    attempt: int  # this attempt's number, 1 for the first
    url: str
    secret: str
    event_id: str  # global id
    event_type: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def claim_due(db: Database, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Take up to ``limit`` due deliveries of enabled endpoints, oldest due first."""
    due = (
        (WebhookDelivery.status == PENDING)
        & (WebhookDelivery.next_attempt_at <= now)
        # A subquery, not a join: FOR UPDATE must lock the deliveries only, never the endpoints.
        & WebhookDelivery.endpoint_id.in_(select(WebhookEndpoint.id).where(WebhookEndpoint.enabled))
    )
    async with db.read() as conn:
        # A read first: an idle worker (the usual case) never takes SQLite's write lock.
        if await conn.scalar(select(WebhookDelivery.id).where(due).limit(1)) is None:
            return []
    async with db.write() as conn:
        ids = (
            await conn.scalars(
                select(WebhookDelivery.id)
                .where(due)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not ids:
            return []
        # The lease: not due again until this attempt's deadline is well past.
        claimed_ids = (
            await conn.scalars(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids), due)
                .values(
                    attempts=WebhookDelivery.attempts + 1, last_attempt_at=now, next_attempt_at=now + lease
                )
                .returning(WebhookDelivery.id)
            )
        ).all()
        if not claimed_ids:
            return []
        rows = (
            await conn.execute(
                event_columns_query()
                .add_columns(
                    WebhookDelivery.id.label("delivery_id"),
                    WebhookDelivery.attempts,
                    WebhookEndpoint.url,
                    WebhookEndpoint.secret,
                )
                .join(WebhookDelivery, WebhookDelivery.event_id == Event.id)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.id.in_(claimed_ids))
                .order_by(WebhookDelivery.id)
            )
        ).all()
    return [_claimed(row) for row in rows]


def _claimed(row: Any) -> Claimed:
    return Claimed(
        delivery_id=row.delivery_id,
        attempt=row.attempts,
        url=row.url,
        secret=row.secret,
        event_id=event_global_id(row.event_id),
        event_type=str(row.event_type),
        body=event_body(row),
    )


async def post(connections: Connections, claimed: Claimed, now: datetime, deadline: float) -> Outcome:
    """POST the event; any answer but a 2xx, a timeout or a network error is a failure."""
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: claimed.event_id,
        EVENT_TYPE_HEADER: claimed.event_type,
        TIMESTAMP_HEADER: str(timestamp),
        ATTEMPT_HEADER: str(claimed.attempt),
        SIGNATURE_HEADER: signature_header(claimed.secret, timestamp, claimed.body),
        # Standard Webhooks: its id is what receivers deduplicate on, the same on every
        # attempt, so it is the event's id, like X-GQL-Progress-Event-Id.
        STANDARD_ID_HEADER: claimed.event_id,
        STANDARD_TIMESTAMP_HEADER: str(timestamp),
        STANDARD_SIGNATURE_HEADER: standard_signature(
            claimed.secret, claimed.event_id, timestamp, claimed.body
        ),
    }
    try:
        # The connection's timeouts bound each phase (connect, each read); this bounds the whole
        # request, so a receiver trickling bytes cannot outlive the claim's lease.
        async with asyncio.timeout(deadline):
            status_code = await connections.send(claimed.url, claimed.body, headers, deadline)
    # What an admin reads in lastError is the kind of failure, never the system's text about the
    # network; a refused address is never connected to, so it reads the same whatever listens.
    except AddressNotAllowed as exc:
        return Outcome(None, f"delivery failed: {exc}")
    except TimeoutError:
        return Outcome(None, f"no response within {deadline:g} s")
    except ConnectionFailed as exc:
        return Outcome(None, f"connection failed: {exc}")
    if 200 <= status_code < 300:
        return Outcome(status_code, None)
    return Outcome(status_code, f"HTTP {status_code}")


async def record(
    db: Database, claimed: Claimed, outcome: Outcome, now: datetime, policy: RetryPolicy
) -> WebhookDeliveryStatus:
    """Store the attempt's outcome; returns the delivery's status after it."""
    async with db.write() as conn:
        if outcome.delivered:
            # Whatever happened meanwhile (a lease that ran out, another worker's failure),
            # the receiver has it now: DELIVERED wins, and is never sent again.
            await conn.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == claimed.delivery_id,
                    WebhookDelivery.status != WebhookDeliveryStatus.DELIVERED,
                )
                .values(
                    status=WebhookDeliveryStatus.DELIVERED,
                    delivered_at=now,
                    next_attempt_at=None,
                    last_status_code=outcome.status_code,
                    last_error=None,
                )
            )
            return WebhookDeliveryStatus.DELIVERED
        final = claimed.attempt >= policy.max_attempts
        status = WebhookDeliveryStatus.FAILED if final else PENDING
        # Only the attempt that holds the claim records a failure: a late answer to an
        # attempt whose lease ran out must not reschedule the attempt that replaced it.
        await conn.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claimed.delivery_id,
                WebhookDelivery.status == PENDING,
                WebhookDelivery.attempts == claimed.attempt,
            )
            .values(
                status=status,
                next_attempt_at=None if final else now + policy.delay(claimed.attempt),
                last_status_code=outcome.status_code,
                last_error=(outcome.error or "")[:MAX_ERROR_LENGTH],
            )
        )
        return status
