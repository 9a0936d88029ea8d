"""Who is calling: a bearer credential (API key or JWT) becomes a Viewer with its scopes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update

from gql_progress.auth.credential_cache import CredentialCache
from gql_progress.auth.jwt import JwtVerifier, TokenClaims, looks_like_jwt
from gql_progress.auth.keys import hash_key, key_format
from gql_progress.db.engine import Database
from gql_progress.db.models import ApiKey, User, UserRole
from gql_progress.db.rows import UserRow, columns, first, make
from gql_progress.db.types import utcnow
from gql_progress.domain.scopes import parse_scopes
from gql_progress.domain.viewer import Viewer

logger = logging.getLogger("gql_progress.auth")

# Every request runs one of these: built once, since building a SELECT costs about as much CPU
# as the whole round trip to PostgreSQL (bench/RESULTS.md, ladder step 6).
_KEY_HOLDER = (
    select(ApiKey.id, ApiKey.scopes, *columns(UserRow))
    .join(User, User.id == ApiKey.user_id)
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)
_TOKEN_SUBJECT = select(*columns(UserRow)).where(User.external_id == bindparam("subject"))


@dataclass(frozen=True)
class Authenticated:
    viewer: Viewer
    # The caller's users row, fetched with the credential: `me` needs no statement of its own.
    user: UserRow

    @property
    def principal(self) -> str:
        """Whose budget and log lines a request is: the API key, or a token's user."""
        if self.viewer.api_key_id is not None:
            return f"key:{self.viewer.api_key_id}"
        return f"user:{self.viewer.user_id}"


class Authenticator:
    """Turns a bearer credential into a Viewer with at most one SELECT per request.

    What can be refused without the database is: a JWT by its signature and claims, a key by
    its shape and checksum (keys.py). With a ``cache`` (PostgreSQL), what a key or a token's
    subject found is kept until a revocation or a change to the user says otherwise
    (credential_cache.py); without one, every request looks it up.

    ``lastUsedAt`` is not written per request: the keys used since the last flush are
    remembered and written in one UPDATE every ``touch_interval`` seconds (and at shutdown),
    so reads stay read-only and the bookkeeping costs one statement per interval, not per call.
    """

    def __init__(
        self,
        db: Database,
        touch_interval_seconds: float,
        *,
        tokens: JwtVerifier | None = None,
        accept_legacy_keys: bool = True,
        cache: CredentialCache[Authenticated | UserRow] | None = None,
    ) -> None:
        self._db = db
        self._cache = cache
        self._touch_interval = touch_interval_seconds
        self._used: set[int] = set()
        self._tokens = tokens
        self._accept_legacy_keys = accept_legacy_keys

    async def authenticate(self, credential: str) -> Authenticated | None:
        if looks_like_jwt(credential):
            claims = await self._tokens.verify(credential) if self._tokens is not None else None
            return None if claims is None else await self._token_user(claims)
        if key_format(credential, accept_legacy=self._accept_legacy_keys) is None:
            return None
        key_hash = hash_key(credential)
        cache = self._cache
        if cache is not None and isinstance(known := cache.get(key_hash), Authenticated):
            assert known.viewer.api_key_id is not None  # cached under a key's hash: a key's viewer
            self._used.add(known.viewer.api_key_id)
            return known
        epoch = self._db.credentials_epoch
        row = await self._key_holder(key_hash)
        if row is None:
            return None
        api_key_id, api_key_scopes, *user_columns = row
        user = make(UserRow, user_columns)
        self._used.add(api_key_id)
        viewer = Viewer(
            user_id=user.id,
            role=UserRole(user.role),
            api_key_id=api_key_id,
            granted_scopes=parse_scopes(api_key_scopes),
        )
        authenticated = Authenticated(viewer=viewer, user=user)
        if cache is not None:
            cache.put(key_hash, authenticated, user.id, epoch)
        return authenticated

    async def _key_holder(self, key_hash: str) -> Sequence[Any] | None:
        """The key's id, scopes and holder's user columns, unless it is unknown or revoked. On
        asyncpg directly where it can be: a process that has not seen a key yet (just started,
        or many learners each calling now and then) sends this once per request."""
        if self._db.reads_alone:
            rows = await self._db.read_alone(_KEY_HOLDER, {"key_hash": key_hash})
            return rows[0] if rows else None
        async with self._db.read() as conn:
            row: Sequence[Any] | None = (await conn.execute(_KEY_HOLDER, {"key_hash": key_hash})).first()
            return row

    async def _token_user(self, claims: TokenClaims) -> Authenticated | None:
        # The subject's users row is cached; the viewer is rebuilt from each token's own claims.
        digest = f"sub:{claims.subject}"
        cache = self._cache
        row = cache.get(digest) if cache is not None else None
        if not isinstance(row, UserRow):
            epoch = self._db.credentials_epoch
            async with self._db.read() as conn:
                row = first(UserRow, await conn.execute(_TOKEN_SUBJECT, {"subject": claims.subject}))
            if row is None:
                logger.info("bearer token refused: no user with the token's sub")
                return None
            if cache is not None:
                cache.put(digest, row, row.id, epoch)
        # The role claim only where the settings honour it; the scopes claim only narrows.
        viewer = Viewer(
            user_id=row.id,
            role=claims.role or UserRole(row.role),
            granted_scopes=claims.scopes,
        )
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
