"""Fans notices out to this process's subscribers, each through its own bounded queue.

Publishing never waits: it runs in the listener's callback (or right after a SQLite commit),
and one slow subscriber must neither hold up the others nor make memory grow. A subscriber
whose queue is full is ended instead (SubscriberTooSlow); its client resubscribes and
re-reads. When notices may have been missed for everyone (the LISTEN connection dropped),
every subscription is ended the same way (LiveUpdatesInterrupted), and new ones fail until
notices flow again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from gql_progress.domain.completion.notices import CourseCompleted, Notice, ProgressWritten
from gql_progress.domain.errors import DomainError

logger = logging.getLogger("gql_progress.live")


class SubscriberTooSlow(DomainError):
    code = "SUBSCRIBER_TOO_SLOW"

    def __init__(self) -> None:
        super().__init__("Updates arrived faster than this subscription read them; subscribe again")


class LiveUpdatesInterrupted(DomainError):
    code = "LIVE_UPDATES_INTERRUPTED"

    def __init__(self) -> None:
        super().__init__("Live updates were interrupted and some may be missing; subscribe again")


@dataclass(frozen=True)
class Topic:
    """What a subscription wants: one kind of notice in one course, of one user or of everyone."""

    kind: type[ProgressWritten] | type[CourseCompleted]
    course_id: int
    user_id: int | None  # None: every user's (admins)

    def matches(self, notice: Notice) -> bool:
        return self.user_id is None or notice.user_id == self.user_id


class Subscription:
    def __init__(self, topic: Topic, max_pending: int) -> None:
        self.topic = topic
        self._max_pending = max_pending
        self._pending: deque[Notice] = deque()
        self._ready = asyncio.Event()
        self._failure: DomainError | None = None

    @property
    def ended(self) -> bool:
        return self._failure is not None

    def offer(self, notice: Notice) -> bool:
        """Queue ``notice``; False when the subscription is ended (now or before)."""
        if self._failure is not None:
            return False
        if len(self._pending) >= self._max_pending:
            self.fail(SubscriberTooSlow())
            return False
        self._pending.append(notice)
        self._ready.set()
        return True

    def fail(self, error: DomainError) -> None:
        # What was queued is dropped: the client is told to start over, not fed a partial past.
        self._failure = error
        self._pending.clear()
        self._ready.set()

    async def next_batch(self) -> list[Notice]:
        """Every notice waiting (at least one, so readers can load a batch in one statement)."""
        await self._ready.wait()
        if self._failure is not None:
            raise self._failure
        batch = list(self._pending)
        self._pending.clear()
        self._ready.clear()
        return batch


class Broker:
    def __init__(self, queue_size: int, *, available: bool = True) -> None:
        self.queue_size = queue_size
        # False while notices cannot arrive (PostgreSQL: not listening): a subscription made
        # then would silently miss updates, so it fails at once instead.
        self.available = available
        # Subscriptions ended for falling behind since start-up (logged as they happen).
        self.overflows = 0
        # (kind, course id) -> subscriptions: a notice only visits the subscribers of its course.
        self._by_key: dict[tuple[type[Notice], int], set[Subscription]] = defaultdict(set)

    @property
    def subscriber_count(self) -> int:
        return sum(len(subs) for subs in self._by_key.values())

    @contextmanager
    def subscribe(self, topic: Topic) -> Iterator[Subscription]:
        subscription = Subscription(topic, self.queue_size)
        if not self.available:
            subscription.fail(LiveUpdatesInterrupted())
        key = (topic.kind, topic.course_id)
        self._by_key[key].add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._by_key.get(key)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._by_key[key]

    def publish(self, notice: Notice) -> None:
        for subscription in list(self._by_key.get((type(notice), notice.course_id), ())):
            if (
                subscription.topic.matches(notice)
                and not subscription.ended
                and not subscription.offer(notice)
            ):
                self.overflows += 1
                logger.warning("live updates: ended a subscriber %d notices behind", self.queue_size)

    def suspend(self) -> None:
        """Notices may have been missed: end every subscription, refuse new ones until resume()."""
        self.available = False
        for subscribers in self._by_key.values():
            for subscription in subscribers:
                subscription.fail(LiveUpdatesInterrupted())

    def resume(self) -> None:
        self.available = True
