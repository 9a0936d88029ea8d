"""HTTP 503 with ``Retry-After`` and the GraphQL error shape (code SERVICE_BUSY or
SERVICE_UNAVAILABLE, a generic message, the request id) for a request that

- failed before GraphQL ran because the database was busy or out of reach (the API key lookup
  found the pool empty, PostgreSQL restarting); failures inside GraphQL are shaped by
  api/error_policy.py, and both classify with db/faults.py;
- was cancelled by a stopping server: SIGTERM gives requests in flight
  GQL_PROGRESS_SHUTDOWN_GRACE_SECONDS, then uvicorn cancels the rest. Their write transactions
  roll back as the cancellation unwinds them, so the client is told to retry.

Without it the client would get uvicorn's bare "Internal Server Error".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gql_progress.db.faults import (
    RETRY_AFTER_SECONDS,
    SERVICE_UNAVAILABLE,
    DatabaseFault,
    database_fault,
    describe,
)
from gql_progress.logs import request_id_var

logger = logging.getLogger("gql_progress.errors")


class InFlight:
    """The HTTP requests inside the app. uvicorn cancels those still running when the grace
    period ends, then runs the lifespan's shutdown and, once that returns, kills the process
    with the signal it caught: the lifespan first waits (``settled``) for the cancelled requests
    to roll back and answer, or they would die half-unwound, unanswered."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def settled(self, within: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), within)


# How long a stopping server waits for cancelled requests to roll back and answer (a rollback's
# round trip; longer only when SQLite's write lock is held from outside the process).
SETTLE_SECONDS = 2.0


class UnavailableMiddleware:
    def __init__(self, app: ASGIApp, in_flight: InFlight | None = None) -> None:
        self.app = app
        self.in_flight = in_flight or InFlight()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.in_flight.enter()
        try:
            await self._answer(scope, receive, send)
        finally:
            self.in_flight.leave()

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        except asyncio.CancelledError:
            if not started:
                logger.warning(
                    "request cancelled by the server's shutdown; answered %s", SERVICE_UNAVAILABLE.code
                )
                await _refuse(send, SERVICE_UNAVAILABLE)
            raise  # still cancelled: the server stops this task
        except Exception as exc:
            fault = database_fault(exc)
            if fault is None or started:
                raise
            logger.warning("%s before the operation ran: %s", fault.code, describe(exc))
            await _refuse(send, fault)


async def _refuse(send: Send, fault: DatabaseFault) -> None:
    body = orjson.dumps(
        {
            "data": None,
            "errors": [
                {
                    "message": fault.message,
                    "extensions": {"code": fault.code, "requestId": request_id_var.get()},
                }
            ],
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
