"""Whose progress a nested field shows: inherited from the parent, or named by an admin."""

from __future__ import annotations

from gql_progress.api.context import Info
from gql_progress.domain.ids import decode_id
from gql_progress.domain.refs import Identity


def subject_user(info: Info, inherited: int, user_id: str | None) -> int:
    """``inherited`` came from the parent object (already authorised); ``user_id`` overrides it."""
    if user_id is None:
        return inherited
    return info.context.viewer.subject(decode_id(user_id, "User", ("userId",)))


def requested_subject(info: Info, user_id: str | None) -> int:
    """The user a top-level field is about: the caller, or ``userId`` for admins."""
    requested = None if user_id is None else decode_id(user_id, "User", ("userId",))
    return info.context.viewer.subject(requested)


async def caller_identity(info: Info) -> Identity:
    """The caller's own identifiers, to recognise refs (email, external id) that name them."""
    row = await info.context.loaders.user_by_id.load(info.context.viewer.user_id)  # primed: no query
    assert row is not None  # a key cascades with its user
    return Identity(id=row.id, email=row.email, external_id=row.external_id)
