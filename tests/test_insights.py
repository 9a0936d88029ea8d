"""The insights page (gql_progress/insights/) over HTTP: where it is served, its headers and its own
files; tests/test_insights_browser.py runs it in a browser."""

from __future__ import annotations

import re

import pytest

from gql_progress.graphiql.page import CONTENT_SECURITY_POLICY as GRAPHIQL_POLICY
from gql_progress.insights.page import insights_link
from tests.apps import api_with

REFERENCE = re.compile(r'(?:src|href)="([^"]*)"')
NOT_FOUND = {"data": None, "errors": [{"message": "Not found", "extensions": {"code": "NOT_FOUND"}}]}

# The page touches no database: one backend is enough.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.mark.parametrize(
    ("settings", "served"),
    [
        ({}, True),  # development: on unless turned off
        ({"insights_enabled": False}, False),
        ({"mode": "production"}, False),  # production: off unless turned on
        ({"mode": "production", "insights_enabled": True}, True),
    ],
)
@SQLITE_ONLY
async def test_the_page_is_served_in_development_or_where_enabled_and_is_a_json_404_elsewhere(
    database_url: str, settings: dict[str, object], served: bool
) -> None:
    async with api_with(database_url, **settings) as api:
        page = await api.client.get("/insights")
        script = await api.client.get("/insights/assets/insights.js")

    if served:
        assert page.status_code == script.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert 'id="key-form"' in page.text
    else:
        for response in (page, script):
            assert response.status_code == 404
            assert response.headers["content-type"] == "application/json"
            assert response.json() == NOT_FOUND
            assert "insights" not in response.text


@SQLITE_ONLY
async def test_the_page_has_graphiqls_headers_and_loads_only_its_own_two_files(database_url: str) -> None:
    async with api_with(database_url) as api:
        page = await api.client.get("/insights")
        references = [url for url in REFERENCE.findall(page.text) if url != "data:,"]
        served = {url: await api.client.get(f"/{url}") for url in references}

    policy = page.headers["content-security-policy"]
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    graphiql = dict(d.split(" ", 1) for d in GRAPHIQL_POLICY.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == directives["style-src"] == directives["connect-src"] == "'self'"
    for name in ("base-uri", "form-action", "frame-ancestors"):
        assert directives[name] == graphiql[name] == "'none'"
    assert "unsafe" not in policy  # no inline script or style, no eval
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-cache"
    # Named with their contents' hashes: a new release's files are never an old cached copy.
    assert sorted(url.partition("?v=")[0] for url in references) == [
        "insights/assets/insights.css",
        "insights/assets/insights.js",
    ]
    assert all(re.fullmatch(r"[^?]+\?v=[0-9a-f]{16}", url) for url in references), references
    for url, response in served.items():
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith(("text/javascript", "text/css")), url
    for inline in ("<script>", "<style", " style="):
        assert inline not in page.text


@SQLITE_ONLY
async def test_a_missing_file_or_unknown_path_is_a_json_404(database_url: str) -> None:
    async with api_with(database_url) as api:
        missing = await api.client.get("/insights/assets/nothing.js")
        unknown = await api.client.get("/no-such-page")

    for response in (missing, unknown):
        assert response.status_code == 404
        assert response.json() == NOT_FOUND


async def test_a_method_a_page_does_not_take_is_a_json_405_with_allow(database_url: str) -> None:
    async with api_with(database_url) as api:
        posted = await api.client.post("/insights", content=b"x")
        deleted = await api.client.delete("/healthz")

    for response in (posted, deleted):
        assert response.status_code == 405
        assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
        assert "GET" in response.headers["allow"]


@pytest.mark.parametrize(
    ("host", "link"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/insights#key=gqlp_abc"),
        ("0.0.0.0", "http://127.0.0.1:8000/insights#key=gqlp_abc"),
        ("::1", "http://[::1]:8000/insights#key=gqlp_abc"),
    ],
)
def test_the_link_seed_demo_prints_carries_the_key_in_its_fragment(host: str, link: str) -> None:
    assert insights_link(host, 8000, "gqlp_abc") == link
