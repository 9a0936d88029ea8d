"""OpenTelemetry (gql_progress/tracing.py): the span tree one request leaves, read from the SDK's
in-memory exporter, through the real app over HTTP; and that, off (the default), nothing is
traced and no opentelemetry module is even imported."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from gql_progress.api.compiled.runner import CompiledReads
from gql_progress.auth import Authenticator
from gql_progress.edge.app import create_app
from gql_progress.settings import SettingsError, load_settings
from tests.apps import GENEROUS_LIMITS, QUIET, client_for
from tests.conftest import fresh_database
from tests.support import Api

REPO = Path(__file__).resolve().parent.parent

COURSE_PAGE = "query CoursePage($slug: String!) { course(slug: $slug) { title lessons { title } } }"
NOTES = "otel-private-notes-5d1e: never in a span"
SAVE_NOTES = (
    "mutation SaveNotes($lessonId: ID!, $notes: String!) { "
    "upsertProgress(input: {lessonId: $lessonId, notes: $notes}) { __typename "
    "... on UpsertProgressSuccess { progress { notes } } ... on Error { code message } } }"
)
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


@asynccontextmanager
async def traced(url: str, otel_enabled: bool = True) -> AsyncIterator[tuple[Api, InMemorySpanExporter]]:
    """The app with tracing on (or not), its spans going to an in-memory exporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = load_settings(database_url=url, **{**QUIET, **GENEROUS_LIMITS, "otel_enabled": otel_enabled})
    app = create_app(settings, tracer_provider=provider)
    async with app.router.lifespan_context(app), client_for(app) as api:
        yield api, exporter


@pytest.fixture
async def sqlite_url(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("sqlite", None, sqlite_template, tmp_path) as url:
        yield url


def request_span(spans: tuple[ReadableSpan, ...]) -> ReadableSpan:
    servers = [span for span in spans if span.kind is SpanKind.SERVER]
    assert len(servers) == 1, [span.name for span in spans]
    return servers[0]


def children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [
        span for span in spans if span.parent is not None and span.parent.span_id == parent.context.span_id
    ]


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


@pytest.mark.postgres_only
async def test_a_compiled_course_page_is_one_request_span_with_one_compiled_read_child(
    pg_database_url: str,
) -> None:
    async with traced(pg_database_url) as (api, exporter):
        learner = await api.user()
        course = await api.course(lessons=2)
        await api.enroll(learner, course)
        exporter.clear()

        response = await api.post(COURSE_PAGE, {"slug": course.slug}, key=learner.key)

        assert response.status_code == 200, response.text
        compiled = api.app.state.compiled
        assert isinstance(compiled, CompiledReads)
        assert compiled.answered == 1
        spans = exporter.get_finished_spans()
        root = request_span(spans)
        assert root.name == "query CoursePage"
        assert root.parent is None
        assert attributes(root) | {
            "graphql.operation.name": "CoursePage",
            "graphql.operation.type": "query",
            "http.response.status_code": 200,
            "gql_progress.request_id": response.headers["x-request-id"],
        } == attributes(root)
        below = children(spans, root)
        reads = [span for span in below if span.name == "compiled read"]
        assert len(reads) == 1
        statement = attributes(reads[0])["db.statement"]
        assert isinstance(statement, str)
        assert course.slug not in statement
        # The rest are the request's other statements (the key lookup), nothing deeper.
        assert all(attributes(span)["db.system"] == "postgresql" for span in below)
        assert len(spans) == 1 + len(below)


async def test_a_mutation_has_one_child_span_per_sql_statement(database_url: str) -> None:
    async with traced(database_url) as (api, exporter):
        learner = await api.user()
        course = await api.course(lessons=1)
        await api.enroll(learner, course)
        exporter.clear()
        api.db.statements.reset()

        response = await api.post(
            SAVE_NOTES, {"lessonId": course.lesson_ids[0], "notes": NOTES}, key=learner.key
        )

        assert response.json()["data"]["upsertProgress"]["__typename"] == "UpsertProgressSuccess"
        spans = exporter.get_finished_spans()
        root = request_span(spans)
        assert root.name == "mutation SaveNotes"
        assert attributes(root)["graphql.operation.type"] == "mutation"
        statements = children(spans, root)
        # One span per statement the request sent, as the statement counter counts them.
        assert len(statements) == api.db.statements.count > 1
        assert len(spans) == 1 + len(statements)
        system = "sqlite" if database_url.startswith("sqlite") else "postgresql"
        for span in statements:
            assert span.kind is SpanKind.CLIENT
            assert attributes(span)["db.system"] == system
            assert span.name == str(attributes(span)["db.statement"]).split()[0].upper()
        assert any(span.name == "INSERT" for span in statements)
        # Bound values (a learner's notes) never reach a span.
        assert all(NOTES not in str(value) for span in spans for value in attributes(span).values())


async def test_an_incoming_traceparent_is_the_parent_and_the_response_names_our_span(sqlite_url: str) -> None:
    async with traced(sqlite_url) as (api, exporter):
        learner = await api.user()
        exporter.clear()

        response = await api.client.post(
            "/graphql",
            json={"query": "query Me { me { id } }"},
            headers={
                "Authorization": f"Bearer {learner.key}",
                "traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01",
            },
        )

        assert response.status_code == 200, response.text
        root = request_span(exporter.get_finished_spans())
        assert root.context is not None
        assert root.parent is not None
        assert format(root.context.trace_id, "032x") == TRACE_ID
        assert format(root.parent.span_id, "016x") == PARENT_SPAN_ID
        assert root.parent.is_remote
        assert response.headers["traceparent"] == f"00-{TRACE_ID}-{root.context.span_id:016x}-01"


async def test_without_a_traceparent_the_request_starts_a_trace_and_returns_it(sqlite_url: str) -> None:
    async with traced(sqlite_url) as (api, exporter):
        response = await api.post("query Me { me { id } }")  # no key: refused, traced all the same

        assert response.status_code == 401
        root = request_span(exporter.get_finished_spans())
        assert root.parent is None
        assert root.context is not None
        assert attributes(root)["http.response.status_code"] == 401
        assert (
            response.headers["traceparent"]
            == f"00-{root.context.trace_id:032x}-{root.context.span_id:016x}-{root.context.trace_flags:02x}"
        )


async def test_an_exception_escaping_graphql_ends_the_span_as_an_error_and_the_500_names_it(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Authenticator, secret: str) -> None:
        raise RuntimeError("authenticator bug")

    monkeypatch.setattr(Authenticator, "authenticate", broken)
    async with traced(sqlite_url) as (api, exporter):
        response = await api.post("query Me { me { id } }", key="gqlp_whatever")

        assert response.status_code == 500
        root = request_span(exporter.get_finished_spans())
        assert root.name == "query Me"
        assert root.status.status_code is StatusCode.ERROR
        assert attributes(root)["http.response.status_code"] == 500
        assert root.context is not None
        assert response.headers["traceparent"].split("-")[2] == f"{root.context.span_id:016x}"


async def test_off_by_default_nothing_is_traced(sqlite_url: str) -> None:
    assert load_settings().otel_enabled is False
    async with traced(sqlite_url, otel_enabled=False) as (api, exporter):
        learner = await api.user()
        course = await api.course(lessons=1)
        await api.enroll(learner, course)

        response = await api.post(
            SAVE_NOTES, {"lessonId": course.lesson_ids[0], "notes": NOTES}, key=learner.key
        )

        assert response.status_code == 200
        assert "traceparent" not in response.headers
        assert exporter.get_finished_spans() == ()


def test_off_the_server_imports_no_opentelemetry_module(sqlite_url: str) -> None:
    # A fresh interpreter: this test process has imported the SDK itself. It builds the app with
    # the default settings and answers a request through the whole middleware stack.
    script = f"""
import asyncio, sys
import httpx
from gql_progress.edge.app import create_app
from gql_progress.settings import load_settings

async def main():
    app = create_app(load_settings(database_url={sqlite_url!r}, api_key_cache_seconds=0))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.post("/graphql", json={{"query": "query Me {{ me {{ id }} }}"}})
            assert response.status_code == 401, response.text

asyncio.run(main())
print(sorted(name for name in sys.modules if name.split(".")[0] == "opentelemetry"))
"""
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.fixture
def without_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the otel extra were not installed (None in sys.modules: not importable)."""
    monkeypatch.setitem(sys.modules, "opentelemetry", None)


@pytest.mark.usefixtures("clean_env", "without_opentelemetry")
def test_enabled_without_the_extra_stops_start_up_naming_the_extra() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(otel_enabled=True)
    assert "GQL_PROGRESS_OTEL_ENABLED" in str(refused.value)
    assert "pip install gql-progress[otel]" in str(refused.value)
