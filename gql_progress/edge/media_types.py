"""GraphQL over HTTP's two response media types: which one a request gets, and what it changes.

``application/json`` is what every client understands: a document that does not parse or
validate is still HTTP 200, the errors in the body. ``application/graphql-response+json``, when
the Accept header prefers it, lets the status tell: a request that ran nothing (not well formed,
refused, invalid) is 4xx and its body has no ``data`` entry, so clients and proxies can tell it
from a response whose fields ran (200, with their data and errors).

Statuses are chosen where the outcome is known (request_gate.py for refusals, api/view.py for
GraphQL's own results, with ``ran_nothing_status``); ``GraphQLResponseMedia`` then gives every
answer of the GraphQL route the media type asked for, whoever wrote it (the gate, the key
check, the rate limit, idempotency, the view, a 503 for an unreachable database).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gql_progress.db.faults import FAULT_CODES

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"

_VARY_ACCEPT = (b"vary", b"Accept")
# Errors that are the server's, not the request's: the response keeps its 2xx (or 503).
_SERVER_CODES = FAULT_CODES | {"INTERNAL_SERVER_ERROR"}


def wants_graphql_response(accept: str | None) -> bool:
    """Whether the Accept header prefers application/graphql-response+json (by quality) over
    application/json. Wildcards count for application/json: clients that send ``*/*`` or no
    Accept at all predate the new type and expect the old one."""
    if not accept:
        return False
    preferred = legacy = 0.0
    for part in accept.split(","):
        media_type, *parameters = (piece.strip() for piece in part.split(";"))
        media_type = media_type.lower()
        if media_type == GRAPHQL_RESPONSE:
            preferred = max(preferred, _quality(parameters))
        elif media_type in {JSON, "application/*", "*/*"}:
            legacy = max(legacy, _quality(parameters))
    return preferred > 0 and preferred >= legacy


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def ran_nothing_status(response: Mapping[str, Any]) -> int | None:
    """For a GraphQL response under application/graphql-response+json: 400 (403 for a missing
    scope) when the request ran nothing (the document did not parse or validate, the variables
    did not coerce, the operation was refused), None when fields ran (200).

    Such errors have no ``path``: an error of a field that ran has one, even when its null
    reached the root. The server's own faults keep their status."""
    if response.get("data") is not None:
        return None
    errors = response.get("errors") or []
    if not errors or any(error.get("path") for error in errors):
        return None
    codes = {(error.get("extensions") or {}).get("code") for error in errors}
    if codes & _SERVER_CODES:
        return None
    return 403 if "FORBIDDEN" in codes else 400


class GraphQLResponseMedia:
    """Answers the GraphQL route in the media type the request asked for. Under
    application/graphql-response+json a JSON answer gets that Content-Type, and an error status
    (4xx, 5xx) loses its ``data: null`` entry: a request that ran nothing produced no data."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        if not wants_graphql_response(Headers(scope=scope).get("accept")):
            await self.app(scope, receive, _varying_by_accept(send))
            return
        held: Message | None = None
        chunks: list[bytes] = []

        async def send_as_graphql_response(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.add_vary_header("Accept")
                if headers.get("content-type", "").split(";")[0].strip().lower() != JSON:
                    await send(message)  # not a GraphQL body (the IDE page)
                    return
                headers["content-type"] = GRAPHQL_RESPONSE
                if message["status"] < 400:
                    await send(message)
                    return
                held = message  # an error body is small: rewritten once whole
                return
            if message["type"] != "http.response.body" or held is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = _without_null_data(b"".join(chunks))
            MutableHeaders(scope=held)["content-length"] = str(len(body))
            await send(held)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, send_as_graphql_response)


def _varying_by_accept(send: Send) -> Send:
    # The same GET may be answered differently for another Accept: caches must keep both.
    async def send_varying(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            if any(name == b"vary" for name, _ in headers):
                MutableHeaders(scope=message).add_vary_header("Accept")
            else:  # the common case, as add_vary_header would: appended
                message["headers"] = [*headers, _VARY_ACCEPT]
        await send(message)

    return send_varying


def _without_null_data(body: bytes) -> bytes:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(payload, dict) or "data" not in payload or payload["data"] is not None:
        return body
    del payload["data"]
    return orjson.dumps(payload)
