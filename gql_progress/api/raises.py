"""How a field's domain errors become members of its result union, in one place.

A mutation (or a query returning a result union, such as learnerProgress) names the domain
errors it may raise::

    @strawberry.mutation(description="…")
    @raises(InvalidInput, NotFound, Forbidden)
    async def enroll(self, info: Info, …) -> EnrollResult:
        …  # raise freely; return the success payload

Those errors are returned as their GraphQL error type (api/error_data.py). Any other exception
goes on to the error policy (api/error_policy.py): an undeclared domain error as a top-level error
with its code, anything else masked. ``check_declared_errors``, run by the schema factory, proves
that each declared error's type is a member of the union in the resolver's return annotation, so
a mismatch fails the build; before, it failed the request that hit it, as an internal error.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar
from weakref import WeakKeyDictionary

from strawberry.types.base import StrawberryOptional, get_object_definition
from strawberry.types.union import StrawberryUnion

from gql_progress.api.error_data import FieldPath, mapping_for
from gql_progress.api.types.errors import Error
from gql_progress.domain.errors import DomainError

P = ParamSpec("P")
R = TypeVar("R")

# What each decorated resolver declared, for the check at schema build.
_DECLARED: WeakKeyDictionary[object, tuple[type[DomainError], ...]] = WeakKeyDictionary()


class UndeclaredUnionMember(TypeError):
    """A mutation declares an error its result union cannot return (or returns errors as data
    without declaring any)."""


def raises(
    *errors: type[DomainError],
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Coroutine[Any, Any, R | Error]]]:
    def decorate(resolver: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R | Error]]:
        input_path = _input_path(resolver)

        # functools.wraps keeps the name, signature and return annotation Strawberry builds the
        # field from; the declared type says what the resolver really returns: R or an error.
        @functools.wraps(resolver)
        async def resolve(*args: P.args, **kwargs: P.kwargs) -> R | Error:
            try:
                return await resolver(*args, **kwargs)
            except errors as exc:
                return _error_data(exc, errors, input_path)

        _DECLARED[resolve] = errors
        return resolve

    return decorate


def _input_path(resolver: Callable[..., Any]) -> FieldPath:
    # Domain problems name fields from the argument they came in. A mutation that takes one
    # `input` object reports them under it; the others' arguments are named directly.
    return ("input",) if "input" in inspect.signature(resolver).parameters else ()


def _error_data(exc: DomainError, declared: tuple[type[DomainError], ...], input_path: FieldPath) -> Error:
    # The mapping of the declared class that caught it, the one the schema check vetted, even
    # when the error raised is a subclass with a mapping of its own.
    caught = next(cls for cls in declared if isinstance(exc, cls))
    mapping = mapping_for(caught)
    if mapping is None:  # only in a schema that skipped check_declared_errors
        raise exc
    error: Error = mapping.build(exc, input_path)
    return error


def check_declared_errors(root: type) -> None:
    """Raise UndeclaredUnionMember unless every field of ``root`` (Mutation, Query) that returns
    errors as data declares them with @raises, and each declared error's type is a member of its
    union."""
    problems: list[str] = []
    for field in get_object_definition(root, strict=True).fields:
        members = _members(field.type)
        resolver = field.base_resolver
        declared = None if resolver is None else _DECLARED.get(resolver.wrapped_func)
        if declared is None:
            error_members = sorted(m.__name__ for m in members if issubclass(m, Error))
            if error_members:
                problems.append(
                    f"{field.python_name} returns {', '.join(error_members)} but declares no errors: "
                    "decorate it with @raises(…)"
                )
            continue
        for error in declared:
            mapping = mapping_for(error)
            if mapping is None:
                problems.append(
                    f"{field.python_name} declares {error.__name__}, which has no GraphQL error type "
                    "(api/error_data.py)"
                )
            elif mapping.graphql not in members:
                problems.append(
                    f"{field.python_name} declares {error.__name__}, but its "
                    f"{mapping.graphql.__name__} is not a member of the union it returns"
                )
    if problems:
        raise UndeclaredUnionMember("; ".join(problems))


def _members(field_type: object) -> set[type]:
    """The object types a field can return: a union's members, or the one type."""
    if isinstance(field_type, StrawberryOptional):
        field_type = field_type.of_type
    candidates = field_type.types if isinstance(field_type, StrawberryUnion) else (field_type,)
    return {candidate for candidate in candidates if isinstance(candidate, type)}
