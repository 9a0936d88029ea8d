"""@raises: a mutation's declared domain errors come back as its union's error types, and a
declaration its union cannot honour fails the schema build (api/raises.py)."""

from __future__ import annotations

from typing import Annotated

import pytest
import strawberry
from strawberry.types import ExecutionResult

import gql_progress.api.schema as schema_module
from gql_progress.api.raises import UndeclaredUnionMember, raises
from gql_progress.api.schema import build_graphql_schema
from gql_progress.api.types.errors import NotFoundError, ValidationError
from gql_progress.domain.completion.bulk import MalformedId
from gql_progress.domain.errors import Conflict, FieldProblem, Forbidden, InvalidInput, NotFound


@strawberry.type(description="Done.")
class Done:
    ok: bool = strawberry.field(description="Always true.")


DoneResult = Annotated[
    Done | ValidationError | NotFoundError,
    strawberry.union("DoneResult", description="Done, or why not."),
]


@strawberry.input(description="What to do.")
class DoInput:
    lesson_id: str = strawberry.field(description="A lesson.")


def _raise(error: str) -> None:
    if error == "invalid":
        raise InvalidInput([FieldProblem(("lesson_id",), "is not a lesson id")])
    if error == "not_found":
        raise NotFound("lesson", 7)
    if error == "forbidden":
        raise Forbidden()


@strawberry.type(description="Mutations that declare what they raise.")
class Declared:
    @strawberry.mutation(description="Takes an input object.")
    @raises(InvalidInput, NotFound)
    async def with_input(self, input: DoInput, error: str) -> DoneResult:
        _raise(error)
        return Done(ok=True)

    @strawberry.mutation(description="Takes plain arguments.")
    @raises(InvalidInput, NotFound)
    async def without_input(self, lesson_id: str, error: str) -> DoneResult:
        _raise(error)
        return Done(ok=True)


@strawberry.type(description="Reads.")
class Query:
    ok: bool = strawberry.field(default=True, description="Always true.")


DECLARED = strawberry.Schema(query=Query, mutation=Declared)
SELECTION = (
    "__typename ... on Done { ok } ... on Error { code message } ... on ValidationError { fields { path } }"
)


async def run(field: str, arguments: str, error: str) -> ExecutionResult:
    return await DECLARED.execute(f'mutation {{ {field}({arguments}, error: "{error}") {{ {SELECTION} }} }}')


async def test_a_declared_error_becomes_its_union_member() -> None:
    result = await run("withInput", 'input: {lessonId: "x"}', "not_found")

    assert result.errors is None
    assert result.data == {
        "withInput": {"__typename": "NotFoundError", "code": "NOT_FOUND", "message": "Lesson 7 was not found"}
    }


@pytest.mark.parametrize(
    ("field", "arguments", "path"),
    [
        ("withInput", 'input: {lessonId: "x"}', ["input", "lessonId"]),
        ("withoutInput", 'lessonId: "x"', ["lessonId"]),
    ],
)
async def test_field_paths_start_at_the_input_argument_when_there_is_one(
    field: str, arguments: str, path: list[str]
) -> None:
    result = await run(field, arguments, "invalid")

    assert result.data is not None
    assert result.data[field]["__typename"] == "ValidationError"
    assert result.data[field]["fields"] == [{"path": path}]


async def test_an_undeclared_domain_error_goes_on_to_the_error_policy() -> None:
    result = await run("withInput", 'input: {lessonId: "x"}', "forbidden")

    assert result.data is None
    assert result.errors is not None
    assert isinstance(result.errors[0].original_error, Forbidden)


async def test_success_is_returned_as_is() -> None:
    result = await run("withoutInput", 'lessonId: "x"', "none")

    assert result.data == {"withoutInput": {"__typename": "Done", "ok": True}}


# --- the check at schema build ----------------------------------------------------------------------


@strawberry.type(description="Declares an error its union lacks.")
class DeclaresAMissingMember:
    @strawberry.mutation(description="Conflict is not in DoneResult.")
    @raises(NotFound, Conflict)
    async def clash(self) -> DoneResult:
        return Done(ok=True)


@strawberry.type(description="Declares an error that has no GraphQL type.")
class DeclaresAnUnmappedError:
    @strawberry.mutation(description="MalformedId is reported per item, never as a union member.")
    @raises(MalformedId)
    async def per_item(self) -> DoneResult:
        return Done(ok=True)


@strawberry.type(description="Returns errors as data but declares none.")
class DeclaresNothing:
    @strawberry.mutation(description="Its ValidationError and NotFoundError could never be returned.")
    async def silent(self) -> DoneResult:
        return Done(ok=True)


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (DeclaresAMissingMember, "clash declares Conflict, but its ConflictError is not a member"),
        (DeclaresAnUnmappedError, "per_item declares MalformedId, which has no GraphQL error type"),
        (DeclaresNothing, "silent returns NotFoundError, ValidationError but declares no errors"),
    ],
)
def test_the_schema_build_fails_for_a_mutation_whose_union_cannot_hold_its_errors(
    monkeypatch: pytest.MonkeyPatch, mutation: type, message: str
) -> None:
    monkeypatch.setattr(schema_module, "Mutation", mutation)

    with pytest.raises(UndeclaredUnionMember, match=message):
        build_graphql_schema()


def test_the_schema_builds_with_a_correct_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_module, "Mutation", Declared)

    assert build_graphql_schema().get_type_by_name("Declared") is not None
