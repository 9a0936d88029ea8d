from __future__ import annotations

import strawberry


@strawberry.interface(
    description="An object with a global id; any of them can be fetched with node(id) or nodes(ids)."
)
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
