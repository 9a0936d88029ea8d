"""What GraphQL over WebSocket (graphql-transport-ws) needs beyond Strawberry's defaults."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected


class TextFrameWebSocketAdapter(ASGIWebSocketAdapter):
    """Sends every message as a text frame.

    The view encodes JSON to bytes (orjson) for HTTP; Strawberry would send those as binary
    frames, which graphql-transport-ws does not allow and browsers hand over as Blobs that
    clients such as graphql-ws cannot parse.
    """

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


def api_key_from(connection_params: Mapping[str, object]) -> str | None:
    """The key in a connection_init payload: {"Authorization": "Bearer <key>"} (the HTTP header,
    in any letter case) or {"apiKey": "<key>"}."""
    for name, value in connection_params.items():
        if name.lower() == "authorization" and isinstance(value, str):
            scheme, _, secret = value.partition(" ")
            if scheme.lower() == "bearer" and secret.strip():
                return secret.strip()
    api_key = connection_params.get("apiKey")
    if isinstance(api_key, str) and api_key.strip():
        return api_key.strip()
    return None
