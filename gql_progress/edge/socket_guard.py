"""What a WebSocket connection must keep proving while it is open, and what each subscription
leaves behind: Strawberry's graphql-transport-ws handler with the protections HTTP requests get.

- The key or token in connection_init is checked there, and again every WS_RECHECK_SECONDS
  while the socket is open; a JWT's socket also closes when the token expires (``exp`` plus the
  leeway: when HTTP would refuse it too, so a client cannot reconnect with it meanwhile). A
  credential that no longer holds (revoked key, deleted user, expired token) closes the socket
  with 4401; one that still authenticates but lost the read scope, or whose role or scopes were
  lowered, with 4403: its subscriptions were authorised with rights it no longer has, and a new
  connection authorises each again. From the moment a re-check fails nothing more is sent.
- Each subscribe message passes the request gate's document limits (request_gate.py: the same
  settings and codes, no SQL), then the per-connection cap on running subscriptions
  (WS_MAX_SUBSCRIPTIONS, TOO_MANY_SUBSCRIPTIONS), then spends one operation from the caller's
  rate limit (RATE_LIMITED, with retryAfterSeconds). A refusal is the protocol's ``error``
  message for that operation id; the socket stays open.
- Each subscription leaves one access-log record when it ends (operation, caller, outcome,
  duration, events delivered, statements; never its document, variables or payloads) under the
  connection's request id, and its metrics (metrics.py): the gauge of running subscriptions and
  the counter of outcomes.

Why a timer per connection for the re-check: one statement per interval per connection (the
same key lookup an HTTP request makes), idle sockets included, since they may subscribe at any
moment; it bounds how long a revoked credential keeps receiving to one interval. Checking before
each delivered update would put a statement on the delivery path of every update and never close
an idle socket; announcing revocations (NOTIFY) would need every write that changes keys, users
or roles to announce, and SQLite has no NOTIFY.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, cast

import jwt
from graphql import GraphQLError
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
from gql_progress.auth import Authenticated
from gql_progress.auth.jwt import looks_like_jwt
from gql_progress.db.engine import StatementTally, request_statements
from gql_progress.db.faults import database_fault, describe
from gql_progress.db.models import UserRole
from gql_progress.domain.scopes import Scope
from gql_progress.domain.viewer import Viewer
from gql_progress.edge.metrics import Metrics
from gql_progress.edge.observability import (
    ERROR,
    GRAPHQL_ERROR,
    OK,
    RATE_LIMITED,
    REJECTED,
    UNAUTHENTICATED,
    access_logger,
    caller_fields,
    logged_name,
)
from gql_progress.edge.rate_limits import RateLimiter
from gql_progress.edge.request_gate import RequestGate
from gql_progress.edge.websocket import api_key_from
from gql_progress.settings import Settings

logger = logging.getLogger("gql_progress.websocket")

# The outcome of subscriptions ended because the credential lost rights (closed with 4403).
FORBIDDEN = "forbidden"

CREDENTIAL_REFUSED = (4401, "The API key or token is invalid, expired or revoked", UNAUTHENTICATED)
TOKEN_EXPIRED = (4401, "The token expired", UNAUTHENTICATED)
READ_SCOPE_LOST = (4403, "The credential no longer grants progress:read", FORBIDDEN)
RIGHTS_LOWERED = (4403, "The credential's role or scopes were lowered; connect again", FORBIDDEN)
# 1013 Try Again Later: the database could not say whether the credential still holds.
RECHECK_FAILED = (1013, "The credential could not be checked again; connect again", ERROR)

_ROLE_RANK = {UserRole.LEARNER: 0, UserRole.INSTRUCTOR: 1, UserRole.ADMIN: 2}


@dataclass(frozen=True)
class SocketPolicy:
    """What the sockets of one app share with its HTTP requests (app.py sets it on the view):
    the request gate, the rate limits and the metrics."""

    gate: RequestGate
    rate_limiter: RateLimiter
    metrics: Metrics | None
    settings: Settings


@dataclass
class _Record:
    """One subscribe message, from its arrival to its end: what its access record and metrics say."""

    operation: str | None
    operation_type: str | None
    viewer: Viewer
    started_at: float
    started: bool = False  # it ran (counted among the running subscriptions)
    events: int = 0
    errors: bool = False
    internal_error: bool = False
    code: str | None = None  # why it was refused, when it was

    def saw(self, message: Mapping[str, Any]) -> None:
        """A message sent for this operation."""
        payload = message.get("payload")
        errors: Any = None
        if message["type"] == "next" and isinstance(payload, dict):
            if payload.get("data") is not None:
                self.events += 1
            errors = payload.get("errors")
        elif message["type"] == "error":
            errors = payload
        if errors:
            self.errors = True
            codes = [(error.get("extensions") or {}).get("code") for error in errors]
            self.internal_error = self.internal_error or "INTERNAL_SERVER_ERROR" in codes
            self.code = self.code or next((code for code in codes if code), None)


class GuardedTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        policy = getattr(self.view, "socket_policy", None)
        assert isinstance(policy, SocketPolicy), "create_app gives the view its socket policy"
        self.policy = policy
        self.caller: Authenticated | None = None
        self._credential: str | None = None
        self._expires_at: float | None = None  # Unix time; JWTs only
        self._watching: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Set when a re-check failed: the outcome of the subscriptions it ended. Nothing is sent
        # and no message handled from then on.
        self._ended_by: str | None = None
        self._records: dict[str, _Record] = {}

    # --- the credential --------------------------------------------------------------------------

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload", {})
        if isinstance(payload, dict) and not self.connection_init_received and not self.connection_timed_out:
            # Here rather than in the view's on_ws_connect (which only turns a missing viewer
            # into the protocol's 4403): the handler keeps the credential to check it again.
            await self._authenticate(payload)
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._watching is None:
            self._watching = asyncio.create_task(self._watch_credential())

    async def _authenticate(self, params: Mapping[str, object]) -> None:
        credential = api_key_from(params)
        authenticator = self.context.authenticator
        if credential is None or authenticator is None:
            return
        caller = await authenticator.authenticate(credential)
        if caller is None:
            return
        self.caller, self._credential = caller, credential
        self.context.viewer = caller.viewer
        self.context.loaders.user_by_id.prime(caller.viewer.user_id, caller.user)
        if looks_like_jwt(credential):
            # Verified just now, so its claims can be read as they are.
            exp = jwt.decode(credential, options={"verify_signature": False}).get("exp")
            if isinstance(exp, int | float):
                self._expires_at = float(exp) + self.policy.settings.jwt_leeway_seconds

    async def _watch_credential(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.policy.settings.ws_recheck_seconds
        next_check = loop.time() + interval
        while not self._stopping.is_set():
            if self._expires_at is not None and time.time() >= self._expires_at:
                await self._end(*TOKEN_EXPIRED)
                return
            if loop.time() >= next_check:
                refused = await self._recheck()
                if refused is not None:
                    await self._end(*refused)
                    return
                next_check = loop.time() + interval
            wait = next_check - loop.time()
            if self._expires_at is not None:
                wait = min(wait, self._expires_at - time.time())
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), max(wait, 0.01))

    async def _recheck(self) -> tuple[int, str, str] | None:
        """Why the socket must close now, or None (its viewer then follows the credential)."""
        assert self.caller is not None
        assert self._credential is not None
        assert self.context.authenticator is not None
        try:
            caller = await self.context.authenticator.authenticate(self._credential)
        except Exception as exc:
            if database_fault(exc) is None:
                logger.exception("re-checking a WebSocket's credential failed")
            else:
                logger.warning("re-checking a WebSocket's credential failed: %s", describe(exc))
            return RECHECK_FAILED
        if caller is None:
            return CREDENTIAL_REFUSED
        before, after = self.caller.viewer, caller.viewer
        if Scope.PROGRESS_READ not in after.scopes:
            return READ_SCOPE_LOST
        if not after.scopes >= before.scopes or _ROLE_RANK[after.role] < _ROLE_RANK[before.role]:
            return RIGHTS_LOWERED
        # Unchanged, or more rights: later subscribes get them, as the next HTTP request would.
        self.caller = caller
        self.context.viewer = after
        return None

    async def _end(self, code: int, reason: str, outcome: str) -> None:
        # First, with no await before it: whatever a subscription yields from now on is dropped,
        # and an update still being sent to a slow client is cancelled before the close.
        self._ended_by = outcome
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        logger.info("closing a WebSocket with %d: %s", code, reason)
        # The client may be gone already; its disconnect ends the handler as usual.
        with suppress(RuntimeError, OSError, WebSocketDisconnect):
            await self.websocket.close(code=code, reason=reason)

    async def shutdown(self) -> None:
        try:
            if self._watching is not None:
                # Not cancelled: a re-check in flight finishes its statement (a cancelled one
                # could leave its pooled connection unreturned); the wait for the next one ends.
                self._stopping.set()
                await self._watching
        finally:
            await super().shutdown()

    # --- subscribe -------------------------------------------------------------------------------

    async def handle_message(self, message: Message) -> None:
        if self._ended_by is None:
            await super().handle_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload = message["payload"]
        query = payload.get("query") if isinstance(payload, dict) else None
        if (
            not self.connection_acknowledged
            or message["id"] in self.operations
            or not isinstance(query, str)
            or self.caller is None
        ):
            # The protocol's own answers: 4401 before connection_init, 4409 for an id in use,
            # 4400 for a message without a document.
            await super().handle_subscribe(message)
            return
        operation_name = payload.get("operationName")
        if not isinstance(operation_name, str):
            operation_name = None
        operation = self.policy.gate.operation(query, operation_name)
        record = _Record(
            operation=None if operation is None or operation.name is None else operation.name.value,
            operation_type=None if operation is None else operation.operation.value,
            viewer=self.caller.viewer,
            started_at=time.perf_counter(),
        )
        refusal = await self._refusal(query, operation_name, payload.get("variables"))
        if self._ended_by is not None:
            return  # a re-check closed the socket while the rate limit was asked
        if refusal is not None:
            record.code, outcome, error = refusal
            await self.send_message({"id": message["id"], "type": "error", "payload": [error.formatted]})
            self._finish(record, outcome, statements=0)
            return
        record.started = True
        self._records[message["id"]] = record
        if self.policy.metrics is not None:
            self.policy.metrics.subscription_started(record.operation)
        await super().handle_subscribe(message)

    async def _refusal(
        self, query: str, operation_name: str | None, variables: object
    ) -> tuple[str, str, GraphQLError] | None:
        """(code, outcome, error) when the subscribe is refused; checked in the order of the
        costs: the document (CPU), the cap, then the rate limit's storage."""
        refused = self.policy.gate.check_document(query, operation_name, variables)
        if refused is not None:
            return refused.code, REJECTED, GraphQLError(refused.message, extensions={"code": refused.code})
        limit = self.policy.settings.ws_max_subscriptions
        if len(self.operations) >= limit:
            code = "TOO_MANY_SUBSCRIPTIONS"
            message = f"This connection runs {limit} subscriptions, the most it may; complete one first"
            return code, REJECTED, GraphQLError(message, extensions={"code": code, "limit": limit})
        assert self.caller is not None
        decision = await self.policy.rate_limiter.spend(1, self.caller, None)
        if decision is not None and not decision.allowed:
            error = decision.error()
            extensions = cast(dict[str, Any], error["extensions"])
            return "RATE_LIMITED", RATE_LIMITED, GraphQLError(str(error["message"]), extensions=extensions)
        return None

    # --- what each subscription leaves behind ---------------------------------------------------

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        record = self._records[operation.id]
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
            if self._records.get(operation.id) is record:
                del self._records[operation.id]
            if failed or record.internal_error:
                outcome = ERROR
            elif self._ended_by is not None:
                outcome = self._ended_by
            elif record.errors or record.operation_type is None:
                # No operation type: no single operation to run, and the protocol closed the
                # socket with 4400 instead of an error message.
                outcome = GRAPHQL_ERROR
            else:
                outcome = OK
            self._finish(record, outcome, tally.count)

    async def send_message(self, message: Message) -> None:
        if self._ended_by is not None:
            return
        fields = cast(Mapping[str, Any], message)
        record = self._records.get(fields.get("id", ""))
        await super().send_message(message)
        if record is not None:
            record.saw(fields)

    def _finish(self, record: _Record, outcome: str, statements: int) -> None:
        seconds = time.perf_counter() - record.started_at
        if access_logger.isEnabledFor(logging.INFO):
            _log_subscription(record, outcome, seconds, statements)
        if self.policy.metrics is not None:
            role = record.viewer.role.value.lower()
            self.policy.metrics.subscription_ended(record.operation, outcome, role, started=record.started)


def _log_subscription(record: _Record, outcome: str, seconds: float, statements: int) -> None:
    name = logged_name(record.operation)
    duration_ms = round(seconds * 1000, 3)
    access_logger.info(
        "WS /graphql subscription %s -> %s in %.1f ms, %d events, %d statements",
        name or "-",
        outcome,
        duration_ms,
        record.events,
        statements,
        extra={
            "method": "WS",
            "operation": name,
            "operation_type": record.operation_type,
            "outcome": outcome,
            "code": record.code,
            "duration_ms": duration_ms,
            "events": record.events,
            "statements": statements,
            "caller": caller_fields(record.viewer),
        },
    )
