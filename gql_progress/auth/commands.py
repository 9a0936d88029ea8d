"""The API key commands of the gql-progress CLI (create-api-key, list-api-keys, revoke-api-key).

The CLI runs with the database's credentials, so it acts as an admin. Each function returns
what to print, or raises DomainError with a message for the person at the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select

from gql_progress.auth.keys import API_KEY_COLUMNS, issue_api_key, revoke_api_key
from gql_progress.db.engine import Database
from gql_progress.db.models import ApiKey, User, UserRole
from gql_progress.domain.catalog import normalize_email
from gql_progress.domain.errors import DomainError, NotFound
from gql_progress.domain.ids import try_decode_id
from gql_progress.domain.scopes import Scope
from gql_progress.domain.viewer import Viewer

SCOPE_CHOICES = [scope.value for scope in Scope]
# The CLI's own viewer: no user, every admin power (it already holds the database).
_OPERATOR = Viewer(user_id=0, role=UserRole.ADMIN)


async def _user_id(db: Database, email_or_external_id: str) -> int:
    async with db.read() as conn:
        user_id = await conn.scalar(
            select(User.id).where(
                or_(
                    User.email == normalize_email(email_or_external_id),
                    User.external_id == email_or_external_id,
                )
            )
        )
    if user_id is None:
        raise DomainError(f"no user with email or external id {email_or_external_id!r}")
    return int(user_id)


async def create_key(db: Database, user: str, label: str, scopes: Sequence[str] | None) -> str:
    """The new key's secret. No scopes: all of the user's role."""
    user_id = await _user_id(db, user)
    wanted = None if not scopes else [Scope(name) for name in scopes]
    return (await issue_api_key(db, user_id, label, wanted)).secret


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds")


async def list_keys(db: Database, user: str | None, include_revoked: bool) -> list[str]:
    """One tab-separated line per key (a header first), oldest first."""
    query = select(*API_KEY_COLUMNS, User.email).join(User, User.id == ApiKey.user_id).order_by(ApiKey.id)
    if user is not None:
        query = query.where(ApiKey.user_id == await _user_id(db, user))
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
    lines = ["id\tprefix\tuser\tlabel\tscopes\tcreated\tlast_used\trevoked\tformat"]
    for row in rows:
        lines.append(
            "\t".join(
                [
                    str(row.id),
                    f"{row.prefix}…",
                    row.email,
                    row.label or "-",
                    ",".join(row.scopes.split()) or "-",
                    _when(row.created_at),
                    _when(row.last_used_at),
                    _when(row.revoked_at),
                    "legacy" if row.legacy_format else "checksummed",
                ]
            )
        )
    return lines


async def revoke_key(db: Database, key: str) -> str:
    """Revoke a key named by its number (as list-api-keys shows) or its global id."""
    key_id = int(key) if key.isdigit() and len(key) <= 10 else try_decode_id(key, "ApiKey")
    if key_id is None:
        raise NotFound("API key", key)
    try:
        row = await revoke_api_key(db, _OPERATOR, key_id)
    except NotFound:
        raise NotFound("API key", key) from None
    return f"revoked key {row.id} ({row.prefix}…) at {_when(row.revoked_at)}"
