"""What clients see of errors: a stable ``extensions.code`` on every error, nothing internal.

- Domain errors raised in query fields keep their message and get their ``code``.
- GraphQL's own errors (syntax, validation, variables) pass through with a code.
- Anything else is a bug: the client gets "Internal server error" with the request id, and the
  traceback goes to the log under the same id.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from gql_progress.domain.errors import DomainError, InvalidInput
from gql_progress.logs import request_id_var

logger = logging.getLogger("gql_progress.errors")

INTERNAL_ERROR_MESSAGE = "Internal server error"


def shape_error(error: GraphQLError) -> GraphQLError:
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
        return _with(error, error.message, {**(error.extensions or {}), "code": "GRAPHQL_VALIDATION_FAILED"})
    request_id = request_id_var.get()
    logger.error(
        "unexpected error in %s",
        ".".join(str(p) for p in error.path or ()) or "operation",
        exc_info=(type(original), original, original.__traceback__),
    )
    return _with(error, INTERNAL_ERROR_MESSAGE, {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id})


def _with(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )
