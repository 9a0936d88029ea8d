"""Error members of a result union, rendered in SQL with the resolvers' own words.

A root whose outcome is decided in SQL (a twin of the domain's order of checks, such as
domain/bundle_progress.pair_outcome_sql) numbers its refusals. ``refusal_columns`` turns the
number into the columns the error types' declarations read (``error_type``, ``code``,
``message``): each value comes from the domain error the resolvers would raise, passed through
api/error_data.py's table, so a message is declared once, in the domain, for both paths.
"""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.types.base import get_object_definition

from gql_progress.api.compiled.sql import text_constant
from gql_progress.api.error_data import error_from
from gql_progress.api.types.errors import ForbiddenError, NotEnrolledError, NotFoundError
from gql_progress.domain.errors import DomainError

# The error types that carry only `code` and `message`, which a refusal's columns render whole;
# the others (ValidationError's `fields`, …) stay the resolvers'.
PLAIN_ERROR_TYPES = tuple(
    get_object_definition(cls, strict=True).name for cls in (ForbiddenError, NotEnrolledError, NotFoundError)
)


def refusal_columns(errors: Sequence[DomainError], number: str) -> str:
    """SELECT-list columns ``error_type``, ``code`` and ``message`` of refusal ``number`` (an SQL
    integer: the index into ``errors``, NULL when there is none, which makes them NULL)."""
    rendered = [error_from(error, ()) for error in errors]
    types = [get_object_definition(type(error), strict=True).name for error in rendered]
    unrendered = set(types) - set(PLAIN_ERROR_TYPES)
    assert not unrendered, f"not a plain error type: {unrendered}"
    columns = {
        "error_type": types,
        "code": [error.code for error in rendered],
        "message": [error.message for error in rendered],
    }
    return ", ".join(
        f"(ARRAY[{', '.join(text_constant(value) for value in values)}]::text[])[{number} + 1] AS {name}"
        for name, values in columns.items()
    )
