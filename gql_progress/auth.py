"""API keys: minted by the CLI, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, insert, select, update

from gql_progress.db.engine import Database
from gql_progress.db.models import ApiKey, User, UserRole
from gql_progress.db.types import utcnow
from gql_progress.domain.viewer import Viewer

logger = logging.getLogger("gql_progress.auth")

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


@dataclass(frozen=True)
class Authenticated:
    viewer: Viewer
    # The caller's users row, fetched with the key: `me` needs no statement of its own.
    user: Row[Any]


class Authenticator:
    """Turns a bearer key into a Viewer with one SELECT per request.

    ``lastUsedAt`` is not written per request: the keys used since the last flush are
    remembered and written in one UPDATE every ``touch_interval`` seconds (and at shutdown),
    so reads stay read-only and the bookkeeping costs one statement per interval, not per call.
    """

    def __init__(self, db: Database, touch_interval_seconds: float) -> None:
        self._db = db
        self._touch_interval = touch_interval_seconds
        self._used: set[int] = set()

    async def authenticate(self, secret: str) -> Authenticated | None:
        if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    select(ApiKey.id.label("api_key_id"), *User.__table__.c)
                    .join(User, User.id == ApiKey.user_id)
                    .where(ApiKey.key_hash == hash_key(secret), ApiKey.revoked_at.is_(None))
                )
            ).first()
        if row is None:
            return None
        self._used.add(row.api_key_id)
        viewer = Viewer(user_id=row.id, role=UserRole(row.role), api_key_id=row.api_key_id)
        return Authenticated(viewer=viewer, user=row)

    async def flush(self) -> None:
        """Record lastUsedAt for every key used since the previous flush."""
        used, self._used = self._used, set()
        if not used:
            return
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    update(ApiKey).where(ApiKey.id.in_(sorted(used))).values(last_used_at=utcnow())
                )
        except Exception:
            # Keep them for the next flush rather than lose them to a passing failure.
            self._used |= used
            raise

    async def flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._touch_interval)
            try:
                await self.flush()
            except Exception:  # the next interval tries again; never kill the loop
                logger.exception("could not record API key use")
