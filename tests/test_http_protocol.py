"""edge/http_protocol.py: each response leaves in one write, and every byte still leaves.

The assumption it rests on (uvicorn's httptools protocol writes a response's header block and
its body separately, through the transport ``connection_made`` was given) is checked against
uvicorn itself, so an upgrade that changes either shows here first.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from gql_progress.edge.http_protocol import CorkedHttpToolsProtocol
from gql_progress.graphiql.assets import STATIC_DIR
from gql_progress.graphiql.page import ASSETS_PATH
from tests.apps import running_app
from tests.servers import graphql_body, serve

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: testserver\r\n\r\n"
KEYLESS_BODY = b'{"query": "{ viewer { id } }"}'
KEYLESS = (
    b"POST /graphql HTTP/1.1\r\nHost: testserver\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(KEYLESS_BODY), KEYLESS_BODY)
)


class RecordingTransport:
    """The socket's side of a transport: what was written to it, in order, and when it closed."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed_after: int | None = None
        self.changed = asyncio.Event()

    def write(self, data: bytes) -> None:
        assert self.closed_after is None, "written after close()"
        self.writes.append(bytes(data))
        self.changed.set()

    def close(self) -> None:
        self.closed_after = len(self.writes)
        self.changed.set()

    def is_closing(self) -> bool:
        return self.closed_after is not None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        addresses = {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}
        return addresses.get(name, default)

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        pass


def _responses(data: bytes) -> list[tuple[bytes, bytes]]:
    """Complete responses (head, body) in ``data``, by their Content-Length."""
    found = []
    while b"\r\n\r\n" in data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lengths = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
        length = int(lengths[0].split(b":")[1])
        if len(rest) < length:
            break
        found.append((head, rest[:length]))
        data = rest[length:]
    return found


async def _exchange(
    app: Starlette, protocol_class: type[HttpToolsProtocol], requests: bytes, expected: int
) -> RecordingTransport:
    """``requests`` fed to a protocol over the app; returns once ``expected`` responses were written."""
    config = Config(app=app, lifespan="off", log_config=None)
    protocol = protocol_class(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    transport = RecordingTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.data_received(requests)
    try:
        while len(_responses(b"".join(transport.writes))) < expected:
            transport.changed.clear()
            await asyncio.wait_for(transport.changed.wait(), 30)
        # Anything still held for the socket would show as one more write.
        for _ in range(3):
            await asyncio.sleep(0)
    finally:
        protocol.connection_lost(None)
    return transport


async def test_uvicorn_writes_a_response_head_and_body_apart(database_url: str) -> None:
    """The assumption: without the cork, a small response is two writes (two TCP segments)."""
    async with running_app(database_url) as app:
        transport = await _exchange(app, HttpToolsProtocol, HEALTHZ, 1)
    assert len(transport.writes) == 2
    assert transport.writes[0].startswith(b"HTTP/1.1 200")
    assert transport.writes[0].endswith(b"\r\n\r\n")


@pytest.mark.parametrize("request_bytes", [HEALTHZ, KEYLESS], ids=["healthz", "graphql_401"])
async def test_a_response_leaves_in_one_write(database_url: str, request_bytes: bytes) -> None:
    async with running_app(database_url) as app:
        corked = await _exchange(app, CorkedHttpToolsProtocol, request_bytes, 1)
        plain = await _exchange(app, HttpToolsProtocol, request_bytes, 1)
    assert len(corked.writes) == 1
    ((head, body),) = _responses(corked.writes[0])
    ((plain_head, plain_body),) = _responses(b"".join(plain.writes))
    assert head.split(b"\r\n")[0] == plain_head.split(b"\r\n")[0]
    # The same answer, but for its request id and date.
    variable = (b"x-request-id:", b"date:")
    assert [h for h in head.split(b"\r\n") if not h.lower().startswith(variable)] == [
        h for h in plain_head.split(b"\r\n") if not h.lower().startswith(variable)
    ]
    if request_bytes is HEALTHZ:
        assert body == plain_body == b'{"status":"ok"}'
    else:
        assert b'"UNAUTHENTICATED"' in body
        assert b'"UNAUTHENTICATED"' in plain_body


async def test_pipelined_requests_are_answered_in_order(database_url: str) -> None:
    async with running_app(database_url) as app:
        transport = await _exchange(app, CorkedHttpToolsProtocol, KEYLESS + HEALTHZ + KEYLESS, 3)
    statuses = [head.split(b"\r\n")[0] for head, _ in _responses(b"".join(transport.writes))]
    assert statuses == [b"HTTP/1.1 401 Unauthorized", b"HTTP/1.1 200 OK", b"HTTP/1.1 401 Unauthorized"]


async def test_what_was_written_before_close_is_sent(database_url: str) -> None:
    closing = HEALTHZ.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    async with running_app(database_url) as app:
        transport = await _exchange(app, CorkedHttpToolsProtocol, closing, 1)
    assert transport.closed_after == 1  # the response, whole, then the close
    ((_, body),) = _responses(transport.writes[0])
    assert body == b'{"status":"ok"}'


async def test_the_served_app_answers_whole_responses_over_one_connection(database_url: str) -> None:
    """`gql-progress serve` runs the corked protocol: small, refused and large answers (a file
    larger than the socket's buffer, streamed in chunks), one after another on one kept-alive
    connection, each whole."""
    development = {"GQL_PROGRESS_MODE": "development"}
    bundle = "vendor/graphiql@4.1.2/graphiql.min.js"
    expected = (STATIC_DIR / bundle).read_bytes()
    large = "{ " + " ".join(f"a{i}: __typename" for i in range(3000)) + " }"
    async with (
        serve(database_url, development) as server,
        httpx.AsyncClient(base_url=server.base) as client,
    ):
        for _ in range(3):
            static = await client.get(f"{ASSETS_PATH}/{bundle}")
            assert static.status_code == 200
            assert static.content == expected
            health = await client.get("/healthz")
            assert (health.status_code, health.json()) == (200, {"status": "ok"})
            refused = await client.post("/graphql", json=graphql_body("{ viewer { id } }"))
            assert refused.status_code == 401
            assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert refused.headers["x-request-id"]
            too_large = await client.post("/graphql", json=graphql_body(large * 20))
            assert too_large.status_code == 413
            assert too_large.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
