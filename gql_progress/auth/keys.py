"""API keys: a checksummed format secret scanners can find, stored only as a SHA-256 hash.

A key is ``gqlp_`` + 43 base62 characters (32 random bytes) + 6 base62 characters of the
CRC32 of everything before them, 54 characters in all, like GitHub's tokens. The checksum lets
a scanner (or this server) reject a mistyped or made-up key without asking the database.

Keys issued before this format were ``gqlp_`` + ``secrets.token_urlsafe(32)`` (43 characters of
``[A-Za-z0-9_-]``). The two are told apart by shape: exactly 49 base62 characters after the
prefix is the checksummed format, which no legacy key can have (they are 43 characters long);
any other ``gqlp_`` key of URL-safe characters is legacy, looked up by its hash as before while
GQL_PROGRESS_API_KEY_LEGACY_ENABLED is true (the default: deprecated, not broken).
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, insert, literal, select, update

from gql_progress.db.engine import Database
from gql_progress.db.models import ApiKey, User, UserRole
from gql_progress.db.rows import ApiKeyRow, columns, first, one
from gql_progress.db.types import UTCDateTime, utcnow
from gql_progress.domain.catalog import refuse_nul
from gql_progress.domain.errors import NotFound, ProblemList
from gql_progress.domain.scopes import ROLE_SCOPES, Scope, format_scopes
from gql_progress.domain.viewer import Viewer

KEY_PREFIX = "gqlp_"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_BYTES = 32
RANDOM_LENGTH = 43  # 62**43 > 2**256: every 32-byte value fits
CHECKSUM_LENGTH = 6  # 62**6 > 2**32: every CRC32 fits
KEY_LENGTH = len(KEY_PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
# Longer than any key we or earlier versions issued; refused before hashing.
MAX_LEGACY_LENGTH = 200
MAX_LABEL_LENGTH = 200
_DISPLAY_PREFIX_LENGTH = 12

_CHECKSUMMED = re.compile(rf"{KEY_PREFIX}[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}}")
_LEGACY = re.compile(rf"{KEY_PREFIX}[A-Za-z0-9_-]+")

# Everything of a key but its hash: what listings and payloads may show.
API_KEY_COLUMNS = columns(ApiKeyRow)


class KeyFormat(enum.Enum):
    CHECKSUMMED = "checksummed"
    LEGACY = "legacy"


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits)).rjust(width, BASE62[0])


def checksum(body: str) -> str:
    """The 6 characters that end a key whose first 48 characters are ``body``."""
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def new_key() -> str:
    body = KEY_PREFIX + _base62(int.from_bytes(secrets.token_bytes(RANDOM_BYTES), "big"), RANDOM_LENGTH)
    return body + checksum(body)


def key_format(secret: str, *, accept_legacy: bool = True) -> KeyFormat | None:
    """The format of a presented key, or None when it cannot be a valid key (then it is refused
    without a database lookup): not ours, a checksummed key whose checksum is wrong, or a legacy
    key while those are turned off."""
    if _CHECKSUMMED.fullmatch(secret):
        body, given = secret[:-CHECKSUM_LENGTH], secret[-CHECKSUM_LENGTH:]
        return KeyFormat.CHECKSUMMED if secrets.compare_digest(checksum(body), given) else None
    if accept_legacy and len(secret) <= MAX_LEGACY_LENGTH and _LEGACY.fullmatch(secret):
        return KeyFormat.LEGACY
    return None


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    id: int
    secret: str  # the full key: shown once to the person who asked for it, never stored
    prefix: str
    row: ApiKeyRow  # the stored key, for payloads


def validate_key_request(
    role: UserRole, label: str | None, scopes: Iterable[Scope] | None
) -> tuple[str, frozenset[Scope]]:
    """The label and scopes to store. No scope list means every scope the role allows; a scope
    the role cannot hold is refused rather than silently dropped (the caller asked for it)."""
    problems = ProblemList()
    label = label or ""
    if len(label) > MAX_LABEL_LENGTH:
        problems.add(("label",), f"must be at most {MAX_LABEL_LENGTH} characters")
    refuse_nul(problems, {"label": label})
    allowed = ROLE_SCOPES[role]
    wanted = allowed if scopes is None else frozenset(scopes)
    if not wanted:
        problems.add(("scopes",), "must list at least one scope")
    elif not wanted <= allowed:
        beyond = ", ".join(sorted(scope.value for scope in wanted - allowed))
        problems.add(("scopes",), f"a {role.value.lower()} cannot hold: {beyond}")
    problems.raise_if_any()
    return label, wanted


async def issue_api_key(
    db: Database, user_id: int, label: str = "", scopes: Iterable[Scope] | None = None
) -> IssuedKey:
    """Create a key for ``user_id`` (NotFound if there is none; InvalidInput for a bad label or
    scopes beyond the user's role). No ``scopes``: all of the role's."""
    secret = new_key()
    prefix = secret[:_DISPLAY_PREFIX_LENGTH]
    async with db.write() as conn:
        role = await conn.scalar(select(User.role).where(User.id == user_id))
        if role is None:
            raise NotFound("user")
        label, granted = validate_key_request(UserRole(role), label, scopes)
        row = one(
            ApiKeyRow,
            await conn.execute(
                insert(ApiKey)
                .values(
                    prefix=prefix,
                    key_hash=hash_key(secret),
                    user_id=user_id,
                    label=label,
                    scopes=format_scopes(granted),
                    legacy_format=False,
                    created_at=utcnow(),
                )
                .returning(*API_KEY_COLUMNS)
            ),
        )
    return IssuedKey(id=row.id, secret=secret, prefix=prefix, row=row)


async def revoke_api_key(db: Database, viewer: Viewer, key_id: int) -> ApiKeyRow:
    """Revoke a key: any key for an admin, the caller's own keys for anyone else. Another user's
    key answers NotFound, exactly as a key that does not exist. Revoking twice keeps the first
    time. The next request with the key is refused, in this process and (by the database's
    notice) in every other (auth/credential_cache.py)."""
    condition = ApiKey.id == key_id
    if not viewer.is_admin:
        condition = condition & (ApiKey.user_id == viewer.user_id)
    async with db.write() as conn:
        db.note_credentials_changed(conn)
        row = first(
            ApiKeyRow,
            await conn.execute(
                update(ApiKey)
                .where(condition)
                .values(revoked_at=func.coalesce(ApiKey.revoked_at, literal(utcnow(), UTCDateTime())))
                .returning(*API_KEY_COLUMNS)
            ),
        )
    if row is None:
        raise NotFound("API key")
    return row
