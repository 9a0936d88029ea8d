"""Settings from ``GQL_PROGRESS_*`` environment variables, validated once at start-up."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from limits import RateLimitItem, parse_many
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gql_progress.formats.allowed_hosts import parse_allowed_hosts
from gql_progress.formats.jwt_keys import (
    HMAC_ALGORITHMS,
    MIN_HMAC_SECRET_BYTES,
    SUPPORTED_ALGORITHMS,
    check_jwks_url,
    load_jwks,
    load_public_key,
)
from gql_progress.formats.trusted_documents import load_manifest

ENV_PREFIX = "GQL_PROGRESS_"

# Sent by browsers' tracing (W3C trace context, Sentry) and GraphQL clients (Apollo).
CORS_ALLOW_HEADERS = (
    "traceparent",
    "tracestate",
    "baggage",
    "sentry-trace",
    "apollographql-client-name",
    "apollographql-client-version",
    "x-apollo-operation-name",
    "apollo-require-preflight",
)
# W3C trace context's answer to traceparent, when a tracing proxy or middleware adds it.
CORS_EXPOSE_HEADERS = ("traceresponse",)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110)


class Mode(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


class DbPooler(StrEnum):
    """What ``GQL_PROGRESS_DATABASE_URL`` points at."""

    # PostgreSQL itself, or a pooler that gives each client one server session (PgBouncer's
    # session mode): every session feature works.
    NONE = "none"
    # A pooler in transaction mode (PgBouncer's pool_mode = transaction): each transaction may
    # run on another server session, so nothing may outlive a transaction in one.
    TRANSACTION = "transaction"


# Files read once at start-up with the parser of the module that uses them, so a bad one stops
# the process with its variable named rather than failing at the first request.
_FILE_PARSERS: dict[str, Callable[[Path], object]] = {
    "jwt_public_key_file": load_public_key,
    "jwt_jwks_file": load_jwks,
    "trusted_documents_file": load_manifest,
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///./gql_progress.db",
        description="SQLAlchemy URL; sqlite:/// and postgresql:// get their async drivers added.",
    )
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    mode: Mode = Mode.DEVELOPMENT
    log_level: str = "INFO"
    # One JSON object a line (for a log pipeline) or text for a terminal; unset: JSON in
    # production, text in development (see log_format_in_effect).
    log_format: LogFormat | None = None
    # /metrics in the Prometheus format (metrics.py). With a token, only a request carrying
    # `Authorization: Bearer <token>` may read it; operations beyond the first
    # metrics_max_operations distinct names share the label "_other" (names are the client's).
    metrics_enabled: bool = True
    # A secret like any other: long enough not to be guessed.
    metrics_token: Annotated[str, Field(min_length=16)] | None = None
    metrics_max_operations: Annotated[int, Field(ge=0, le=10_000)] = 100
    # OpenTelemetry traces (gql_progress/tracing.py), configured by the standard OTEL_* variables;
    # needs the otel extra, checked here so that a missing package stops start-up, not a request.
    otel_enabled: bool = False
    default_page_size: Annotated[int, Field(ge=1, le=1000)] = 20
    max_page_size: Annotated[int, Field(ge=1, le=1000)] = 100
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = 20
    # Read replicas (db/replicas.py): PostgreSQL servers following the primary by streaming
    # replication, comma-separated. Queries go to one of them; mutations, and queries of a caller
    # whose last commit a replica has not replayed yet, to the primary. A replica is skipped while
    # it is unreachable or more than the max lag behind; each process checks them this often.
    db_replica_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    db_replica_max_lag_seconds: Annotated[float, Field(gt=0, le=3600)] = 5.0
    db_replica_check_seconds: Annotated[float, Field(ge=0.05, le=60)] = 1.0
    # How long a request waits for a free pooled connection before it is refused with
    # SERVICE_BUSY (HTTP 503, Retry-After): a full pool answers fast instead of queueing forever.
    db_pool_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 5.0
    # SIGTERM: requests in flight get this long to finish (and commit) before they are cancelled
    # and their transactions rolled back (uvicorn's timeout_graceful_shutdown).
    shutdown_grace_seconds: Annotated[int, Field(ge=0, le=3600)] = 10
    # SQLite waits this long for the write lock before giving up with "database is locked".
    sqlite_busy_timeout_ms: Annotated[int, Field(ge=0, le=600_000)] = 30_000
    # API keys' lastUsedAt is written in one batch this often, so requests stay read-only.
    api_key_touch_interval_seconds: Annotated[int, Field(ge=0, le=86_400)] = 60
    # PostgreSQL: a checked key (or a token's user) is reused this long unless a revocation or a
    # change to the user drops it first, in every process (auth/credential_cache.py); 0: never.
    api_key_cache_seconds: Annotated[float, Field(ge=0, le=3600)] = 30
    # Keys from before the checksummed format (auth/keys.py) keep working while this is true.
    api_key_legacy_enabled: bool = True
    # Bearer JWTs from the platform's identity provider (auth/jwt.py); off while no algorithm is
    # listed. The accepted algorithms and keys come from here, never from the token.
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(default_factory=list)
    jwt_secret: SecretStr | None = None  # HS256/384/512, at least 32 bytes
    jwt_public_key_file: Path | None = None  # RS*/PS*/ES*: one PEM public key…
    jwt_jwks_file: Path | None = None  # …or a JWK set, each key picked by the token's kid…
    # …or the identity provider's JWKS URL (auth/jwks.py): one source of RS*/PS*/ES* keys, so
    # which key signed a token never depends on which source answered first. Fetched when a
    # token first needs it, again in the background once older than the cache age, and when a
    # token names an unknown kid — but at most one fetch per min-refresh interval, whatever
    # tokens arrive, so made-up kids cannot turn the server against the provider.
    jwt_jwks_url: str | None = None
    jwt_jwks_cache_seconds: Annotated[float, Field(ge=1, le=86_400)] = 300.0
    jwt_jwks_min_refresh_seconds: Annotated[float, Field(ge=0.1, le=86_400)] = 30.0
    jwt_jwks_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # A claim naming the caller's role, honoured only for the roles listed; otherwise (and
    # without these) the user's stored role applies.
    jwt_role_claim: str | None = None
    jwt_allowed_roles: Annotated[list[str], NoDecode] = Field(default_factory=list)
    jwt_leeway_seconds: Annotated[int, Field(ge=0, le=600)] = 30
    # What one request may ask for (request_gate.py): checked before the key or any SQL.
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 256 * 1024
    # Persisted documents (persisted_documents.py): Apollo's automatic persisted queries, held
    # per process within this many bytes of document text…
    persisted_queries_enabled: bool = True
    persisted_queries_store_bytes: Annotated[int, Field(ge=0, le=1024 * 1024 * 1024)] = 16 * 1024 * 1024
    # …or only the documents of this manifest (trusted documents): anything else is refused.
    trusted_documents_file: Path | None = None
    # Answers to public reads by GET (verifyCertificate without a key) say a CDN or browser may
    # keep them this long (Cache-Control: public, max-age); 0: no such header.
    public_cache_seconds: Annotated[int, Field(ge=0, le=86_400)] = 60
    # An Apollo Federation 2 subgraph (api/federation.py): _service { sdl } and _entities for
    # User, Course, Lesson and Bundle. Off: the schema is exactly schema.graphql.
    federation_enabled: bool = False
    max_query_tokens: Annotated[int, Field(ge=100, le=1_000_000)] = 5_000
    max_query_depth: Annotated[int, Field(ge=2, le=100)] = 12
    max_query_aliases: Annotated[int, Field(ge=0, le=10_000)] = 30
    max_query_cost: Annotated[int, Field(ge=100, le=100_000_000)] = 200_000
    # Selection sets, fragment spreads, inline fragments and argument values nested within one
    # another, fragments expanded: a guard for graphql-core's recursion (validation, execution),
    # checked without the schema before the key. Fields alone are capped by max_query_depth.
    max_query_nesting: Annotated[int, Field(ge=4, le=200)] = 64
    # Reads answered by one SQL statement that builds the JSON in PostgreSQL (api/compiled),
    # where the document's fields allow, and the heartbeat and bulk completion run past the
    # executor (api/compiled/writes.py); off: every request takes the resolver path.
    compiled_reads: bool = True
    # Behind a transaction pooler the server keeps no state in a session beyond a transaction:
    # no prepared statements, and LISTEN (live updates, the credential cache) on a connection
    # of its own to db_listen_url, which must reach PostgreSQL directly.
    db_pooler: DbPooler = DbPooler.NONE
    # The one connection per process that LISTENs; unset: GQL_PROGRESS_DATABASE_URL. Checked at
    # start-up (edge/app.py): a notification sent through the pool must arrive on it.
    db_listen_url: str | None = None
    # Server-side prepared statements (asyncpg's per-connection caches). Unset: on, except
    # behind a transaction pooler (see prepared_statements_in_effect).
    db_prepared_statements: bool | None = None
    # Analytics (docs/analytics.md): a lesson needs this many starters to be ranked among the
    # hardest (a query may only raise it), and platformAnalytics' window at most this many days.
    analytics_min_sample: Annotated[int, Field(ge=1, le=1_000_000)] = 10
    analytics_max_window_days: Annotated[int, Field(ge=1, le=3660)] = 366
    # Active time (domain/completion/active_time.py): a gap between a learner's progress writes on
    # a lesson counts when it is at most this long; a longer one (an idle tab) counts nothing.
    # Clients should heartbeat well within it.
    active_time_window_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    # The insights page at /insights (gql_progress/insights/): charts of the analytics for admins
    # and instructors. Unset: served in development, not in production (as GraphiQL).
    insights_enabled: bool | None = None

    # Webhooks (gql_progress/webhooks/): the server runs a delivery worker unless this is false,
    # e.g. when `gql-progress deliver` runs on its own.
    webhooks_enabled: bool = True
    webhooks_poll_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 5.0
    # Attempts per (endpoint, event), the first included, before the delivery is FAILED.
    webhooks_max_attempts: Annotated[int, Field(ge=1, le=100)] = 10
    # The whole request (connect, send, response headers), not each phase of it.
    webhooks_request_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
    # The first retry waits this long; each later one twice as long as the one before.
    webhooks_retry_base_seconds: Annotated[float, Field(ge=0, le=86_400)] = 30.0
    # Receivers must be on public addresses, over https (webhooks/addresses.py). Host names and
    # CIDR ranges listed here, comma-separated, are let in too (on-premise receivers), and may
    # use plain http. Metadata addresses (169.254.169.254…) are never let in.
    webhooks_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Idempotency-Key (idempotency.py): how long a mutation's stored first response is replayed
    # for repeats of the request; older ones are ignored and purged.
    idempotency_ttl_seconds: Annotated[int, Field(ge=60, le=30 * 86_400)] = 86_400

    # Live updates (GraphQL subscriptions, gql_progress/live/). Off: writes send no notification
    # and the WebSocket endpoint refuses connections.
    live_updates_enabled: bool = True
    # The PostgreSQL NOTIFY channel every server process LISTENs on; processes that share a
    # database and this name see each other's writes.
    live_channel: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] = "gql_progress_live"
    # Notifications one subscription may have waiting; a subscriber that falls further behind is
    # ended with an error rather than let its backlog grow.
    live_queue_size: Annotated[int, Field(ge=1, le=100_000)] = 1000
    # An open WebSocket's key or token is checked again this often (edge/socket_session.py): how
    # long a revoked key, a deleted user or a lowered role may keep receiving updates at most.
    ws_recheck_seconds: Annotated[float, Field(ge=0.1, le=3600)] = 60.0
    # Subscriptions one WebSocket connection may have running at once.
    ws_max_subscriptions: Annotated[int, Field(ge=1, le=1000)] = 20

    # Rate limits (rate_limits.py): operations per API key in a moving window, one rate per role
    # in the `limits` notation ("60/minute", "1000/hour", "3/2second"). Anonymous requests
    # (verifyCertificate) are counted per client address at the learner's rate.
    rate_limit_enabled: bool = True
    rate_limit_learner: str = "60/minute"
    rate_limit_instructor: str = "60/minute"
    rate_limit_admin: str = "60/minute"
    # memory:// counts in each process; a Redis URI (redis://, rediss://, redis+unix://, with or
    # without async+) shares one budget between every process that names it.
    rate_limit_storage: str = "memory://"
    # Prefix of the Redis keys, so deployments (or test runs) sharing one Redis stay apart.
    rate_limit_key_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")] = "gql_progress"

    # Browser origins allowed to call the API (CORS), comma-separated; empty: none.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Request headers those pages may send beyond the ones the API reads (authorization,
    # content-type, x-request-id, idempotency-key: always allowed). A preflight naming any other
    # header is refused, and the browser then never sends the request: tracing and GraphQL
    # client libraries add theirs to every request.
    cors_allow_headers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(CORS_ALLOW_HEADERS)
    )
    # Response headers those pages may read beyond the API's own (x-request-id, Retry-After,
    # RateLimit-*, Idempotent-Replayed: always exposed), e.g. a tracing proxy's.
    cors_expose_headers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(CORS_EXPOSE_HEADERS)
    )

    @field_validator("otel_enabled")
    @classmethod
    def _otel_installed(cls, value: bool) -> bool:
        # find_spec rather than an import: off, or on and valid, nothing is imported here.
        if value and importlib.util.find_spec("opentelemetry") is None:
            raise ValueError("OpenTelemetry is not installed: pip install gql-progress[otel]")
        if value and importlib.util.find_spec("opentelemetry.sdk") is None:
            raise ValueError("the OpenTelemetry SDK is not installed: pip install gql-progress[otel]")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_allow_headers", "cors_expose_headers", mode="before")
    @classmethod
    def _split_headers(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip().lower() for name in value.split(",") if name.strip()]
        return value

    @field_validator("cors_allow_headers", "cors_expose_headers")
    @classmethod
    def _header_names(cls, value: list[str]) -> list[str]:
        bad = [name for name in value if not _HEADER_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"not a header name: {bad[0]!r}; list names separated by commas")
        return [name.lower() for name in value]

    @field_validator("db_replica_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [url.strip() for url in value.split(",") if url.strip()]
        return value

    @field_validator("db_replica_urls")
    @classmethod
    def _replica_urls(cls, value: list[str]) -> list[str]:
        # The URLs are not quoted back: they may carry a password.
        urls = []
        for position, url in enumerate(value, 1):
            try:
                async_url = with_async_driver(url)
            except ValueError:
                raise ValueError(f"URL {position} is not a postgresql:// URL") from None
            if not async_url.startswith("postgresql"):
                raise ValueError(f"URL {position} is not a postgresql:// URL")
            urls.append(async_url)
        if len(set(urls)) != len(urls):
            raise ValueError("names one replica twice")
        return urls

    @field_validator("webhooks_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [entry.strip() for entry in value.split(",") if entry.strip()]
        return value

    @field_validator("webhooks_allowed_hosts")
    @classmethod
    def _known_hosts(cls, value: list[str]) -> list[str]:
        parse_allowed_hosts(value)
        return value

    @field_validator("jwt_algorithms", "jwt_allowed_roles", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip().upper() for name in value.split(",") if name.strip()]
        return value

    @field_validator("jwt_algorithms")
    @classmethod
    def _known_algorithms(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in SUPPORTED_ALGORITHMS]
        if unknown:
            supported = ", ".join(sorted(SUPPORTED_ALGORITHMS))
            raise ValueError(f"unsupported {', '.join(unknown)}; use {supported}")
        return value

    @field_validator("jwt_allowed_roles")
    @classmethod
    def _known_roles(cls, value: list[str]) -> list[str]:
        if any(name not in {"LEARNER", "INSTRUCTOR", "ADMIN"} for name in value):
            raise ValueError("must list roles among LEARNER, INSTRUCTOR, ADMIN")
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_HMAC_SECRET_BYTES:
            raise ValueError(f"must be at least {MIN_HMAC_SECRET_BYTES} bytes")
        return value

    @field_validator(*_FILE_PARSERS)
    @classmethod
    def _readable(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and info.field_name is not None:
            _FILE_PARSERS[info.field_name](value)
        return value

    @field_validator("jwt_jwks_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        return None if value is None else check_jwks_url(value)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return with_async_driver(value)

    @field_validator("db_listen_url")
    @classmethod
    def _listen_on_postgresql(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = with_async_driver(value)
        if not url.startswith("postgresql"):
            raise ValueError("must be a postgresql:// URL: only PostgreSQL has LISTEN")
        return url

    @field_validator("rate_limit_learner", "rate_limit_instructor", "rate_limit_admin")
    @classmethod
    def _one_rate(cls, value: str) -> str:
        parse_rate(value)
        return value.strip()

    @field_validator("rate_limit_storage")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        return rate_limit_storage_uri(value)

    @field_validator("jwt_jwks_url", "db_listen_url", "log_format", "metrics_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # An exported but empty variable (GQL_PROGRESS_METRICS_TOKEN=) means "not set".
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="after")
    def _page_sizes_agree(self) -> Settings:
        if self.default_page_size > self.max_page_size:
            raise ValueError(
                f"{ENV_PREFIX}DEFAULT_PAGE_SIZE ({self.default_page_size}) exceeds "
                f"{ENV_PREFIX}MAX_PAGE_SIZE ({self.max_page_size})"
            )
        return self

    @model_validator(mode="after")
    def _replicas_follow_postgresql(self) -> Settings:
        name = f"{ENV_PREFIX}DB_REPLICA_"
        if not self.db_replica_urls:
            return self
        if self.is_sqlite:
            raise ValueError(f"{name}URLS needs a PostgreSQL {ENV_PREFIX}DATABASE_URL, not SQLite")
        if self.database_url in self.db_replica_urls:
            raise ValueError(f"{name}URLS names the primary ({ENV_PREFIX}DATABASE_URL) as a replica")
        if self.db_replica_max_lag_seconds <= self.db_replica_check_seconds:
            raise ValueError(
                f"{name}MAX_LAG_SECONDS ({self.db_replica_max_lag_seconds:g}) must exceed "
                f"{name}CHECK_SECONDS ({self.db_replica_check_seconds:g}): lag is measured by the checks"
            )
        return self

    @model_validator(mode="after")
    def _pooler_consistent(self) -> Settings:
        pooler, listen = f"{ENV_PREFIX}DB_POOLER", f"{ENV_PREFIX}DB_LISTEN_URL"
        if self.is_sqlite and (self.db_pooler is not DbPooler.NONE or self.db_listen_url):
            raise ValueError(f"{pooler} and {listen} apply to PostgreSQL, not SQLite")
        if self.db_pooler is not DbPooler.TRANSACTION:
            return self
        if self.db_prepared_statements:
            raise ValueError(
                f"{ENV_PREFIX}DB_PREPARED_STATEMENTS=true cannot work with {pooler}=transaction: a "
                "statement prepared in one transaction is missing from the session the next one gets"
            )
        if self.db_listen_url is None and (self.live_updates_enabled or self.api_key_cache_seconds > 0):
            raise ValueError(
                f"{listen} is required with {pooler}=transaction: live updates and the API-key cache "
                "LISTEN, which needs a session of its own; set it to PostgreSQL's own address, not "
                f"the pooler's (or turn both off: {ENV_PREFIX}LIVE_UPDATES_ENABLED=false, "
                f"{ENV_PREFIX}API_KEY_CACHE_SECONDS=0)"
            )
        if self.db_listen_url == self.database_url:
            raise ValueError(
                f"{listen} is {ENV_PREFIX}DATABASE_URL, the transaction pooler's address; LISTEN "
                "needs PostgreSQL's own"
            )
        return self

    @model_validator(mode="after")
    def _jwt_complete(self) -> Settings:
        name = f"{ENV_PREFIX}JWT_"
        key_sources = [
            source
            for source, given in (
                ("PUBLIC_KEY_FILE", self.jwt_public_key_file),
                ("JWKS_FILE", self.jwt_jwks_file),
                ("JWKS_URL", self.jwt_jwks_url),
            )
            if given
        ]
        if not self.jwt_algorithms:
            if self.jwt_secret or key_sources:
                raise ValueError(f"{name}ALGORITHMS must list the algorithms to accept (e.g. RS256)")
            return self
        if not self.jwt_issuer or not self.jwt_audience:
            raise ValueError(f"{name}ISSUER and {name}AUDIENCE are required when JWTs are accepted")
        if len(key_sources) > 1:
            raise ValueError(f"set only one of {name}PUBLIC_KEY_FILE, {name}JWKS_FILE or {name}JWKS_URL")
        if any(a in HMAC_ALGORITHMS for a in self.jwt_algorithms) and not self.jwt_secret:
            raise ValueError(f"{name}SECRET is required for HS* algorithms")
        if any(a not in HMAC_ALGORITHMS for a in self.jwt_algorithms) and not key_sources:
            raise ValueError(
                f"{name}PUBLIC_KEY_FILE, {name}JWKS_FILE or {name}JWKS_URL is required for RS*, PS*, ES*"
            )
        return self

    @property
    def production(self) -> bool:
        return self.mode is Mode.PRODUCTION

    @property
    def insights_in_effect(self) -> bool:
        return not self.production if self.insights_enabled is None else self.insights_enabled

    @property
    def log_format_in_effect(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.JSON if self.production else LogFormat.TEXT

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def prepared_statements_in_effect(self) -> bool:
        if self.db_prepared_statements is not None:
            return self.db_prepared_statements
        return self.db_pooler is DbPooler.NONE

    @property
    def listen_url_in_effect(self) -> str:
        """Where the LISTEN connection goes (an async-driver URL, as ``database_url`` is)."""
        return self.db_listen_url or self.database_url


def with_async_driver(url: str) -> str:
    """Accept the URLs people paste (``postgresql://``, ``sqlite:///``) and add the async driver."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("must be a URL such as sqlite:///./gql_progress.db")
    drivers = {
        "sqlite": "sqlite+aiosqlite",
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
    }
    if scheme in drivers:
        return f"{drivers[scheme]}://{rest}"
    if scheme in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
        return url
    raise ValueError("must use sqlite:// or postgresql:// (drivers: aiosqlite, asyncpg)")


def parse_rate(value: str) -> RateLimitItem:
    """One rate in the `limits` notation ("60/minute"); several ("1/second;50/minute") are refused
    because checking them one after the other would spend the first when the second refuses."""
    try:
        items = parse_many(value)
    except ValueError:
        raise ValueError("must be a rate such as 60/minute or 1000/hour") from None
    if len(items) != 1:
        raise ValueError("must be one rate such as 60/minute, not several")
    if items[0].amount < 1:
        raise ValueError("must allow at least one operation, e.g. 1/minute")
    return items[0]


_REDIS_SCHEMES = ("redis", "rediss", "redis+unix")


def rate_limit_storage_uri(value: str) -> str:
    """``memory://``, or a Redis URI with the ``async+`` scheme that the `limits` library's asyncio
    storage needs (people paste ``redis://…``; both are accepted)."""
    uri = value.strip()
    scheme, sep, _ = uri.partition("://")
    if sep and scheme.removeprefix("async+") == "memory":
        return "memory://"
    if sep and scheme.removeprefix("async+") in _REDIS_SCHEMES:
        return uri if scheme.startswith("async+") else f"async+{uri}"
    raise ValueError("must be memory:// or a Redis URI such as redis://127.0.0.1:6379/0")


class SettingsError(Exception):
    """A setting has a bad value; the message is one line naming the variable."""


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = f"{ENV_PREFIX}{first['loc'][0]}".upper() if first["loc"] else "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"invalid setting {name}: {message}") from None
