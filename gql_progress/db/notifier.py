"""Sends a process's committed live notices with NOTIFY, many to a statement, on a connection of its own.

Why not in the writes themselves: PostgreSQL serialises the commits of every transaction that
executed NOTIFY on one cluster-wide lock, held through the commit's WAL flush, so writes that
notify cannot share a flush (group commit), and each notification is delivered to every
listening process anyway. So a write commits without NOTIFY and hands its notices here
(``Database.announce``); one task sends them outside any request's transaction, one batch in
flight at a time: whatever committed while a batch was being sent goes in the next one. Batches
grow with the load and an idle process sends at once, without a timer.

A batch is one ``pg_notify`` whose payload is a JSON array of notices (a lone notice goes as
itself, as processes before batching sent it), kept under PostgreSQL's 8000-byte limit by
splitting. Delivery is after the commit and at most once: a process that dies, or cannot reach
the database, between its commit and its batch loses those notices (logged and counted in
``dropped``); the queue is bounded and ``offer`` never waits, so writes never block on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

import asyncpg

logger = logging.getLogger("gql_progress.live")

# PostgreSQL refuses a payload of 8000 bytes or more (its default build).
MAX_PAYLOAD_BYTES = 7999
# Notices waiting at most (ids and a time, ~80 bytes each): beyond, new ones are dropped.
MAX_QUEUED = 10_000
_RETRY_SECONDS = 1.0
_CONNECT_SECONDS = 10.0


def batches(payloads: Sequence[str], limit: int = MAX_PAYLOAD_BYTES) -> list[tuple[str, int]]:
    """``payloads`` in order, packed as (NOTIFY payload, how many notices it carries)."""
    packed: list[tuple[str, int]] = []
    group: list[str] = []
    size = 1  # the closing bracket; each notice adds its bytes and an opening bracket or comma
    for payload in payloads:
        extra = len(payload.encode()) + 1
        if group and size + extra > limit:
            packed.append(_joined(group))
            group, size = [], 1
        group.append(payload)
        size += extra
    if group:
        packed.append(_joined(group))
    return packed


def _joined(group: list[str]) -> tuple[str, int]:
    return (group[0] if len(group) == 1 else "[" + ",".join(group) + "]"), len(group)


class BatchNotifier:
    """``dsn``: where to send from (asyncpg's form); set it before the first ``offer``."""

    def __init__(self, dsn: str, *, max_queued: int = MAX_QUEUED) -> None:
        self.dsn = dsn
        self._max_queued = max_queued
        self._queue: deque[tuple[str, str]] = deque()  # (channel, payload)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None
        # Since start-up: NOTIFY statements sent, the notices they carried, notices dropped.
        self.notifies = 0
        self.sent = 0
        self.dropped = 0
        self._dropping = False

    def offer(self, channel: str, payloads: Sequence[str]) -> None:
        """Queue ``payloads`` (committed notices) for ``channel``; never waits."""
        room = max(0, self._max_queued - len(self._queue))
        if len(payloads) > room:
            self._drop(len(payloads) - room, f"dropped: {self._max_queued} already waiting")
            payloads = payloads[:room]
        if not payloads:
            return
        self._queue.extend((channel, payload) for payload in payloads)
        self._idle.clear()
        self._wake.set()
        if self._task is None or self._task.done():  # done: only if a bug ended it; start again
            self._task = asyncio.get_running_loop().create_task(self._run(), name="gql_progress notifier")

    async def close(self, within: float = 5.0) -> None:
        """Send what is queued (waiting at most ``within`` seconds), then disconnect."""
        if self._task is not None:
            try:
                await asyncio.wait_for(self._idle.wait(), within)
            except TimeoutError:
                self._drop(len(self._queue), "not sent before shutdown")
                self._queue.clear()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                channel = self._queue[0][0]
                payloads = []
                while self._queue and self._queue[0][0] == channel:
                    payloads.append(self._queue.popleft()[1])
                packed = batches(payloads)
                for index, (payload, count) in enumerate(packed):
                    if not await self._send(channel, payload, count):
                        # The rest would most likely fail alike; meanwhile the queue fills, then drops.
                        self._drop(sum(c for _, c in packed[index:]), "not sent: NOTIFY failed")
                        await asyncio.sleep(_RETRY_SECONDS)
                        break
            self._idle.set()

    async def _send(self, channel: str, payload: str, count: int) -> bool:
        try:
            if self._conn is None or self._conn.is_closed():
                # No statement cache: the DSN may be a transaction pooler's (a command's URL).
                self._conn = await asyncpg.connect(self.dsn, timeout=_CONNECT_SECONDS, statement_cache_size=0)
            await self._conn.execute("SELECT pg_notify($1, $2)", channel, payload)
        except Exception as exc:  # whatever it was, a later batch may get through
            logger.warning("live notices: could not NOTIFY (%s)", exc)
            if self._conn is not None:
                self._conn.terminate()
                self._conn = None
            return False
        self.notifies += 1
        self.sent += count
        self._dropping = False
        return True

    def _drop(self, count: int, why: str) -> None:
        self.dropped += count
        if count and not self._dropping:
            # Once per outage, not once per write: the count says how many went.
            self._dropping = True
            logger.warning("live notices: %d %s (more are counted, not logged, till one is sent)", count, why)
