"""The app's front door: HTTP requests to /graphql go straight to their own middleware chain.

Starlette passes every request through its error middleware, the app's middleware list, its
exception middleware and the router's match over every route before the endpoint. The whole
stack, ours included, was a sixth of a small read's CPU in-process (bench.cpu Q0: 0.27 ms with
it, 0.22 ms calling the endpoint directly); Starlette's own layers are the part that /graphql
need not pay for. It is the one path that carries load, and it is known before any of that
runs, so its HTTP requests take a chain built once for it, of the same middleware classes in
the same order; everything else (other paths, WebSocket, lifespan) goes through Starlette as
before, whose middleware list then holds only what those need.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send


class GraphQLFront(Starlette):
    """Starlette, with HTTP requests to ``path`` answered by ``chain`` ahead of its router."""

    def __init__(self, *, path: str, chain: ASGIApp, **starlette: Any) -> None:
        super().__init__(**starlette)
        self.graphql_path = path
        self.graphql_chain = chain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.graphql_path:
            scope["app"] = self  # as Starlette sets it: the endpoint reads app.state
            await self.graphql_chain(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
