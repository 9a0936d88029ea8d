"""OpenTelemetry traces, when ``GQL_PROGRESS_OTEL_ENABLED`` is on (the ``otel`` extra).

One span per GraphQL HTTP request (ObservabilityMiddleware opens it; named after the operation
once the request gate has read it, e.g. ``query CoursePage``), its parent taken from the
request's W3C ``traceparent`` and its own context returned in the response's ``traceparent``.
Inside it, one client span per SQL statement on the SQLAlchemy engine, one for a compiled
read's statement on asyncpg (api/compiled/runner.py), and one per statement the Database sends on
asyncpg directly (a write alone, a key lookup).

Off, ``Tracing`` is the no-op below and nothing here imports ``opentelemetry``: the hot path pays
one attribute check per request, per compiled read and per statement sent on asyncpg directly,
and nothing per statement on the engine (no engine listener is installed). On, the
``opentelemetry`` modules are imported when the app is built.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from contextvars import Token
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Message, Scope

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer, TracerProvider

INSTALL_HINT = "pip install gql-progress[otel]"
TRACEPARENT = "traceparent"
REQUEST_ID_ATTRIBUTE = "gql_progress.request_id"
_SPANS_KEY = "gql_progress.otel_spans"


class Tracing:
    """Tracing turned off: every hook does nothing."""

    enabled = False

    def watch(self, engine: AsyncEngine, system: str) -> None:
        """Trace the statements of ``engine`` (only when on)."""

    def compiled_read(self, statement: str) -> AbstractContextManager[object]:
        return contextlib.nullcontext()

    def direct_statement(self, statement: str) -> AbstractContextManager[object]:
        """A span for a statement sent on asyncpg directly, past the engine's events
        (Database.write_alone, read_alone): named and described as the engine's are."""
        return contextlib.nullcontext()

    def shutdown(self) -> None:
        """Export what is still buffered (only when on and the provider is ours)."""


OFF = Tracing()


class RequestSpan:
    """One GraphQL HTTP request's span, made current for everything the request runs."""

    __slots__ = ("_span", "_token", "traceparent")

    def __init__(self, span: Span, token: Token[Context], traceparent: bytes | None) -> None:
        self._span = span
        self._token = token
        # Computed once: the span's context does not change while the request runs.
        self.traceparent = traceparent

    def with_traceparent(self, message: Message) -> None:
        """Add our ``traceparent`` to the response start, so that callers can find the trace."""
        if self.traceparent is not None:
            message["headers"] = [*message.get("headers", []), (TRACEPARENT.encode(), self.traceparent)]

    def end(
        self,
        operation_type: str | None,
        operation_name: str | None,
        status: int | None,
        outcome: str,
        request_id: str | None,
    ) -> None:
        from opentelemetry import context
        from opentelemetry.trace import Status, StatusCode

        span = self._span
        # Named now: the operation is known only once the gate has read the document.
        if operation_type is not None:
            span.update_name(f"{operation_type} {operation_name}" if operation_name else operation_type)
            span.set_attribute("graphql.operation.type", operation_type)
        if operation_name is not None:
            span.set_attribute("graphql.operation.name", operation_name)
        if request_id is not None:
            span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        span.set_attribute("gql_progress.outcome", outcome)
        if outcome == "error":
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        context.detach(self._token)


class OpenTelemetryTracing(Tracing):
    enabled = True

    def __init__(self, provider: TracerProvider | None = None) -> None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        # Given a provider (tests, or an application that configured its own), we use it and
        # leave its life to its owner; otherwise we build one from the OTEL_* variables.
        self._owned = provider is None
        self.provider = provider if provider is not None else provider_from_environment()
        self.tracer: Tracer = self.provider.get_tracer("gql_progress")
        # W3C trace context, whatever OTEL_PROPAGATORS says: traceparent is what we promise.
        self.propagator = TraceContextTextMapPropagator()
        self._system = "other_sql"

    def start_request(self, scope: Scope) -> RequestSpan:
        from opentelemetry import context, trace

        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        parent = self.propagator.extract(carrier) if carrier else None
        span = self.tracer.start_span(
            f"{scope['method']} {scope['path']}",
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
        )
        current = trace.set_span_in_context(span, parent)
        out: dict[str, str] = {}
        self.propagator.inject(out, context=current)
        traceparent = out.get(TRACEPARENT)
        return RequestSpan(span, context.attach(current), traceparent.encode() if traceparent else None)

    def watch(self, engine: AsyncEngine, system: str) -> None:
        event.listen(engine.sync_engine, "before_cursor_execute", self._before_statement)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after_statement)
        event.listen(engine.sync_engine, "handle_error", self._failed_statement)
        self._system = system

    def _before_statement(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        from opentelemetry import trace

        # Statements outside a traced request (start-up, background jobs) would each be a trace
        # of their own: noise. Transaction control is left out as by the statement counter.
        if not trace.get_current_span().is_recording() or statement.startswith("BEGIN"):
            conn.info.setdefault(_SPANS_KEY, []).append(None)
            return
        span = self.tracer.start_span(
            _statement_name(statement),
            kind=trace.SpanKind.CLIENT,
            # The statement as sent: placeholders only, the bound values never reach the span.
            attributes={"db.system": self._system, "db.statement": statement},
        )
        conn.info.setdefault(_SPANS_KEY, []).append(span)

    def _after_statement(self, conn: Any, *_: Any) -> None:
        spans = conn.info.get(_SPANS_KEY)
        span = spans.pop() if spans else None
        if span is not None:
            span.end()

    def _failed_statement(self, exception_context: Any) -> None:
        from opentelemetry.trace import Status, StatusCode

        conn = exception_context.connection
        spans = None if conn is None else conn.info.get(_SPANS_KEY)
        span = spans.pop() if spans else None
        if span is not None:
            error = exception_context.original_exception
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.end()

    def compiled_read(self, statement: str) -> AbstractContextManager[object]:
        return self._compiled_read(statement)

    @contextlib.contextmanager
    def _compiled_read(self, statement: str) -> Iterator[object]:
        from opentelemetry import trace

        attributes = {"db.system": "postgresql", "db.statement": statement}
        with self.tracer.start_as_current_span(
            "compiled read", kind=trace.SpanKind.CLIENT, attributes=attributes
        ) as span:
            yield span

    def direct_statement(self, statement: str) -> AbstractContextManager[object]:
        return self._direct_statement(statement)

    @contextlib.contextmanager
    def _direct_statement(self, statement: str) -> Iterator[object]:
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode

        if not trace.get_current_span().is_recording():
            yield None  # outside a traced request, as for the engine's statements
            return
        span = self.tracer.start_span(
            _statement_name(statement),
            kind=trace.SpanKind.CLIENT,
            attributes={"db.system": "postgresql", "db.statement": statement},
        )
        try:
            yield span
        except Exception as error:
            # The type only: a database error's text may quote bound values.
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise
        finally:
            span.end()

    def shutdown(self) -> None:
        if self._owned:
            shutdown = getattr(self.provider, "shutdown", None)
            if shutdown is not None:
                shutdown()


def _statement_name(statement: str) -> str:
    """A statement's span name: its first keyword (SELECT, INSERT…), as the conventions suggest."""
    head = statement.lstrip().split(None, 1)
    return head[0].upper() if head else "SQL"


def provider_from_environment() -> TracerProvider:
    """The SDK's provider, configured the standard way: OTEL_SERVICE_NAME and
    OTEL_RESOURCE_ATTRIBUTES (the resource), OTEL_TRACES_SAMPLER (the sampler), OTEL_SDK_DISABLED,
    and OTEL_TRACES_EXPORTER: ``otlp`` (the default; OTLP over HTTP, configured by
    OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS…), ``console`` or ``none``."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    # Resource.create() reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; our name otherwise.
    resource = Resource.create(
        {"service.name": "gql-progress"} if "OTEL_SERVICE_NAME" not in os.environ else {}
    )
    provider = SdkTracerProvider(resource=resource)
    chosen = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    exporter: SpanExporter | None
    if chosen == "none":
        exporter = None
    elif chosen == "console":
        exporter = ConsoleSpanExporter()
    elif chosen in {"otlp", "otlp_proto_http"}:
        exporter = _otlp_exporter()
    else:
        raise TracingSetupError(f"OTEL_TRACES_EXPORTER={chosen!r}: use otlp, console or none")
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _otlp_exporter() -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise TracingSetupError(f"the OTLP exporter is not installed: {INSTALL_HINT}") from None
    return OTLPSpanExporter()


class TracingSetupError(Exception):
    """The OTEL_* configuration cannot be honoured; the message says why in one line."""


def tracing_for(enabled: bool, provider: TracerProvider | None = None) -> Tracing:
    return OpenTelemetryTracing(provider) if enabled else OFF
