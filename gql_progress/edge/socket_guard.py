"""The WebSocket adapter of the request policy: Strawberry's graphql-transport-ws handler, with
each subscribe admitted, rate-limited and recorded, and the credential re-checked, by the
connection's SocketSession (socket_session.py, which holds the rules).

This is the one module that reaches into Strawberry's internals, and only here: the handler
class and the methods it overrides are not a documented extension point. Tested against
strawberry-graphql >=0.341.2,<0.342 (the pin in pyproject.toml); tests/test_socket_guard.py
checks that each overridden method still exists with the signature used here, and the
WebSocket tests check what they do. What each override relies on:

- ``handle_connection_init``: runs the view's public ``on_ws_connect`` (which authenticates)
  and sets ``connection_acknowledged``; the re-check starts after it.
- ``handle_subscribe``: called per subscribe message before Strawberry creates the operation's
  task; ``operations`` holds the running ones. The protocol's own refusals (4401 before
  connection_init, 4409 for an id in use, 4400 without a document) are left to it.
- ``run_operation``: the task of one operation, ended when the subscription is.
- ``send_message``: every message sent, with the operation's ``id``.
- ``handle_message`` and ``shutdown``: every message received; the connection's end.
- ``cleanup_operation`` and ``websocket.close``: ending operations and the socket.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, Protocol, cast

from starlette.websockets import WebSocketDisconnect
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)

from gql_progress.api.context import Context
from gql_progress.db.engine import StatementTally, request_statements
from gql_progress.edge.observability import Observation
from gql_progress.edge.policy import RequestPolicy
from gql_progress.edge.socket_session import Closing, SocketSession, saw


class _PolicyView(Protocol):
    """The view that builds this handler (view.py) was given the app's policy at construction."""

    policy: RequestPolicy


class GuardedTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session = SocketSession(cast(_PolicyView, self.view).policy, self.context)
        # Running subscriptions: their records and when they arrived.
        self._records: dict[str, tuple[Observation, float]] = {}

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)  # on_ws_connect authenticates
        if self.connection_acknowledged:
            self.session.watch(self._close)

    async def _close(self, closing: Closing) -> None:
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        # The client may be gone already; its disconnect ends the handler as usual.
        with suppress(RuntimeError, OSError, WebSocketDisconnect):
            await self.websocket.close(code=closing[0], reason=closing[1])

    async def shutdown(self) -> None:
        try:
            await self.session.stop()
        finally:
            await super().shutdown()

    async def handle_message(self, message: Message) -> None:
        if self.session.ended_by is None:
            await super().handle_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload = message["payload"]
        query = payload.get("query") if isinstance(payload, dict) else None
        if (
            not self.connection_acknowledged
            or message["id"] in self.operations
            or not isinstance(query, str)
            or self.context.caller is None
        ):
            await super().handle_subscribe(message)  # the protocol's own answers
            return
        started_at = time.perf_counter()
        operation_name = payload.get("operationName")
        if not isinstance(operation_name, str):
            operation_name = None
        observation = self.session.observe(query, operation_name)
        error = await self.session.refusal(
            query, operation_name, payload.get("variables"), len(self.operations)
        )
        if self.session.ended_by is not None:
            return  # a re-check closed the socket while the rate limit was asked
        if error is not None:
            await self.send_message({"id": message["id"], "type": "error", "payload": [error.formatted]})
            self.session.refused(observation, error, started_at)
            return
        self._records[message["id"]] = (observation, started_at)
        self.session.started(observation)
        await super().handle_subscribe(message)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        observation, started_at = self._records[operation.id]
        # This task's statements (its DataLoader batches run in copies of its context).
        tally = StatementTally()
        request_statements.set(tally)
        failed = False
        try:
            await super().run_operation(operation)
        except Exception:
            failed = True  # logged by Strawberry's handler with its traceback
            raise
        finally:
            if self._records.get(operation.id, (None,))[0] is observation:
                del self._records[operation.id]
            self.session.ended(observation, started_at, tally.count, failed=failed)

    async def send_message(self, message: Message) -> None:
        if self.session.ended_by is not None:
            return
        fields = cast(Mapping[str, Any], message)
        running = self._records.get(fields.get("id", ""))
        await super().send_message(message)
        if running is not None:
            saw(running[0], fields)
