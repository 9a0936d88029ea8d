"""The insights page and its two files, under one Content-Security-Policy (as GraphiQL's).

The page holds no data and no key: the caller types their API key into it, the script keeps it in
sessionStorage (gone when the tab closes) and sends it as ``Authorization: Bearer`` to /graphql,
where the analytics' own rules decide what it may see. A link may carry the key in its fragment
(``/insights#key=<key>``), which browsers never send to a server; the script moves it to
sessionStorage and takes it out of the address bar.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from gql_progress.graphiql.page import self_hosted_page_headers

PAGE_PATH = "/insights"
ASSETS_PATH = "/insights/assets"
STATIC_DIR = Path(__file__).resolve().parent / "static"

# Everything from this origin, nothing inline: the script draws SVG with presentation attributes
# and classes, never style attributes (tests/test_insights_browser.py fails on any violation).
HEADERS = self_hosted_page_headers(data_fonts=False)


def _page() -> str:
    """page.html, each file it loads named with its content's hash (``?v=…``): the page is never
    cached, and a new release's script cannot meet an old cached one under the same URL.
    Its links are relative ("insights/assets/…", the script's "graphql"), so they hold under a
    mount prefix too."""
    page = (STATIC_DIR / "page.html").read_text()
    for name in ("insights.js", "insights.css"):
        digest = hashlib.sha256((STATIC_DIR / "assets" / name).read_bytes()).hexdigest()[:16]
        url = f"insights/assets/{name}"
        if page.count(f'"{url}"') != 1:
            raise RuntimeError(f"page.html must load {url} exactly once")
        page = page.replace(f'"{url}"', f'"{url}?v={digest}"')
    return page


PAGE = _page()


async def insights_page(_request: Request) -> Response:
    return HTMLResponse(PAGE, headers=HEADERS)


def insights_link(host: str, port: int, key: str) -> str:
    """The page, opened with ``key`` in the fragment, as GraphiQL's link: what seed-demo prints."""
    if host in {"0.0.0.0", "::", ""}:  # listening everywhere: the browser is on this machine
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{PAGE_PATH}#key={quote(key, safe='')}"


def insights_routes() -> list[BaseRoute]:
    """The page and its script and style sheet."""
    return [
        Route(PAGE_PATH, insights_page, methods=["GET"]),
        Mount(ASSETS_PATH, app=StaticFiles(directory=STATIC_DIR / "assets"), name="insights"),
    ]
