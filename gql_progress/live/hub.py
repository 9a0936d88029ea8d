"""Live updates for one server process: the broker, fed by LISTEN (every process's batches of
notices, this one's included) or, on SQLite, by this process's commits."""

from __future__ import annotations

from collections.abc import Sequence

from gql_progress.db.engine import Database
from gql_progress.db.listener import Follower, PgListener, asyncpg_dsn
from gql_progress.domain.completion.notices import decode_batch
from gql_progress.live.broker import Broker
from gql_progress.settings import Settings


class LiveUpdates:
    """``listener``: the process's LISTEN connection on PostgreSQL (started by the app after
    this follows its channel); None on SQLite."""

    def __init__(self, db: Database, settings: Settings, listener: PgListener | None) -> None:
        self._db = db
        self._channel = settings.live_channel
        self._uses_listener = listener is not None
        if listener is None:
            # SQLite has no NOTIFY: this process announces its own commits, and only to itself.
            self.broker = Broker(settings.live_queue_size)
        else:
            self.broker = Broker(settings.live_queue_size, available=False)
            if db.notifier is not None:
                # Where the listener connects: PostgreSQL itself, also behind a transaction pooler.
                db.notifier.dsn = asyncpg_dsn(settings.listen_url_in_effect)
            listener.follow(
                Follower(
                    settings.live_channel,
                    on_payload=self._publish,
                    on_listening=self.broker.resume,
                    on_lost=self.broker.suspend,
                )
            )

    def start(self) -> None:
        self._db.live_channel = self._channel
        if not self._uses_listener:
            self._db.on_committed = self._publish_committed

    def stop(self) -> None:
        self._db.on_committed = None
        self._db.live_channel = None

    def _publish(self, payload: str) -> None:
        for notice in decode_batch(payload):
            self.broker.publish(notice)

    def _publish_committed(self, payloads: Sequence[str]) -> None:
        # The same encoded form NOTIFY carries on PostgreSQL: one path to decode and test.
        for payload in payloads:
            self._publish(payload)
