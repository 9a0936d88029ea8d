"""The README's GraphQL examples, pasted as they are, return data against the demo data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import graphql
import pytest

from gql_progress.domain.demo import DemoKeys, seed_demo
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
