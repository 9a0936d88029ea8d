"""API keys listed: an admin sees anyone's, everyone else their own."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy import select

from gql_progress.api.context import Info
from gql_progress.api.inputs.bundles import UserRefInput, user_ref
from gql_progress.api.pagination import (
    AfterArgument,
    BeforeArgument,
    Connection,
    FirstArgument,
    LastArgument,
    page_request,
    paginate,
)
from gql_progress.api.subjects import caller_identity
from gql_progress.api.types.api_key import ApiKey
from gql_progress.auth.keys import API_KEY_COLUMNS
from gql_progress.db.models import ApiKey as ApiKeyModel
from gql_progress.db.rows import ApiKeyRow, first
from gql_progress.domain.errors import ProblemList
from gql_progress.domain.refs import resolve_subject


async def api_key_node(info: Info, pk: int) -> ApiKey | None:
    """For node(id): the caller's own keys, any key for an admin; null otherwise, exactly as for
    an id that names nothing."""
    async with info.context.db.read() as conn:
        row = first(ApiKeyRow, await conn.execute(select(*API_KEY_COLUMNS).where(ApiKeyModel.id == pk)))
    if row is None or not info.context.viewer.can_access(row.user_id):
        return None
    return ApiKey.from_row(row)


@strawberry.type
class ApiKeyQueries:
    @strawberry.field(
        description=(
            "API keys, oldest first. An admin sees every user's keys, or one user's with `user`; "
            "anyone else sees their own (naming another user is FORBIDDEN). The secrets are never "
            "shown."
        )
    )
    async def api_keys(
        self,
        info: Info,
        user: Annotated[
            UserRefInput | None,
            strawberry.argument(description="Only this user's keys; null: the caller's (an admin: all)."),
        ] = None,
        include_revoked: Annotated[
            bool, strawberry.argument(description="List revoked keys too (by default only working ones).")
        ] = False,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[ApiKey]:
        viewer = info.context.viewer
        page = page_request(info, first, after, last, before)
        query = select(*API_KEY_COLUMNS)
        if user is not None or not viewer.is_admin:
            problems = ProblemList()
            ref = None if user is None else user_ref(problems, user, ("user",))
            problems.raise_if_any()
            async with info.context.db.read() as conn:
                subject = await resolve_subject(conn, viewer, await caller_identity(info), ref)
            query = query.where(ApiKeyModel.user_id == subject)
        if not include_revoked:
            query = query.where(ApiKeyModel.revoked_at.is_(None))
        return await paginate(info, query, ApiKeyRow, ApiKeyModel.id, page, ApiKey.from_row)
