"""WebSocket clients for the subscription tests, speaking graphql-transport-ws.

``AsgiWebSocket`` drives the app's ASGI interface in the test's own event loop (Starlette's
TestClient would run the app in another thread and loop, away from its database pool and
broker); ``NetworkWebSocket`` talks to a real server over TCP (the websockets library).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import websockets
from starlette.types import ASGIApp, Message

if TYPE_CHECKING:
    from tests.support import Api

PROTOCOL = "graphql-transport-ws"
WAIT_SECONDS = 10.0  # for what must arrive; a passing test never waits this long


class Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed with {code}: {reason}")
        self.code = code
        self.reason = reason


class JsonSocket(Protocol):
    async def send_json(self, message: dict[str, Any]) -> None: ...
    async def receive_json(self, within: float = WAIT_SECONDS) -> dict[str, Any]: ...


class AsgiWebSocket:
    def __init__(self, app: ASGIApp, *, subprotocols: tuple[str, ...] = (PROTOCOL,)) -> None:
        self._app = app
        self._subprotocols = subprotocols
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        # Cleared, the app's sends block as on a client that stopped reading.
        self.reading = asyncio.Event()
        self.reading.set()
        self.blocked_sends = 0
        self._task: asyncio.Task[None] | None = None
        self.subprotocol: str | None = None

    async def __aenter__(self) -> AsgiWebSocket:
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "http_version": "1.1",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"testserver"),
                (b"sec-websocket-protocol", ", ".join(self._subprotocols).encode()),
            ],
            "subprotocols": list(self._subprotocols),
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": {},
            "extensions": {"websocket.http.response": {}},
        }
        self._task = asyncio.create_task(self._run(scope))
        await self._to_app.put({"type": "websocket.connect"})
        message = await self._next(WAIT_SECONDS)
        if message["type"] == "websocket.close":
            raise Closed(message.get("code", 1000), message.get("reason", ""))
        assert message["type"] == "websocket.accept", message
        self.subprotocol = message.get("subprotocol")
        return self

    async def __aexit__(self, *_: object) -> None:
        self.reading.set()
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        assert self._task is not None
        try:
            await asyncio.wait_for(self._task, WAIT_SECONDS)
        except TimeoutError:  # pragma: no cover - a handler that ignores disconnects
            self._task.cancel()
            raise

    async def _run(self, scope: dict[str, Any]) -> None:
        try:
            await self._app(scope, self._to_app.get, self._send)
        finally:
            await self._from_app.put({"type": "test.app_returned"})

    async def _send(self, message: Message) -> None:
        if not self.reading.is_set():
            self.blocked_sends += 1
            await self.reading.wait()
            self.blocked_sends -= 1
        await self._from_app.put(message)

    async def _next(self, within: float) -> Message:
        return await asyncio.wait_for(self._from_app.get(), within)

    async def send_json(self, message: dict[str, Any]) -> None:
        await self._to_app.put({"type": "websocket.receive", "text": json.dumps(message)})

    async def receive_json(self, within: float = WAIT_SECONDS) -> dict[str, Any]:
        message = await self._next(within)
        if message["type"] == "websocket.close":
            raise Closed(message.get("code", 1000), message.get("reason", ""))
        assert message["type"] == "websocket.send", message
        # graphql-transport-ws is text frames only (browsers hand binary frames over as Blobs).
        assert message.get("text") is not None, f"binary frame: {message!r}"
        body: dict[str, Any] = json.loads(message["text"])
        return body


class NetworkWebSocket:
    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: Any = None

    async def __aenter__(self) -> NetworkWebSocket:
        self._connection = await websockets.connect(self._url, subprotocols=[PROTOCOL])  # type: ignore[list-item]
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._connection.close()

    async def send_json(self, message: dict[str, Any]) -> None:
        await self._connection.send(json.dumps(message))

    async def receive_json(self, within: float = WAIT_SECONDS) -> dict[str, Any]:
        try:
            text = await asyncio.wait_for(self._connection.recv(), within)
        except websockets.ConnectionClosed as exc:
            raise Closed(exc.rcvd.code if exc.rcvd else 1006, exc.rcvd.reason if exc.rcvd else "") from exc
        assert isinstance(text, str), "binary frame"
        body: dict[str, Any] = json.loads(text)
        return body


async def init(ws: JsonSocket, payload: dict[str, Any] | None) -> dict[str, Any]:
    """connection_init; the server's answer (connection_ack), or Closed."""
    await ws.send_json({"type": "connection_init", **({} if payload is None else {"payload": payload})})
    return await ws.receive_json()


async def subscribe(ws: JsonSocket, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
    await ws.send_json(
        {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}
    )


async def next_message(
    ws: JsonSocket, op_id: str, within: float = WAIT_SECONDS, *, skip_others: bool = False
) -> dict[str, Any]:
    """The next message about ``op_id`` (skipping pings, and other operations' messages when
    ``skip_others``), whatever its type."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        message = await ws.receive_json(max(deadline - loop.time(), 0.001))
        if message.get("type") == "ping":
            await ws.send_json({"type": "pong"})
            continue
        if skip_others and message.get("id") != op_id:
            continue
        assert message.get("id") == op_id, message
        return message


async def next_of_each(ws: JsonSocket, op_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The next message of each operation: their order between operations is not defined."""
    messages: dict[str, dict[str, Any]] = {}
    while set(messages) != op_ids:
        message = await ws.receive_json()
        assert message.get("id") in op_ids - set(messages), message
        messages[message["id"]] = message
    return messages


async def next_data(
    ws: JsonSocket, op_id: str, within: float = WAIT_SECONDS, *, skip_others: bool = False
) -> dict[str, Any]:
    """The data of the next `next` message of ``op_id``; fails on errors or completion."""
    message = await next_message(ws, op_id, within, skip_others=skip_others)
    assert message["type"] == "next", message
    assert not message["payload"].get("errors"), message
    data: dict[str, Any] = message["payload"]["data"]
    return data


async def until(condition: Callable[[], bool], what: str) -> None:
    # Returns as soon as it holds; the bound is generous because CI machines are loaded.
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


async def subscribed(api: Api, count: int) -> None:
    """Until the app has ``count`` live subscriptions: a write before that would be missed."""
    broker = api.app.state.live.broker
    await until(lambda: broker.subscriber_count == count, f"{count} subscriptions are registered")
