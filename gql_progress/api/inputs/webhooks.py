from __future__ import annotations

import strawberry

from gql_progress.api.types.event_type import EventType

_PARTIAL = "Omit to leave unchanged."
_URL = (
    "Where to POST events: an https URL whose host resolves to public addresses only. Plain "
    "http and internal addresses are refused unless the server's operator allows the host."
)
_SECRET = (
    "The key every delivery is signed with (HMAC-SHA256), 16 to 200 characters; generate it "
    "randomly. It is never returned by the API. Preferably in the Standard Webhooks form, "
    "`whsec_` and the base64 of at least 16 random bytes: Standard Webhooks verifiers then take "
    "it as it is. Any other secret's Standard Webhooks form is `whsec_` and the base64 of its "
    "UTF-8 bytes; the X-GQL-Progress-Signature header is keyed with the secret's UTF-8 bytes."
)


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description=_URL)
    event_types: list[EventType] = strawberry.field(description="The kinds of events to send (at least one).")
    secret: str = strawberry.field(description=_SECRET)
    description: str = strawberry.field(default="", description="A note on what the endpoint is for.")
    enabled: bool = strawberry.field(default=True, description="Whether to deliver (default true).")


@strawberry.input(description="Changes to a webhook endpoint.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description="The endpoint.")
    url: str | None = strawberry.field(default=strawberry.UNSET, description=f"{_URL} {_PARTIAL}")
    event_types: list[EventType] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the list; applies to later events. " + _PARTIAL
    )
    secret: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new secret (rotation); later attempts use it. " + _PARTIAL
    )
    description: str | None = strawberry.field(default=strawberry.UNSET, description=_PARTIAL)
    enabled: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "False stops deliveries; true resumes them from the newest event (what happened "
            "meanwhile is never sent). " + _PARTIAL
        ),
    )


WEBHOOK_ENDPOINT_COLUMNS = ("url", "event_types", "secret", "description", "enabled")
