"""Admins' registrations: validated writes to webhook_endpoints.

A new endpoint starts at the newest event: it receives what happens from now on, not the
whole history (which could be millions of events nobody asked for).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import case, delete, func, select

from gql_progress.db.engine import Database
from gql_progress.db.models import Event, EventType, WebhookEndpoint
from gql_progress.db.rows import WebhookEndpointRow
from gql_progress.db.types import utcnow
from gql_progress.domain.catalog import insert_returning, refuse_nul, refuse_null, update_returning
from gql_progress.domain.errors import NotFound, ProblemList
from gql_progress.webhooks.addresses import AllowList, may_register
from gql_progress.webhooks.signing import STANDARD_SECRET_PREFIX, whsec_key

MIN_SECRET_LENGTH = 16
# A whsec_ secret is used as its decoded bytes (signing.py): as many as the other secrets'
# characters at least, the Standard Webhooks specification asking for 24 to 64.
MIN_KEY_BYTES = 16
MAX_SECRET_LENGTH = 200
MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 1000
PLAIN_HTTP_REFUSED = "must use https (plain http only to hosts the server's operator allows)"
# Whether the host did not resolve or resolved to an internal address, and to which, is not
# said: the answer would map the internal network (and its DNS) for whoever asks.
ADDRESS_REFUSED = (
    "the address is not allowed: receivers must be on public addresses, or on hosts the "
    "server's operator allows"
)


def _check_url(problems: ProblemList, url: str | None) -> bool:
    """Whether ``url`` is well formed (each problem is reported)."""
    if url is None:
        problems.add(("url",), "must not be null")
        return False
    if len(url) > MAX_URL_LENGTH:
        problems.add(("url",), f"must be at most {MAX_URL_LENGTH} characters")
        return False
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a port out of range or not a number
    except ValueError:
        problems.add(("url",), "must be an http or https URL")
        return False
    if parts.scheme not in {"http", "https"} or not hostname or any(c.isspace() for c in url):
        problems.add(("url",), "must be an http or https URL")
    elif parts.username is not None or parts.password is not None:
        # URLs are listed to every admin; the secret, never shown, is how a receiver authenticates.
        problems.add(("url",), "must not contain credentials (the signature authenticates requests)")
    elif parts.fragment:
        problems.add(("url",), "must not have a #fragment (it is never sent)")
    else:
        return True
    return False


async def _check_reachable(problems: ProblemList, url: str, allow: AllowList) -> None:
    """The delivery's own rules (connections.py), applied to the host it will connect to, so an
    endpoint that could never be delivered to is refused now. Deliveries check again."""
    try:
        # The parser the delivery uses: the host checked here is the host it connects to.
        target = httpx.URL(url)
        host = target.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeDecodeError):
        problems.add(("url",), "must be an http or https URL")
        return
    if target.scheme == "http" and not allow.permits_plain_http(host):
        problems.add(("url",), PLAIN_HTTP_REFUSED)
        return
    if not await may_register(host, target.port or (80 if target.scheme == "http" else 443), allow):
        problems.add(("url",), ADDRESS_REFUSED)


def _check_event_types(problems: ProblemList, types: list[Any] | None) -> list[str]:
    if not types:
        problems.add(("event_types",), "must list at least one event type")
        return []
    given = {name.value if isinstance(name, Enum) else str(name) for name in types}
    unknown = sorted(given - {member.value for member in EventType})
    if unknown:
        problems.add(("event_types",), f"unknown event types: {', '.join(unknown)}")
    # Stored once each and in the enum's order, so equal subscriptions look equal.
    return [member.value for member in EventType if member.value in given]


async def validate(values: Mapping[str, Any], allow: AllowList) -> dict[str, Any]:
    """The values to store; every bad field is reported at once (InvalidInput)."""
    problems = ProblemList()
    cleaned = dict(values)
    if "url" in values and _check_url(problems, values["url"]):
        await _check_reachable(problems, values["url"], allow)
    if "event_types" in values:
        cleaned["event_types"] = _check_event_types(problems, values["event_types"])
    if "secret" in values:
        secret = values["secret"]
        if secret is None or not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
            problems.add(("secret",), f"must be {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters long")
        elif secret.startswith(STANDARD_SECRET_PREFIX) and len(whsec_key(secret) or b"") < MIN_KEY_BYTES:
            # Otherwise we would sign with the text while the receiver's verifier decodes it.
            problems.add(
                ("secret",),
                f"a secret starting with {STANDARD_SECRET_PREFIX} must be the base64 of at least "
                f"{MIN_KEY_BYTES} random bytes after it (the Standard Webhooks form)",
            )
    if "description" in values:
        if values["description"] is None:
            problems.add(("description",), "must not be null")
        elif len(values["description"]) > MAX_DESCRIPTION_LENGTH:
            problems.add(("description",), f"must be at most {MAX_DESCRIPTION_LENGTH} characters")
    refuse_null(problems, values, ("enabled",))
    refuse_nul(problems, {k: v for k, v in values.items() if k != "event_types"})
    problems.raise_if_any()
    return cleaned


def _newest_event_id() -> Any:
    return select(func.coalesce(func.max(Event.id), 0)).scalar_subquery()


async def create_endpoint(db: Database, values: Mapping[str, Any], allow: AllowList) -> WebhookEndpointRow:
    """Register an endpoint; ``allow`` is the operator's allow-list for internal receivers."""
    cleaned = await validate({"description": "", "enabled": True, **values}, allow)
    now = utcnow()
    async with db.write() as conn:
        return await insert_returning(
            conn,
            WebhookEndpointRow,
            {**cleaned, "cursor_event_id": _newest_event_id(), "created_at": now, "updated_at": now},
        )


async def update_endpoint(
    db: Database, endpoint_id: int, values: Mapping[str, Any], allow: AllowList
) -> WebhookEndpointRow:
    """Change an endpoint. Re-enabling one moves it to the newest event: what happened while it
    was disabled is never sent (nor events from just before, if no worker had scheduled them yet).
    Deliveries scheduled before it was disabled resume."""
    cleaned = await validate(values, allow)
    if cleaned.get("enabled"):
        cleaned["cursor_event_id"] = case(
            (WebhookEndpoint.enabled.is_(False), _newest_event_id()),
            else_=WebhookEndpoint.cursor_event_id,
        )
    async with db.write() as conn:
        return await update_returning(
            conn, WebhookEndpointRow, endpoint_id, {**cleaned, "updated_at": utcnow()}, "webhook endpoint"
        )


async def delete_endpoint(db: Database, endpoint_id: int) -> None:
    """Remove an endpoint with its delivery records (a delivery in flight finishes unrecorded)."""
    async with db.write() as conn:
        deleted = await conn.scalar(
            delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).returning(WebhookEndpoint.id)
        )
    if deleted is None:
        raise NotFound("webhook endpoint")
