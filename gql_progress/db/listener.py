"""One dedicated PostgreSQL connection per server process, LISTENing on every channel the
process follows (live updates, credential changes).

Not a pooled connection: LISTEN belongs to a session, and a pool would hand the session to
requests (and reset it with UNLISTEN *). Notifications arrive at asyncpg's callback, in this
event loop, and go straight to the channel's follower.

A dropped connection loses whatever was notified meanwhile, so every follower's ``on_lost`` runs
(the live hub ends every subscription, the credential cache empties) and the listener reconnects
with back-off. A peer that vanished without closing the socket is noticed by a periodic
``SELECT 1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

logger = logging.getLogger("gql_progress.live")

_HEALTH_CHECK_SECONDS = 30.0
_RETRY_FIRST_SECONDS = 0.5
_RETRY_MAX_SECONDS = 30.0
# How long a NOTIFY sent through the pool may take to reach a LISTEN at start-up (milliseconds
# when it does).
NOTICE_WAIT_SECONDS = 5.0


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """``postgresql+asyncpg://…`` as asyncpg itself accepts it."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


class ListenMisconfigured(RuntimeError):
    """Notifications sent through the pool do not reach the LISTEN connection's address."""


def misdirected(within: float) -> str:
    return (
        f"a notification sent through GQL_PROGRESS_DATABASE_URL did not reach a LISTEN on "
        f"GQL_PROGRESS_DB_LISTEN_URL within {within:g} s: the listen URL must reach the same "
        "PostgreSQL database directly, not through a transaction pooler (live updates would never "
        "arrive, and a revoked API key would stay cached)"
    )


async def notices_arrive(
    listen_dsn: str, notify: Callable[[str, str], Awaitable[None]], within: float
) -> bool:
    """Whether ``notify(channel, payload)`` (a NOTIFY sent through the pool, as the credential
    triggers send theirs) reaches a LISTEN on ``listen_dsn`` within ``within`` seconds.

    Catches what no URL check can: a listen URL naming another database (notifications stay in
    their database), or a transaction pooler, where LISTEN runs on a session the client no
    longer holds once the statement ends. Raises when ``listen_dsn`` cannot be reached.
    """
    channel = f"gql_progress_probe_{secrets.token_hex(8)}"
    payload = secrets.token_hex(8)
    arrived = asyncio.Event()

    def deliver(received: str) -> None:
        if received == payload:
            arrived.set()

    async with listening(listen_dsn, channel, deliver):
        await notify(channel, payload)
        try:
            await asyncio.wait_for(arrived.wait(), within)
        except TimeoutError:
            return False
        return True


@asynccontextmanager
async def listening(dsn: str, channel: str, on_payload: Callable[[str], None]) -> AsyncIterator[None]:
    """A LISTEN of its own on ``channel`` while the block runs: for a short task (a start-up
    check, a command), not a server's lasting listener (PgListener)."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.add_listener(channel, lambda _conn, _pid, _channel, payload: on_payload(payload))
        yield
    finally:
        await conn.close(timeout=5)


@dataclass(frozen=True)
class Follower:
    """What one channel's notifications go to, and who must know when they may be missed."""

    channel: str
    on_payload: Callable[[str], None]
    on_listening: Callable[[], None]
    on_lost: Callable[[], None]


class PgListener:
    def __init__(self, dsn: str, *, application_name: str | None = None) -> None:
        self._dsn = dsn
        # Its session's name in pg_stat_activity (auth/credential_sync.py looks for it).
        self._server_settings = {"application_name": application_name} if application_name else None
        self._followers: list[Follower] = []
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def follow(self, follower: Follower) -> None:
        """Listen on ``follower.channel`` too; before start()."""
        if self._task is not None:
            raise RuntimeError("follow() after the listener started")
        self._followers.append(follower)

    @property
    def following(self) -> bool:
        return bool(self._followers)

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    async def start(self, wait_seconds: float) -> bool:
        """Start listening in the background; whether it listens within ``wait_seconds``.

        The server starts either way (like /readyz, it reports a database that is down rather
        than refusing to run); subscriptions fail until the listener connects.
        """
        self._task = asyncio.create_task(self._run(), name="gql_progress listener")
        try:
            await asyncio.wait_for(self._listening.wait(), wait_seconds)
        except TimeoutError:
            logger.warning("listener: not listening yet (PostgreSQL unreachable?); retrying")
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
                conn = await asyncpg.connect(self._dsn, timeout=10, server_settings=self._server_settings)
            except Exception as exc:  # whatever it was, the next attempt may succeed
                logger.warning("listener: cannot connect to listen (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_SECONDS)
                continue
            try:
                await self._listen(conn)
                delay = _RETRY_FIRST_SECONDS
            except Exception as exc:  # never let the listener die: reconnect instead
                logger.warning("listener: listening connection lost (%s)", exc)
            finally:
                was_listening = self._listening.is_set()
                self._listening.clear()
                # terminate(), not close(): close() waits on a server that may be gone.
                conn.terminate()
                if was_listening and not self._stopping:
                    for follower in self._followers:
                        follower.on_lost()
            await asyncio.sleep(delay)

    async def _listen(self, conn: Any) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        for follower in self._followers:
            await conn.add_listener(follower.channel, self._deliverer(follower))
        self._listening.set()
        for follower in self._followers:
            follower.on_listening()
        logger.info("listening on %s", ", ".join(f.channel for f in self._followers))
        while not lost.is_set():
            try:
                await asyncio.wait_for(lost.wait(), _HEALTH_CHECK_SECONDS)
            except TimeoutError:
                await conn.fetchval("SELECT 1", timeout=10)  # raises when the server is gone
        logger.warning("listener: listening connection closed")

    @staticmethod
    def _deliverer(follower: Follower) -> Callable[[Any, int, str, str], None]:
        def deliver(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            try:
                follower.on_payload(payload)
            except Exception:  # one bad notice must not stop the others
                logger.exception("listener: could not deliver a notification on %s", follower.channel)

        return deliver
