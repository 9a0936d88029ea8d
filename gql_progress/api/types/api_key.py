from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.types.node import Node
from gql_progress.db.rows import ApiKeyRow
from gql_progress.domain.ids import encode_id
from gql_progress.domain.scopes import Scope, parse_scopes

if TYPE_CHECKING:
    from gql_progress.api.types.user import User


@strawberry.enum(
    description=(
        "What a key may do. A key never does more than its user's role allows: a scope the role "
        "lacks (e.g. ADMIN for a learner) has no effect."
    )
)
class ApiKeyScope(Enum):
    PROGRESS_READ = strawberry.enum_value(
        "progress:read", description="Run queries and subscriptions (`progress:read`)."
    )
    PROGRESS_WRITE = strawberry.enum_value("progress:write", description="Run mutations (`progress:write`).")
    ADMIN = strawberry.enum_value(
        "admin",
        description="Admin-only fields and acting for other users; needs the ADMIN role too (`admin`).",
    )

    def to_domain(self) -> Scope:
        return Scope(str(self.value))  # the wire value, e.g. "progress:read"


@strawberry.type(
    description=(
        "An API key: a bearer credential of one user with scopes. Its secret is shown once, when "
        "it is created, and is stored only as a hash."
    )
)
class ApiKey(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    label: str = strawberry.field(description="A note on what the key is for (may be empty).")
    prefix: str = strawberry.field(
        description="The first characters of the key, to tell keys apart (the rest is never shown)."
    )
    scopes: list[ApiKeyScope] = strawberry.field(description="What the key may do.")
    legacy_format: bool = strawberry.field(
        description=(
            "Issued before the checksummed key format: still accepted (unless the server turns "
            "legacy keys off), but replace it with a new key."
        )
    )
    created_at: datetime = strawberry.field(description="When the key was created.")
    last_used_at: datetime | None = strawberry.field(
        description=(
            "When the key was last used; written in batches (by default every minute), so it may "
            "lag that much. Null if never used."
        )
    )
    revoked_at: datetime | None = strawberry.field(
        description="When the key was revoked; null while it works. A revoked key is refused at once."
    )
    user_pk: strawberry.Private[int]
    pk: strawberry.Private[int]

    @strawberry.field(description="Whether the key has been revoked.")
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @strawberry.field(description="The user the key acts as.")
    async def user(self, info: Info) -> Annotated[User, strawberry.lazy("gql_progress.api.types.user")]:
        from gql_progress.api.types.user import user_by_pk

        return await user_by_pk(info, self.user_pk)

    @classmethod
    def from_row(cls, row: ApiKeyRow) -> ApiKey:
        granted = parse_scopes(row.scopes)
        return cls(
            id=strawberry.ID(encode_id("ApiKey", row.id)),
            label=row.label,
            prefix=row.prefix,
            scopes=[ApiKeyScope(scope.value) for scope in Scope if scope in granted],
            legacy_format=row.legacy_format,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
            user_pk=row.user_id,
            pk=row.id,
        )
