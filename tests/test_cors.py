"""CORS: browser pages on the allowed origins may send the API's headers plus the configured ones
(by default those of tracing and GraphQL clients), and read the API's response headers."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from gql_progress.settings import CORS_ALLOW_HEADERS, SettingsError, load_settings
from tests.apps import api_with

ORIGIN = "https://platform.example"


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    # Which headers a browser may send does not depend on the database.
    path = tmp_path / "cors.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


async def _preflight(url: str, headers: str, **settings: Any) -> httpx.Response:
    async with api_with(url, cors_origins=ORIGIN, **settings) as api:
        return await api.client.options(
            "/graphql",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": headers,
            },
        )


@pytest.mark.parametrize(
    "header",
    ["apollographql-client-name", "apollographql-client-version", "traceparent", "sentry-trace", "baggage"],
)
async def test_a_preflight_for_tracing_and_apollo_headers_is_allowed_by_default(
    sqlite_url: str, header: str
) -> None:
    response = await _preflight(sqlite_url, f"authorization, content-type, {header}")

    assert response.status_code == 200
    assert header in response.headers["access-control-allow-headers"].lower()


async def test_a_preflight_for_a_header_nobody_listed_is_refused(sqlite_url: str) -> None:
    response = await _preflight(sqlite_url, "authorization, x-unlisted")

    assert response.status_code == 400


async def test_the_allowed_headers_are_a_setting_and_the_apis_own_stay_allowed(sqlite_url: str) -> None:
    custom = await _preflight(
        sqlite_url,
        "authorization, content-type, idempotency-key, x-request-id, x-tenant",
        cors_allow_headers="X-Tenant",
    )
    replaced = await _preflight(sqlite_url, "traceparent", cors_allow_headers="x-tenant")

    assert custom.status_code == 200
    assert replaced.status_code == 400


async def test_responses_expose_the_apis_headers_and_the_configured_ones(sqlite_url: str) -> None:
    async with api_with(
        sqlite_url, cors_origins=ORIGIN, cors_expose_headers="traceresponse,x-trace-id"
    ) as api:
        response = await api.client.post(
            "/graphql", json={"query": "{ me { id } }"}, headers={"Origin": ORIGIN}
        )

    exposed = {name.strip().lower() for name in response.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "retry-after", "ratelimit-remaining", "idempotent-replayed"} <= exposed
    assert {"traceresponse", "x-trace-id"} <= exposed


@pytest.mark.usefixtures("clean_env")
def test_the_header_settings_are_lists_with_defaults_and_refuse_what_is_not_a_header_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    assert settings.cors_allow_headers == list(CORS_ALLOW_HEADERS)
    assert "apollo-require-preflight" in settings.cors_allow_headers
    assert settings.cors_expose_headers == ["traceresponse"]

    monkeypatch.setenv("GQL_PROGRESS_CORS_ALLOW_HEADERS", " X-Tenant , traceparent,")
    assert load_settings().cors_allow_headers == ["x-tenant", "traceparent"]
    monkeypatch.setenv("GQL_PROGRESS_CORS_ALLOW_HEADERS", "")
    assert load_settings().cors_allow_headers == []

    monkeypatch.setenv("GQL_PROGRESS_CORS_EXPOSE_HEADERS", "x-trace id")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value) == (
        "invalid setting GQL_PROGRESS_CORS_EXPOSE_HEADERS: not a header name: 'x-trace id';"
        " list names separated by commas"
    )
