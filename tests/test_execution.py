"""Plain leaf fields answered directly (api/execution.py) answer exactly as graphql-core would:
same data, same errors with the same paths, for good values and bad ones."""

from __future__ import annotations

import enum
import inspect
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from graphql.execution import Executor
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema_directive import Location

from gql_progress.api import execution
from gql_progress.api.execution import (
    EXECUTE_FIELD_PARAMETERS,
    PlainLeafExecutionContext,
    answer_plain_leaves_directly,
    execute_field_is_as_expected,
    plain_leaves,
)
from gql_progress.api.schema import build_graphql_schema


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Item:
    name: str
    count: int
    ratio: float | None
    colour: Colour
    seen_at: datetime | None
    tags: list[str]

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.name.upper() * times


def _items() -> list[Item]:
    good = Item(
        name="a", count=1, ratio=0.5, colour=Colour.RED, seen_at=datetime(2026, 1, 2, tzinfo=UTC), tags=["x"]
    )
    # What only a bug could produce, each in a field of its own kind: the errors must not change.
    null_in_non_null = Item(name=None, count=2, ratio=None, colour=Colour.BLUE, seen_at=None, tags=[])  # type: ignore[arg-type]
    not_an_int = Item(name="c", count="many", ratio=None, colour=Colour.RED, seen_at=None, tags=[])  # type: ignore[arg-type]
    int_too_big = Item(name="d", count=2**40, ratio=None, colour=Colour.RED, seen_at=None, tags=[])
    not_a_colour = Item(name="e", count=3, ratio=None, colour="green", seen_at=None, tags=[])  # type: ignore[arg-type]
    return [good, null_in_non_null, not_an_int, int_too_big, not_a_colour]


class MissingAttribute:
    """Has none of Item's attributes: every field read raises."""


@strawberry.type
class Query:
    @strawberry.field
    def item(self, n: int) -> Item | None:
        return _items()[n]

    @strawberry.field
    def broken(self) -> Item | None:
        return MissingAttribute()  # type: ignore[return-value]


FIELDS = "{ name count ratio colour seenAt tags shout(times: 2) }"
# Each item in a nullable field of its own: one item's error must not hide the others'.
DOCUMENT = "{ " + " ".join(f"i{n}: item(n: {n}) {FIELDS}" for n in range(5)) + " broken { name } }"


class Upper(SchemaExtension):
    """Wraps every resolver: with it, nothing may skip the resolver chain."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        result = _next(root, info, *args, **kwargs)
        return result.upper() if isinstance(result, str) else result


def _result(direct: bool, extensions: list[Any] | None = None) -> dict[str, Any]:
    schema = strawberry.Schema(query=Query, extensions=extensions or [])
    if direct:
        answer_plain_leaves_directly(schema)
    result = schema.execute_sync(DOCUMENT)
    errors = sorted(
        ({"message": e.message, "path": e.path, "locations": e.locations} for e in result.errors or []),
        key=lambda e: str(e["path"]),
    )
    return {"data": result.data, "errors": errors}


def test_plain_leaves_answer_with_the_same_data_and_errors_as_graphql_core() -> None:
    direct, standard = _result(direct=True), _result(direct=False)
    assert direct == standard
    # The document really reached each kind of failure (and the good item came through whole).
    paths = [e["path"] for e in standard["errors"]]
    assert paths == [["broken", "name"], ["i1", "name"], ["i2", "count"], ["i3", "count"], ["i4", "colour"]]
    assert standard["data"] is not None
    assert standard["data"]["i0"]["name"] == "a"
    assert [standard["data"][f"i{n}"] for n in range(1, 5)] == [None] * 4


def test_a_good_item_is_answered_with_every_field_serialized() -> None:
    @strawberry.type
    class OneQuery:
        @strawberry.field
        def item(self) -> Item:
            return _items()[0]

    schema = strawberry.Schema(query=OneQuery)
    answer_plain_leaves_directly(schema)
    result = schema.execute_sync("{ item { name count ratio colour seenAt tags shout } }")
    assert result.errors is None
    assert result.data == {
        "item": {
            "name": "a",
            "count": 1,
            "ratio": 0.5,
            "colour": "RED",
            "seenAt": "2026-01-02T00:00:00+00:00",
            "tags": ["x"],
            "shout": "A",
        }
    }


def test_a_schema_extension_that_wraps_resolvers_still_sees_every_field() -> None:
    direct = _result(direct=True, extensions=[Upper])
    assert direct == _result(direct=False, extensions=[Upper])


def test_only_fields_without_resolver_or_arguments_and_of_leaf_type_are_plain_leaves() -> None:
    schema = strawberry.Schema(query=Query)
    leaves = plain_leaves(schema._schema)
    assert {name for type_name, name in leaves if type_name == "Item"} == {
        "name",
        "count",
        "ratio",
        "colour",
        "seenAt",
    }
    assert not any(type_name == "Query" for type_name, _ in leaves)


@pytest.mark.parametrize("production", [False, True])
def test_the_api_schema_executes_with_its_plain_leaves_answered_directly(production: bool) -> None:
    schema = build_graphql_schema(production=production)
    assert issubclass(schema.execution_context_class, PlainLeafExecutionContext)
    leaves: Any = getattr(schema.execution_context_class, "plain_leaves")  # noqa: B009  # mypy: a union
    assert ("Lesson", "title") in leaves
    assert ("Progress", "completedAt") in leaves
    assert ("Lesson", "progress") not in leaves  # a resolver with an argument


class Never(BasePermission):
    message = "Not allowed"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


class Shout(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        return next_(source, info, **kwargs).upper()


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION])
class Internal:
    reason: str


@strawberry.type
class Guarded:
    name: str
    secret: str | None = strawberry.field(permission_classes=[Never])
    loud: str = strawberry.field(extensions=[Shout()])
    marked: str = strawberry.field(directives=[Internal(reason="x")])


@strawberry.type
class GuardedQuery:
    @strawberry.field
    def guarded(self) -> Guarded:
        return Guarded(name="n", secret="hunter2", loud="quiet", marked="m")


def test_a_permission_guarded_field_is_denied_not_answered_directly() -> None:
    schema = strawberry.Schema(query=GuardedQuery)
    answer_plain_leaves_directly(schema)
    result = schema.execute_sync("{ guarded { name secret loud marked } }")
    assert result.data == {"guarded": {"name": "n", "secret": None, "loud": "QUIET", "marked": "m"}}
    assert [(e.message, e.path) for e in result.errors or []] == [("Not allowed", ["guarded", "secret"])]
    # The fast path is on for this type: only the fields that declare something are left out.
    assert {name for type_name, name in plain_leaves(schema._schema) if type_name == "Guarded"} == {"name"}


def test_graphql_cores_execute_field_takes_the_parameters_the_override_passes() -> None:
    # The fast path overrides a method graphql-core documents as private: an upgrade that changes
    # it must fail here, not in production (where the schema would fall back with a warning).
    assert tuple(inspect.signature(Executor.execute_field).parameters) == EXECUTE_FIELD_PARAMETERS
    assert StrawberryGraphQLCoreExecutionContext.execute_field is Executor.execute_field
    override = tuple(inspect.signature(PlainLeafExecutionContext.execute_field).parameters)
    assert override == EXECUTE_FIELD_PARAMETERS
    assert execute_field_is_as_expected()
    # An execution context that overrides execute_field itself is not graphql-core's.
    assert not execute_field_is_as_expected(PlainLeafExecutionContext)


def test_with_an_unexpected_execute_field_the_schema_keeps_the_full_path_and_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # graphql-core 3.2's parameters: its execute_field would be called with one argument too many.
    monkeypatch.setattr(
        execution, "EXECUTE_FIELD_PARAMETERS", ("self", "parent_type", "source", "field_nodes", "path")
    )
    schema = strawberry.Schema(query=Query)
    with caplog.at_level(logging.WARNING, logger="gql_progress.execution"):
        answer_plain_leaves_directly(schema)
    assert schema.execution_context_class is StrawberryGraphQLCoreExecutionContext
    assert "full, slower path" in caplog.text
    assert schema.execute_sync("{ item(n: 0) { name count } }").data == {"item": {"name": "a", "count": 1}}
