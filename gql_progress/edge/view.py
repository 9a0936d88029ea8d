"""Strawberry's ASGI view, with our context, orjson encoding, JSON refusals, and the statuses
application/graphql-response+json asks for (media_types.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from gql_progress.api.context import Context
from gql_progress.api.error_policy import is_unavailable, shape_error
from gql_progress.api.loaders import Loaders
from gql_progress.auth import Authenticated
from gql_progress.db.engine import Database
from gql_progress.db.faults import RETRY_AFTER_SECONDS
from gql_progress.db.models import UserRole
from gql_progress.domain.viewer import Viewer
from gql_progress.edge.idempotency import DATABASE_STATE
from gql_progress.edge.media_types import ran_nothing_status, wants_graphql_response
from gql_progress.edge.observability import note_errors
from gql_progress.edge.policy import RequestPolicy
from gql_progress.edge.socket_guard import GuardedTransportWSHandler
from gql_progress.edge.websocket import TextFrameWebSocketAdapter, api_key_from
from gql_progress.graphiql.page import graphiql_page
from gql_progress.logs import request_id_var
from gql_progress.settings import Settings

# The viewer of a request made without a key; no user has id 0. No scopes: only public
# documents (which need none, see api/scope_check.py) run without a key.
ANONYMOUS = Viewer(user_id=0, role=UserRole.LEARNER, granted_scopes=frozenset())

# Strawberry's reason for an unknown operationName quotes the name back to the caller.
UNKNOWN_OPERATION = "The document has no operation of the name given in operationName"
_REFUSAL_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class _SubResponse(Response):
    """What Strawberry merges into the answer (headers, a status if set), and whether the
    request asked for application/graphql-response+json."""

    def __init__(self, *, graphql_response: bool) -> None:
        super().__init__()
        # As Strawberry's own sub-response: no status yet, no Content-Length to merge.
        self.status_code = None  # type: ignore[assignment]
        del self.headers["content-length"]
        self.graphql_response = graphql_response


class ProgressGraphQLView(GraphQL[Context, None]):
    websocket_adapter_class = TextFrameWebSocketAdapter
    # Checks the key in connection_init and again while the socket is open, gates, caps and rate
    # limits each subscribe, logs and counts each subscription.
    graphql_transport_ws_handler_class = GuardedTransportWSHandler

    def __init__(self, schema: Any, *, db: Database, settings: Settings, policy: RequestPolicy) -> None:
        super().__init__(
            schema,
            graphql_ide=None if settings.production else "graphiql",
            allow_queries_via_get=True,
            # The maintained protocol only (graphql-ws' successor of subscriptions-transport-ws).
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            # A socket that has not sent its key by then is closed (4408): idle unauthenticated
            # sockets would otherwise hold a connection slot for a minute each.
            connection_init_wait_timeout=timedelta(seconds=10),
            # Browsers do not apply CORS to WebSocket handshakes; the same origins are allowed.
            allowed_origins=settings.cors_origins,
            # The handler's own cap (GQL_PROGRESS_WS_MAX_SUBSCRIPTIONS) answers with a code.
            max_subscriptions_per_connection=None,
        )
        self.db = db
        self.settings = settings
        # The checks HTTP requests pass (app.py), which each socket's handler applies too.
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            # Strawberry answers its own request checks in text/plain. The gate
            # (request_gate.py) refuses all it knows of before the view runs; this is the
            # backstop, so that every refusal is JSON with a code.
            response = _refusal(exc)
        await response(scope, receive, send)

    async def render_graphql_ide(self, request: Request) -> Response:
        # Ours, not Strawberry's stock page: that one loads GraphiQL from a CDN (blank offline)
        # and introspects without the key; this one is served from here (graphiql/page.py).
        return graphiql_page()

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        asked = isinstance(request, Request) and wants_graphql_response(request.headers.get("accept"))
        return _SubResponse(graphql_response=asked)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        # Inside an Idempotency-Key's transaction, the handle that joins it (edge/idempotency.py).
        db: Database = getattr(request.state, DATABASE_STATE, self.db)
        if isinstance(request, WebSocket):
            # One context per connection: the caller is set by on_ws_connect from the key in
            # connection_init; each subscription reads each update with loaders of its own.
            return Context(
                db=db,
                settings=self.settings,
                viewer=ANONYMOUS,
                request_loaders=Loaders(db),
                request_id=request_id_var.get(),
                live=request.state.live,
            )
        # Loaders live exactly as long as one request: no data leaks between callers.
        caller: Authenticated | None = request.state.caller
        loaders = Loaders(db)
        if caller is None:
            # Only public fields run without a key (see public_operations): none reads the viewer.
            viewer = ANONYMOUS
        else:
            viewer = caller.viewer
            loaders.user_by_id.prime(caller.viewer.user_id, caller.user)
        return Context(
            db=db,
            settings=self.settings,
            viewer=viewer,
            request_loaders=loaders,
            request_id=request_id_var.get(),
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        # Strawberry's hook for connection_init, whose payload it has put in the context: the
        # policy's credential step, as an HTTP request's Authorization header takes it. The
        # handler (socket_guard.py) checks the key again while the socket is open.
        caller = await self.policy.authenticate(api_key_from(context.connection_params or {}))
        if caller is None:
            # Closes the socket with 4403 Forbidden, as graphql-transport-ws prescribes.
            raise ConnectionRejectionError({"message": "Send a valid API key in connection_init"})
        context.caller, context.viewer = caller, caller.viewer
        context.request_loaders.user_by_id.prime(caller.viewer.user_id, caller.user)
        return UnsetType()  # a plain connection_ack (UnsetType is a singleton: UNSET itself)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        # Here rather than in a schema extension: this sees every result exactly once,
        # including parse errors that happen outside the operation hooks.
        if result.errors:
            result.errors = [
                shape_error(error, hide_suggestions=self.settings.production) for error in result.errors
            ]
            note_errors(result.errors)  # the access log's and /metrics' outcome
        return await super().process_result(request, result)

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if isinstance(response_data, dict) and is_unavailable(response_data):
            # Nothing was answered because the database was busy or out of reach: a status that
            # clients, proxies and load balancers understand as "retry", not a 200 with errors.
            response.status_code = 503
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        elif isinstance(sub_response, _SubResponse) and sub_response.graphql_response:
            status = ran_nothing_status(response_data) if isinstance(response_data, dict) else None
            if status is not None:
                response.status_code = status
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def _refusal(exc: HTTPException) -> Response:
    message = UNKNOWN_OPERATION if isinstance(exc.__cause__, CannotGetOperationTypeError) else exc.reason
    error = {"message": message, "extensions": {"code": _REFUSAL_CODES.get(exc.status_code, "BAD_REQUEST")}}
    headers = {"Allow": "GET, POST"} if exc.status_code == 405 else None
    return JSONResponse({"data": None, "errors": [error]}, status_code=exc.status_code, headers=headers)
