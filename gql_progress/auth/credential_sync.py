"""Every process's credential cache told of a revocation before the request that revoked answers.

The revocation's notice reaches every process's LISTEN within milliseconds, but a client whose
next request went to another process could still be let in meanwhile (about one such request
in fifty, measured with three processes on a loaded machine). So after the commit, the revoking
process:

1. reads which processes keep a cache: each one's LISTEN session is named
   ``gql_progress cache <id>`` (its application_name, in pg_stat_activity);
2. NOTIFYs ``sync:<token>`` on the credentials channel;
3. waits until each of them has answered ``ack:<token>:<id>`` (at most ``SETTLE_SECONDS``).

PostgreSQL delivers a channel's notices to each listener in commit order, so a process that saw
the sync had already dropped the revoked key: once every one has answered, the key is refused
everywhere. A process that does not answer in time (stuck, or its LISTEN just reconnecting) is
logged, and drops the key when its notice arrives, as before.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from gql_progress.db.engine import Database
from gql_progress.db.listener import listening

CACHE_LISTENER = "gql_progress cache "
# How long a revoking request waits for the other processes (milliseconds when they are well).
SETTLE_SECONDS = 2.0

logger = logging.getLogger("gql_progress.auth")

_CACHES = text(
    "SELECT application_name FROM pg_stat_activity"
    " WHERE datname = current_database() AND starts_with(application_name, :prefix)"
)


class CredentialSync:
    def __init__(self, db: Database, channel: str, *, answers: bool = True) -> None:
        self._db = db
        self._channel = channel
        # A process without a cache (the CLI) only waits: nobody waits for its answer.
        self._answers = answers
        # This process's LISTEN session's application_name (db/listener.py sets it).
        self.name = f"{CACHE_LISTENER}{secrets.token_hex(6)}"
        self._pending: dict[str, tuple[set[str], asyncio.Event]] = {}
        self._acks: set[asyncio.Task[None]] = set()

    async def settle(self) -> None:
        """After a commit that changed credentials: return once every process with a cache has
        seen it (see the module's docstring). Never raises: the change is committed, and the
        request that made it must say so."""
        token = secrets.token_hex(8)
        answered = asyncio.Event()
        waiting: set[str] = set()
        expected = 0
        try:
            # On the primary, whatever the request's route: the listeners are its sessions.
            async with self._db.write() as conn:
                waiting = set((await conn.execute(_CACHES, {"prefix": CACHE_LISTENER})).scalars())
            if not waiting:
                return
            expected = len(waiting)
            self._pending[token] = (waiting, answered)
            await self._db.notify(self._channel, f"sync:{token}")
            await asyncio.wait_for(answered.wait(), SETTLE_SECONDS)
        except TimeoutError:
            logger.warning(
                "%d of %d processes did not confirm a credential change within %.0f s; each drops "
                "it when the change's notice arrives",
                len(waiting),
                expected,
                SETTLE_SECONDS,
            )
        except Exception as exc:  # the database failed after the commit: the notices still go
            logger.warning("could not wait for the processes to confirm a credential change: %s", exc)
        finally:
            self._pending.pop(token, None)

    def on_notice(self, kind: str, subject: str) -> bool:
        """Handle a ``sync`` or ``ack`` notice of the credentials channel; False for others."""
        if kind == "sync":
            if not self._answers:
                return True
            task = asyncio.get_running_loop().create_task(self._ack(subject))
            self._acks.add(task)
            task.add_done_callback(self._acks.discard)
            return True
        if kind == "ack":
            token, _, name = subject.partition(":")
            pending = self._pending.get(token)
            if pending is not None:
                waiting, answered = pending
                waiting.discard(name)
                if not waiting:
                    answered.set()
            return True
        return False

    def on_payload(self, payload: str) -> None:
        kind, _, subject = payload.partition(":")
        self.on_notice(kind, subject)

    async def _ack(self, token: str) -> None:
        try:
            await self._db.notify(self._channel, f"ack:{token}:{self.name}")
        except Exception as exc:  # the revoking process waits its bound, then goes on
            logger.warning("could not confirm a credential change: %s", exc)


@asynccontextmanager
async def confirmed_revocations(db: Database, channel: str, listen_dsn: str) -> AsyncIterator[None]:
    """For a process without a cache (``gql-progress revoke-api-key``): a revocation committed
    in the block waits, as the servers' own do, until every server's cache confirmed it."""
    sync = CredentialSync(db, channel, answers=False)
    async with listening(listen_dsn, channel, sync.on_payload):
        db.on_credentials_committed = sync.settle
        try:
            yield
        finally:
            db.on_credentials_committed = None
