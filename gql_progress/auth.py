"""API keys: minted by the CLI, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from gql_progress.db.engine import Database
from gql_progress.db.models import ApiKey, User, UserRole
from gql_progress.db.types import utcnow
from gql_progress.domain.viewer import Viewer

KEY_PREFIX = "gqlp_"
_DISPLAY_PREFIX_LENGTH = 12


@dataclass(frozen=True)
class IssuedKey:
    id: int
    secret: str  # the full key: shown once to the person who asked for it, never stored
    prefix: str


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue_api_key(db: Database, user_id: int, label: str = "") -> IssuedKey:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    prefix = secret[:_DISPLAY_PREFIX_LENGTH]
    async with db.write() as conn:
        key_id = await conn.scalar(
            insert(ApiKey)
            .values(
                prefix=prefix,
                key_hash=hash_key(secret),
                user_id=user_id,
                label=label,
                created_at=utcnow(),
            )
            .returning(ApiKey.id)
        )
    assert key_id is not None
    return IssuedKey(id=key_id, secret=secret, prefix=prefix)


class Authenticator:
    """Turns a bearer key into a Viewer; one SELECT per request.

    ``lastUsedAt`` is written at most once per ``touch_interval`` per key and process, so that
    reads do not each pay for a write.
    """

    def __init__(self, db: Database, touch_interval_seconds: float) -> None:
        self._db = db
        self._touch_interval = touch_interval_seconds
        self._last_touch: dict[int, float] = {}

    async def authenticate(self, secret: str) -> Viewer | None:
        if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(ApiKey.id, ApiKey.user_id, User.role)
                    .join(User, User.id == ApiKey.user_id)
                    .where(ApiKey.key_hash == hash_key(secret), ApiKey.revoked_at.is_(None))
                )
            ).first()
        if row is None:
            return None
        await self._touch(row.id)
        return Viewer(user_id=row.user_id, role=UserRole(row.role), api_key_id=row.id)

    async def _touch(self, key_id: int) -> None:
        now = time.monotonic()
        last = self._last_touch.get(key_id)
        if last is not None and now - last < self._touch_interval:
            return
        self._last_touch[key_id] = now
        async with self._db.write() as conn:
            await conn.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow()))
