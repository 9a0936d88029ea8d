"""The error policy for results streamed over WebSocket (subscriptions)."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult, StreamExecutionResult

from gql_progress.api.error_policy import shape_error


class ShapeStreamedErrors(SchemaExtension):
    """The error policy (error_policy.shape_error) for results sent over WebSocket.

    HTTP responses are shaped in the view's process_result; streamed results never pass there.
    """

    def __init__(self, *, hide_suggestions: bool = False) -> None:
        self.hide_suggestions = hide_suggestions

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        if isinstance(result, ExecutionResult) and result.errors:
            result.errors = [
                shape_error(_operation_type_refusal(error), hide_suggestions=self.hide_suggestions)
                for error in result.errors
            ]
        yield None


def _operation_type_refusal(error: GraphQLError) -> GraphQLError:
    # Queries and mutations go over HTTP (see ProgressSchema.stream): refusing one is the
    # client's mistake, not an internal error.
    if isinstance(error.original_error, InvalidOperationTypeError):
        return GraphQLError(
            "Only subscriptions run over WebSocket; send queries and mutations over HTTP",
            extensions={"code": "OPERATION_NOT_ALLOWED"},
        )
    return error
