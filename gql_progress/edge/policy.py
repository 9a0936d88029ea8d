"""One request policy: the checks every GraphQL operation passes, over HTTP and WebSocket alike.

``RequestPolicy`` is built once per app (create_app) from the request gate, the authenticator,
the rate limiter and the metrics. The transports are adapters over it: HTTP (app.py's endpoint,
then the view) reads a request's shape and its Authorization header; WebSocket (socket_guard.py)
reads connection_init and each subscribe message. Both take the steps below with the same
settings, the same refusal codes and the same access-log fields:

1. ``admit``: a document's limits (tokens, nesting, fragment cycles, depth, aliases, cost), the
   gate's parse cached by text, so a document is parsed once whichever transport sent it;
2. ``authenticate``: a key or JWT, through the one authenticator and its credential cache
   (``recheck`` for a socket that stays open: the rights it was granted must still hold);
3. ``authorise``: the scope an operation's type needs (domain/scopes.py's rule, which the
   resolver path's RequireScopes enforces too);
4. ``spend``: the operation's cost from the caller's rate limit (one for a query or a subscribe,
   one per top-level mutation field);
5. ``record``: one access-log record and the metrics, when the request or subscription ends.

HTTP authenticates each request after admitting its document; a socket authenticates once at
connection_init, then admits, rate-limits and records each subscribe. Nothing here knows a
transport's wire format: refusals are returned, and each adapter words them as its protocol does.
"""

from __future__ import annotations

import enum
import logging

import jwt
from graphql import OperationType
from starlette.datastructures import Address

from gql_progress.auth import Authenticated, Authenticator
from gql_progress.auth.jwt import looks_like_jwt
from gql_progress.db.models import UserRole
from gql_progress.domain.scopes import scope_needed
from gql_progress.domain.viewer import Viewer
from gql_progress.edge.metrics import Metrics
from gql_progress.edge.observability import Observation, access_logger, caller_fields, logged_name
from gql_progress.edge.rate_limits import Decision, RateLimiter
from gql_progress.edge.request_gate import DocumentRefusal, RequestGate
from gql_progress.settings import Settings

_ROLE_RANK = {UserRole.LEARNER: 0, UserRole.INSTRUCTOR: 1, UserRole.ADMIN: 2}


class RightsLost(enum.Enum):
    """Why a credential that was accepted no longer covers what it was granted."""

    REFUSED = "refused"  # revoked, expired, or its user deleted
    READ_SCOPE_LOST = "read_scope_lost"
    LOWERED = "lowered"  # its role or scopes shrank


class RequestPolicy:
    def __init__(
        self,
        gate: RequestGate,
        authenticator: Authenticator,
        rate_limiter: RateLimiter,
        metrics: Metrics | None,
        settings: Settings,
    ) -> None:
        self.gate = gate
        self.authenticator = authenticator
        self.rate_limiter = rate_limiter
        self.metrics = metrics
        self.settings = settings
        # Looked up once here: authorise runs on every request.
        self._scope_needed = {operation: scope_needed(operation.value) for operation in OperationType}

    # 1. the document ------------------------------------------------------------------------------

    def admit(self, query: str, operation_name: str | None, variables: object) -> DocumentRefusal | None:
        """Every document limit, for a caller with a credential (HTTP checks the request's shape
        first, in ``gate.admit``; a keyless HTTP request is held to the public schema instead)."""
        return self.gate.check_document(query, operation_name, variables)

    # 2. the credential ----------------------------------------------------------------------------

    async def authenticate(self, credential: str | None) -> Authenticated | None:
        """The caller a key or JWT stands for; None when it is missing or refused (one answer
        for every refusal: which check failed is logged, not told)."""
        if credential is None:
            return None
        return await self.authenticator.authenticate(credential)

    async def recheck(self, held: Authenticated, credential: str) -> Authenticated | RightsLost:
        """The credential checked again for a connection that stays open: the caller it stands
        for now, or why the rights it was granted no longer hold. More rights, or the same, are
        taken as the next HTTP request would; fewer end what was authorised with them. A
        database failure propagates: the caller cannot be vouched for."""
        caller = await self.authenticator.authenticate(credential)
        if caller is None:
            return RightsLost.REFUSED
        before, after = held.viewer, caller.viewer
        if not self.authorise(after, OperationType.SUBSCRIPTION):
            return RightsLost.READ_SCOPE_LOST
        if not after.scopes >= before.scopes or _ROLE_RANK[after.role] < _ROLE_RANK[before.role]:
            return RightsLost.LOWERED
        return caller

    def expires_at(self, credential: str) -> float | None:
        """When a JWT stops being accepted (Unix time: ``exp`` plus the leeway HTTP allows);
        None for a key, which lasts until revoked."""
        if not looks_like_jwt(credential):
            return None
        # Called after authenticate() verified it, so its claims can be read as they are.
        exp = jwt.decode(credential, options={"verify_signature": False}).get("exp")
        return float(exp) + self.settings.jwt_leeway_seconds if isinstance(exp, int | float) else None

    # 3. the scope ---------------------------------------------------------------------------------

    def authorise(self, viewer: Viewer, operation_type: OperationType) -> bool:
        """Whether the caller's scopes cover an operation of this type."""
        return self._scope_needed[operation_type] in viewer.scopes

    # 4. the rate limit ----------------------------------------------------------------------------

    async def spend(
        self,
        caller: Authenticated | None,
        client: Address | None,
        operation_type: OperationType | None,
        root_fields: int = 1,
    ) -> Decision | None:
        """Spend one operation's cost from its caller's budget (an anonymous caller's is its
        address's); None when nothing was counted (limits off, or the storage failing)."""
        cost = max(1, root_fields) if operation_type is OperationType.MUTATION else 1
        return await self.rate_limiter.spend(cost, caller, client)

    # 5. the record --------------------------------------------------------------------------------

    def record(
        self,
        method: str,
        observation: Observation,
        status: int | None,
        outcome: str,
        seconds: float,
        statements: int,
    ) -> None:
        """One access-log record and the metrics of a finished request (GET, POST) or subscription
        (WS): the same fields for both, so one query over the logs covers both transports."""
        viewer = observation.viewer
        if access_logger.isEnabledFor(logging.INFO):
            name = logged_name(observation.operation_name)
            duration_ms = round(seconds * 1000, 3)
            message: str
            arguments: tuple[object, ...]
            if observation.subscription:
                message = "WS /graphql subscription %s -> %s in %.1f ms, %d events, %d statements"
                arguments = (name or "-", outcome, duration_ms, observation.events, statements)
            else:
                message = "%s /graphql %s %s -> %s %s in %.1f ms, %d statements"
                arguments = (
                    method,
                    observation.operation_type or "-",
                    name or "-",
                    status if status is not None else "-",
                    outcome,
                    duration_ms,
                    statements,
                )
            # makeRecord and handle, which is what info() does, less looking up the caller's source
            # line in the stack: a quarter of the record's cost, and always this function anyway.
            record = access_logger.makeRecord(
                access_logger.name,
                logging.INFO,
                __file__,
                0,
                message,
                arguments,
                None,
                extra={
                    "method": method,
                    "operation": name,
                    "operation_type": observation.operation_type,
                    "status": status,
                    "outcome": outcome,
                    "code": observation.code,
                    "duration_ms": duration_ms,
                    "statements": statements,
                    "events": observation.events,
                    "caller": caller_fields(viewer),
                },
            )
            if observation.reads is not None:
                replica = observation.reads.replica
                record.reads = "primary" if replica is None else replica.name
            access_logger.handle(record)
        metrics = self.metrics
        if metrics is None:
            return
        role = None if viewer is None else viewer.role.value.lower()
        if observation.subscription:
            metrics.subscription_ended(
                observation.operation_name, outcome, role or "", started=observation.started
            )
        else:
            metrics.observe(observation.operation_name, outcome, seconds, statements, role)
