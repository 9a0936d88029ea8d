"""Domain errors as GraphQL error data: the one table from each domain error to its error type.

Mutations reach it through ``api/raises.py``, which also proves at schema build that
each error a mutation declares has its type in the mutation's union. Field paths in the domain
are relative to the argument they came in (``("notes",)``); the API reports them from the
argument down, in its own names (``["input", "notes"]``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry

from gql_progress.api.types.errors import (
    ConflictError,
    Error,
    FieldError,
    ForbiddenError,
    NotEnrolledError,
    NotFoundError,
    SequenceError,
    ValidationError,
)
from gql_progress.domain.completion.sequence import OutOfSequence
from gql_progress.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotEnrolled, NotFound
from gql_progress.domain.ids import encode_id

FieldPath = tuple[str, ...]
D = TypeVar("D", bound=DomainError)
G = TypeVar("G", bound=Error)


@dataclass(frozen=True, slots=True)
class ErrorMapping(Generic[D, G]):
    """Domain errors of class ``domain`` (and its subclasses) become ``graphql`` through ``build``."""

    domain: type[D]
    graphql: type[G]
    build: Callable[[D, FieldPath], G]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _api_path(input_path: FieldPath, domain_path: FieldPath) -> list[str]:
    return [*input_path, *(camel(part) for part in domain_path)]


def validation_error(exc: InvalidInput, input_path: FieldPath) -> ValidationError:
    fields = [FieldError(path=_api_path(input_path, p.path), message=p.message) for p in exc.problems]
    return ValidationError(code=exc.code, message=exc.message, fields=fields)


def _conflict(exc: Conflict, input_path: FieldPath) -> ConflictError:
    return ConflictError(code=exc.code, message=exc.message, path=_api_path(input_path, exc.path))


def _sequence(exc: OutOfSequence, input_path: FieldPath) -> SequenceError:
    missing = strawberry.ID(encode_id("Lesson", exc.missing_lesson_id))
    return SequenceError(code=exc.code, message=exc.message, missing_lesson_id=missing)


def _plain(graphql: type[G]) -> Callable[[DomainError, FieldPath], G]:
    """For errors that carry only their code and message."""
    return lambda exc, _: graphql(code=exc.code, message=exc.message)


ERROR_MAPPINGS: tuple[ErrorMapping[Any, Any], ...] = (
    ErrorMapping(InvalidInput, ValidationError, validation_error),
    ErrorMapping(NotFound, NotFoundError, _plain(NotFoundError)),
    ErrorMapping(Forbidden, ForbiddenError, _plain(ForbiddenError)),
    ErrorMapping(NotEnrolled, NotEnrolledError, _plain(NotEnrolledError)),
    ErrorMapping(OutOfSequence, SequenceError, _sequence),
    ErrorMapping(Conflict, ConflictError, _conflict),
)
_BY_DOMAIN = {mapping.domain: mapping for mapping in ERROR_MAPPINGS}


def mapping_for(error: type[DomainError]) -> ErrorMapping[Any, Any] | None:
    """The mapping of ``error`` or of its nearest mapped base class; None when it has none
    (e.g. the per-item errors of a bulk write, which are reported as ItemError instead)."""
    for cls in error.__mro__:
        mapping = _BY_DOMAIN.get(cls)
        if mapping is not None:
            return mapping
    return None


def error_from(exc: DomainError, input_path: FieldPath = ("input",)) -> Error:
    """The GraphQL error for a domain failure; one without a mapping is raised again, for the
    error policy to report. Mutations do not call this: they declare what they raise (raises.py)."""
    mapping = mapping_for(type(exc))
    if mapping is None:
        raise exc
    error: Error = mapping.build(exc, input_path)
    return error
