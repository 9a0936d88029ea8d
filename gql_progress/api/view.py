"""Strawberry's ASGI view, with our context and orjson encoding."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from gql_progress.api.context import Context
from gql_progress.api.error_policy import shape_error
from gql_progress.api.loaders import Loaders
from gql_progress.auth import Authenticated
from gql_progress.db.engine import Database
from gql_progress.db.models import UserRole
from gql_progress.domain.viewer import Viewer
from gql_progress.logs import request_id_var
from gql_progress.settings import Settings

# The viewer of a request made without a key; no user has id 0.
ANONYMOUS = Viewer(user_id=0, role=UserRole.LEARNER)


class ProgressGraphQLView(GraphQL[Context, None]):
    def __init__(self, schema: Any, *, db: Database, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide=None if settings.production else "graphiql",
            allow_queries_via_get=True,
        )
        self.db = db
        self.settings = settings

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        # Loaders live exactly as long as one request: no data leaks between callers.
        caller: Authenticated | None = request.state.caller
        loaders = Loaders(self.db)
        if caller is None:
            # Only public fields run without a key (see public_operations): none reads the viewer.
            viewer = ANONYMOUS
        else:
            viewer = caller.viewer
            loaders.user_by_id.prime(caller.viewer.user_id, caller.user)
        return Context(
            db=self.db,
            settings=self.settings,
            viewer=viewer,
            loaders=loaders,
            request_id=request_id_var.get(),
        )

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        # Here rather than in a schema extension: this sees every result exactly once,
        # including parse errors that happen outside the operation hooks.
        if result.errors:
            result.errors = [shape_error(error) for error in result.errors]
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)
