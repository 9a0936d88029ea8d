"""docs/clients.md's recipes and the README's browser examples, run as written against a live
server holding the demo data: plain fetch, Apollo Client (whose `... on Error { code message }`
keeps its fields only with the generated possibleTypes), urql, Python's gql, and subscriptions
with graphql-ws and with a bare WebSocket.

The JavaScript runs in Node with the packages pinned in tests/client_recipes (``npm ci`` on first
use; without npm these tests are skipped, except in CI, where that fails). The README's browser
examples run there too, with ``ws`` as the page's WebSocket (tests/client_recipes/browser-globals.mjs)
and graphql-ws from npm in place of the CDN's copy of the same major version.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gql_progress.db.engine import Database
from gql_progress.demo import seed_demo
from tests.npm import npm_installed
from tests.servers import REPO, graphql_body, serve

pytestmark = pytest.mark.slow

RECIPES = REPO / "tests" / "client_recipes"
CLIENTS_MD = REPO / "docs" / "clients.md"
README = REPO / "README.md"
# What each recipe stands for in docs/clients.md: the comment naming its file, then its code.
DOC_BLOCK = re.compile(r"<!-- (tests/client_recipes/[\w.-]+) -->\n```\w+\n(.*?)```", flags=re.S)
RECIPE_FILES = ("fetch.mjs", "apollo.mjs", "apq.mjs", "urql.mjs", "subscription.mjs", "python_gql.py")
WAIT_SECONDS = 15.0  # for what must happen; a passing test never waits this long

HEARTBEAT_LESSON = "TGVzc29uOjQ="  # "Joins explained" of intro-to-sql, the README's heartbeat
HEARTBEAT = """mutation Heartbeat($input: UpsertProgressInput!) {
  upsertProgress(input: $input) { __typename }
}"""
SET_COMPLETION = """mutation Complete($input: BulkSetCompletionInput!) {
  bulkSetCompletion(input: $input) { __typename }
}"""


@dataclass(frozen=True)
class Demo:
    api_url: str
    key: str  # the demo learner's

    def env(self) -> dict[str, str]:
        return {**os.environ, "API_URL": self.api_url, "KEY": self.key}

    async def send(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                self.api_url,
                json=graphql_body(document, variables),
                headers={"Authorization": f"Bearer {self.key}"},
            )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body


@pytest.fixture(scope="module")
async def demo(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    """One server for the module, with the demo data; the recipes' writes are heartbeats and
    completions, which no test's assertions depend on the order of."""
    path = tmp_path_factory.mktemp("client-recipes") / "demo.db"
    shutil.copyfile(sqlite_template, path)
    database_url = f"sqlite:///{path}"
    db = Database(database_url)
    try:
        keys = await seed_demo(db)
    finally:
        await db.dispose()
    async with serve(database_url) as server:
        yield Demo(f"{server.base}/graphql", keys.learner.secret)


@pytest.fixture(scope="session")
def node() -> str:
    return npm_installed(RECIPES, "the client recipes of docs/clients.md")


def workspace(directory: Path, files: dict[str, str]) -> Path:
    """``directory`` with ``files`` (name: text), the recipes' packages and possible-types.json
    beside them, as a user's project would have them."""
    (directory / "node_modules").symlink_to(RECIPES / "node_modules", target_is_directory=True)
    shutil.copyfile(REPO / "possible-types.json", directory / "possible-types.json")
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def recipe(name: str) -> str:
    return (RECIPES / name).read_text()


async def run(*command: str, cwd: Path, env: dict[str, str]) -> list[str]:
    """The lines a command printed; it must exit 0."""
    process = await asyncio.create_subprocess_exec(
        *command, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    return out.decode().splitlines()


@asynccontextmanager
async def started(*command: str, cwd: Path, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def next_line(process: asyncio.subprocess.Process, write: Callable[[int], Awaitable[None]]) -> str:
    """The process's next line of output, calling ``write(0)``, ``write(1)``… until it comes.

    Writing again: a subscription is registered some milliseconds after its subscribe message,
    and the protocol says nothing when it is, so a single write could come too early.
    """
    assert process.stdout is not None
    reading = asyncio.ensure_future(process.stdout.readline())
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    attempt = 0
    while not reading.done() and asyncio.get_running_loop().time() < deadline:
        await write(attempt)
        attempt += 1
        await asyncio.wait({reading}, timeout=0.25)
    if not reading.done():
        reading.cancel()
        raise AssertionError("nothing arrived")
    line = reading.result().decode()
    if not line:
        assert process.stderr is not None
        raise AssertionError(f"the process ended: {(await process.stderr.read()).decode()}")
    return line.rstrip("\n")


async def first_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    return (await asyncio.wait_for(process.stdout.readline(), WAIT_SECONDS)).decode().rstrip("\n")


def heartbeats(demo: Demo, first_second: int) -> Callable[[int], Awaitable[None]]:
    """Heartbeats for the README's lesson at first_second, first_second + 1, …"""

    async def write(attempt: int) -> None:
        variables = {"input": {"lessonId": HEARTBEAT_LESSON, "videoPositionSeconds": first_second + attempt}}
        await demo.send(HEARTBEAT, variables)

    return write


# --- docs/clients.md shows the files the tests run -------------------------------------------------


def test_every_recipe_in_docs_clients_md_is_a_file_these_tests_run_byte_for_byte() -> None:
    shown = dict(DOC_BLOCK.findall(CLIENTS_MD.read_text()))

    assert sorted(shown) == sorted(f"tests/client_recipes/{name}" for name in RECIPE_FILES)
    for path, code in shown.items():
        assert code == (REPO / path).read_text(), f"docs/clients.md shows another {path}: copy the file in"


def test_the_readme_links_the_client_recipes() -> None:
    assert "(docs/clients.md)" in README.read_text()


# --- HTTP: fetch, Apollo Client, urql, Python gql -------------------------------------------------


async def test_the_fetch_recipe_reads_data_error_unions_and_error_codes(
    demo: Demo, node: str, tmp_path: Path
) -> None:
    cwd = workspace(tmp_path, {"fetch.mjs": recipe("fetch.mjs")})

    lines = await run(node, "fetch.mjs", cwd=cwd, env=demo.env())

    assert len(lines) == 4, lines
    assert lines[0] == "signed in as Lee Learner"
    assert re.fullmatch(r"saved: (IN_PROGRESS|COMPLETED) at 240 s, course [\d.]+%", lines[1]), lines[1]
    assert lines[2] == "not saved: NotFoundError NOT_FOUND: Lesson was not found"
    assert lines[3] == "refused: GRAPHQL_VALIDATION_FAILED"


BUNDLE = {"__typename": "BundleProgress", "title": "Data Skills Track"}
NO_BUNDLE = {"__typename": "NotFoundError", "code": "NOT_FOUND", "message": "Bundle was not found"}
NO_LESSON = {"__typename": "NotFoundError", "code": "NOT_FOUND", "message": "Lesson was not found"}


async def test_the_apollo_recipe_keeps_code_and_message_of_error_union_members(
    demo: Demo, node: str, tmp_path: Path
) -> None:
    cwd = workspace(tmp_path, {"apollo.mjs": recipe("apollo.mjs")})

    results = [json.loads(line) for line in await run(node, "apollo.mjs", cwd=cwd, env=demo.env())]

    assert len(results) == 3, results
    assert results[0].items() >= BUNDLE.items()
    assert results[1:] == [NO_BUNDLE, NO_LESSON]


async def test_the_apollo_persisted_queries_recipe_sends_the_document_once_then_its_hash(
    demo: Demo, node: str, tmp_path: Path
) -> None:
    cwd = workspace(tmp_path, {"apq.mjs": recipe("apq.mjs"), "fetch-log.mjs": recipe("fetch-log.mjs")})

    lines = await run(node, "--import", "./fetch-log.mjs", "apq.mjs", cwd=cwd, env=demo.env())

    assert lines == [
        "fetch GET hash only",  # unknown to the server: PERSISTED_QUERY_NOT_FOUND
        "fetch POST with the document",  # registered
        '{"__typename":"User","name":"Lee Learner"}',
        "fetch GET hash only",  # known: answered from the hash alone
        '{"__typename":"User","name":"Lee Learner"}',
    ]


async def test_without_possible_types_apollo_drops_the_error_fields(
    demo: Demo, node: str, tmp_path: Path
) -> None:
    """Finding 3 of issue 16, and why the recipe's possibleTypes matters: with a default
    InMemoryCache the same recipe gets only the errors' __typename."""
    code = recipe("apollo.mjs")
    assert code.count("new InMemoryCache({ possibleTypes })") == 1
    cwd = workspace(tmp_path, {"apollo.mjs": code.replace("({ possibleTypes })", "()")})

    results = [json.loads(line) for line in await run(node, "apollo.mjs", cwd=cwd, env=demo.env())]

    assert results[0].items() >= BUNDLE.items()  # a member named by its own type keeps its fields
    assert results[1:] == [{"__typename": "NotFoundError"}] * 2


async def test_the_urql_recipe_reads_error_union_members_and_error_codes(
    demo: Demo, node: str, tmp_path: Path
) -> None:
    cwd = workspace(tmp_path, {"urql.mjs": recipe("urql.mjs")})

    lines = await run(node, "urql.mjs", cwd=cwd, env=demo.env())

    assert len(lines) == 3, lines
    assert json.loads(lines[0]).items() >= BUNDLE.items()
    assert json.loads(lines[1]) == NO_BUNDLE
    assert lines[2] == "refused: GRAPHQL_VALIDATION_FAILED"


async def test_the_python_gql_recipe_reads_data_error_unions_and_error_codes(
    demo: Demo, tmp_path: Path
) -> None:
    lines = await run(sys.executable, str(RECIPES / "python_gql.py"), cwd=tmp_path, env=demo.env())

    assert len(lines) == 4, lines
    assert lines[0] == "signed in as Lee Learner"
    assert re.fullmatch(r"saved: (IN_PROGRESS|COMPLETED) at 240 s", lines[1]), lines[1]
    assert lines[2] == "not saved: NotFoundError NOT_FOUND: Lesson was not found"
    assert lines[3] == "refused: GRAPHQL_VALIDATION_FAILED"


# --- WebSocket: the graphql-ws recipe and the README's two browser examples -----------------------


async def test_the_subscription_recipe_receives_a_heartbeat_sent_after_it(
    demo: Demo, node: str, tmp_path: Path
) -> None:
    cwd = workspace(tmp_path, {"subscription.mjs": recipe("subscription.mjs")})

    async with started(node, "subscription.mjs", cwd=cwd, env=demo.env()) as process:
        assert (await first_line(process)).startswith("listening:")
        update = await next_line(process, heartbeats(demo, 1000))
        code = await asyncio.wait_for(process.wait(), WAIT_SECONDS)

    received = re.fullmatch(r"Joins explained: (IN_PROGRESS|COMPLETED) at (\d+) s, course [\d.]+%", update)
    assert received is not None, update
    assert int(received.group(2)) >= 1000  # one of this test's heartbeats
    assert code == 0  # leaving the loop ended the subscription and dispose() the socket


def readme_block(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, f"the README has {len(blocks)} ```{language} blocks; this test runs one"
    code: str = blocks[0]
    return code


def as_run_here(code: str, demo: Demo, replacements: dict[str, str]) -> str:
    """The README's code with its placeholders for this server and key, each replaced once."""
    replacements = {
        "ws://127.0.0.1:8000/graphql": demo.api_url.replace("http", "ws", 1),
        "<the learner key>": demo.key,
        **replacements,
    }
    for old, new in replacements.items():
        assert code.count(old) == 1, f"the README's example no longer has {old!r} once"
        code = code.replace(old, new)
    return code


async def test_the_readme_browser_subscription_receives_a_heartbeat(
    demo: Demo, node: str, tmp_path: Path
) -> None:
    page = readme_block("html")
    script = re.search(r'<script type="module">\n(.*?)</script>', page, flags=re.S)
    assert script is not None
    cdn = re.search(r'"https://esm\.sh/graphql-ws@(\d+)"', script.group(1))
    assert cdn is not None
    pinned = json.loads(recipe("package.json"))["dependencies"]["graphql-ws"]
    assert pinned.split(".")[0] == cdn.group(1), "the README loads another major version than is tested"
    code = as_run_here(textwrap.dedent(script.group(1)), demo, {cdn.group(0): '"graphql-ws"'})
    cwd = workspace(tmp_path, {"page.mjs": code})

    command = (node, "--import", str(RECIPES / "browser-globals.mjs"), "page.mjs")
    async with started(*command, cwd=cwd, env=demo.env()) as process:
        update = json.loads(await next_line(process, heartbeats(demo, 2000)))

    assert update["progress"]["lesson"]["id"] == HEARTBEAT_LESSON
    assert update["progress"]["videoPositionSeconds"] >= 2000
    assert update["summary"]["totalLessons"] > 0


async def test_the_readme_bare_websocket_example_receives_a_course_completion(
    demo: Demo, node: str, tmp_path: Path
) -> None:
    course = await demo.send('{ course(slug: "intro-to-sql") { id lessons { id } } }', {})
    lessons = [lesson["id"] for lesson in course["data"]["course"]["lessons"]]
    assert as_run_here(readme_block("js"), demo, {}).count(course["data"]["course"]["id"]) == 1
    cwd = workspace(tmp_path, {"socket.mjs": as_run_here(readme_block("js"), demo, {})})

    async def complete_the_course(_: int) -> None:
        # Un-completing the last lesson makes the enrollment ACTIVE, completing all COMPLETED.
        await demo.send(SET_COMPLETION, {"input": {"lessonIds": lessons[-1:], "completed": False}})
        await demo.send(SET_COMPLETION, {"input": {"lessonIds": lessons, "completed": True}})

    command = (node, "--import", str(RECIPES / "browser-globals.mjs"), "socket.mjs")
    async with started(*command, cwd=cwd, env=demo.env()) as process:
        message = json.loads(await next_line(process, complete_the_course))

    assert message["type"] == "next", message
    assert message["id"] == "1"
    assert message["payload"]["data"]["courseCompleted"]["completedAt"]
