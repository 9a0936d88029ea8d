"""The delivery loop: fan new events out, claim what is due, post it, record the outcome.

It runs inside every server process (started and stopped by the app's lifespan) or alone as
``gql-progress deliver``; any number of them may run against one database (see fanout.py and
delivery.py for why they never deliver the same event twice at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from gql_progress.db.engine import Database
from gql_progress.db.models import WebhookDeliveryStatus
from gql_progress.db.types import utcnow
from gql_progress.settings import Settings
from gql_progress.webhooks.addresses import AllowList
from gql_progress.webhooks.connections import Connections
from gql_progress.webhooks.delivery import (
    LEASE_MARGIN,
    Claimed,
    Outcome,
    RetryPolicy,
    claim_due,
    post,
    record,
)
from gql_progress.webhooks.fanout import fan_out

logger = logging.getLogger("gql_progress.webhooks")

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class WorkerConfig:
    poll_interval_seconds: float = 5.0
    max_attempts: int = 10
    request_timeout_seconds: float = 10.0
    retry_base_seconds: float = 30.0
    # Deliveries one worker claims and sends at once.
    concurrency: int = 10
    # Internal receivers the operator allows (addresses.py); public addresses need no entry.
    allow_list: AllowList = field(default_factory=AllowList)

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        return cls(
            poll_interval_seconds=settings.webhooks_poll_interval_seconds,
            max_attempts=settings.webhooks_max_attempts,
            request_timeout_seconds=settings.webhooks_request_timeout_seconds,
            retry_base_seconds=settings.webhooks_retry_base_seconds,
            allow_list=AllowList.parse(settings.webhooks_allowed_hosts),
        )


@dataclass
class DrainReport:
    """What one drain did: attempts by the status they left their delivery in."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WebhookDeliveryStatus, 0))

    @property
    def delivered(self) -> int:
        return self.counts[WebhookDeliveryStatus.DELIVERED]

    @property
    def retrying(self) -> int:
        return self.counts[WebhookDeliveryStatus.PENDING]

    @property
    def failed(self) -> int:
        return self.counts[WebhookDeliveryStatus.FAILED]


class WebhookWorker:
    def __init__(
        self,
        db: Database,
        config: WorkerConfig,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.config = config
        # Injectable so tests drive back-off and leases without sleeping.
        self.clock = clock
        self._policy = RetryPolicy(config.max_attempts, config.retry_base_seconds)
        self._lease = timedelta(seconds=config.request_timeout_seconds) + LEASE_MARGIN
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Ask run() (or a drain) to finish the attempts in flight and return."""
        self._stop.set()

    async def drain(self) -> DrainReport:
        """Deliver everything due now, including retries that fall due meanwhile; then return."""
        async with self._connections() as connections:
            return await self._drain(connections)

    async def run(self) -> None:
        """Drain, wait a poll interval, and again, until stop()."""
        async with self._connections() as connections:
            while not self._stop.is_set():
                try:
                    await self._drain(connections)
                except Exception:  # the database may be away for a moment; never end the loop
                    logger.exception("webhook delivery pass failed; the next poll tries again")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.config.poll_interval_seconds)

    def _connections(self) -> Connections:
        return Connections(self.config.allow_list, max_connections=self.config.concurrency * 2)

    async def _drain(self, connections: Connections) -> DrainReport:
        report = DrainReport()
        after: int | None = None
        while not self._stop.is_set():
            fanned = await fan_out(self.db, self.clock(), after)
            # A full batch may have more behind it: go on from it rather than re-read it.
            after = fanned.last_event_id if fanned.full else None
            claimed = await claim_due(self.db, self.clock(), self.config.concurrency, self._lease)
            results = await asyncio.gather(
                *(self._attempt(connections, c) for c in claimed), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    # Unrecorded: the lease runs out and the delivery is due again.
                    logger.error("could not record a webhook delivery", exc_info=result)
                else:
                    report.counts[result] += 1
            if not fanned.full and not claimed:
                break
        return report

    async def _attempt(self, connections: Connections, claimed: Claimed) -> WebhookDeliveryStatus:
        try:
            outcome = await post(connections, claimed, self.clock(), self.config.request_timeout_seconds)
        except Exception as exc:  # a bug must cost this attempt, not the batch's other outcomes
            logger.exception("webhook delivery %s raised", claimed.delivery_id)
            outcome = Outcome(None, f"internal error: {type(exc).__name__}")
        status = await record(self.db, claimed, outcome, self.clock(), self._policy)
        if not outcome.delivered:
            logger.warning(
                "webhook delivery %s of event %s to %s failed (attempt %s, now %s): %s",
                claimed.delivery_id,
                claimed.event_id,
                loggable_url(claimed.url),
                claimed.attempt,
                status,
                outcome.error,
            )
        return status


def loggable_url(url: str) -> str:
    """Scheme, host (and port) and path: a query string or user info may hold a receiver's token,
    and logs are read by more people than the admins who may see the URL."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "<unparsable URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"
