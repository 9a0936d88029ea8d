from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from gql_progress.api.types.event_type import EventType
from gql_progress.api.types.node import Node
from gql_progress.api.types.webhook_endpoint import WebhookEndpoint
from gql_progress.db.rows import DeliveryListingRow
from gql_progress.domain.ids import encode_id
from gql_progress.webhooks.payload import event_global_id


@strawberry.enum(description="Where the delivery of one event to one endpoint stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = strawberry.enum_value(
        "PENDING", description="Not delivered yet; the next attempt is at nextAttemptAt."
    )
    DELIVERED = strawberry.enum_value(
        "DELIVERED", description="The endpoint answered 2xx; it is never sent again."
    )
    FAILED = strawberry.enum_value("FAILED", description="Every allowed attempt failed; no more are made.")


@strawberry.type(description="One event's delivery to one endpoint: its attempts and where it stands.")
class WebhookDelivery(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    endpoint: WebhookEndpoint = strawberry.field(description="Where the event is sent.")
    event_id: strawberry.ID = strawberry.field(
        description="The event's id: the body's `id` and the X-GQL-Progress-Event-Id header."
    )
    event_type: EventType = strawberry.field(description="What the event is.")
    status: WebhookDeliveryStatus = strawberry.field(description="Where the delivery stands.")
    attempts: int = strawberry.field(description="Attempts made so far (0 before the first).")
    last_status_code: int | None = strawberry.field(
        description="The HTTP status of the last attempt; null before one, or when it got no answer."
    )
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed (HTTP status, timeout, network error); null if it did not."
    )
    last_attempt_at: datetime | None = strawberry.field(description="When the last attempt started.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due; null once DELIVERED or FAILED."
    )
    delivered_at: datetime | None = strawberry.field(description="When the endpoint answered 2xx.")
    created_at: datetime = strawberry.field(description="When the delivery was scheduled.")
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: DeliveryListingRow) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(encode_id("WebhookDelivery", row.id)),
            endpoint=WebhookEndpoint.from_row(row.endpoint()),
            event_id=strawberry.ID(event_global_id(row.event_id)),
            event_type=EventType(row.event_type),
            status=WebhookDeliveryStatus(row.status),
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            last_attempt_at=row.last_attempt_at,
            next_attempt_at=row.next_attempt_at,
            delivered_at=row.delivered_at,
            created_at=row.created_at,
            pk=row.id,
        )
