"""The one place scopes are enforced: each operation needs the scope of its type.

A query or a subscription needs ``progress:read``, a mutation ``progress:write``; admin-only
fields need the ``admin`` scope besides (Viewer.is_admin, checked where they already check the
role). Checked once per operation, before any resolver runs, for HTTP and WebSocket alike; a
missing scope refuses the whole operation with ``FORBIDDEN`` (``data: null``), nothing runs.
Public documents (verifyCertificate) need no scope, as they need no key.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from gql_progress.api.public_operations import runs_public_operation
from gql_progress.domain.errors import Forbidden
from gql_progress.domain.scopes import scope_needed


class RequireScopes(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        needed = scope_needed(execution.operation_type.value)
        viewer = execution.context.viewer
        if needed not in viewer.scopes:
            document = execution.graphql_document
            if document is None or not runs_public_operation(document, execution.operation_name):
                raise Forbidden(f"This operation needs the {needed.value} scope, which the key lacks")
        yield None
