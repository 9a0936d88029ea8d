"""The caller, and the one rule for acting on another user's data."""

from __future__ import annotations

from dataclasses import dataclass

from gql_progress.db.models import UserRole
from gql_progress.domain.errors import Forbidden
from gql_progress.domain.scopes import ROLE_SCOPES, Scope


@dataclass(frozen=True)
class Viewer:
    user_id: int
    role: UserRole
    api_key_id: int | None = None
    # What the credential (API key or token) grants; None, for in-process callers (CLI, demo
    # data), means every scope of the role. Never more than the role allows: see ``scopes``.
    granted_scopes: frozenset[Scope] | None = None

    @property
    def scopes(self) -> frozenset[Scope]:
        allowed = ROLE_SCOPES[self.role]
        return allowed if self.granted_scopes is None else allowed & self.granted_scopes

    @property
    def is_admin(self) -> bool:
        # Both: an admin's key without the admin scope acts as an ordinary user of its own data.
        return self.role is UserRole.ADMIN and Scope.ADMIN in self.scopes

    def require_admin(self) -> None:
        if not self.is_admin:
            if self.role is UserRole.ADMIN:
                raise Forbidden("This operation needs a key with the admin scope")
            raise Forbidden("This operation needs an admin key")

    def can_access(self, owner_id: int) -> bool:
        """Whether the viewer may see and change data that ``owner_id`` owns."""
        return self.is_admin or owner_id == self.user_id

    def subject(self, requested_user_id: int | None) -> int:
        """The user a read or write is about: the viewer, or anyone for an admin.

        A non-admin naming any other user is refused before anything is looked up, so the
        answer reveals nothing about whether that user exists.
        """
        if requested_user_id is None or requested_user_id == self.user_id:
            return self.user_id
        if self.is_admin:
            return requested_user_id
        raise Forbidden()


# The SQL twins of the two rules above, for compiled reads (api/compiled): ``caller`` names a row
# of the statement holding the viewer's ``id`` and ``is_admin`` (the latter decided above, from
# the role and the key's scopes, and bound as a parameter). tests/test_access_twins.py holds each
# to its Python rule.


def can_access_sql(caller: str, owner_id: str) -> str:
    """``Viewer.can_access(owner_id)``."""
    return f"({caller}.is_admin OR {owner_id} = {caller}.id)"


def subject_allowed_sql(caller: str, requested_user_id: str) -> str:
    """Whether ``Viewer.subject(requested_user_id)`` answers rather than refuses (NULL: the viewer)."""
    return f"({requested_user_id} IS NULL OR {requested_user_id} = {caller}.id OR {caller}.is_admin)"
