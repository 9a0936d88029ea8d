"""What GraphQL over WebSocket (graphql-transport-ws) needs beyond Strawberry's defaults."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import orjson
from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.extensions import SchemaExtension
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult, StreamExecutionResult

from gql_progress.api.error_policy import shape_error


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


class ShapeStreamedErrors(SchemaExtension):
    """The error policy (error_policy.shape_error) for results sent over WebSocket.

    HTTP responses are shaped in the view's process_result; streamed results never pass there.
    """

    def __init__(self, *, hide_suggestions: bool = False) -> None:
        self.hide_suggestions = hide_suggestions

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        if isinstance(result, ExecutionResult) and result.errors:
            result.errors = [
                shape_error(_operation_type_refusal(error), hide_suggestions=self.hide_suggestions)
                for error in result.errors
            ]
        yield None


def _operation_type_refusal(error: GraphQLError) -> GraphQLError:
    # Queries and mutations go over HTTP (see ProgressSchema.stream): refusing one is the
    # client's mistake, not an internal error.
    if isinstance(error.original_error, InvalidOperationTypeError):
        return GraphQLError(
            "Only subscriptions run over WebSocket; send queries and mutations over HTTP",
            extensions={"code": "OPERATION_NOT_ALLOWED"},
        )
    return error
