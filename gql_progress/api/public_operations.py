"""Which requests may run without an API key: queries that use only the public part of the schema.

Today that is `verifyCertificate`, which anyone holding a certificate's code (an employer, a
school) may call. The public part is a schema of its own (``PublicSchema``), built from the real
one's field definitions: a keyless document is validated against it, and any document that does
not validate there is refused with 401 before it meets the real schema. So a caller without a key
learns nothing about the rest of the schema — not from validation messages (unknown fields in
unused fragments, variable types, input fields), and not from which documents are refused,
since that answer depends only on the public part.
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLObjectType,
    GraphQLSchema,
    OperationType,
    specified_rules,
    validate,
)

from gql_progress.api.document_shape import selected_operation

PUBLIC_FIELDS = frozenset({"verifyCertificate", "__typename"})


def runs_public_operation(document: DocumentNode, operation_name: str | None) -> bool:
    """The operation of ``document`` that would run is a query whose top-level selections are
    all public fields (aliases allowed; fragments at the top level are not, to keep the check
    obviously right)."""
    operation = selected_operation(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return False
    selections = operation.selection_set.selections
    return all(isinstance(s, FieldNode) and s.name.value in PUBLIC_FIELDS for s in selections)


class PublicSchema:
    """The query fields a caller without a key may use, and only the types they reach."""

    def __init__(self, schema: GraphQLSchema) -> None:
        query = schema.query_type
        assert query is not None
        fields = {name: query.fields[name] for name in PUBLIC_FIELDS if name in query.fields}
        self.schema = GraphQLSchema(
            query=GraphQLObjectType(query.name, fields, description=query.description),
            directives=schema.directives,
        )

    def admits(self, document: DocumentNode, operation_name: str | None) -> bool:
        """The document is valid against the public schema alone and the operation that would run
        is a public query. (The request gate remembers the answer with its parse of the text.)"""
        if not runs_public_operation(document, operation_name):
            return False
        # One error is enough to refuse: nothing about it is told.
        return not validate(self.schema, document, specified_rules, max_errors=1, hide_suggestions=True)
