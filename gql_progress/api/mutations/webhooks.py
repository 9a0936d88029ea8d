"""Admins register, change and remove webhook endpoints."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.inputs.given import given_columns
from gql_progress.api.inputs.webhooks import (
    WEBHOOK_ENDPOINT_COLUMNS,
    CreateWebhookEndpointInput,
    UpdateWebhookEndpointInput,
)
from gql_progress.api.raises import raises
from gql_progress.api.types.errors import ForbiddenError, NotFoundError, ValidationError
from gql_progress.api.types.webhook_endpoint import WebhookEndpoint
from gql_progress.domain.errors import Forbidden, InvalidInput, NotFound
from gql_progress.domain.ids import decode_id
from gql_progress.webhooks import endpoints
from gql_progress.webhooks.addresses import AllowList


@strawberry.type(description="The webhook endpoint as saved (its secret is never returned).")
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint after the change.")


@strawberry.type(description="The endpoint is gone, with its delivery records.")
class DeleteWebhookEndpointPayload:
    deleted_id: strawberry.ID = strawberry.field(description="The id the endpoint had.")


_FAILURES = ValidationError | NotFoundError | ForbiddenError
WebhookEndpointResult = Annotated[
    WebhookEndpointPayload | _FAILURES,
    strawberry.union("WebhookEndpointResult", description="The saved endpoint, or why nothing was saved."),
]
DeleteWebhookEndpointResult = Annotated[
    DeleteWebhookEndpointPayload | _FAILURES,
    strawberry.union(
        "DeleteWebhookEndpointResult", description="The removed endpoint's id, or why nothing was removed."
    ),
]


def _allow_list(info: Info) -> AllowList:
    return AllowList.parse(info.context.settings.webhooks_allowed_hosts)


def _columns(data: object) -> dict[str, object]:
    values = given_columns(data, WEBHOOK_ENDPOINT_COLUMNS)
    if isinstance(values.get("event_types"), list):
        values["event_types"] = [kind.value for kind in values["event_types"]]
    return values


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description=(
            "Register a webhook endpoint (admin). It receives the events of the chosen types that "
            "happen from now on, each POSTed as JSON and signed with the secret."
        )
    )
    @raises(InvalidInput, NotFound, Forbidden)
    async def create_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[CreateWebhookEndpointInput, strawberry.argument(description="What to write.")],
    ) -> WebhookEndpointResult:
        info.context.viewer.require_admin()
        row = await endpoints.create_endpoint(info.context.db, _columns(input), _allow_list(info))
        return WebhookEndpointPayload(endpoint=WebhookEndpoint.from_row(row))

    @strawberry.mutation(
        description="Change a webhook endpoint (admin): URL, event types, secret, description, enabled."
    )
    @raises(InvalidInput, NotFound, Forbidden)
    async def update_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[UpdateWebhookEndpointInput, strawberry.argument(description="What to write.")],
    ) -> WebhookEndpointResult:
        info.context.viewer.require_admin()
        endpoint_pk = decode_id(input.id, "WebhookEndpoint", ("id",))
        row = await endpoints.update_endpoint(
            info.context.db, endpoint_pk, _columns(input), _allow_list(info)
        )
        return WebhookEndpointPayload(endpoint=WebhookEndpoint.from_row(row))

    @strawberry.mutation(
        description=(
            "Remove a webhook endpoint and its delivery records (admin). To stop deliveries but "
            "keep the records, set enabled to false instead."
        )
    )
    @raises(InvalidInput, NotFound, Forbidden)
    async def delete_webhook_endpoint(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The endpoint to remove.")],
    ) -> DeleteWebhookEndpointResult:
        info.context.viewer.require_admin()
        endpoint_pk = decode_id(id, "WebhookEndpoint", ("id",))
        await endpoints.delete_endpoint(info.context.db, endpoint_pk)
        return DeleteWebhookEndpointPayload(deleted_id=id)
