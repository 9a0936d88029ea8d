from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy import select

from gql_progress.api.context import Info
from gql_progress.api.inputs.one_of import require_one_argument
from gql_progress.api.types.user import User
from gql_progress.db.models import User as UserModel
from gql_progress.db.rows import UserRow, columns, first
from gql_progress.domain.catalog import normalize_email
from gql_progress.domain.ids import decode_id
from gql_progress.domain.text import contains_nul


@strawberry.type
class ViewerQueries:
    @strawberry.field(description="The user the API key belongs to.")
    async def me(self, info: Info) -> User:
        row = await info.context.loaders.user_by_id.load(info.context.viewer.user_id)
        assert row is not None  # a key cascades with its user
        return User.from_row(row)

    @strawberry.field(
        description=(
            "A user by exactly one of id, email or externalId. Admins may look up anyone; "
            "others get FORBIDDEN for anyone but themselves. Null when no such user exists."
        )
    )
    async def user(
        self,
        info: Info,
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        email: Annotated[str | None, strawberry.argument(description="Email, any case.")] = None,
        external_id: Annotated[
            str | None, strawberry.argument(description="The platform's id for the user.")
        ] = None,
    ) -> User | None:
        require_one_argument({"id": id, "email": email, "externalId": external_id})
        if id is not None:
            condition = UserModel.id == decode_id(id, "User", ("id",))
        elif email is not None:
            condition = UserModel.email == normalize_email(email)
        else:
            condition = UserModel.external_id == external_id
        viewer = info.context.viewer
        row = None
        # No stored identifier holds U+0000 (PostgreSQL cannot store it): such a value names no
        # one, on both databases, and is never sent to PostgreSQL, which would refuse it.
        if not contains_nul(email) and not contains_nul(external_id):
            async with info.context.db.read() as conn:
                row = first(UserRow, await conn.execute(select(*columns(UserRow)).where(condition)))
        # Decide access on the identity asked for, not on whether it exists, so a learner
        # learns nothing about other users.
        if not viewer.is_admin and (row is None or row.id != viewer.user_id):
            viewer.require_admin()
        return None if row is None else User.from_row(row)
