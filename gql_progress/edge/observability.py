"""What each GraphQL HTTP request leaves behind: one access-log record and its metrics.

``ObservabilityMiddleware`` watches the /graphql endpoint (GET and POST), outside everything but
the request id, so that it sees the status the client gets. While a request runs, an
``Observation`` in a context variable collects what only the inner layers know: the admitted
operation and the caller (app.py), whether a refusal came from the request gate, and whether the
GraphQL result carried errors (api/view.py); the database engine counts the request's statements
in its own tally (db/engine.py). When the response has been sent, the outcome follows from those
and the status:

- ok: answered without GraphQL errors;
- graphql_error: answered with errors that the client caused (validation, typed domain errors);
- rejected: refused before GraphQL ran (request gate limits, bad requests, other 4xx);
- rate_limited: 429; unauthenticated: 401;
- error: an unexpected failure (a masked internal error, a 5xx, an exception). An exception
  that escapes everything below is logged with its traceback and answered here, masked, with the
  request id, as GraphQL's internal errors are.

With GQL_PROGRESS_OTEL_ENABLED, the request's OpenTelemetry span is opened and closed here too,
named and labelled from the same Observation (gql_progress/tracing.py).

The record names the caller by user id and API key id; it never holds the Authorization header,
the document, its variables (they can hold learners' notes) or the response. Subscriptions over
WebSocket leave one record each when they end, with the same fields (socket_guard.py); both are
written by the request policy's ``record`` step (policy.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
from graphql import GraphQLError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gql_progress.api.error_policy import INTERNAL_ERROR_MESSAGE
from gql_progress.db.engine import StatementTally, request_statements
from gql_progress.db.read_route import ReadRoute
from gql_progress.logs import request_id_var
from gql_progress.tracing import OFF, OpenTelemetryTracing, RequestSpan, Tracing

if TYPE_CHECKING:
    from gql_progress.auth import Authenticated
    from gql_progress.domain.viewer import Viewer
    from gql_progress.edge.policy import RequestPolicy
    from gql_progress.edge.request_gate import Admitted

access_logger = logging.getLogger("gql_progress.access")
logger = logging.getLogger("gql_progress.errors")

OK = "ok"
GRAPHQL_ERROR = "graphql_error"
REJECTED = "rejected"
RATE_LIMITED = "rate_limited"
UNAUTHENTICATED = "unauthenticated"
ERROR = "error"
OUTCOMES = (OK, GRAPHQL_ERROR, REJECTED, RATE_LIMITED, UNAUTHENTICATED, ERROR)

# Longer operation names are cut in the log (a client chooses them; the metrics label is bounded
# separately, see metrics.py).
_MAX_LOGGED_NAME = 128
_OBSERVED = frozenset({"GET", "POST"})


@dataclass(slots=True)
class Observation:
    operation_name: str | None = None
    operation_type: str | None = None
    rejected: bool = False
    graphql_errors: bool = False
    internal_error: bool = False
    viewer: Viewer | None = None
    # Where its reads went, with read replicas (db/read_route.py), as it stood at the end.
    reads: ReadRoute | None = None
    # Why it was refused (the error's code), when a refusal says so.
    code: str | None = None
    # A subscription over WebSocket (socket_guard.py): whether it ran (counted among the running
    # ones) and how many updates it delivered.
    subscription: bool = False
    started: bool = False
    events: int = 0

    def outcome(self, status: int | None, failed: bool) -> str:
        if failed or self.internal_error or (status is not None and status >= 500):
            return ERROR
        if status == 401:
            return UNAUTHENTICATED
        if status == 429:
            return RATE_LIMITED
        # No response at all: the client hung up before its body arrived (not our failure).
        if self.rejected or status is None or status >= 400:
            return REJECTED
        return GRAPHQL_ERROR if self.graphql_errors else OK


_current: ContextVar[Observation | None] = ContextVar("gql_progress_observation", default=None)


def logged_name(name: str | None) -> str | None:
    """An operation name as access records show it: the client chose it, so a long one is cut."""
    if name is not None and len(name) > _MAX_LOGGED_NAME:
        return name[:_MAX_LOGGED_NAME] + "…"
    return name


def caller_fields(viewer: Viewer | None) -> dict[str, object] | None:
    """Who called, as access records show it: ids and role, never the credential."""
    if viewer is None:
        return None
    return {"user_id": viewer.user_id, "api_key_id": viewer.api_key_id, "role": viewer.role.value}


def note_admitted(admitted: Admitted) -> None:
    """The operation the request gate admitted, named as its access record shows it."""
    observation = _current.get()
    if observation is None:
        return
    operation_type = admitted.operation_type
    observation.operation_name = None if operation_type is None else admitted.logged_name
    observation.operation_type = None if operation_type is None else operation_type.value


def note_caller(caller: Authenticated | None) -> None:
    """Who is calling, once the key or token was accepted (None: a public request without one)."""
    observation = _current.get()
    if observation is not None and caller is not None:
        observation.viewer = caller.viewer


def note_reads(route: ReadRoute | None) -> None:
    """Where the request reads (with read replicas): logged as the replica's name or "primary"."""
    observation = _current.get()
    if observation is not None:
        observation.reads = route


def note_rejected(code: str | None) -> None:
    """The request gate refused the request (some refusals answer 200, like GraphQL's own)."""
    observation = _current.get()
    if observation is not None:
        observation.rejected = True
        observation.code = code


def note_refused(code: str) -> None:
    """The request was refused with this code after the gate (the credential, the rate limit)."""
    observation = _current.get()
    if observation is not None:
        observation.code = code


def note_errors(errors: list[GraphQLError]) -> None:
    """The GraphQL result's errors, as shaped for the client (api/error_policy.py)."""
    observation = _current.get()
    if observation is None or not errors:
        return
    observation.graphql_errors = True
    if any((error.extensions or {}).get("code") == "INTERNAL_SERVER_ERROR" for error in errors):
        observation.internal_error = True


class ObservabilityMiddleware:
    """GraphQL HTTP requests, timed, counted and logged; anything else passes through untouched
    (WebSocket connections, /healthz, /metrics, CORS preflights)."""

    def __init__(
        self, app: ASGIApp, policy: RequestPolicy, path: str = "/graphql", tracing: Tracing = OFF
    ) -> None:
        self.app = app
        # Its record step writes the access log and the metrics, as for a subscription.
        self.policy = policy
        self.path = path
        # The request span lives here: it sees the status the client gets, like the access log.
        self.tracing = tracing if isinstance(tracing, OpenTelemetryTracing) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] not in _OBSERVED:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observation = Observation()
        tally = StatementTally()
        observation_token = _current.set(observation)
        tally_token = request_statements.set(tally)
        status: int | None = None
        span: RequestSpan | None = None if self.tracing is None else self.tracing.start_request(scope)

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if span is not None:
                    span.with_traceparent(message)
            await send(message)

        failed = False
        try:
            await self.app(scope, receive, sending)
        except asyncio.CancelledError:
            failed = True  # the server stopping past its grace period: no traceback to show
            raise
        except Exception:
            failed = True
            logger.exception("unhandled error in a GraphQL request")
            if status is not None:
                raise  # the response began: nothing more can be said
            # Answered here rather than by Starlette's bare 500 outside the request: masked like
            # any internal error, with the request id (also in X-Request-ID) of the log line.
            status = 500
            await _answer_internal_error(sending)  # through sending: the traceparent too
        finally:
            _current.reset(observation_token)
            request_statements.reset(tally_token)
            seconds = time.perf_counter() - started
            outcome = observation.outcome(status, failed)
            if span is not None:
                span.end(
                    observation.operation_type,
                    logged_name(observation.operation_name),
                    status,
                    outcome,
                    request_id_var.get(),
                )
            self.policy.record(scope["method"], observation, status, outcome, seconds, tally.count)


async def _answer_internal_error(send: Send) -> None:
    error = {
        "message": INTERNAL_ERROR_MESSAGE,
        "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id_var.get()},
    }
    body = orjson.dumps({"data": None, "errors": [error]})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})
