"""API keys created (admins) and revoked (admins: any; everyone else: their own)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.inputs.bundles import UserRefInput, user_ref
from gql_progress.api.raises import raises
from gql_progress.api.types.api_key import ApiKey, ApiKeyScope
from gql_progress.api.types.errors import ForbiddenError, NotFoundError, ValidationError
from gql_progress.auth.keys import issue_api_key, revoke_api_key
from gql_progress.domain.errors import Forbidden, InvalidInput, NotFound, ProblemList
from gql_progress.domain.ids import decode_id
from gql_progress.domain.refs import users_by_ref


@strawberry.type(description="A new key and its secret. The secret is shown here once and never again.")
class CreateApiKeyPayload:
    api_key: ApiKey = strawberry.field(description="The key as stored.")
    secret: str = strawberry.field(
        description="The key itself, to send as `Authorization: Bearer <secret>`. Store it now."
    )


@strawberry.type(description="The key after the change.")
class ApiKeyPayload:
    api_key: ApiKey = strawberry.field(description="The key as stored now.")


_FAILURES = ValidationError | NotFoundError | ForbiddenError
CreateApiKeyResult = Annotated[
    CreateApiKeyPayload | _FAILURES,
    strawberry.union("CreateApiKeyResult", description="The new key, or why none was created."),
]
RevokeApiKeyResult = Annotated[
    ApiKeyPayload | _FAILURES,
    strawberry.union("RevokeApiKeyResult", description="The revoked key, or why nothing changed."),
]


@strawberry.type
class ApiKeyMutations:
    @strawberry.mutation(
        description=(
            "Create an API key for a user (admin). The scopes default to all that the user's role "
            "allows; a scope the role cannot hold is a ValidationError. The secret is returned once."
        )
    )
    @raises(InvalidInput, NotFound, Forbidden)
    async def create_api_key(
        self,
        info: Info,
        user: Annotated[UserRefInput, strawberry.argument(description="Whose key it is.")],
        label: Annotated[
            str, strawberry.argument(description="A note on what the key is for (up to 200 characters).")
        ] = "",
        scopes: Annotated[
            list[ApiKeyScope] | None,
            strawberry.argument(description="What the key may do; null: everything the user's role allows."),
        ] = None,
    ) -> CreateApiKeyResult:
        info.context.viewer.require_admin()
        problems = ProblemList()
        ref = user_ref(problems, user, ("user",))
        ref = problems.read_or_raise(ref)
        async with info.context.db.read() as conn:
            user_id = (await users_by_ref(conn, [ref])).get(ref)
        if user_id is None:
            raise NotFound("user")
        wanted = None if scopes is None else [scope.to_domain() for scope in scopes]
        issued = await issue_api_key(info.context.db, user_id, label, wanted)
        return CreateApiKeyPayload(api_key=ApiKey.from_row(issued.row), secret=issued.secret)

    @strawberry.mutation(
        description=(
            "Revoke an API key: an admin any key, anyone else their own (another user's key is "
            "NOT_FOUND, as a key that does not exist). The key is refused from its next request on. "
            "Revoking a revoked key changes nothing."
        )
    )
    @raises(InvalidInput, NotFound, Forbidden)
    async def revoke_api_key(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The key to revoke.")],
    ) -> RevokeApiKeyResult:
        key_pk = decode_id(id, "ApiKey", ("id",))
        row = await revoke_api_key(info.context.db, info.context.viewer, key_pk)
        return ApiKeyPayload(api_key=ApiKey.from_row(row))
