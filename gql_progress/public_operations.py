"""Which requests may run without an API key: queries that select only public fields.

Today that is `verifyCertificate`, which anyone holding a certificate's code (an employer, a
school) may call. Deciding on the document itself, before any GraphQL work, keeps every other
field behind the key without a check in each resolver.
"""

from __future__ import annotations

from functools import lru_cache

import orjson
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.requests import Request
from starlette.types import Message, Receive

PUBLIC_FIELDS = frozenset({"verifyCertificate", "__typename"})
MAX_PUBLIC_BODY_BYTES = 16 * 1024


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


async def public_request(request: Request) -> tuple[bool, Receive]:
    """Whether ``request`` runs only public fields, and the ``receive`` to hand on (the body is
    read here, so it is replayed to whoever reads it next)."""
    if request.method == "GET":
        query = request.query_params.get("query")
        public = query is not None and is_public_document(query, request.query_params.get("operationName"))
        return public, request.receive
    body = await request.body()
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await request.receive()

    if len(body) > MAX_PUBLIC_BODY_BYTES:
        return False, replay
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False, replay
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return False, replay
    operation_name = payload.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        return False, replay
    return is_public_document(payload["query"], operation_name), replay
