"""What clients see of errors: a stable ``extensions.code`` on every error, nothing internal.

- Domain errors raised in query fields keep their message and get their ``code``.
- GraphQL's own errors (syntax, validation, variables) pass through with a code: VALIDATION_FAILED
  for a one-of input without exactly one field, GRAPHQL_VALIDATION_FAILED for the rest.
- The database being busy or out of reach (gql_progress.db.faults) is no bug: SERVICE_BUSY or
  SERVICE_UNAVAILABLE with a generic message and the request id, one line in the log; a request
  that failed as a whole that way is answered with HTTP 503 and Retry-After (is_unavailable).
- Anything else is a bug: the client gets "Internal server error" with the request id, and the
  traceback goes to the log under the same id.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError
from strawberry.exceptions import StrawberryInputCoercionError

from gql_progress.db.faults import FAULT_CODES, database_fault, describe
from gql_progress.domain.errors import DomainError, InvalidInput
from gql_progress.logs import request_id_var

logger = logging.getLogger("gql_progress.errors")

INTERNAL_ERROR_MESSAGE = "Internal server error"
# graphql-core's "Did you mean 'email'?" hints: in production they would spell out the schema.
_SUGGESTION = re.compile(r" Did you mean .*?\?$")


def _is_one_of_violation(error: GraphQLError) -> bool:
    # Strawberry's one-of rule raises its own error class; graphql-core's variable coercion says
    # "OneOf Input Object", or "member field" when the one field given is null.
    return isinstance(error, StrawberryInputCoercionError) or any(
        marker in error.message for marker in ("OneOf Input Object", "member field")
    )


def shape_error(error: GraphQLError, *, hide_suggestions: bool = False) -> GraphQLError:
    original = error.original_error
    # graphql-core wraps resolver exceptions; a GraphQLError we raised ourselves is kept as is.
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if isinstance(original, DomainError):
        extensions: dict[str, Any] = {"code": original.code}
        if isinstance(original, InvalidInput):
            extensions["fields"] = [{"path": list(p.path), "message": p.message} for p in original.problems]
        return _with(error, original.message, extensions)
    if original is None or isinstance(original, GraphQLError):
        if error.extensions and "code" in error.extensions:
            return error
        # A one-of input (BundleRefInput, UserRefInput…) with zero or several fields is bad input
        # like any other, wherever GraphQL caught it (in the document or in the variables).
        code = "VALIDATION_FAILED" if _is_one_of_violation(error) else "GRAPHQL_VALIDATION_FAILED"
        message = _SUGGESTION.sub("", error.message) if hide_suggestions else error.message
        return _with(error, message, {**(error.extensions or {}), "code": code})
    request_id = request_id_var.get()
    fault = database_fault(original)
    if fault is not None:
        where = ".".join(str(p) for p in error.path or ()) or "operation"
        logger.warning("%s in %s: %s", fault.code, where, describe(original))
        return _with(error, fault.message, {"code": fault.code, "requestId": request_id})
    logger.error(
        "unexpected error in %s",
        ".".join(str(p) for p in error.path or ()) or "operation",
        exc_info=(type(original), original, original.__traceback__),
    )
    return _with(error, INTERNAL_ERROR_MESSAGE, {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id})


def is_unavailable(response: Mapping[str, Any]) -> bool:
    """Whether a shaped response failed as a whole for a database fault: no field has data and
    every error is SERVICE_BUSY or SERVICE_UNAVAILABLE. HTTP 503 tells clients and proxies to
    retry; a response with some data stays 200 with its errors."""
    errors = response.get("errors")
    data = response.get("data")
    if not errors or (data is not None and any(value is not None for value in data.values())):
        return False
    return all((error.get("extensions") or {}).get("code") in FAULT_CODES for error in errors)


def _with(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )
