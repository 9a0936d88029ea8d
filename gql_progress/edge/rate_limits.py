"""Rate limits per API key: operations counted in a moving window, before the GraphQL view runs.

- A query counts one; a mutation counts each distinct top-level field (request_gate.py counts
  them), so ten aliased mutations in one request spend what ten requests would: putting many
  writes in one document must not be a way around the limit. Each subscribe message over
  WebSocket counts one too, from the budget of the socket's key.
- Every key has its own budget, at its user's role's rate. Requests without a key (only
  verifyCertificate may run so) share one budget per client address at the learner's rate,
  which also slows anyone guessing certificate codes.
- A moving window: an operation counts for exactly one window after it was admitted, so a client
  cannot spend two budgets around a window's edge as with fixed windows; a refused request
  spends nothing, so retrying early does not push the wait further out.
- The counts live in process memory, or in Redis, where every process naming the same Redis and
  key prefix shares one budget (several workers or machines behind a balancer).
- When the storage fails, requests pass and a warning is logged: the limit protects the
  service, and a Redis outage must not turn into an API outage.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import coredis
from limits import RateLimitItem
from limits.aio.storage import RedisStorage
from limits.errors import StorageError
from starlette.datastructures import Address
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Send

from gql_progress.auth import Authenticated
from gql_progress.db.models import UserRole
from gql_progress.edge.rate_windows import LocalWindows, WindowStore
from gql_progress.settings import Settings, parse_rate

logger = logging.getLogger("gql_progress.rate_limits")

# A Redis that does not answer within this long lets the request through (see above) rather than
# hold every request up with it.
REDIS_TIMEOUT_SECONDS = 1.0
# While the storage keeps failing, say so at most this often instead of once per request.
_WARNING_INTERVAL_SECONDS = 60.0
# Response headers a browser client must be allowed to read (CORS exposes only a few by default).
RATE_LIMIT_HEADERS = ("Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


@dataclass(frozen=True)
class Decision:
    """The outcome of one request's check, and what the client is told about its budget."""

    allowed: bool
    rate: RateLimitItem
    cost: int
    remaining: int
    # Seconds until the oldest operation still counted leaves the window.
    reset_seconds: int
    # Refused: seconds until this request's cost fits; None when it never can (cost > the rate).
    retry_after: int | None
    anonymous: bool

    def headers(self) -> dict[str, str]:
        # The IETF draft's RateLimit-* fields, which clients and proxies increasingly read.
        headers = {
            "RateLimit-Limit": str(self.rate.amount),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers

    def error(self) -> dict[str, object]:
        """The GraphQL error of a refusal: the 429 body's, and a refused subscribe's."""
        who = "this address" if self.anonymous else "this key"
        rate = f"{self.rate.amount} operations per {_window(self.rate)}"
        extensions: dict[str, object] = {"code": "RATE_LIMITED"}
        if self.retry_after is None:
            message = (
                f"This request counts {self.cost} operations (one per top-level mutation field), "
                f"more than the {rate} {who} may run: send fewer mutations per request"
            )
        else:
            message = (
                f"Rate limit exceeded: {who} may run {rate} (each top-level mutation field counts "
                f"as one); retry in {self.retry_after} s"
            )
            extensions["retryAfterSeconds"] = self.retry_after
        return {"message": message, "extensions": extensions}

    def refusal(self) -> Response:
        body = {"data": None, "errors": [self.error()]}
        return JSONResponse(body, status_code=429, headers=self.headers())

    def with_headers(self, send: Send) -> Send:
        """``send`` with this decision's headers added to the response (whatever answers it)."""
        raw = [
            (b"ratelimit-limit", b"%d" % self.rate.amount),
            (b"ratelimit-remaining", b"%d" % self.remaining),
            (b"ratelimit-reset", b"%d" % self.reset_seconds),
        ]
        if self.retry_after is not None:  # as headers() names them, in its order
            raw.append((b"retry-after", b"%d" % self.retry_after))

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *raw]
            await send(message)

        return sending


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self._rates: Mapping[UserRole, RateLimitItem] = {
            UserRole.LEARNER: parse_rate(settings.rate_limit_learner),
            UserRole.INSTRUCTOR: parse_rate(settings.rate_limit_instructor),
            UserRole.ADMIN: parse_rate(settings.rate_limit_admin),
        }
        self._pool: coredis.ConnectionPool | None = None
        self._storage: WindowStore
        uri = settings.rate_limit_storage
        if uri == "memory://":
            self._storage = LocalWindows()
        else:
            # Our own pool, handed to the storage (its documented `connection_pool` option):
            # the storage has no close(), and sockets left to the garbage collector raise
            # ResourceWarnings; owning the pool also sets the timeouts.
            self._pool = coredis.ConnectionPool.from_url(
                _coredis_url(uri),
                connect_timeout=REDIS_TIMEOUT_SECONDS,
                stream_timeout=REDIS_TIMEOUT_SECONDS,
            )
            self._storage = RedisStorage(
                uri,
                wrap_exceptions=True,
                key_prefix=settings.rate_limit_key_prefix,
                connection_pool=self._pool,  # type: ignore[arg-type]  # typed as scalar options only
            )
        self._last_warning = -math.inf

    async def spend(self, cost: int, caller: Authenticated | None, client: Address | None) -> Decision | None:
        """Spend ``cost`` operations from the caller's budget (policy.py prices an operation);
        None when nothing was counted (limits turned off, or the storage failing)."""
        if not self.enabled:
            return None
        if caller is None:
            identity, role = f"ip:{client.host if client else 'unknown'}", UserRole.LEARNER
        else:
            identity, role = caller.principal, caller.viewer.role  # the key, or a JWT's user
        rate = self._rates[role]
        # The moving-window strategy of `limits` (MovingWindowRateLimiter.hit, get_window_stats),
        # on either store: the same keys in Redis as before.
        key, window = rate.key_for(identity), rate.get_expiry()
        try:
            allowed = await self._storage.acquire_entry(key, rate.amount, window, amount=cost)
            window_start, counted = await self._storage.get_moving_window(key, rate.amount, window)
            reset_seconds = max(0, math.ceil(window_start + window - time.time()))
            retry_after = None
            if not allowed:
                retry_after = await self._retry_after(rate, identity, cost, reset_seconds)
        except StorageError:
            self._warn_storage_failure()
            return None
        return Decision(
            allowed=allowed,
            rate=rate,
            cost=cost,
            remaining=max(0, rate.amount - counted),
            reset_seconds=reset_seconds,
            retry_after=retry_after,
            anonymous=caller is None,
        )

    async def _retry_after(self, rate: RateLimitItem, identity: str, cost: int, reset: int) -> int | None:
        if cost > rate.amount:
            return None
        if cost == 1:
            return max(1, reset)  # one free slot: when the oldest operation leaves the window
        # A costlier request waits until enough operations have left: the smallest whole number
        # of seconds t after which those admitted within the last (window - t) seconds leave
        # room for it. The storage counts a shorter window directly, so search for t (this
        # runs only for refused requests).
        window = rate.get_expiry()
        storage = self._storage
        key = rate.key_for(identity)
        low, high = 1, window
        while low < high:
            middle = (low + high) // 2
            _, counted = await storage.get_moving_window(key, rate.amount, window - middle)
            if counted <= rate.amount - cost:
                high = middle
            else:
                low = middle + 1
        return low

    def _warn_storage_failure(self) -> None:
        now = time.monotonic()
        if now - self._last_warning >= _WARNING_INTERVAL_SECONDS:
            self._last_warning = now
            logger.warning("rate limit storage failed; requests pass unlimited meanwhile", exc_info=True)

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.disconnect()


def _coredis_url(uri: str) -> str:
    # The `limits` scheme (async+redis://, async+redis+unix://) without its marker, as coredis
    # reads it (redis://, unix://) — the same translation RedisStorage does.
    plain = uri.removeprefix("async+")
    return "unix" + plain.removeprefix("redis+unix") if plain.startswith("redis+unix") else plain


def _window(rate: RateLimitItem) -> str:
    # "1 minute", "2 seconds": RateLimitItem's own str() reads "5 per 1 minute".
    unit = rate.GRANULARITY.name
    return f"{rate.multiples} {unit}{'' if rate.multiples == 1 else 's'}"
