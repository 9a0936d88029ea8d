"""One dedicated PostgreSQL connection per server process, LISTENing on the live channel.

Not a pooled connection: LISTEN belongs to a session, and a pool would hand the session to
requests (and reset it with UNLISTEN *). Notifications arrive at asyncpg's callback, in this
event loop, and go straight to the broker.

A dropped connection loses whatever was notified meanwhile, so ``on_lost`` runs (the hub ends
every subscription: their clients must re-read) and the listener reconnects with back-off.
A peer that vanished without closing the socket is noticed by a periodic ``SELECT 1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

logger = logging.getLogger("gql_progress.live")

_HEALTH_CHECK_SECONDS = 30.0
_RETRY_FIRST_SECONDS = 0.5
_RETRY_MAX_SECONDS = 30.0


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """``postgresql+asyncpg://…`` as asyncpg itself accepts it."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgListener:
    def __init__(
        self,
        dsn: str,
        channel: str,
        *,
        on_payload: Callable[[str], None],
        on_listening: Callable[[], None],
        on_lost: Callable[[], None],
    ) -> None:
        self._dsn = dsn
        self._channel = channel
        self._on_payload = on_payload
        self._on_listening = on_listening
        self._on_lost = on_lost
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self, wait_seconds: float) -> bool:
        """Start listening in the background; whether it listens within ``wait_seconds``.

        The server starts either way (like /readyz, it reports a database that is down rather
        than refusing to run); subscriptions fail until the listener connects.
        """
        self._task = asyncio.create_task(self._run(), name="gql_progress live listener")
        try:
            await asyncio.wait_for(self._listening.wait(), wait_seconds)
        except TimeoutError:
            logger.warning("live updates: not listening yet (PostgreSQL unreachable?); retrying")
            return False
        return True

    async def stop(self) -> None:
        self._stopping = True  # shutting down is not a lost connection: nobody is told
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        delay = _RETRY_FIRST_SECONDS
        while True:
            try:
                conn = await asyncpg.connect(self._dsn, timeout=10)
            except Exception as exc:  # whatever it was, the next attempt may succeed
                logger.warning("live updates: cannot connect to listen (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_SECONDS)
                continue
            try:
                await self._listen(conn)
                delay = _RETRY_FIRST_SECONDS
            except Exception as exc:  # never let the listener die: reconnect instead
                logger.warning("live updates: listening connection lost (%s)", exc)
            finally:
                was_listening = self._listening.is_set()
                self._listening.clear()
                # terminate(), not close(): close() waits on a server that may be gone.
                conn.terminate()
                if was_listening and not self._stopping:
                    self._on_lost()
            await asyncio.sleep(delay)

    async def _listen(self, conn: Any) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(self._channel, self._deliver)
        self._listening.set()
        self._on_listening()
        logger.info("live updates: listening on channel %s", self._channel)
        while not lost.is_set():
            try:
                await asyncio.wait_for(lost.wait(), _HEALTH_CHECK_SECONDS)
            except TimeoutError:
                await conn.fetchval("SELECT 1", timeout=10)  # raises when the server is gone
        logger.warning("live updates: listening connection closed")

    def _deliver(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            self._on_payload(payload)
        except Exception:  # one bad notice must not stop the others
            logger.exception("live updates: could not deliver a notification")
