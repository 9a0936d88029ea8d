"""Whose progress a nested field shows: inherited from the parent, or named by an admin."""

from __future__ import annotations

from gql_progress.api.context import Info
from gql_progress.api.ids import decode_id


def subject_user(info: Info, inherited: int, user_id: str | None) -> int:
    """``inherited`` came from the parent object (already authorised); ``user_id`` overrides it."""
    if user_id is None:
        return inherited
    return info.context.viewer.subject(decode_id(user_id, "User", ("userId",)))


def requested_subject(info: Info, user_id: str | None) -> int:
    """The user a top-level field is about: the caller, or ``userId`` for admins."""
    requested = None if user_id is None else decode_id(user_id, "User", ("userId",))
    return info.context.viewer.subject(requested)
