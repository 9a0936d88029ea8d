from __future__ import annotations

from datetime import datetime

import strawberry

from gql_progress.api.types.event_type import EventType
from gql_progress.api.types.node import Node
from gql_progress.db.rows import ShownEndpointRow, WebhookEndpointRow
from gql_progress.domain.ids import encode_id


@strawberry.type(
    description=(
        "A URL that receives the events of the chosen types as signed HTTP POSTs (admins only). "
        "Its secret is never shown."
    )
)
class WebhookEndpoint(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    url: str = strawberry.field(description="Where events are POSTed (http or https).")
    description: str = strawberry.field(description="A note on what the endpoint is for (may be empty).")
    event_types: list[EventType] = strawberry.field(description="The kinds of events it receives.")
    enabled: bool = strawberry.field(
        description=(
            "Whether events are delivered. A disabled endpoint gets nothing, and never gets the "
            "events that happened while it was disabled."
        )
    )
    created_at: datetime = strawberry.field(
        description="When it was registered; it receives the events that happened after this."
    )
    updated_at: datetime = strawberry.field(description="When it last changed.")
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: ShownEndpointRow | WebhookEndpointRow) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(encode_id("WebhookEndpoint", row.id)),
            url=row.url,
            description=row.description,
            event_types=[EventType(value) for value in row.event_types],
            enabled=row.enabled,
            created_at=row.created_at,
            updated_at=row.updated_at,
            pk=row.id,
        )
