"""Admins list webhook endpoints and their delivery records."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from sqlalchemy import Select, select

from gql_progress.api.context import Info
from gql_progress.api.pagination import (
    AfterArgument,
    BeforeArgument,
    Connection,
    FirstArgument,
    LastArgument,
    page_request,
    paginate,
)
from gql_progress.api.types.webhook_delivery import WebhookDelivery, WebhookDeliveryStatus
from gql_progress.api.types.webhook_endpoint import WebhookEndpoint
from gql_progress.db.models import Event
from gql_progress.db.models import WebhookDelivery as DeliveryModel
from gql_progress.db.models import WebhookEndpoint as EndpointModel
from gql_progress.db.rows import DeliveryListingRow, ShownEndpointRow, columns, first
from gql_progress.domain.ids import decode_optional_id


def _endpoints() -> Select[Any]:
    return select(*columns(ShownEndpointRow))


def _deliveries() -> Select[Any]:
    """Deliveries with their endpoint and event type, one statement."""
    return (
        select(*columns(DeliveryListingRow))
        .join(EndpointModel, EndpointModel.id == DeliveryModel.endpoint_id)
        .join(Event, Event.id == DeliveryModel.event_id)
    )


async def webhook_endpoint_node(info: Info, pk: int) -> WebhookEndpoint | None:
    """For node(id): admins only; anyone else gets null, as for an id that names nothing."""
    if not info.context.viewer.is_admin:
        return None
    async with info.context.db.read() as conn:
        row = first(ShownEndpointRow, await conn.execute(_endpoints().where(EndpointModel.id == pk)))
    return None if row is None else WebhookEndpoint.from_row(row)


async def webhook_delivery_node(info: Info, pk: int) -> WebhookDelivery | None:
    if not info.context.viewer.is_admin:
        return None
    async with info.context.db.read() as conn:
        row = first(DeliveryListingRow, await conn.execute(_deliveries().where(DeliveryModel.id == pk)))
    return None if row is None else WebhookDelivery.from_row(row)


@strawberry.type
class WebhookQueries:
    @strawberry.field(description="The registered webhook endpoints, oldest first (admin).")
    async def webhook_endpoints(
        self,
        info: Info,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[WebhookEndpoint]:
        info.context.viewer.require_admin()
        page = page_request(info, first, after, last, before)
        return await paginate(
            info, _endpoints(), ShownEndpointRow, EndpointModel.id, page, WebhookEndpoint.from_row
        )

    @strawberry.field(
        description=("Delivery records, one per (endpoint, event), in the order they were scheduled (admin).")
    )
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this endpoint's deliveries.")
        ] = None,
        status: Annotated[
            WebhookDeliveryStatus | None, strawberry.argument(description="Only deliveries in this status.")
        ] = None,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[WebhookDelivery]:
        info.context.viewer.require_admin()
        endpoint_pk = decode_optional_id(endpoint_id, "WebhookEndpoint", ("endpointId",))
        page = page_request(info, first, after, last, before)
        query = _deliveries()
        if endpoint_pk is not None:
            query = query.where(DeliveryModel.endpoint_id == endpoint_pk)
        if status is not None:
            query = query.where(DeliveryModel.status == status.value)
        return await paginate(
            info, query, DeliveryListingRow, DeliveryModel.id, page, WebhookDelivery.from_row
        )
