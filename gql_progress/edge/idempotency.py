"""``Idempotency-Key``: a mutation request sent again (a client retrying after a timeout or a
dropped connection) gets the first response back instead of applying its writes twice.

- The key is scoped per caller (the API key's user): callers never see or block each other's.
- The request runs in one write transaction (``Database.transaction()``), which every write of
  its mutations joins as a SAVEPOINT: the GraphQL view is handed the transaction's database
  handle (``transaction.db``, in the request state) and builds the request's context and
  loaders on it, so joining is explicit. Its response is stored in that same transaction, so the
  effect exists exactly when the stored response does. Repeats within the TTL (24 h) get the
  stored status and body with ``Idempotent-Replayed: true``.
- What is stored is a completed request: success payloads and errors as data (``NotFoundError``,
  ``ValidationError`` …) alike. A request that hit an unexpected (masked) error is rolled back
  entirely, stores nothing and can be retried with the same key; its answer then says so with
  ``data: null``, since the data that was computed was never committed.
- The same key with another request (operation name, document or variables) is refused with 422.
- A repeat that arrives while the first is running: on PostgreSQL the first holds a
  transaction-scoped advisory lock on (caller, key) and the repeat, failing to take it, is refused
  with 409 at once (an INSERT of a claim row would instead wait for the first to commit). On
  SQLite every writer takes the database's write lock when it begins, so the repeat waits for the
  first to commit (up to the busy timeout) and then gets the replay.
- The header means something on mutations only: on queries (which write nothing, so running one
  again is the same as replaying it) it is ignored, whatever its value.

A request without the header costs exactly what it did; with it, a constant number of extra
statements: the advisory lock (PostgreSQL), the lookup, the INSERT of the response, and a
SAVEPOINT and its RELEASE around each mutation's writes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from graphql import OperationType
from sqlalchemy import delete, func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gql_progress.auth import Authenticated
from gql_progress.db.dialect import insert_for
from gql_progress.db.engine import Database
from gql_progress.db.models import IdempotencyKey
from gql_progress.db.types import utcnow
from gql_progress.edge.request_gate import Admitted, refusal, replay_body

logger = logging.getLogger("gql_progress.idempotency")

HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"
MAX_KEY_LENGTH = 255
INTERNAL_ERROR_CODE = "INTERNAL_SERVER_ERROR"
# Expired rows are deleted at most this often per process, after a keyed request was answered.
PURGE_INTERVAL_SECONDS = 3600.0


@dataclass(frozen=True)
class IdempotentRequest:
    """A mutation request that carries a valid key, ready to be served by ``Idempotency.serve``."""

    user_id: int
    key: str
    fingerprint: str
    # Replays the body that was read to compute the fingerprint, for the GraphQL view.
    receive: Receive = field(repr=False)

    @property
    def lock_id(self) -> int:
        """The (caller, key)'s PostgreSQL advisory lock: 64 bits of a SHA-256, so two keys share
        one only by a collision, which would cost a needless 409, never a wrong replay."""
        digest = hashlib.sha256(f"gql_progress.edge.idempotency:{self.user_id}:{self.key}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)


def is_valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and all(" " <= c <= "~" for c in key)


def fingerprint(operation_name: str | None, query: str | None, variables: Any) -> str:
    """SHA-256 of what the request asks: its operation name, document and variables (as canonical
    JSON, so the order of keys does not matter; absent variables are the same as ``{}``)."""
    canonical = orjson.dumps([operation_name, query, variables or {}], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def in_progress() -> Response:
    response = refusal(
        409,
        "IDEMPOTENCY_KEY_IN_USE",
        "A request with this Idempotency-Key is still running; retry once it has been answered",
    )
    response.headers["Retry-After"] = "1"
    return response


def reused() -> Response:
    return refusal(
        422,
        "IDEMPOTENCY_KEY_REUSED",
        "This Idempotency-Key was used for a different request (operation, document or "
        "variables); send a new key with a new request",
    )


def invalid_key() -> Response:
    return refusal(
        400,
        "INVALID_IDEMPOTENCY_KEY",
        f"Send one Idempotency-Key header of 1 to {MAX_KEY_LENGTH} printable ASCII characters",
    )


class _Captured:
    """Holds the GraphQL view's response until the transaction it belongs to has ended."""

    def __init__(self) -> None:
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    @property
    def status(self) -> int:
        return int(self.start["status"]) if self.start else 500

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def completed(self) -> tuple[bool, bytes | None]:
        """Whether the request ran to a result worth storing, and the body to send instead of
        the captured one (None: send it as it is).

        Stored: HTTP 200 with ``data`` (the operation ran; errors as data included). Not
        stored: anything that did not run (syntax or validation errors), and anything that hit
        an unexpected error, whose computed data is replaced by ``null``: it was rolled back.
        """
        if self.status != 200:
            return False, None
        try:
            payload = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return False, None
        if not isinstance(payload, dict) or payload.get("data") is None:
            return False, None
        errors = payload.get("errors") or []
        unexpected = [e for e in errors if _code(e) == INTERNAL_ERROR_CODE]
        if not unexpected:
            return True, None
        return False, orjson.dumps({"data": None, "errors": unexpected})

    async def forward(self, send: Send, body: bytes | None) -> None:
        assert self.start is not None
        start = self.start
        if body is None:
            body = self.body
        else:
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            start = {**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _code(error: Any) -> object:
    extensions = error.get("extensions") if isinstance(error, dict) else None
    return extensions.get("code") if isinstance(extensions, dict) else None


class Idempotency:
    def __init__(self, db: Database, ttl_seconds: int) -> None:
        self.db = db
        self.ttl = timedelta(seconds=ttl_seconds)
        self._last_purge = time.monotonic()

    async def prepare(
        self, request: Request, admitted: Admitted, caller: Authenticated | None
    ) -> IdempotentRequest | Response | None:
        """The keyed request to serve, a 400 for a bad key, or None when there is nothing to do
        (no header, or not a mutation). Runs no SQL."""
        values = request.headers.getlist(HEADER)
        if not values or caller is None or admitted.operation_type is not OperationType.MUTATION:
            return None
        if len(values) > 1 or not is_valid_key(values[0]):
            return invalid_key()
        # Mutations come only by POST (request_gate refuses them over GET), whose body the gate
        # has read and replays in one message.
        message = await admitted.receive()
        body: bytes = message.get("body", b"")
        payload = orjson.loads(body)
        variables = payload.get("variables") if isinstance(payload, dict) else None
        return IdempotentRequest(
            user_id=caller.viewer.user_id,
            key=values[0],
            fingerprint=fingerprint(admitted.operation_name, admitted.query, variables),
            receive=replay_body(body, request.receive),
        )

    async def serve(self, keyed: IdempotentRequest, scope: Scope, send: Send, app: ASGIApp) -> None:
        """Answer ``keyed``: replay its stored response, refuse it (409, 422), or run ``app`` (the
        GraphQL view) in one transaction with the storing of its response."""
        # Decided before anything runs: the replay, or a refusal (409, 422).
        answer: Response | None = None
        captured = _Captured()
        replacement: bytes | None = None
        async with self.db.transaction() as transaction:
            conn = transaction.connection
            if conn.dialect.name == "postgresql":
                # Before the lookup: once the lock is ours, a first request that held it has
                # committed, and the lookup's snapshot (taken after) sees its response.
                locked = await conn.scalar(select(func.pg_try_advisory_xact_lock(keyed.lock_id)))
                if not locked:
                    answer = in_progress()
            if answer is None:
                stored = (
                    await conn.execute(
                        select(
                            IdempotencyKey.fingerprint,
                            IdempotencyKey.status_code,
                            IdempotencyKey.response_body,
                        ).where(
                            IdempotencyKey.user_id == keyed.user_id,
                            IdempotencyKey.key == keyed.key,
                            IdempotencyKey.created_at > utcnow() - self.ttl,
                        )
                    )
                ).first()
                if stored is not None:
                    answer = (
                        _replay_response(stored.status_code, stored.response_body)
                        if stored.fingerprint == keyed.fingerprint
                        else reused()
                    )
            if answer is not None:
                transaction.rollback_only = True
            else:
                # The request's reads and writes join this transaction through the handle it is
                # given (the view's Context.db): explicit, not a property of the task.
                joined_scope = {**scope, "state": {**scope.get("state", {}), DATABASE_STATE: transaction.db}}
                await app(joined_scope, keyed.receive, captured.send)
                store, replacement = captured.completed()
                if store:
                    await conn.execute(_store_statement(conn, keyed, captured, utcnow()))
                else:
                    transaction.rollback_only = True
        if answer is not None:
            await answer(scope, keyed.receive, send)
            return
        # Sent only now: a client never sees a response whose writes might still roll back.
        await captured.forward(send, replacement)
        await self._purge_now_and_then()

    async def _purge_now_and_then(self) -> None:
        if time.monotonic() - self._last_purge < PURGE_INTERVAL_SECONDS:
            return
        self._last_purge = time.monotonic()
        try:
            await purge_expired(self.db, self.ttl)
        except Exception:  # the next interval tries again; expired rows are ignored meanwhile
            logger.exception("could not purge expired idempotency keys")


# The request state's key for the database handle a request must use (edge/view.py).
DATABASE_STATE = "database"


def _store_statement(conn: Any, keyed: IdempotentRequest, captured: _Captured, now: datetime) -> Any:
    values = {
        "fingerprint": keyed.fingerprint,
        "status_code": captured.status,
        "response_body": captured.body.decode(),
        "created_at": now,
    }
    # An expired row of the same key (not purged yet) is replaced. No live row can be there:
    # the lookup found none, and the advisory lock (PostgreSQL) or the write lock (SQLite)
    # keeps every other request with this key out until the commit.
    return (
        insert_for(conn, IdempotencyKey.__table__)
        .values(user_id=keyed.user_id, key=keyed.key, **values)
        .on_conflict_do_update(index_elements=["user_id", "key"], set_=values)
    )


def _replay_response(status_code: int, body: str) -> Response:
    return Response(
        body.encode(),
        status_code=status_code,
        media_type="application/json",
        headers={REPLAYED_HEADER: "true"},
    )


async def purge_expired(db: Database, ttl: timedelta, now: datetime | None = None) -> int:
    """Delete the stored responses older than ``ttl``; returns how many."""
    cutoff = (now or utcnow()) - ttl
    async with db.write() as conn:
        result = await conn.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at <= cutoff))
    return int(result.rowcount or 0)
