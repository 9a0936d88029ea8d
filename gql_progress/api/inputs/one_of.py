"""Reading a one-of input: the one field given, turned into the domain's ref.

GraphQL enforces one-of for literals and variables alike; this is the second line, so a ref that
somehow arrives with zero or two fields is a ValidationError, not a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from strawberry import UNSET

from gql_progress.domain.errors import FieldProblem, InvalidInput, ProblemList
from gql_progress.domain.ids import decode_into

RefT = TypeVar("RefT")
# A field's value as sent, and how it becomes the ref (None: refused, the problem noted).
Choice = tuple[str | None, Callable[[str], RefT | None]]


def one_of(problems: ProblemList, path: tuple[str, ...], choices: dict[str, Choice[RefT]]) -> RefT | None:
    """The ref from the one field of ``choices`` (by GraphQL name, in the input's order) that was
    given; None, with the problem noted, when none or several were, or the one given was refused."""
    given = [name for name, (value, _) in choices.items() if value is not UNSET and value is not None]
    if len(given) != 1:
        problems.add(path, f"give exactly one of {', '.join(choices)}")
        return None
    value, build = choices[given[0]]
    assert value is not None
    return build(value)


def global_id(
    problems: ProblemList, path: tuple[str, ...], type_name: str, build: Callable[[int], RefT]
) -> Callable[[str], RefT | None]:
    """A choice's builder for a global id of ``type_name`` (a malformed one noted at ``path``)."""

    def read(value: str) -> RefT | None:
        pk = decode_into(problems, value, type_name, path)
        return None if pk is None else build(pk)

    return read


def require_one_argument(arguments: dict[str, object | None]) -> None:
    """For a field taking exactly one of ``arguments`` (by GraphQL name): unless exactly one was
    sent, InvalidInput naming each of them."""
    if sum(value is not None for value in arguments.values()) != 1:
        message = f"give exactly one of {', '.join(arguments)}"
        raise InvalidInput([FieldProblem((name,), message) for name in arguments])
