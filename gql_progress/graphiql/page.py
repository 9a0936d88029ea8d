"""The GraphiQL page and its files, from this server (development mode only).

The page is the same for everyone: an API key reaches it in the URL's fragment
(``/graphql#key=<key>``, the link ``gql-progress seed-demo`` prints), which browsers never send to a
server, so keys stay out of access logs, proxies and Referer headers. ``static/boot.js`` reads it
there and gives it to the fetcher, so the first schema introspection already carries it.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from gql_progress.graphiql.assets import STATIC_DIR, loaded_urls

# Served at the root, beside /graphql: the page's relative links ("graphiql/…") then also hold
# when the app is mounted under a prefix.
ASSETS_PATH = "/graphiql"


# Everything from this origin only: no CDN, no inline script. GraphiQL runs without eval, inline
# scripts and inline style elements (tests/test_graphiql_browser.py fails on any violation).
# The fonts and icons of graphiql.min.css are data: URLs inside it.
def self_hosted_page_headers(*, data_fonts: bool) -> dict[str, str]:
    """The response headers of a page served with all its files from this origin (GraphiQL, and
    the insights page under the same rule): what it may load, and nothing leaked or cached.
    ``data_fonts`` allows fonts embedded as data: URLs in its stylesheet."""
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # data: images: GraphiQL's icons, and an empty favicon that keeps browsers from asking.
        "img-src 'self' data:",
        *(["font-src 'self' data:"] if data_fonts else []),
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
    return {
        "Content-Security-Policy": "; ".join(directives),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        # The page names the files' versions: a new release must not meet a cached page.
        "Cache-Control": "no-cache",
    }


HEADERS = self_hosted_page_headers(data_fonts=True)
CONTENT_SECURITY_POLICY = HEADERS["Content-Security-Policy"]


def _html() -> str:
    base = ASSETS_PATH.lstrip("/")
    styles = [*loaded_urls(".css"), "page.css"]
    scripts = [*loaded_urls(".js"), "boot.js"]
    links = "".join(f'    <link rel="stylesheet" href="{escape(f"{base}/{url}")}">\n' for url in styles)
    tags = "".join(f'    <script src="{escape(f"{base}/{url}")}"></script>\n' for url in scripts)
    return (
        "<!doctype html>\n"
        '<html lang="en">\n'
        "  <head>\n"
        '    <meta charset="utf-8">\n'
        '    <meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "    <title>gql_progress · GraphiQL</title>\n"
        '    <link rel="icon" href="data:,">\n'
        f"{links}"
        "  </head>\n"
        "  <body>\n"
        '    <div id="graphiql">Loading GraphiQL…</div>\n'
        "    <noscript>GraphiQL needs JavaScript.</noscript>\n"
        f"{tags}"
        "  </body>\n"
        "</html>\n"
    )


PAGE = _html()


def graphiql_page() -> Response:
    return HTMLResponse(PAGE, headers=HEADERS)


def graphiql_files() -> Mount:
    """The vendored packages (as published), boot.js and page.css."""
    return Mount(ASSETS_PATH, app=StaticFiles(directory=STATIC_DIR), name="graphiql")


def graphiql_link(host: str, port: int, key: str) -> str:
    """The page, opened with ``key``: what seed-demo prints."""
    if host in {"0.0.0.0", "::", ""}:  # listening everywhere: the browser is on this machine
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/graphql#key={quote(key, safe='')}"
