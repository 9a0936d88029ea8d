"""Live updates for one server process: the broker, fed by LISTEN or by local commits."""

from __future__ import annotations

from collections.abc import Sequence

from gql_progress.db.engine import Database
from gql_progress.live.broker import Broker
from gql_progress.live.listener import PgListener, asyncpg_dsn
from gql_progress.live.notify import decode
from gql_progress.settings import Settings

# Start-up waits this long for the LISTEN connection, so that a server that answers requests
# also delivers their updates; past it the server starts anyway and keeps trying.
_LISTEN_WAIT_SECONDS = 10.0


class LiveUpdates:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._channel = settings.live_channel
        self._listener: PgListener | None = None
        if db.is_sqlite:
            # SQLite has no NOTIFY: this process announces its own commits, and only to itself.
            self.broker = Broker(settings.live_queue_size)
        else:
            self.broker = Broker(settings.live_queue_size, available=False)
            self._listener = PgListener(
                asyncpg_dsn(db.url),
                settings.live_channel,
                on_payload=self._publish,
                on_listening=self.broker.resume,
                on_lost=self.broker.suspend,
            )

    async def start(self) -> None:
        self._db.live_channel = self._channel
        if self._listener is not None:
            await self._listener.start(_LISTEN_WAIT_SECONDS)
        else:
            self._db.on_committed = self._publish_committed

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
        self._db.on_committed = None
        self._db.live_channel = None

    def _publish(self, payload: str) -> None:
        notice = decode(payload)
        if notice is not None:
            self.broker.publish(notice)

    def _publish_committed(self, payloads: Sequence[str]) -> None:
        # The same encoded form PostgreSQL would have carried: one path to decode and test.
        for payload in payloads:
            self._publish(payload)
