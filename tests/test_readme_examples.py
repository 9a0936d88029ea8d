"""The README's GraphQL examples, pasted as they are, return data against the demo data."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import graphql
import pytest

from gql_progress.demo import DemoKeys, seed_demo
from tests.apps import api_with
from tests.seeded_world import read_only_world_fixture
from tests.support import Api

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_examples() -> list[tuple[str, bool]]:
    """Each ```graphql block with whether the text just before it says to use the admin key."""
    text = README.read_text()
    examples = []
    for match in re.finditer(r"```graphql\n(.*?)```", text, flags=re.S):
        preceding = text[: match.start()].rsplit("\n\n", 2)[-2]
        examples.append((match.group(1), "admin" in preceding.lower()))
    return examples


def test_readme_has_examples_for_learners_and_admins() -> None:
    examples = readme_examples()
    assert len(examples) >= 6
    assert {as_admin for _, as_admin in examples} == {True, False}


def _mutation_errors(data: dict[str, Any]) -> list[Any]:
    # A mutation that returned one of the error types carries a `code` at its top level.
    return [value for value in data.values() if isinstance(value, dict) and "code" in value]


def _is_mutation(document: str) -> bool:
    [operation] = graphql.parse(document).definitions
    assert isinstance(operation, graphql.OperationDefinitionNode)
    return operation.operation is graphql.OperationType.MUTATION


QUERIES = [i for i, (document, _) in enumerate(readme_examples()) if not _is_mutation(document)]
MUTATIONS = [i for i, (document, _) in enumerate(readme_examples()) if _is_mutation(document)]


async def _seed(api: Api) -> DemoKeys:
    return await seed_demo(api.db)


# The demo data, loaded once per backend for the examples that only read it.
demo = read_only_world_fixture("demo", _seed)


async def _returns_data(api: Api, keys: DemoKeys, index: int) -> None:
    document, as_admin = readme_examples()[index]
    key = keys.admin.secret if as_admin else keys.learner.secret
    data = await api.data(document, key=key)
    assert data, data
    assert all(value is not None for value in data.values()), data
    assert not _mutation_errors(data), data


@pytest.mark.parametrize("index", QUERIES)
async def test_readme_query_example_returns_data(demo: tuple[Api, DemoKeys], index: int) -> None:
    api, keys = demo
    await _returns_data(api, keys, index)


@pytest.mark.parametrize("index", MUTATIONS)
async def test_readme_mutation_example_returns_data(database_url: str, index: int) -> None:
    # Each on demo data of its own: what one example writes is no other's business. The webhook
    # example's made-up host is allowed as the README says to allow it.
    async with api_with(database_url, webhooks_allowed_hosts="platform.example.com") as api:
        await _returns_data(api, await seed_demo(api.db), index)


# --- the README's curl commands, as a shell on a bare machine expands them ------------------------


def readme_curl_commands() -> list[str]:
    """Each ```sh block of the README that is one curl command to the API."""
    blocks = re.findall(r"```sh\n(curl .*?)```", README.read_text(), flags=re.S)
    return [block for block in blocks if "127.0.0.1:8000/graphql" in block]


def _expand(command: str, key: str, bin_dir: Path) -> list[str]:
    """curl's arguments after the shell's quoting, variables and command substitutions, in a
    shell whose PATH holds only python3 (no uuidgen, no curl): what the user's shell passes."""
    printed = subprocess.run(
        ["/bin/sh", "-c", "printf '%s\\0' " + command.removeprefix("curl ")],
        env={"PATH": str(bin_dir), "KEY": key},
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stderr == "", printed.stderr  # e.g. "uuidgen: not found"
    return printed.stdout.split("\0")[:-1]


def _request(argv: list[str]) -> tuple[dict[str, str], str]:
    """The headers and body of curl's -H and -d options."""
    headers: dict[str, str] = {}
    body = ""
    options = iter(argv)
    for argument in options:
        if argument == "-H":
            name, _, value = next(options).partition(":")
            if value.strip():  # curl drops a header whose value is empty
                headers[name.strip()] = value.strip()
        elif argument == "-d":
            body = next(options)
    return headers, body


@pytest.fixture
def bare_path(tmp_path: Path) -> Path:
    (tmp_path / "python3").symlink_to(sys.executable)
    return tmp_path


def test_readme_has_curl_examples_for_a_key_none_and_an_idempotency_key() -> None:
    commands = readme_curl_commands()
    assert any("verifyCertificate" in c for c in commands)
    assert any("Idempotency-Key" in c for c in commands)
    assert any("$KEY" in c for c in commands)


@pytest.mark.parametrize("index", range(len(readme_curl_commands())))
async def test_readme_curl_example_works_on_a_bare_machine(
    database_url: str, bare_path: Path, index: int
) -> None:
    command = readme_curl_commands()[index]
    async with api_with(database_url) as api:
        keys = await seed_demo(api.db)
        argv = await asyncio.to_thread(_expand, command, keys.learner.secret, bare_path)
        headers, body = _request(argv)
        first = await api.client.post("/graphql", content=body, headers=headers)
        again = await api.client.post("/graphql", content=body, headers=headers)

    assert first.status_code == 200, first.text
    data = first.json()["data"]
    assert data
    assert all(value is not None for value in data.values()), data
    assert not _mutation_errors(data), data
    if "Idempotency-Key" in command:
        # The key really was sent: the retry is the stored first answer, not a second run.
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.json() == first.json()
    if "verifyCertificate" in command:
        assert data["verifyCertificate"]["learnerName"] == "Lee Learner"
