"""The README's GraphQL examples, pasted as they are, return data against the demo data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gql_progress.domain.demo import seed_demo
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


@pytest.mark.parametrize("index", range(len(readme_examples())))
async def test_readme_example_returns_data(api: Api, index: int) -> None:
    keys = await seed_demo(api.db)
    document, as_admin = readme_examples()[index]
    key = keys.admin.secret if as_admin else keys.learner.secret
    data = await api.data(document, key=key)
    assert data, data
    assert all(value is not None for value in data.values()), data
    assert not _mutation_errors(data), data
