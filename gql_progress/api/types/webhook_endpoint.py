from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from gql_progress.api.types.event_type import EventType
from gql_progress.api.types.node import Node
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
    def from_row(cls, row: Any, prefix: str = "") -> WebhookEndpoint:
        """From a webhook_endpoints row, or from its columns labelled ``prefix + name`` in a join."""

        def column(name: str) -> Any:
            return getattr(row, prefix + name)

        return cls(
            id=strawberry.ID(encode_id("WebhookEndpoint", column("id"))),
            url=column("url"),
            description=column("description"),
            event_types=[EventType(value) for value in column("event_types")],
            enabled=column("enabled"),
            created_at=column("created_at"),
            updated_at=column("updated_at"),
            pk=column("id"),
        )
