"""The ASGI application: routes, authentication, request ids, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from graphql import OperationType
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.types import ExecutionResult

from gql_progress.api.compiled.planner import Paging
from gql_progress.api.compiled.runner import CompiledReads
from gql_progress.api.compiled.writes import LeanWrites
from gql_progress.api.schema import shared_graphql_schema
from gql_progress.auth import Authenticated, Authenticator
from gql_progress.auth.credential_cache import CredentialCache
from gql_progress.auth.jwt import JwtVerifier
from gql_progress.db.engine import Database
from gql_progress.db.listener import (
    NOTICE_WAIT_SECONDS,
    ListenMisconfigured,
    PgListener,
    asyncpg_dsn,
    misdirected,
    notices_arrive,
)
from gql_progress.db.replicas import ReplicaSettings
from gql_progress.db.revision import refuse_a_schema_behind, schema_revision
from gql_progress.edge.front import GraphQLFront
from gql_progress.edge.heap import freeze_startup_heap
from gql_progress.edge.idempotency import HEADER as IDEMPOTENCY_HEADER
from gql_progress.edge.idempotency import REPLAYED_HEADER, Idempotency
from gql_progress.edge.media_types import GraphQLResponseMedia
from gql_progress.edge.metrics import Metrics, metrics_endpoint
from gql_progress.edge.observability import (
    ObservabilityMiddleware,
    note_admitted,
    note_caller,
    note_reads,
    note_refused,
    note_rejected,
)
from gql_progress.edge.policy import RequestPolicy
from gql_progress.edge.rate_limits import RATE_LIMIT_HEADERS, RateLimiter
from gql_progress.edge.request_gate import Admitted, Refusal, RequestGate, limit_refusal
from gql_progress.edge.unavailable import SETTLE_SECONDS, InFlight, UnavailableMiddleware
from gql_progress.edge.view import ProgressGraphQLView
from gql_progress.graphiql.page import graphiql_files
from gql_progress.insights.page import insights_routes
from gql_progress.live.hub import LiveUpdates
from gql_progress.logs import install_request_id_on_records, new_request_id, request_id_var
from gql_progress.settings import Settings, SettingsError, load_settings
from gql_progress.tracing import TracingSetupError, tracing_for
from gql_progress.webhooks.worker import WebhookWorker, WorkerConfig

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

logger = logging.getLogger("gql_progress.app")

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.encode()
# Start-up waits this long for the LISTEN connection, so that a server that answers requests
# also delivers their live updates; past it the server starts anyway and keeps trying.
LISTEN_WAIT_SECONDS = 10.0
GRAPHQL_PATH = "/graphql"
_JSON_CONTENT_TYPE = (b"content-type", b"application/json")
CREDENTIAL_REFUSED = "The API key or token is invalid, expired or revoked"
# What a browser page on an allowed origin may always send and read (CORS).
API_REQUEST_HEADERS = ("authorization", "content-type", REQUEST_ID_HEADER, IDEMPOTENCY_HEADER)
API_RESPONSE_HEADERS = (REQUEST_ID_HEADER, *RATE_LIMIT_HEADERS, REPLAYED_HEADER)


class RequestIdMiddleware:
    """Gives every request an id (the caller's X-Request-ID if sane) for logs and error bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        incoming = next((value for name, value in scope["headers"] if name == _REQUEST_ID_KEY), None)
        request_id = new_request_id(incoming.decode("latin-1") if incoming else None)
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (_REQUEST_ID_KEY, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


async def send_json(send: Send, body: bytes) -> None:
    """A 200 JSON answer as two ASGI messages, the headers as Starlette's Response writes them
    but without building one (it is every compiled read's answer)."""
    headers = [(b"content-length", str(len(body)).encode()), _JSON_CONTENT_TYPE]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _cacheable(send: Send, seconds: int) -> Send:
    """``send``, marking a 200 answer as cacheable by anyone for ``seconds``."""
    directive = f"public, max-age={seconds}".encode()

    async def send_cacheable(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 200:
            message["headers"] = [*message.get("headers", []), (b"cache-control", directive)]
        await send(message)

    return send_cacheable


async def not_found(_request: Request, _exc: Exception) -> Response:
    """A path nothing here serves (or a page turned off, such as /insights in production): JSON,
    as every other error of this API, not Starlette's text/plain."""
    body = {"data": None, "errors": [{"message": "Not found", "extensions": {"code": "NOT_FOUND"}}]}
    return JSONResponse(body, status_code=404)


async def method_not_allowed(_request: Request, exc: Exception) -> Response:
    """A method a page does not take (POST /insights): JSON with its ``Allow``, as /graphql's."""
    allow = getattr(exc, "headers", None) or {}
    body = {
        "data": None,
        "errors": [{"message": "Method not allowed", "extensions": {"code": "METHOD_NOT_ALLOWED"}}],
    }
    return JSONResponse(body, status_code=405, headers=dict(allow))


def unauthenticated(message: str) -> Response:
    note_refused("UNAUTHENTICATED")
    body = {
        "data": None,
        "errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}],
    }
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="gql_progress"'})


class AuthenticatedGraphQL:
    """The HTTP adapter of the request policy (policy.py): the request's shape and document,
    the bearer key, the Idempotency-Key, the rate limit, before any GraphQL work; the IDE page
    itself needs no key. WebSocket connections go to the view, whose handler is the other
    adapter (socket_guard.py)."""

    def __init__(
        self,
        view: ProgressGraphQLView,
        idempotency: Idempotency,
        compiled: CompiledReads | None = None,
        public_cache_seconds: int = 0,
        writes: LeanWrites | None = None,
    ) -> None:
        self.view = view
        self.db = view.db
        self.public_cache_seconds = public_cache_seconds
        self.policy = view.policy
        self.gate = view.policy.gate
        self.idempotency = idempotency
        self.compiled = compiled
        self.writes = writes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # GraphQL subscriptions (graphql-transport-ws). Browsers cannot set headers on a
            # WebSocket, so the key comes in connection_init: the view checks it there, closing
            # the socket with 4403 when it is missing or bad, and its handler again while the
            # socket is open; each subscribe passes the same policy (socket_guard.py).
            live: LiveUpdates | None = getattr(scope["app"].state, "live", None)
            if live is None:
                websocket = WebSocket(scope, receive, send)
                await websocket.close(code=4404, reason="live updates are turned off")
                return
            state = scope.setdefault("state", {})
            state.update(caller=None, live=live.broker)
            await self.view(scope, receive, send)
            return
        request = Request(scope, receive)
        if self._is_ide_page(request):
            # Rendered directly: the page is static HTML and needs no caller or context.
            page = await self.view.render_graphql_ide(request)
            await page(scope, receive, send)
            return
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        caller: Authenticated | None = None
        try:
            admitted = await self.gate.admit(request)
            if isinstance(admitted, Response):
                note_rejected(admitted.code if isinstance(admitted, Refusal) else None)
                await admitted(scope, receive, send)
                return
            note_admitted(admitted)
            receive = admitted.receive
            if admitted.query_string is not None:
                scope = {**scope, "query_string": admitted.query_string}
                request = Request(scope, receive)
            if scheme.lower() != "bearer" or not secret.strip():
                # Without a key only documents valid against the public part of the schema
                # (verifyCertificate) may run; anything else learns nothing of the rest.
                query = admitted.query
                if query is None or not self.gate.admits_without_key(query, admitted.operation_name):
                    message = "Send an API key or token: Authorization: Bearer <key or token>"
                    await unauthenticated(message)(scope, receive, send)
                    return
                # Aliases and cost, checked with a key in admit(), once the document is public.
                limited = self.gate.check_limits(query, admitted.operation_name, admitted.variables)
                if limited is not None:
                    note_rejected(limited.code)
                    await limit_refusal(limited, request)(scope, receive, send)
                    return
                if request.method == "GET" and self.public_cache_seconds > 0:
                    # A public read by GET (often by hash, persisted_documents.py) is the same
                    # for everyone: a CDN or the browser may keep it for a while.
                    send = _cacheable(send, self.public_cache_seconds)
            else:
                caller = await self.policy.authenticate(secret.strip())
                if caller is None:
                    # One answer for every refusal: which check failed is logged, not told.
                    await unauthenticated(CREDENTIAL_REFUSED)(scope, receive, send)
                    return
            note_caller(caller)
            # A bad Idempotency-Key is refused before it spends from the rate limit.
            keyed = await self.idempotency.prepare(request, admitted, caller)
            if isinstance(keyed, Response):
                if isinstance(keyed, Refusal):
                    note_refused(keyed.code)
                await keyed(scope, receive, send)
                return
            # After the key (the budget is the key's), before the view: a refused request runs
            # no SQL beyond the key lookup.
            decision = await self.policy.spend(
                caller, request.client, admitted.operation_type, admitted.root_fields
            )
            if decision is not None:
                if not decision.allowed:
                    note_refused("RATE_LIMITED")
                    await decision.refusal()(scope, receive, send)
                    return
                send = decision.with_headers(send)
            scope.setdefault("state", {})["caller"] = caller
            # Queries read a replica when one has the caller's last commit; mutations (keyed
            # ones in one transaction) and everything they read, the primary (db/replicas.py).
            is_query = admitted.operation_type is OperationType.QUERY
            with self.db.routed(caller.viewer.user_id if caller else None, query=is_query) as route:
                note_reads(route)
                if keyed is not None:
                    await self.idempotency.serve(keyed, scope, send, self.view)
                    return
                if (
                    caller is not None
                    and self.compiled is not None
                    # Without the scope the resolver path answers, refusing with FORBIDDEN.
                    and self.policy.authorise(caller.viewer, OperationType.QUERY)
                    and await self._answer_compiled(admitted, caller, scope, receive, send)
                ):
                    return
                if (
                    caller is not None
                    and self.writes is not None
                    and await self._answer_write(admitted, caller, request, scope, receive, send)
                ):
                    return
                await self.view(scope, receive, send)
        except ClientDisconnect:
            # The caller hung up before sending its whole body: nobody is left to answer.
            logger.debug("client disconnected before the request body arrived")

    async def _answer_compiled(
        self, admitted: Admitted, caller: Authenticated, scope: Scope, receive: Receive, send: Send
    ) -> bool:
        """Answer a read from its compiled statement (api/compiled); False: the view answers."""
        assert self.compiled is not None
        query = admitted.query
        if query is None or admitted.operation_type is not OperationType.QUERY:
            return False
        document = self.gate.document(query)
        if document is None:
            return False
        body = await self.compiled.answer(
            query, document, admitted.operation_name, admitted.variables, caller.viewer
        )
        if body is None:
            return False
        await send_json(send, body)
        return True

    async def _answer_write(
        self,
        admitted: Admitted,
        caller: Authenticated,
        request: Request,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> bool:
        """Answer a heartbeat or bulk completion on the lean path (api/compiled/writes.py);
        False: the view answers. Decided before anything is written."""
        assert self.writes is not None
        query = admitted.query
        if (
            query is None
            or request.method != "POST"  # GET refuses mutations: the view says so
            or admitted.operation_type is not OperationType.MUTATION
            # Without the scope the resolver path answers, refusing with FORBIDDEN.
            or not self.policy.authorise(caller.viewer, OperationType.MUTATION)
        ):
            return False
        document = self.gate.document(query)
        plan = (
            None if document is None else self.writes.plans.plan_for(query, document, admitted.operation_name)
        )
        arguments = None if plan is None else plan.arguments(admitted.variables)
        if plan is None or arguments is None:
            return False
        sub_response = await self.view.get_sub_response(request)
        context = await self.view.get_context(request, sub_response)
        answer = await plan.run(context, arguments)
        self.writes.answered += 1
        if isinstance(answer, bytes):
            await send_json(send, answer)
            return True
        # As graphql-core hands a resolver's exception to the view: shaped by the error
        # policy (masked, or a 503 for a database fault), counted, logged.
        result = await self.view.process_result(request, ExecutionResult(data=None, errors=[answer]))
        response = self.view.create_response(result, sub_response)
        await response(scope, receive, send)
        return True

    def _is_ide_page(self, request: Request) -> bool:
        return (
            self.view.graphql_ide is not None
            and request.method == "GET"
            and "query" not in request.query_params
            and "text/html" in request.headers.get("accept", "")
        )


async def _notices_arrive(listen_dsn: str, db: Database) -> bool:
    """db/listener.py's check; a database that fails meanwhile is only logged, like an
    unreachable one at start-up (the listener keeps retrying)."""
    try:
        return await notices_arrive(listen_dsn, db.notify, NOTICE_WAIT_SECONDS)
    except Exception as exc:
        logger.warning("could not check that notifications reach the LISTEN connection: %s", exc)
        return True


def _chained(middleware: list[Middleware], app: ASGIApp) -> ASGIApp:
    """``app`` inside ``middleware``, the first outermost, as Starlette builds its stack."""
    for cls, args, kwargs in reversed(middleware):
        app = cls(app, *args, **kwargs)
    return app


def create_app(settings: Settings | None = None, tracer_provider: TracerProvider | None = None) -> Starlette:
    """The application; ``tracer_provider`` (used only with GQL_PROGRESS_OTEL_ENABLED) replaces the
    one built from the OTEL_* variables, e.g. an in-memory exporter's in tests."""
    settings = settings or load_settings()
    install_request_id_on_records()
    try:
        tracing = tracing_for(settings.otel_enabled, tracer_provider)
    except TracingSetupError as error:
        raise SettingsError(f"invalid setting GQL_PROGRESS_OTEL_ENABLED: {error}") from None
    db = Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_timeout_seconds=settings.db_pool_timeout_seconds,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        prepared_statements=settings.prepared_statements_in_effect,
        direct_reads=settings.compiled_reads,
        replicas=ReplicaSettings(
            tuple(settings.db_replica_urls),
            settings.db_replica_max_lag_seconds,
            settings.db_replica_check_seconds,
        )
        if settings.db_replica_urls
        else None,
        tracing=tracing,
    )
    tracing.watch(db.engine, db.dialect)
    for replica in db.replicas.replicas if db.replicas else ():
        tracing.watch(replica.engine, db.dialect)
    schema = shared_graphql_schema(settings.production, settings.federation_enabled)
    # One LISTEN connection per process on PostgreSQL, for whatever follows a channel below:
    # directly to PostgreSQL when the pool goes through a transaction pooler (settings.py).
    listen_dsn = asyncpg_dsn(settings.listen_url_in_effect)
    credentials: CredentialCache[Any] | None = None
    if not db.is_sqlite and settings.api_key_cache_seconds > 0:
        credentials = CredentialCache(db, settings.api_key_cache_seconds)
        # A revocation answers once every process's cache has dropped the key.
        db.on_credentials_committed = credentials.sync.settle
    # Named, when it feeds a cache, so that a revoking process knows whom to wait for.
    listener_name = credentials.sync.name if credentials is not None else None
    listener = None if db.is_sqlite else PgListener(listen_dsn, application_name=listener_name)
    if listener is not None and credentials is not None:
        listener.follow(credentials.follower())
    live = LiveUpdates(db, settings, listener) if settings.live_updates_enabled else None
    authenticator = Authenticator(
        db,
        settings.api_key_touch_interval_seconds,
        tokens=JwtVerifier(settings),
        accept_legacy_keys=settings.api_key_legacy_enabled,
        cache=credentials,
    )
    rate_limiter = RateLimiter(settings)
    metrics = Metrics(max_operations=settings.metrics_max_operations) if settings.metrics_enabled else None
    if metrics:
        metrics.watch_pool(db.engine, db.direct_pool, db.replicas)
    idempotency = Idempotency(db, settings.idempotency_ttl_seconds)
    # One policy for both transports: the same limits, credentials, budgets, logs and metrics.
    policy = RequestPolicy(
        RequestGate(schema._schema, settings), authenticator, rate_limiter, metrics, settings
    )
    view = ProgressGraphQLView(schema, db=db, settings=settings, policy=policy)
    # Compiled reads build the response in PostgreSQL; SQLite answers through the resolvers.
    paging = Paging(settings.default_page_size, settings.max_page_size, settings.analytics_min_sample)
    compiled = (
        CompiledReads(db, schema._schema, paging, tracing)
        if settings.compiled_reads and not db.is_sqlite
        else None
    )
    # The heartbeat and bulk completion past the executor, on either database: they run the
    # same resolvers and domain writes, only the executor around them is skipped.
    writes = LeanWrites(schema) if settings.compiled_reads else None
    graphql = AuthenticatedGraphQL(
        view, idempotency, compiled, public_cache_seconds=settings.public_cache_seconds, writes=writes
    )

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        try:
            await db.ping()
            revision = await schema_revision(db)
        except Exception:
            logger.exception("readiness check failed")
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        if revision.behind:
            # Every request would fail on a missing table or column: say why, not just "ok".
            body = {"status": "unavailable", "database": "behind", "reason": revision.problem()}
            return JSONResponse(body, status_code=503)
        ready: dict[str, Any] = {"status": "ok", "database": "reachable"}
        if db.replicas is not None:
            # Informative only: without a replica the primary answers every read.
            ready["replicas"] = {
                replica.name: "usable" if replica.usable else replica.problem
                for replica in db.replicas.replicas
            }
        return JSONResponse(ready)

    in_flight = InFlight()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # A database behind the code's migrations fails every request: refuse to start on it
        # (gql-progress serve checks first and says so in one line).
        await refuse_a_schema_behind(db, logger)
        # Checked once before the first request, then in the background (unreachable ones are
        # skipped, not waited for: the primary answers until they are back).
        if db.replicas is not None:
            await db.replicas.start()
        # Before anything else: once the server answers, its writes reach every subscriber.
        if live:
            live.start()
        if listener is not None and listener.following:
            listening = await listener.start(LISTEN_WAIT_SECONDS)
            # A listen URL that listens where the writes do not notify would fail silently:
            # no live update, and revoked keys kept in the cache. Refuse to start instead.
            if listening and not await _notices_arrive(listen_dsn, db):
                await listener.stop()
                if live:
                    live.stop()
                await db.dispose()
                raise ListenMisconfigured(misdirected(NOTICE_WAIT_SECONDS))
        app.state.live = live
        flusher = asyncio.create_task(authenticator.flush_periodically())
        webhooks = (
            WebhookWorker(db, WorkerConfig.from_settings(settings)) if settings.webhooks_enabled else None
        )
        delivering = asyncio.create_task(webhooks.run()) if webhooks else None
        freeze_startup_heap()
        try:
            yield
        finally:
            # Requests uvicorn cancelled at the end of the grace period roll back and answer 503.
            await in_flight.settled(SETTLE_SECONDS)
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            if webhooks and delivering:
                # Let the requests in flight finish and be recorded; past their deadline,
                # cancel: an unrecorded attempt is retried by whoever runs next.
                webhooks.stop()
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(delivering, settings.webhooks_request_timeout_seconds + 5)
            try:
                await authenticator.flush()
            except Exception:
                # The database may be the reason we stop: the last lastUsedAt batch is lost,
                # but the pool, the listener and the metrics must still be closed.
                logger.exception("could not record API key use at shutdown")
            await rate_limiter.close()
            if live:
                live.stop()
            if listener is not None:
                await listener.stop()
            await db.dispose()
            if metrics:
                metrics.close()
            tracing.shutdown()

    # Right inside the request id: the access log and metrics see the status the client gets.
    request_id = Middleware(RequestIdMiddleware)
    cors = (
        [
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                # The headers the API reads or sends itself, then the operator's (by default the
                # ones tracing and GraphQL clients add: a preflight naming any other gets 400).
                allow_headers=[*API_REQUEST_HEADERS, *settings.cors_allow_headers],
                expose_headers=[*API_RESPONSE_HEADERS, *settings.cors_expose_headers],
            )
        ]
        if settings.cors_origins
        else []
    )
    # Innermost: a database fault before GraphQL runs (the key lookup), or a request cancelled by
    # a stopping server, is a 503 to retry, not a bare 500.
    unavailable = Middleware(UnavailableMiddleware, in_flight=in_flight)
    graphql_chain = _chained(
        [
            request_id,
            Middleware(ObservabilityMiddleware, policy=policy, tracing=tracing),
            *cors,
            # Every answer of /graphql, the 503s below included, in the media type asked for.
            Middleware(GraphQLResponseMedia, path=GRAPHQL_PATH),
            unavailable,
        ],
        graphql,
    )
    app = GraphQLFront(
        # HTTP requests to /graphql, whatever their method (the gate answers a JSON 405 with
        # `Allow: GET, POST` to the others; Starlette's own is text/plain), skip the router.
        path=GRAPHQL_PATH,
        chain=graphql_chain,
        routes=[
            WebSocketRoute(GRAPHQL_PATH, graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *([Route("/metrics", metrics_endpoint(metrics, settings.metrics_token))] if metrics else []),
            # GraphiQL's files, wherever the view serves its page (development mode).
            *([graphiql_files()] if view.graphql_ide else []),
            *(insights_routes() if settings.insights_in_effect else []),
        ],
        middleware=[request_id, *cors, unavailable],
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: method_not_allowed},
    )
    app.state.db = db
    app.state.compiled = compiled
    app.state.writes = writes
    app.state.authenticator = authenticator
    app.state.credentials = credentials
    app.state.settings = settings
    return app
