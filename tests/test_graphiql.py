"""The GraphiQL page and its files (gql_progress/graphiql/); tests/test_graphiql_browser.py runs
the page in a browser."""

from __future__ import annotations

import os
import re

import pytest

from gql_progress.graphiql import vendor
from gql_progress.graphiql.assets import differences
from gql_progress.graphiql.page import graphiql_link
from tests.support import Api

REFERENCE = re.compile(r'(?:src|href)="([^"]*)"')


# The page touches no database: one backend is enough.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_page_loads_only_its_own_files_and_allows_nothing_else(api: Api) -> None:
    page = await api.client.get("/graphql", headers={"Accept": "text/html"})

    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy  # no CDN, no inline script, no eval
    references = [url for url in REFERENCE.findall(page.text) if url != "data:,"]
    # React, ReactDOM, GraphiQL (script, style), the explorer (script, style), boot.js, page.css.
    assert len(references) == 8
    for url in references:
        assert url.startswith("graphiql/"), url  # relative: from this server, under any prefix
        served = await api.client.get(f"/{url}")
        assert served.status_code == 200, url
        assert served.headers["content-type"].startswith(("text/javascript", "text/css")), url


def test_the_vendored_files_are_those_vendor_py_took_from_the_registry() -> None:
    assert differences() == []


@pytest.mark.slow
def test_the_vendored_files_are_the_published_packages_bytes() -> None:
    try:
        problems = vendor.check()
    except OSError as exc:
        if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
            raise
        pytest.skip(f"registry.npmjs.org is out of reach: {exc}")
    assert problems == []


@pytest.mark.parametrize(
    ("host", "link"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/graphql#key=gqlp_abc"),
        ("0.0.0.0", "http://127.0.0.1:8000/graphql#key=gqlp_abc"),
        ("::1", "http://[::1]:8000/graphql#key=gqlp_abc"),
    ],
)
def test_the_link_seed_demo_prints_carries_the_key_in_its_fragment(host: str, link: str) -> None:
    assert graphiql_link(host, 8000, "gqlp_abc") == link
