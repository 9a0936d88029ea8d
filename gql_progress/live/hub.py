"""Live updates for one server process: the broker, fed by LISTEN or by local commits."""

from __future__ import annotations

from collections.abc import Sequence

from gql_progress.db.engine import Database
from gql_progress.db.listener import Follower, PgListener
from gql_progress.domain.completion.notices import decode
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
        notice = decode(payload)
        if notice is not None:
            self.broker.publish(notice)

    def _publish_committed(self, payloads: Sequence[str]) -> None:
        # The same encoded form PostgreSQL would have carried: one path to decode and test.
        for payload in payloads:
            self._publish(payload)
