"""Recently checked credentials, kept for a short while so that most requests skip the lookup.

The key lookup was one of a read's two round trips (bench/RESULTS.md, ladder step 11). An entry
is dropped as soon as what it was derived from changes:

- in every process, by PostgreSQL: triggers on ``api_keys`` and ``users`` (migration 0010)
  NOTIFY ``gql_progress_credentials`` with ``key:<hash>`` or ``user:<id>`` when a key is revoked
  or changed, or a user changed or deleted; each process LISTENs (db/listener.py);
- in this process at once, before the revoking request answers: the revocation bumps
  ``Database.credentials_epoch`` and entries of an older epoch are not used, so a client that
  revokes a key and retries on the same process is refused even if the notice is still in flight;
- in the other processes before the revoking request answers: it waits until each has seen the
  notice (auth/credential_sync.py);
- after ``GQL_PROGRESS_API_KEY_CACHE_SECONDS`` in any case.

Nothing is cached while the listener is not listening (at start-up, or after its connection was
lost, which empties the cache): a notice missed then could leave a revoked key usable. Refusals
are never cached, so a key cannot be made to look revoked, and a flood of bad keys cannot evict
the good ones faster than they arrive.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from gql_progress.auth.credential_sync import CredentialSync
from gql_progress.db.engine import Database
from gql_progress.db.listener import Follower

CHANNEL = "gql_progress_credentials"
MAX_ENTRIES = 10_000

T = TypeVar("T")


@dataclass(frozen=True)
class _Entry(Generic[T]):
    value: T
    user_id: int
    epoch: int
    expires: float


class CredentialCache(Generic[T]):
    """Maps a credential's digest (a key's hash, a token's subject) to what it authenticated."""

    def __init__(self, db: Database, ttl_seconds: float) -> None:
        self._db = db
        self._ttl = ttl_seconds
        self._entries: OrderedDict[str, _Entry[T]] = OrderedDict()
        self._active = False  # only while the listener listens
        self.sync = CredentialSync(db, CHANNEL)

    def follower(self) -> Follower:
        return Follower(CHANNEL, on_payload=self.forget, on_listening=self.resume, on_lost=self.suspend)

    def get(self, digest: str) -> T | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry.epoch != self._db.credentials_epoch or entry.expires < time.monotonic():
            del self._entries[digest]
            return None
        return entry.value

    def put(self, digest: str, value: T, user_id: int, epoch: int) -> None:
        """``epoch``: Database.credentials_epoch read before the lookup that found ``value``, so
        a revocation committed while the lookup ran leaves the entry stale, not fresh."""
        if not self._active or epoch != self._db.credentials_epoch:
            return
        self._entries[digest] = _Entry(value, user_id, epoch, time.monotonic() + self._ttl)
        if len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    def forget(self, payload: str) -> None:
        """A notice from the triggers: ``key:<hash>``, ``user:<id>``, or anything else (all);
        ``sync:`` and ``ack:`` (credential_sync.py) drop nothing."""
        kind, _, subject = payload.partition(":")
        if self.sync.on_notice(kind, subject):
            return
        if kind == "key":
            self._entries.pop(subject, None)
        elif kind == "user" and subject.isdigit():
            user_id = int(subject)
            for digest in [d for d, e in self._entries.items() if e.user_id == user_id]:
                del self._entries[digest]
        else:
            self._entries.clear()

    def suspend(self) -> None:
        self._active = False
        self._entries.clear()

    def resume(self) -> None:
        self._active = True

    def __len__(self) -> int:
        return len(self._entries)
