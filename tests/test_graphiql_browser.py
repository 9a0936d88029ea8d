"""GraphiQL in headless Chromium with no network beyond 127.0.0.1: the link seed-demo prints opens
a page whose files all come from our server, whose first schema introspection carries the key
(no 401, no manual re-fetch), which runs a query and whose Docs pane shows the schema."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys

import pytest

from tests.browser import chromium, chromium_executable
from tests.servers import REPO, serve

pytestmark = pytest.mark.slow

LINK = re.compile(r"http://127\.0\.0\.1:\d+/graphql#key=\S+")
QUERY_EDITOR = "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
RESULT = "document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()"
DOCS = "document.querySelector('.graphiql-doc-explorer').innerText"


async def _cli(*args: str, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "gql_progress", *args),
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()
    return out.decode()


async def test_the_seed_demo_link_opens_graphiql_offline_runs_a_query_and_shows_the_docs(
    tmp_path: os.PathLike[str],
) -> None:
    executable = chromium_executable()
    database_url = f"sqlite:///{os.path.join(tmp_path, 'demo.db')}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GQL_PROGRESS_")},
        "GQL_PROGRESS_DATABASE_URL": database_url,
    }
    await _cli("migrate", env=env)
    async with serve(database_url) as server, chromium(executable) as browser:
        # As `make run`: the link names the port the server listens on.
        printed = await _cli("seed-demo", env={**env, "GQL_PROGRESS_PORT": server.base.rpartition(":")[2]})
        link = LINK.search(printed)
        assert link is not None, printed
        assert link.group().startswith(f"{server.base}/graphql#key=gqlp_")
        page = await browser.new_page()

        await page.send("Page.navigate", url=link.group())
        await page.until("!!document.querySelector('.graphiql-query-editor .CodeMirror')", "the query editor")
        await page.evaluate(f"{QUERY_EDITOR}.setValue({json.dumps('{ me { name } }')})")
        await page.evaluate("document.querySelector('.graphiql-execute-button').click()")
        result = await page.until(f"{RESULT}.includes('Lee Learner') && {RESULT}", "the query's result")

        await page.evaluate("document.querySelector('[aria-label=\"Show Documentation Explorer\"]').click()")
        roots = await page.until(f"{DOCS}.includes('query: Query') && {DOCS}", "the schema's root types")
        await page.evaluate(
            "[...document.querySelectorAll('.graphiql-doc-explorer-content a')]"
            ".find(a => a.innerText === 'Query').click()"
        )
        query_type = await page.until(f"{DOCS}.includes('me: User!') && {DOCS}", "the Query type's fields")

    assert json.loads(result) == {"data": {"me": {"name": "Lee Learner"}}}
    assert "Error fetching schema" not in roots
    assert "course(" in query_type  # the Query type's documented fields, not just its name
    requested = [
        e["params"]["request"]["url"] for e in page.events if e["method"] == "Network.requestWillBeSent"
    ]
    assert [url for url in requested if not url.startswith((f"{server.base}/", "data:"))] == []
    assert f"{server.base}/graphiql/vendor/graphiql@4.1.2/graphiql.min.js" in requested
    # Every answer of /graphql was a 200: the first introspection already carried the key.
    statuses = [
        e["params"]["response"]["status"]
        for e in page.events
        if e["method"] == "Network.responseReceived"
        and e["params"]["response"]["url"] == f"{server.base}/graphql"
    ]
    assert len(statuses) >= 3, statuses  # the page, the introspection, the query
    assert set(statuses) == {200}
    # No script error and no Content-Security-Policy violation (those are console errors).
    errors = [
        e["params"]
        for e in page.events
        if e["method"] == "Runtime.exceptionThrown"
        or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
        or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
    ]
    assert errors == []
