"""Observability: one structured access-log record per GraphQL request, /metrics, and what never
reaches a log (keys, variables, notes, bound SQL values).

Logs are read as the server writes them: the server's own logging configuration
(logs.logging_config, as `gql-progress serve` gives it to uvicorn) writing to the captured
stderr. The multiprocess test runs `gql-progress serve --workers 2` for real.
"""

from __future__ import annotations

import io
import logging
import logging.config
import os
import shutil
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gql_progress.auth import Authenticator
from gql_progress.db.engine import Database
from gql_progress.db.models import Course
from gql_progress.logs import logging_config
from gql_progress.settings import LogFormat, SettingsError, load_settings
from tests.apps import api_with
from tests.support import Api, SeededCourse, SeededUser, fail_loads_by_id

REPO = Path(__file__).resolve().parent.parent

NOTES = "my-private-notes-7f3a9c: the learner's own words"
SAVE_NOTES = (
    "mutation SaveNotes($lessonId: ID!, $notes: String!) { "
    "upsertProgress(input: {lessonId: $lessonId, notes: $notes}) { __typename "
    "... on UpsertProgressSuccess { progress { notes } } ... on Error { code message } } }"
)
ME = "query Me { me { id } }"
COURSE_BY_ID = "query CourseById($id: ID!) { course(id: $id) { id slug } }"
ACCESS_FIELDS = {
    "timestamp",
    "level",
    "logger",
    "message",
    "request_id",
    "method",
    "operation",
    "operation_type",
    "status",
    "outcome",
    "duration_ms",
    "statements",
    "caller",
}


@pytest.fixture
def server_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The server's logging configuration (JSON, at DEBUG: everything it would ever print), its
    handler writing to a buffer instead of stderr; returns a function that parses what was
    written since it was last called."""
    with server_logging("DEBUG", LogFormat.JSON) as buffer:

        def lines() -> list[dict[str, Any]]:
            written = buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            # Every line the server writes is one JSON object.
            return [orjson.loads(line) for line in written.splitlines() if line.strip()]

        yield lines


@contextmanager
def server_logging(level: str, log_format: LogFormat) -> Iterator[io.StringIO]:
    root = logging.getLogger()
    config = logging_config(level, log_format)
    named = [root, *(logging.getLogger(name) for name in config["loggers"])]
    saved = [(logger, logger.level, logger.handlers[:], logger.propagate) for logger in named]
    logging.config.dictConfig(config)
    buffer = io.StringIO()
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        for logger, level_before, handlers, propagate in saved:
            logger.setLevel(level_before)
            logger.handlers[:] = handlers
            logger.propagate = propagate


def access_records(lines: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "gql_progress.access"]


async def enrolled(api: Api) -> tuple[SeededUser, SeededCourse]:
    learner = await api.user()
    course = await api.course(lessons=2)
    await api.enroll(learner, course)
    return learner, course


@asynccontextmanager
async def app_with(database_url: str, **settings: Any) -> AsyncIterator[Api]:
    async with api_with(database_url, **{"live_updates_enabled": False, **settings}) as api:
        yield api


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "observed.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, labels) → value, from the Prometheus text format."""
    found = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def sample(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def scrape(api: Api, **headers: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await api.client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


# --- the access log -------------------------------------------------------------------------------


async def test_each_request_logs_one_json_record_with_id_operation_duration_status_caller_and_statements(
    api: Api, server_logs: Callable[[], list[dict[str, Any]]]
) -> None:
    learner, course = await enrolled(api)
    server_logs()

    api.db.statements.reset()
    response = await api.post(SAVE_NOTES, {"lessonId": course.lesson_ids[0], "notes": NOTES}, key=learner.key)
    statements = api.db.statements.count

    assert response.json()["data"]["upsertProgress"]["__typename"] == "UpsertProgressSuccess"
    lines = server_logs()
    [record] = access_records(lines)
    assert record.keys() >= ACCESS_FIELDS
    assert record["level"] == "INFO"
    assert record["request_id"] == response.headers["x-request-id"]
    assert record["method"] == "POST"
    assert record["operation"] == "SaveNotes"  # from the document: the body sent no operationName
    assert record["operation_type"] == "mutation"
    assert record["status"] == 200
    assert record["outcome"] == "ok"
    assert 0 < record["duration_ms"] < 60_000
    assert record["statements"] == statements > 0  # this request's own, counted per request
    assert record["caller"] == {
        "user_id": learner.pk,
        "api_key_id": record["caller"]["api_key_id"],
        "role": "LEARNER",
    }
    assert isinstance(record["caller"]["api_key_id"], int)


async def test_no_log_line_holds_the_key_the_variables_or_notes(
    api: Api, server_logs: Callable[[], list[dict[str, Any]]]
) -> None:
    learner, course = await enrolled(api)
    server_logs()
    variables = {"lessonId": course.lesson_ids[0], "notes": NOTES}

    await api.post(SAVE_NOTES, variables, key=learner.key)  # a write with notes
    await api.post(SAVE_NOTES, {**variables, "notes": 42}, key=learner.key)  # bad variables
    await api.client.get(
        "/graphql",
        params={
            "query": "query Me($n: String) { me { id } }",
            "variables": orjson.dumps({"n": NOTES}).decode(),
        },
        headers={"Authorization": f"Bearer {learner.key}"},
    )
    await api.post(ME, key=learner.key + "x")  # a wrong key
    await api.post(SAVE_NOTES, variables, key=None)  # no key
    # The server's lines: httpx here is the test's own client, which logs the URLs it calls.
    raw = "\n".join(orjson.dumps(line).decode() for line in server_logs() if line["logger"] != "httpx")

    assert len(access_records([orjson.loads(line) for line in raw.splitlines()])) == 5
    assert NOTES not in raw
    assert "my-private-notes" not in raw
    assert learner.key not in raw
    assert learner.key[8:24] not in raw  # nor a piece of it
    assert "Bearer" not in raw


async def test_a_masked_error_is_logged_as_json_with_its_traceback_under_the_request_id(
    api: Api, server_logs: Callable[[], list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_loads_by_id(monkeypatch, Course, "boom in the course loader")
    learner = await api.user()
    course = await api.course(lessons=0)
    server_logs()

    response = await api.post(COURSE_BY_ID, {"id": course.id}, key=learner.key)

    request_id = response.headers["x-request-id"]
    assert response.json()["errors"][0]["extensions"]["requestId"] == request_id
    lines = server_logs()
    [error] = [line for line in lines if line["logger"] == "gql_progress.errors"]
    assert error["level"] == "ERROR"
    assert error["request_id"] == request_id
    assert error["exception"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: boom in the course loader" in error["exception"]
    [access] = access_records(lines)
    assert (access["request_id"], access["outcome"], access["status"]) == (request_id, "error", 200)


async def test_an_exception_escaping_graphql_is_masked_and_logged_with_traceback_under_the_request_id(
    api: Api, server_logs: Callable[[], list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Authenticator, secret: str) -> None:
        raise RuntimeError("authenticator bug")

    monkeypatch.setattr(Authenticator, "authenticate", broken)
    server_logs()

    response = await api.post(ME, key="gqlp_whatever")

    request_id = response.headers["x-request-id"]
    assert response.status_code == 500
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "Internal server error",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            }
        ],
    }
    lines = server_logs()
    [error] = [line for line in lines if line["logger"] == "gql_progress.errors"]
    [access] = access_records(lines)
    assert error["request_id"] == access["request_id"] == request_id
    assert "RuntimeError: authenticator bug" in error["exception"]
    assert (access["status"], access["outcome"]) == (500, "error")
    assert "gqlp_whatever" not in orjson.dumps(lines).decode()


async def test_text_format_shows_the_request_id_and_the_access_line(api: Api) -> None:
    learner = await api.user()
    with server_logging("INFO", LogFormat.TEXT) as buffer:
        response = await api.post(ME, key=learner.key)

    [line] = [line for line in buffer.getvalue().splitlines() if "gql_progress.access" in line]
    assert f"[request_id={response.headers['x-request-id']}]" in line
    assert "POST /graphql query Me -> 200 ok in " in line
    assert learner.key not in buffer.getvalue()


async def test_outcomes_ok_graphql_error_rejected_rate_limited_unauthenticated_and_error(
    database_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with app_with(database_url, rate_limit_learner="3/minute") as api:
        learner = await api.user()
        other = await api.user()
        course = await api.course(lessons=0)
        caplog.set_level(logging.INFO, logger="gql_progress.access")

        ok = await api.post(ME, key=learner.key)
        invalid = await api.post("query Bad { me { id nope } }", key=learner.key)
        too_deep = await api.post("query Deep " + _nested(30), key=learner.key)
        not_json = await api.client.post(
            "/graphql", content=b"query=x", headers={"content-type": "text/plain"}
        )
        anonymous = await api.post(ME)
        await api.post(ME, key=learner.key)
        limited = await api.post(ME, key=learner.key)  # the learner's fourth operation
        fail_loads_by_id(monkeypatch, Course, "boom")
        failed = await api.post(COURSE_BY_ID, {"id": course.id}, key=other.key)

    records = {r.request_id: r for r in caplog.records if r.name == "gql_progress.access"}  # type: ignore[attr-defined]

    def outcome(response: httpx.Response) -> tuple[int, str]:
        record = records[response.headers["x-request-id"]]
        return record.status, record.outcome  # type: ignore[attr-defined]

    assert outcome(ok) == (200, "ok")
    assert outcome(invalid) == (200, "graphql_error")
    assert outcome(too_deep) == (200, "rejected")  # the request gate answers like GraphQL, 200
    assert outcome(not_json) == (415, "rejected")
    assert outcome(anonymous) == (401, "unauthenticated")
    assert outcome(limited) == (429, "rate_limited")
    assert outcome(failed) == (200, "error")  # masked: the client sees 200 and a request id
    assert records[anonymous.headers["x-request-id"]].caller is None  # type: ignore[attr-defined]
    assert records[too_deep.headers["x-request-id"]].operation is None  # type: ignore[attr-defined]


def _nested(depth: int) -> str:
    inner = "id"
    for _ in range(depth // 2):
        inner = f"lessons {{ course {{ {inner} }} }}"
    return f'{{ course(slug: "x") {{ {inner} }} }}'


# --- /metrics -------------------------------------------------------------------------------------


async def test_metrics_count_requests_latency_statements_and_rate_limit_refusals(database_url: str) -> None:
    async with app_with(database_url, rate_limit_learner="3/minute") as api:
        learner, course = await enrolled(api)
        variables = {"lessonId": course.lesson_ids[0], "notes": "n"}

        api.db.statements.reset()
        for _ in range(2):
            assert (await api.post(SAVE_NOTES, variables, key=learner.key)).status_code == 200
        statements = api.db.statements.count
        await api.post(ME, key=learner.key)
        assert (await api.post(ME, key=learner.key)).status_code == 429
        await api.post(ME)

        found = await scrape(api)

    assert sample(found, "gql_progress_requests_total", operation="SaveNotes", outcome="ok") == 2
    assert sample(found, "gql_progress_requests_total", operation="Me", outcome="ok") == 1
    assert sample(found, "gql_progress_requests_total", operation="Me", outcome="rate_limited") == 1
    assert sample(found, "gql_progress_requests_total", operation="Me", outcome="unauthenticated") == 1
    assert sample(found, "gql_progress_rate_limited_total", role="learner") == 1
    assert sample(found, "gql_progress_request_duration_seconds_count", operation="SaveNotes") == 2
    assert 0 < sample(found, "gql_progress_request_duration_seconds_sum", operation="SaveNotes") < 60
    assert sample(found, "gql_progress_sql_statements_per_request_count", operation="SaveNotes") == 2
    assert sample(found, "gql_progress_sql_statements_per_request_sum", operation="SaveNotes") == statements
    # One statement budget is visible per bucket: both requests cost statements / 2.
    assert (
        sample(
            found,
            "gql_progress_sql_statements_per_request_bucket",
            operation="SaveNotes",
            le=str(float(statements // 2)),
        )
        == 2
    )


async def test_metrics_need_no_sql_and_show_the_pool(database_url: str) -> None:
    async with app_with(database_url, db_pool_size=7) as api:
        api.db.statements.reset()
        idle = await scrape(api)
        assert api.db.statements.count == 0

        async with api.db.read() as conn:
            await conn.execute(text("SELECT 1"))
            busy = await scrape(api)

    assert sample(idle, "gql_progress_db_pool_size") == 7
    assert sample(idle, "gql_progress_db_pool_checked_out") == 0
    assert sample(busy, "gql_progress_db_pool_checked_out") == 1


async def test_operation_labels_are_bounded(sqlite_url: str) -> None:
    async with app_with(sqlite_url, metrics_max_operations=2) as api:
        learner = await api.user()
        long_name = "L" + "o" * 64  # 65 characters
        for name in (long_name, "First", "Second", "Third", "Fourth"):
            await api.post(f"query {name} {{ me {{ id }} }}", key=learner.key)
        await api.post("{ me { id } }", key=learner.key)
        found = await scrape(api)

    labels = {
        dict(labels)["operation"]: value
        for (name, labels), value in found.items()
        if name == "gql_progress_requests_total"
    }
    assert labels == {"First": 1, "Second": 1, "_other": 3, "_anonymous": 1}


async def test_metrics_token_is_required_when_set(sqlite_url: str) -> None:
    token = "metrics-token-5b1e0c9d"
    async with app_with(sqlite_url, metrics_token=token) as api:
        missing = await api.client.get("/metrics")
        wrong = await api.client.get("/metrics", headers={"Authorization": f"Bearer {token}x"})
        found = await scrape(api, Authorization=f"Bearer {token}")

    assert missing.status_code == wrong.status_code == 401
    assert "gql_progress" not in missing.text
    assert ("gql_progress_db_pool_size", frozenset()) in found


async def test_metrics_turned_off_are_not_served_and_requests_still_logged(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gql_progress.access")
    async with app_with(sqlite_url, metrics_enabled=False) as api:
        learner = await api.user()
        ok = await api.post(ME, key=learner.key)
        metrics = await api.client.get("/metrics")

    assert ok.status_code == 200
    assert metrics.status_code == 404
    assert [r.outcome for r in caplog.records if r.name == "gql_progress.access"] == ["ok"]  # type: ignore[attr-defined]


# --- what the database layer lets into messages ---------------------------------------------------


async def test_a_failed_statement_does_not_carry_its_bound_values_into_messages(database_url: str) -> None:
    db = Database(database_url)
    try:
        with pytest.raises(DBAPIError) as raised:
            async with db.write() as conn:
                await conn.execute(
                    text("INSERT INTO no_such_table (notes) VALUES (:notes)"), {"notes": NOTES}
                )
    finally:
        await db.dispose()

    assert "no_such_table" in str(raised.value)  # the statement is still named…
    assert NOTES not in str(raised.value)  # …its values are not
    assert NOTES not in "".join(traceback.format_exception(raised.value))


# --- settings -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("clean_env")
def test_log_format_defaults_to_json_in_production_and_text_in_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().log_format_in_effect is LogFormat.TEXT
    assert load_settings(mode="production").log_format_in_effect is LogFormat.JSON
    monkeypatch.setenv("GQL_PROGRESS_LOG_FORMAT", "text")
    assert load_settings(mode="production").log_format_in_effect is LogFormat.TEXT
    monkeypatch.setenv("GQL_PROGRESS_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="GQL_PROGRESS_LOG_FORMAT"):
        load_settings()


@pytest.mark.usefixtures("clean_env")
def test_metrics_settings_default_on_without_token(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.metrics_enabled, settings.metrics_token) == (True, None)
    monkeypatch.setenv("GQL_PROGRESS_METRICS_TOKEN", "")
    assert load_settings().metrics_token is None
    monkeypatch.setenv("GQL_PROGRESS_METRICS_TOKEN", "short")
    with pytest.raises(SettingsError, match="GQL_PROGRESS_METRICS_TOKEN"):
        load_settings()


# --- several worker processes ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_two_workers_share_one_metrics_view_and_log_json(sqlite_url: str, tmp_path: Path) -> None:
    """`gql-progress serve --workers 2` with PROMETHEUS_MULTIPROC_DIR: whichever worker answers
    /metrics counts every worker's requests; each worker logs JSON access records."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left over from an earlier run")
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GQL_PROGRESS_")},
        "PYTHONPATH": str(REPO),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "GQL_PROGRESS_MODE": "production",
        "GQL_PROGRESS_DATABASE_URL": sqlite_url,
        "GQL_PROGRESS_DB_POOL_SIZE": "3",
        "GQL_PROGRESS_WEBHOOKS_ENABLED": "false",
        "GQL_PROGRESS_LIVE_UPDATES_ENABLED": "false",
    }
    log_path = tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gql_progress", "serve", "--port", str(port), "--workers", "2"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(server, base, log_path)
        sent = 0
        pids: set[int] = set()
        # Fresh connections, until both workers have answered some.
        while sent < 20 or (len(pids) < 2 and sent < 400):
            response = httpx.post(f"{base}/graphql", json={"query": ME}, headers={"Connection": "close"})
            assert response.status_code == 401
            sent += 1
            pids = {line["pid"] for line in _access_lines(log_path)}
        assert len(pids) == 2, "one worker answered every request"
        views = [
            samples(httpx.get(f"{base}/metrics", headers={"Connection": "close"}).text) for _ in range(8)
        ]
        pool_size = Database(sqlite_url, pool_size=3).engine.sync_engine.pool.size()  # type: ignore[attr-defined]
    finally:
        server.terminate()
        server.wait(timeout=30)

    for found in views:
        assert sample(found, "gql_progress_requests_total", operation="Me", outcome="unauthenticated") == sent
        assert sample(found, "gql_progress_db_pool_size") == 2 * pool_size
    records = _access_lines(log_path)
    assert len(records) == sent
    assert all(r["outcome"] == "unauthenticated" and r["request_id"] for r in records)
    # Stopped workers take their live gauges with them.
    assert not list(metrics_dir.glob("gauge_livesum_*.db"))


def _access_lines(log_path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in log_path.read_bytes().splitlines():
        if raw.startswith(b"{"):
            line = orjson.loads(raw)
            if line["logger"] == "gql_progress.access":
                lines.append(line)
    return lines


def _wait_ready(server: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server did not start:\n{log_path.read_text(errors='replace')}")
