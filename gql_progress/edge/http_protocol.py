"""uvicorn's httptools protocol, with each response's header block and body sent in one write.

uvicorn writes the header block when the app sends ``http.response.start`` and the body when it
sends ``http.response.body``: two ``send`` calls, two TCP segments, and on the client's side two
reads, for a response that is ready at once. Over loopback each ``send`` also runs the
receiver's side of TCP, so it is the costliest thing a small request does (py-spy of a worker
under wrk, Q0: the two writes were 22 % of its samples, PostgreSQL's one 27 %). Node's HTTP
server corks a response's writes; this does the same for ours: writes made in one turn of the
event loop are joined and sent when the turn ends, so nothing waits on a later event and the
order of bytes is unchanged. A response that is complete is sent at once, without waiting
for the turn to end.

The one place we reach into uvicorn: the protocol's transport, set in ``connection_made``.
Pinned in pyproject.toml (uvicorn <0.56); tests/test_http_protocol.py checks the assumption.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# uvicorn's --http for it (`gql-progress serve` and the bench run the server with it).
HTTP_PROTOCOL = "gql_progress.edge.http_protocol:CorkedHttpToolsProtocol"


class CorkedTransport:
    """A transport whose writes in one turn of the loop reach the socket as one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        # Copied unless bytes: the caller may reuse its buffer once write() returns.
        self._pending.append(data if isinstance(data, bytes) else bytes(data))

    def flush(self) -> None:
        pending = self._pending
        if pending:
            self._pending = []
            if not self._transport.is_closing():
                self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()  # what was written before close() is still sent, as asyncio promises
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(data) for data in self._pending)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a ``CorkedTransport`` (``uvicorn --http HTTP_PROTOCOL``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # uvloop's transports are not asyncio.Transport subclasses, only alike: not checked.
        self._corked = CorkedTransport(transport, self.loop)
        super().connection_made(self._corked)  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        self._corked.flush()
        super().on_response_complete()
