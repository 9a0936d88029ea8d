"""Prometheus metrics: their names and labels, the pool gauges, and the /metrics endpoint.

- Labels stay bounded. Operation names are chosen by clients, so a name gets its own label only
  if it looks like a GraphQL name (a letter, then up to 63 letters, digits or underscores) and is
  among the first ``max_operations`` distinct names this process saw; every other one counts as
  "_other", and requests without a named operation as "_anonymous" (no GraphQL name a client
  can be labelled with starts with "_").
- /metrics runs no SQL: the pool gauges are read from the pool itself when /metrics is asked
  and, in multiprocess mode, after each request too (the worker answering /metrics cannot read
  the others' pools).
- Several worker processes (``serve --workers N``): with ``PROMETHEUS_MULTIPROC_DIR`` set to an
  empty directory, prometheus-client's multiprocess mode keeps each process's samples in files
  there and /metrics, whichever worker answers it, adds up every process's. ``gql-progress
  serve`` empties the directory at start-up; a worker that stops removes its pool gauges. The
  variable must be set before Python starts (prometheus-client reads it when imported).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from gql_progress.db.direct import DirectPool
from gql_progress.db.replicas import ReplicaSet

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

ANONYMOUS_OPERATION = "_anonymous"
OTHER_OPERATION = "_other"
_LABELLED_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")

# Seconds: a heartbeat takes about a millisecond in process; a slow course page a second or more.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# The budgets of tests/test_statement_budget.py are 2 to 7; a bucket per small count shows a
# regression of one statement.
STATEMENT_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 15, 20, 30, 50, 100)


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIR_VARIABLE))


class OperationLabels:
    """The operation label of each request, from a bounded set (see the module's docstring)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._known: set[str] = set()

    def __call__(self, name: str | None) -> str:
        if name is None:
            return ANONYMOUS_OPERATION
        if name in self._known:
            return name
        if len(self._known) >= self.limit or not _LABELLED_NAME.fullmatch(name):
            return OTHER_OPERATION
        self._known.add(name)
        return name


class Metrics:
    """The metrics of one application. Each app has its own registry (tests build many apps in
    one process); in multiprocess mode the samples live in the shared directory instead."""

    def __init__(self, *, max_operations: int = 100) -> None:
        self.multiprocess = multiprocess_mode()
        self.operation_label = OperationLabels(max_operations)
        self.registry = CollectorRegistry(auto_describe=True)
        if self.multiprocess:
            # Registered nowhere: MultiProcessCollector reads every process's files, ours too.
            multiprocess.MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
            own: CollectorRegistry | None = None
        else:
            own = self.registry
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                self.registry.register(collector)
        self.requests = Counter(
            "gql_progress_requests",
            "GraphQL HTTP requests by operation name and outcome "
            "(ok, graphql_error, rejected, rate_limited, unauthenticated, error)",
            ["operation", "outcome"],
            registry=own,
        )
        self.duration = Histogram(
            "gql_progress_request_duration_seconds",
            "Time from a GraphQL HTTP request's arrival to the end of its response",
            ["operation"],
            buckets=DURATION_BUCKETS,
            registry=own,
        )
        self.statements = Histogram(
            "gql_progress_sql_statements_per_request",
            "SQL statements one GraphQL HTTP request sent to the database",
            ["operation"],
            buckets=STATEMENT_BUCKETS,
            registry=own,
        )
        self.rate_limited = Counter(
            "gql_progress_rate_limited",
            "Requests (429) and subscribe messages refused with RATE_LIMITED, by the caller's role "
            "(anonymous: no key)",
            ["role"],
            registry=own,
        )
        # Subscriptions (socket_session.py): each subscribe message's outcome when it ends
        # (refused at once, or after it ran), and the ones running now.
        self.subscriptions = Counter(
            "gql_progress_subscriptions",
            "WebSocket subscribe messages by operation name and outcome (ok, graphql_error, "
            "rejected, rate_limited, unauthenticated, forbidden, error), counted when they end",
            ["operation", "outcome"],
            registry=own,
        )
        self.subscriptions_active = Gauge(
            "gql_progress_subscriptions_active",
            "Subscriptions running now, by operation name",
            ["operation"],
            registry=own,
            multiprocess_mode="livesum",
        )
        # livesum: in multiprocess mode, the sum over the processes that are running.
        self.pool_checked_out = Gauge(
            "gql_progress_db_pool_checked_out",
            "Database connections checked out of the pool (in use by requests or workers)",
            registry=own,
            multiprocess_mode="livesum",
        )
        self.pool_size = Gauge(
            "gql_progress_db_pool_size",
            "Connections the database pools hold at most (the engine's and, on PostgreSQL with "
            "compiled reads, asyncpg's; per process, summed over processes)",
            registry=own,
            multiprocess_mode="livesum",
        )
        # Read replicas (db/replicas.py), by host:port/database, as this process's last check
        # found them; read from the replica set like the pool gauges.
        self.replica_usable = Gauge(
            "gql_progress_db_replica_usable",
            "1 while queries may read this replica (reachable, in recovery, within the lag bound); "
            "in multiprocess mode, the processes that may",
            ["replica"],
            registry=own,
            multiprocess_mode="livesum",
        )
        self.replica_lag = Gauge(
            "gql_progress_db_replica_lag_seconds",
            "How long ago the primary had written WAL the replica had not replayed at the last check "
            "(0: it had everything); NaN while it does not answer or is not in recovery",
            ["replica"],
            registry=own,
            multiprocess_mode="livemax",
        )
        self._replicas: ReplicaSet | None = None
        # (operation, outcome) → the children that request updates: labels() validates and locks
        # each time, a dict lookup does not (this runs for every request).
        self._children: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
        self._engine: AsyncEngine | None = None
        self._direct: DirectPool | None = None

    def watch_pool(
        self, engine: AsyncEngine, direct: DirectPool | None = None, replicas: ReplicaSet | None = None
    ) -> None:
        """``direct``: compiled reads' asyncpg pool (db/direct.py), counted with the engine's:
        together they are the process's connections to the primary for requests. ``replicas``:
        their state, sampled with the pools."""
        self._engine = engine
        self._direct = direct
        self._replicas = replicas
        self.sample_pool()

    def sample_pool(self) -> None:
        # Read, not counted from checkout/checkin events: a checkout that a listener refuses
        # (db/engine.py replaces connections the server closed) is retried on the same
        # connection, and counting events would drift; the pool's own numbers cannot.
        # engine.pool each time: dispose() replaces the pool.
        if self._engine is None:
            return
        pool = self._engine.sync_engine.pool
        size = getattr(pool, "size", None)  # a QueuePool's; SQLite's :memory: StaticPool has none
        checked_out = getattr(pool, "checkedout", None)
        direct = self._direct
        self.pool_size.set((size() if callable(size) else 1) + (direct.max_size if direct else 0))
        in_use = direct.in_use if direct else 0
        self.pool_checked_out.set((checked_out() if callable(checked_out) else 0) + in_use)
        for replica in self._replicas.replicas if self._replicas else ():
            self.replica_usable.labels(replica.name).set(1 if replica.usable else 0)
            lag = replica.lag_seconds
            self.replica_lag.labels(replica.name).set(float("nan") if lag is None else lag)

    def observe(
        self, operation: str | None, outcome: str, seconds: float, statements: int, role: str | None
    ) -> None:
        label = self.operation_label(operation)
        children = self._children.get((label, outcome))
        if children is None:
            children = (
                self.requests.labels(label, outcome),
                self.duration.labels(label),
                self.statements.labels(label),
            )
            self._children[(label, outcome)] = children
        requests, duration, statement_counts = children
        requests.inc()
        duration.observe(seconds)
        statement_counts.observe(statements)
        if outcome == "rate_limited":
            self.rate_limited.labels(role or "anonymous").inc()
        if self.multiprocess:
            self.sample_pool()

    def subscription_started(self, operation: str | None) -> None:
        self.subscriptions_active.labels(self.operation_label(operation)).inc()

    def subscription_ended(self, operation: str | None, outcome: str, role: str, *, started: bool) -> None:
        """A subscription ended: ``started`` if it ran (subscription_started), not if refused."""
        # The same label as at the start: a name once labelled keeps it, and one counted as
        # "_other" stays so (not a GraphQL name, or the set of names was full; it never shrinks).
        label = self.operation_label(operation)
        if started:
            self.subscriptions_active.labels(label).dec()
        self.subscriptions.labels(label, outcome).inc()
        if outcome == "rate_limited":
            self.rate_limited.labels(role).inc()

    def exposition(self) -> bytes:
        self.sample_pool()
        return generate_latest(self.registry)

    def close(self) -> None:
        """At a worker's shutdown: its live gauges no longer count."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def clear_multiprocess_dir() -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR before the workers start: files left by an earlier run
    would be added to this one's counts (prometheus-client asks for a fresh directory)."""
    path = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    if not path:
        return
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def metrics_endpoint(metrics: Metrics, token: str | None) -> Callable[[Request], Awaitable[Response]]:
    expected = f"Bearer {token}".encode() if token else None

    async def serve_metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not secrets.compare_digest(given, expected):
                return Response(
                    "Send the metrics token: Authorization: Bearer <token>\n",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                    media_type="text/plain",
                )
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return serve_metrics
