"""What a request must look like before anything runs for it (no key lookup, no SQL).

- POST bodies are JSON (``application/json``): a browser form cannot send that without a
  CORS preflight, which closes cross-site request forgery by simple forms;
- bodies are capped in size, checked on the declared length and again while reading;
- one operation per request: JSON-array batches are refused;
- mutations are not run over GET (GET must stay safe to repeat and to prefetch);
- the document's tokens, depth, aliases and estimated cost are capped (see api/query_cost.py),
  measured with the request's variables.

Refusals are JSON with a stable ``extensions.code``; the document limits answer like GraphQL's
own validation (HTTP 200, ``data: null``), the request-shape ones with their HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive

from gql_progress.api.query_cost import measure
from gql_progress.settings import Settings


@dataclass(frozen=True)
class Admitted:
    """A request that may go on: what it asks, and the ``receive`` that replays its body."""

    query: str | None
    operation_name: str | None
    receive: Receive
    # What the rate limit prices (rate_limits.py): the type of the operation that would run
    # (None when the document names no single one) and how many distinct top-level fields it
    # selects, fragments followed, so ten aliased mutations are ten.
    operation_type: OperationType | None = None
    root_fields: int = 0


@dataclass(frozen=True)
class DocumentRefusal:
    """Why a document is refused: a stable code and a message for the client."""

    code: str
    message: str


def refusal(status: int, code: str, message: str) -> Response:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status)


class RequestGate:
    def __init__(self, schema: GraphQLSchema, settings: Settings) -> None:
        self.schema = schema
        self.settings = settings
        self._parse = lru_cache(maxsize=256)(self._parse_uncached)

    async def admit(self, request: Request) -> Admitted | Response:
        if request.method == "GET":
            query = request.query_params.get("query")
            operation_name = request.query_params.get("operationName")
            variables: Any = None
            raw_variables = request.query_params.get("variables")
            if raw_variables:
                try:
                    variables = orjson.loads(raw_variables)
                except orjson.JSONDecodeError:
                    variables = None  # the view reports it
            receive = request.receive
        elif request.method == "POST":
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type != "application/json":
                return refusal(
                    415, "UNSUPPORTED_MEDIA_TYPE", "Send the request as Content-Type: application/json"
                )
            body = await self._read_body(request)
            if body is None:
                return refusal(
                    413, "PAYLOAD_TOO_LARGE", f"The request body exceeds {self.settings.max_body_bytes} bytes"
                )
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                return refusal(400, "BAD_REQUEST", "The request body is not valid JSON")
            if isinstance(payload, list):
                return refusal(
                    400, "BATCHING_NOT_SUPPORTED", "Send one operation per request, not a JSON array"
                )
            if not isinstance(payload, dict):
                return refusal(400, "BAD_REQUEST", "The request body must be a JSON object")
            query = payload.get("query") if isinstance(payload.get("query"), str) else None
            name = payload.get("operationName")
            operation_name = name if isinstance(name, str) else None
            variables = payload.get("variables")
            receive = replay_body(body, request.receive)
        else:
            return refusal(405, "METHOD_NOT_ALLOWED", "Use GET for queries or POST")
        if query is None:
            return Admitted(query=query, operation_name=operation_name, receive=receive)
        refused = self._check_document(request.method, query, operation_name, variables)
        if refused is not None:
            return refused
        operation_type, root_fields = self._shape(query, operation_name)
        return Admitted(
            query=query,
            operation_name=operation_name,
            receive=receive,
            operation_type=operation_type,
            root_fields=root_fields,
        )

    async def _read_body(self, request: Request) -> bytes | None:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return None
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _parse_uncached(self, query: str) -> DocumentNode | GraphQLError:
        try:
            return parse(query, max_tokens=self.settings.max_query_tokens)
        except GraphQLError as error:
            return error

    def _check_document(
        self, method: str, query: str, operation_name: str | None, variables: Any
    ) -> Response | None:
        operation = self.operation(query, operation_name)
        if method == "GET" and operation is not None and operation.operation is not OperationType.QUERY:
            return refusal(405, "METHOD_NOT_ALLOWED", "Mutations must be sent with POST")
        refused = self.check_document(query, operation_name, variables)
        return None if refused is None else refusal(200, refused.code, refused.message)

    def operation(self, query: str, operation_name: str | None) -> OperationDefinitionNode | None:
        """The operation of ``query`` that would run; None for a syntax error or no single one."""
        document = self._parse(query)
        return None if isinstance(document, GraphQLError) else _operation(document, operation_name)

    def check_document(
        self, query: str, operation_name: str | None, variables: Any
    ) -> DocumentRefusal | None:
        """The document limits (tokens, depth, aliases, cost), for HTTP requests and WebSocket
        subscribe messages alike (api/socket_guard.py)."""
        document = self._parse(query)
        if isinstance(document, GraphQLError):
            if "tokens" in document.message:
                return DocumentRefusal(
                    "QUERY_TOO_LARGE", f"The document exceeds {self.settings.max_query_tokens} tokens"
                )
            return None  # a syntax error: GraphQL reports it with its location
        cost = measure(
            self.schema,
            document,
            operation_name,
            variables if isinstance(variables, dict) else None,
            self.settings.default_page_size,
        )
        if cost is None:
            return None
        settings = self.settings
        if cost.depth > settings.max_query_depth:
            return DocumentRefusal(
                "QUERY_TOO_DEEP",
                f"The query nests {cost.depth} levels; at most {settings.max_query_depth}",
            )
        if cost.aliases > settings.max_query_aliases:
            return DocumentRefusal(
                "TOO_MANY_ALIASES",
                f"The query uses {cost.aliases} aliases; at most {settings.max_query_aliases}",
            )
        if cost.cost > settings.max_query_cost:
            return DocumentRefusal(
                "QUERY_TOO_COSTLY",
                f"The query's estimated cost is {cost.cost}; at most {settings.max_query_cost} "
                "(lists count their page size: ask for smaller pages or fewer nested lists)",
            )
        return None

    def _shape(self, query: str, operation_name: str | None) -> tuple[OperationType | None, int]:
        document = self._parse(query)  # cached: the check above parsed it
        if isinstance(document, GraphQLError):
            return None, 0
        operation = _operation(document, operation_name)
        if operation is None:
            return None, 0
        return operation.operation, _count_root_fields(document, operation)


def _count_root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> int:
    """Distinct response keys at the top level: fields that share one are merged and run once,
    and a fragment must not hide mutations from the count. Meta fields (__typename) run nothing."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    keys: set[str] = set()

    def collect(selection_set: SelectionSetNode, seen: frozenset[str]) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if not selection.name.value.startswith("__"):
                    keys.add((selection.alias or selection.name).value)
            elif isinstance(selection, InlineFragmentNode):
                collect(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                # A cycle is GraphQL's validation error to report; here it just stops.
                if name in fragments and name not in seen:
                    collect(fragments[name].selection_set, seen | {name})

    collect(operation.selection_set, frozenset())
    return len(keys)


def _operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    return operations[0] if len(operations) == 1 else None


def replay_body(body: bytes, then: Receive) -> Receive:
    """A ``receive`` that hands the already-read body to the next reader, once, then ``then``."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then()

    return receive
