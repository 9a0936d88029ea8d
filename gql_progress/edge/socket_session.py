"""One WebSocket connection's side of the request policy (policy.py): what it must keep proving
while it is open, and what each of its subscriptions is admitted with and leaves behind. Nothing
here reaches into Strawberry; socket_guard.py feeds it the protocol's events.

- The key or token in connection_init was checked by the view's ``on_ws_connect``; it is checked
  again every WS_RECHECK_SECONDS while the socket is open, and a JWT's socket also closes when
  the token expires (``exp`` plus the leeway: when HTTP would refuse it too, so a client cannot
  reconnect with it meanwhile). A credential that no longer holds (revoked key, deleted user,
  expired token) closes the socket with 4401; one that still authenticates but lost the read
  scope, or whose role or scopes were lowered, with 4403: its subscriptions were authorised with
  rights it no longer has, and a new connection authorises each again. From the moment a
  re-check fails nothing more is sent.
- Each subscribe message passes the policy's document limits (the same settings and codes as
  HTTP, no SQL), then the per-connection cap on running subscriptions (WS_MAX_SUBSCRIPTIONS,
  TOO_MANY_SUBSCRIPTIONS), then spends one operation from the caller's rate limit (RATE_LIMITED,
  with retryAfterSeconds). A refusal is the protocol's ``error`` message for that operation id;
  the socket stays open.
- Each subscription leaves one access-log record when it ends (operation, caller, outcome,
  duration, events delivered, statements; never its document, variables or payloads) under the
  connection's request id, and its metrics: the policy's record step, as an HTTP request's.

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
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from typing import Any, cast

from graphql import GraphQLError

from gql_progress.api.context import Context
from gql_progress.db.faults import database_fault, describe
from gql_progress.edge.observability import (
    ERROR,
    GRAPHQL_ERROR,
    OK,
    RATE_LIMITED,
    REJECTED,
    UNAUTHENTICATED,
    Observation,
)
from gql_progress.edge.policy import RequestPolicy, RightsLost
from gql_progress.edge.websocket import api_key_from

logger = logging.getLogger("gql_progress.websocket")

# The outcome of subscriptions ended because the credential lost rights (closed with 4403).
FORBIDDEN = "forbidden"

# (close code, reason, outcome of the subscriptions it ends)
Closing = tuple[int, str, str]
CREDENTIAL_REFUSED: Closing = (4401, "The API key or token is invalid, expired or revoked", UNAUTHENTICATED)
TOKEN_EXPIRED: Closing = (4401, "The token expired", UNAUTHENTICATED)
READ_SCOPE_LOST: Closing = (4403, "The credential no longer grants progress:read", FORBIDDEN)
RIGHTS_LOWERED: Closing = (4403, "The credential's role or scopes were lowered; connect again", FORBIDDEN)
# 1013 Try Again Later: the database could not say whether the credential still holds.
RECHECK_FAILED: Closing = (1013, "The credential could not be checked again; connect again", ERROR)
_CLOSINGS = {
    RightsLost.REFUSED: CREDENTIAL_REFUSED,
    RightsLost.READ_SCOPE_LOST: READ_SCOPE_LOST,
    RightsLost.LOWERED: RIGHTS_LOWERED,
}


def saw(observation: Observation, message: Mapping[str, Any]) -> None:
    """A message sent for a subscription: the updates it delivered, and its errors' codes."""
    payload = message.get("payload")
    errors: Any = None
    if message["type"] == "next" and isinstance(payload, dict):
        if payload.get("data") is not None:
            observation.events += 1
        errors = payload.get("errors")
    elif message["type"] == "error":
        errors = payload
    if errors:
        observation.graphql_errors = True
        codes = [(error.get("extensions") or {}).get("code") for error in errors]
        observation.internal_error = observation.internal_error or "INTERNAL_SERVER_ERROR" in codes
        observation.code = observation.code or next((code for code in codes if code), None)


class SocketSession:
    """The policy's steps for one connection; ``close`` ends the connection (code, reason)."""

    def __init__(self, policy: RequestPolicy, context: Context) -> None:
        self.policy = policy
        self.context = context
        self._stopping = asyncio.Event()
        self._watching: asyncio.Task[None] | None = None
        # Set when a re-check failed: the outcome of the subscriptions it ended. Nothing is sent
        # and no message handled from then on.
        self.ended_by: str | None = None

    # --- the credential ----------------------------------------------------------------------------

    def watch(self, end: Callable[[Closing], Awaitable[None]]) -> None:
        """Once connected: re-check the credential while the socket is open, ``end`` it when
        the credential no longer holds."""
        if self._watching is None and self.context.caller is not None:
            self._watching = asyncio.create_task(self._watch(end))

    async def _watch(self, end: Callable[[Closing], Awaitable[None]]) -> None:
        credential = self._credential()
        expires_at = self.policy.expires_at(credential)
        loop = asyncio.get_running_loop()
        interval = self.policy.settings.ws_recheck_seconds
        next_check = loop.time() + interval
        while not self._stopping.is_set():
            if expires_at is not None and time.time() >= expires_at:
                await self._end(end, TOKEN_EXPIRED)
                return
            if loop.time() >= next_check:
                refused = await self._recheck(credential)
                if refused is not None:
                    await self._end(end, refused)
                    return
                next_check = loop.time() + interval
            wait = next_check - loop.time()
            if expires_at is not None:
                wait = min(wait, expires_at - time.time())
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), max(wait, 0.01))

    def _credential(self) -> str:
        credential = api_key_from(self.context.connection_params or {})
        assert credential is not None, "on_ws_connect accepted a credential"
        return credential

    async def _recheck(self, credential: str) -> Closing | None:
        """Why the socket must close now, or None (its viewer then follows the credential)."""
        assert self.context.caller is not None
        try:
            checked = await self.policy.recheck(self.context.caller, credential)
        except Exception as exc:
            if database_fault(exc) is None:
                logger.exception("re-checking a WebSocket's credential failed")
            else:
                logger.warning("re-checking a WebSocket's credential failed: %s", describe(exc))
            return RECHECK_FAILED
        if isinstance(checked, RightsLost):
            return _CLOSINGS[checked]
        # Unchanged, or more rights: later subscribes get them, as the next HTTP request would.
        self.context.caller, self.context.viewer = checked, checked.viewer
        return None

    async def _end(self, end: Callable[[Closing], Awaitable[None]], closing: Closing) -> None:
        # First, with no await before it: whatever a subscription yields from now on is dropped.
        self.ended_by = closing[2]
        logger.info("closing a WebSocket with %d: %s", closing[0], closing[1])
        await end(closing)

    async def stop(self) -> None:
        if self._watching is not None:
            # Not cancelled: a re-check in flight finishes its statement (a cancelled one could
            # leave its pooled connection unreturned); the wait for the next one ends.
            self._stopping.set()
            await self._watching

    # --- subscribe ---------------------------------------------------------------------------------

    def observe(self, query: str, operation_name: str | None) -> Observation:
        """The record of one subscribe message, from its arrival to its end."""
        operation = self.policy.gate.operation(query, operation_name)
        return Observation(
            operation_name=None if operation is None or operation.name is None else operation.name.value,
            operation_type=None if operation is None else operation.operation.value,
            viewer=self.context.viewer,
            subscription=True,
        )

    async def refusal(
        self, query: str, operation_name: str | None, variables: object, running: int
    ) -> GraphQLError | None:
        """Why the subscribe is refused, as the error to send; checked in the order of the costs:
        the document (CPU), the cap, then the rate limit's storage."""
        refused = self.policy.admit(query, operation_name, variables)
        if refused is not None:
            return GraphQLError(refused.message, extensions={"code": refused.code})
        limit = self.policy.settings.ws_max_subscriptions
        if running >= limit:
            code = "TOO_MANY_SUBSCRIPTIONS"
            message = f"This connection runs {limit} subscriptions, the most it may; complete one first"
            return GraphQLError(message, extensions={"code": code, "limit": limit})
        decision = await self.policy.spend(self.context.caller, None, None)
        if decision is not None and not decision.allowed:
            error = decision.error()
            extensions = cast(dict[str, Any], error["extensions"])
            return GraphQLError(str(error["message"]), extensions=extensions)
        return None

    def started(self, observation: Observation) -> None:
        observation.started = True
        if self.policy.metrics is not None:
            self.policy.metrics.subscription_started(observation.operation_name)

    def refused(self, observation: Observation, error: GraphQLError, started_at: float) -> None:
        code = (error.extensions or {}).get("code")
        observation.code = code if isinstance(code, str) else None
        outcome = RATE_LIMITED if observation.code == "RATE_LIMITED" else REJECTED
        self.finish(observation, outcome, started_at, statements=0)

    def ended(self, observation: Observation, started_at: float, statements: int, *, failed: bool) -> None:
        if failed or observation.internal_error:
            outcome = ERROR
        elif self.ended_by is not None:
            outcome = self.ended_by
        elif observation.graphql_errors or observation.operation_type is None:
            # No operation type: no single operation to run, and the protocol closed the socket
            # with 4400 instead of an error message.
            outcome = GRAPHQL_ERROR
        else:
            outcome = OK
        self.finish(observation, outcome, started_at, statements)

    def finish(self, observation: Observation, outcome: str, started_at: float, statements: int) -> None:
        self.policy.record("WS", observation, None, outcome, time.perf_counter() - started_at, statements)
