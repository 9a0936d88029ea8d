"""The caller, and the one rule for acting on another user's data."""

from __future__ import annotations

from dataclasses import dataclass

from gql_progress.db.models import UserRole
from gql_progress.domain.errors import Forbidden


@dataclass(frozen=True)
class Viewer:
    user_id: int
    role: UserRole
    api_key_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is UserRole.ADMIN

    def require_admin(self) -> None:
        if not self.is_admin:
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
