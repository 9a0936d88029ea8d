"""Which requests may run without an API key: queries that select only public fields.

Today that is `verifyCertificate`, which anyone holding a certificate's code (an employer, a
school) may call. Deciding on the document itself, before any GraphQL work, keeps every other
field behind the key without a check in each resolver.
"""

from __future__ import annotations

from functools import lru_cache

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse

PUBLIC_FIELDS = frozenset({"verifyCertificate", "__typename"})


@lru_cache(maxsize=64)
def is_public_document(query: str, operation_name: str | None) -> bool:
    """True when the operation to run is a query whose top-level selections are all public fields
    (aliases allowed; fragments at the top level are not, to keep the check obviously right)."""
    try:
        document = parse(query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return False
    selections = operations[0].selection_set.selections
    return all(isinstance(s, FieldNode) and s.name.value in PUBLIC_FIELDS for s in selections)
