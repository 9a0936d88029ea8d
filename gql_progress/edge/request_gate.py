"""What a request must look like before anything runs for it (no key lookup, no SQL).

- POST bodies are JSON (``application/json``): a browser form cannot send that without a
  CORS preflight, which closes cross-site request forgery by simple forms;
- bodies are capped in size, checked on the declared length and again while reading;
- one operation per request: JSON-array batches are refused;
- mutations are not run over GET (GET must stay safe to repeat and to prefetch);
- the document's tokens and nesting are capped and fragment cycles refused (api/document_shape.py),
  with work linear in its size and no recursion, before anything recursive (validation,
  execution, the cost walk) sees it;
- a request without a key goes on only with a document valid against the public part of the
  schema (public_operations.py); anything else is 401 before any message about the schema;
- once the caller is known, its depth, aliases and estimated cost are capped (api/query_cost.py),
  measured with the request's variables.

The request's parameters are checked here too (GraphQL over HTTP): ``query`` a string,
``variables`` and ``extensions`` objects, ``operationName`` a string naming an operation of the
document (not quoted back). A document named by its hash (persisted_documents.py) is looked up
first, and the request rewritten to carry its text: everything after sees the text.

Refusals are JSON with a stable ``extensions.code``; the document limits answer like GraphQL's
own validation (HTTP 200, ``data: null``; 400 when application/graphql-response+json is asked
for, see media_types.py), the request-shape ones with their HTTP status (405 with ``Allow``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlencode

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
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive

from gql_progress.api.document_shape import measure_shape, selected_operation
from gql_progress.api.public_operations import PublicSchema
from gql_progress.api.query_cost import DocumentCost, TooMuchWork, measure
from gql_progress.edge.media_types import wants_graphql_response
from gql_progress.edge.persisted_documents import PersistedDocuments, PersistedRefusal
from gql_progress.formats.trusted_documents import load_manifest
from gql_progress.settings import Settings

# The cost walk may visit each selection of a document a few times (once per page size a
# fragment is spread under); past this many times its size, the document was built to be slow.
WORK_PER_NODE = 16
# Selections and argument values a keyless document may have (public_operations.py).
MAX_PUBLIC_DOCUMENT_SIZE = 200


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
    # The request's variables, for the cost limits checked once the caller is known.
    variables: Any = None
    # A GET whose document was named by its hash: the query string carrying its text instead.
    query_string: bytes | None = None
    # The operation's name as access records show it: operationName, or the name of the
    # document's only operation (most clients send a named document without operationName).
    logged_name: str | None = None


@dataclass(frozen=True)
class DocumentRefusal:
    """Why a document is refused: a stable code and a message for the client."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class OperationShape:
    """What every request of one (document, operationName) needs of its operation, found once."""

    found: bool  # the document has the operation to run
    operation: OperationDefinitionNode | None  # that operation, when there is a single one
    root_fields: int
    logged_name: str | None


@dataclass
class _Parsed:
    """One document text, parsed and measured once (cached by its text): the document, or a
    syntax error for GraphQL to report, or a refusal; and which operations of it a caller
    without a key may run."""

    document: DocumentNode | GraphQLError
    refusal: DocumentRefusal | None = None
    size: int = 0  # selections and argument values, fragments counted once
    public: dict[str | None, bool] = field(default_factory=dict)
    # Costs that read no variable, by operation name: the same for every request (query_cost.py).
    costs: dict[str | None, DocumentCost] = field(default_factory=dict)
    # By operationName, for names the document has (a client's other names are not kept).
    shapes: dict[str | None, OperationShape] = field(default_factory=dict)


class Refusal(JSONResponse):
    """A request refused before GraphQL ran; its code is also the access record's."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None) -> None:
        body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
        super().__init__(body, status_code=status, headers=headers)
        self.code = code


def refusal(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Refusal:
    return Refusal(status, code, message, headers)


def limit_refusal(refused: DocumentRefusal, request: Request) -> Response:
    """A document over a limit answers like GraphQL's own validation: HTTP 200 under
    application/json, 400 under application/graphql-response+json (media_types.py)."""
    status = 400 if wants_graphql_response(request.headers.get("accept")) else 200
    return refusal(status, refused.code, refused.message)


class RequestGate:
    def __init__(self, schema: GraphQLSchema, settings: Settings) -> None:
        self.schema = schema
        self.settings = settings
        self.public_schema = PublicSchema(schema)
        self._inspect = lru_cache(maxsize=256)(self._inspect_uncached)
        manifest = settings.trusted_documents_file
        self.persisted = PersistedDocuments(
            automatic=settings.persisted_queries_enabled,
            store_bytes=settings.persisted_queries_store_bytes,
            trusted=load_manifest(manifest) if manifest is not None else None,
        )

    async def admit(self, request: Request) -> Admitted | Response:
        payload: Any
        if request.method == "GET":
            payload = _from_query_string(request.query_params)
            if isinstance(payload, Response):
                return payload
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
            receive = replay_body(body, request.receive)
        else:
            return refusal(
                405, "METHOD_NOT_ALLOWED", "Use GET for queries or POST", headers={"Allow": "GET, POST"}
            )
        extensions = payload.get("extensions")
        if extensions is not None and not isinstance(extensions, dict):
            return refusal(400, "BAD_REQUEST", "`extensions` must be a JSON object or null")
        sent = payload.get("query")
        found = self.persisted.resolve(sent, extensions, payload.get("documentId"))
        if isinstance(found, PersistedRefusal):
            return refusal(found.status, found.code, found.message)
        query_string: bytes | None = None
        if found is not None and found is not sent:
            # Named by its hash: from here on the request carries the text, for the view too.
            payload = {**payload, "query": found}
            if request.method == "POST":
                receive = replay_body(orjson.dumps(payload), request.receive)
            else:
                query_string = (request.url.query + "&" + urlencode({"query": found})).encode()
        parameters = _parameters(payload)
        if isinstance(parameters, Response):
            return parameters
        query, operation_name, variables = parameters
        keyless = not has_bearer_credential(request)
        refused = self._check_document(request, query, operation_name, variables, keyless=keyless)
        if refused is not None:
            return refused
        shape = self.shape(query, operation_name)
        operation = None if shape is None else shape.operation
        return Admitted(
            query=query,
            operation_name=operation_name,
            receive=receive,
            operation_type=None if operation is None else operation.operation,
            root_fields=0 if shape is None or operation is None else shape.root_fields,
            variables=variables,
            query_string=query_string,
            logged_name=None if shape is None else shape.logged_name,
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

    def _inspect_uncached(self, query: str) -> _Parsed:
        settings = self.settings
        try:
            document = parse(query, max_tokens=settings.max_query_tokens)
        except GraphQLError as error:
            if "tokens" in error.message:
                refusal = DocumentRefusal(
                    "QUERY_TOO_LARGE", f"The document exceeds {settings.max_query_tokens} tokens"
                )
                return _Parsed(error, refusal)
            if "nested too deeply" in error.message:
                # graphql-core's parser stops itself before its recursion would.
                return _Parsed(error, _too_deep(settings.max_query_nesting))
            return _Parsed(error)  # a syntax error: GraphQL reports it with its location
        except RecursionError:
            # Should the parser's own guard ever be missing (it came in graphql-core 3.3).
            return _Parsed(GraphQLError("nested too deeply"), _too_deep(settings.max_query_nesting))
        shape = measure_shape(document)
        if shape.cycle is not None:
            # GraphQL's own rule and message (NoFragmentCyclesRule), given before anything
            # recursive tries to expand the cycle.
            refusal = DocumentRefusal(
                "GRAPHQL_VALIDATION_FAILED",
                f"Cannot spread fragment '{shape.cycle}' within itself (directly or via other fragments)",
            )
            return _Parsed(document, refusal)
        if shape.nesting > settings.max_query_nesting:
            return _Parsed(document, _too_deep(settings.max_query_nesting, shape.nesting))
        return _Parsed(document, size=shape.work)

    def document(self, query: str) -> DocumentNode | None:
        """The parsed document the gate admitted (cached by its text); None for a syntax error."""
        parsed = self._inspect(query).document
        return parsed if isinstance(parsed, DocumentNode) else None

    def _parse(self, query: str) -> DocumentNode | GraphQLError:
        """The parsed document (cached by its text), or its syntax error."""
        return self._inspect(query).document

    def _check_document(
        self, request: Request, query: str, operation_name: str | None, variables: Any, *, keyless: bool
    ) -> Response | None:
        shape = self.shape(query, operation_name)
        if shape is not None and not shape.found:
            # GraphQL's "Unknown operation named …" would quote the caller's input back to it.
            if operation_name is None:
                return refusal(400, "OPERATION_NOT_FOUND", "The document has no operation to run")
            return refusal(
                400, "OPERATION_NOT_FOUND", "The document has no operation of the name given in operationName"
            )
        operation = None if shape is None else shape.operation
        mutating = operation is not None and operation.operation is not OperationType.QUERY
        if request.method == "GET" and mutating:
            message = "Only queries run over GET: send mutations with POST"
            return refusal(405, "METHOD_NOT_ALLOWED", message, {"Allow": "POST"})
        if keyless:
            # Without a key, only what tells nothing about the schema is checked here; the app
            # then admits public documents only (admits_without_key) and checks their limits.
            refused = self.check_structure(query)
        else:
            refused = self.check_document(query, operation_name, variables)
        return None if refused is None else limit_refusal(refused, request)

    def operation(self, query: str, operation_name: str | None) -> OperationDefinitionNode | None:
        """The operation of ``query`` that would run; None for a syntax error or no single one."""
        shape = self.shape(query, operation_name)
        return None if shape is None else shape.operation

    def shape(self, query: str, operation_name: str | None) -> OperationShape | None:
        """The operation ``operation_name`` picks in ``query`` (cached with the parse); None for
        a syntax error."""
        parsed = self._inspect(query)
        shape = parsed.shapes.get(operation_name)
        if shape is not None:
            return shape
        document = parsed.document
        if isinstance(document, GraphQLError):
            return None
        shape = _operation_shape(document, operation_name)
        if shape.found:
            parsed.shapes[operation_name] = shape
        return shape

    def check_document(
        self, query: str, operation_name: str | None, variables: Any
    ) -> DocumentRefusal | None:
        """Every document limit, for a caller already known: WebSocket subscribe messages
        (policy.py's admit step) check them all at once."""
        return self.check_structure(query) or self.check_limits(query, operation_name, variables)

    def check_structure(self, query: str) -> DocumentRefusal | None:
        """Tokens, nesting and fragment cycles: measured without the schema (so they tell a caller
        nothing about it) and without recursion, in work linear in the document's size."""
        return self._inspect(query).refusal

    def admits_without_key(self, query: str, operation_name: str | None) -> bool:
        """Whether a caller without a key may run this document (public_operations.py)."""
        parsed = self._inspect(query)
        if not isinstance(parsed.document, DocumentNode) or parsed.refusal is not None:
            return False
        if parsed.size > MAX_PUBLIC_DOCUMENT_SIZE:
            # Public documents are a few lines; validating a large one costs more than linear
            # time (graphql-core compares fields of the same name pairwise), without a key.
            return False
        verdict = parsed.public.get(operation_name)
        if verdict is None:
            verdict = self.public_schema.admits(parsed.document, operation_name)
            parsed.public[operation_name] = verdict
        return verdict

    def check_limits(self, query: str, operation_name: str | None, variables: Any) -> DocumentRefusal | None:
        """Depth, aliases and estimated cost, which read the schema's types: checked once the
        caller is known, on a document check_structure admitted."""
        parsed = self._inspect(query)
        document = parsed.document
        if not isinstance(document, DocumentNode) or parsed.refusal is not None:
            return parsed.refusal
        settings = self.settings
        cost = parsed.costs.get(operation_name)
        if cost is None:
            try:
                cost = measure(
                    self.schema,
                    document,
                    operation_name,
                    variables if isinstance(variables, dict) else None,
                    settings.default_page_size,
                    max_work=WORK_PER_NODE * settings.max_query_tokens,
                )
            except TooMuchWork:
                return DocumentRefusal(
                    "QUERY_TOO_COMPLEX", "The document reuses its fragments in too many ways to be measured"
                )
            if cost is None:
                return None
            if not cost.read_variables:
                parsed.costs[operation_name] = cost
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


def _operation_shape(document: DocumentNode, operation_name: str | None) -> OperationShape:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        found = bool(operations)
    else:
        found = any(o.name is not None and o.name.value == operation_name for o in operations)
    operation = selected_operation(document, operation_name)
    if operation is None:
        # No single operation would run (none, or no match for operationName): the name the
        # client sent is not logged, it names nothing.
        return OperationShape(found, None, 0, None)
    name = operation_name
    if name is None and len(operations) == 1 and operations[0].name is not None:
        name = operations[0].name.value
    return OperationShape(found, operation, _count_root_fields(document, operation), name)


def _count_root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> int:
    """Distinct response keys at the top level: fields that share one are merged and run once,
    and a fragment must not hide mutations from the count. Meta fields (__typename) run nothing.
    Each fragment's keys are collected once, however often it is spread (the document has no
    fragment cycle and bounded nesting: check_structure admitted it)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    fragment_keys: dict[str, frozenset[str]] = {}

    def collect(selection_set: SelectionSetNode) -> set[str]:
        keys: set[str] = set()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if not selection.name.value.startswith("__"):
                    keys.add((selection.alias or selection.name).value)
            elif isinstance(selection, InlineFragmentNode):
                keys |= collect(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments:
                    if name not in fragment_keys:
                        fragment_keys[name] = frozenset(collect(fragments[name].selection_set))
                    keys |= fragment_keys[name]
        return keys

    return len(collect(operation.selection_set))


class Parameters(NamedTuple):
    """GraphQL over HTTP's request parameters, each of its type."""

    query: str
    operation_name: str | None
    variables: dict[str, Any] | None


def _parameters(payload: Mapping[str, Any]) -> Parameters | Response:
    """The request's parameters, or a 400 naming the one that is missing or of the wrong type
    (before this, Strawberry answered those in text/plain, without a code)."""
    query = payload.get("query")
    if query is None or query == "":
        return refusal(400, "BAD_REQUEST", "Send the GraphQL document as the string `query`")
    if not isinstance(query, str):
        return refusal(400, "BAD_REQUEST", "`query` must be a string: the GraphQL document")
    operation_name = payload.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        return refusal(400, "BAD_REQUEST", "`operationName` must be a string or null")
    variables = payload.get("variables")
    if variables is not None and not isinstance(variables, dict):
        return refusal(400, "BAD_REQUEST", "`variables` must be a JSON object or null")
    return Parameters(query, operation_name, variables)


def _from_query_string(params: QueryParams) -> dict[str, Any] | Response:
    """A GET's parameters, ``variables`` and ``extensions`` decoded from their JSON."""
    payload: dict[str, Any] = {
        "query": params.get("query"),
        "operationName": params.get("operationName"),
        "documentId": params.get("documentId"),
    }
    for name in ("variables", "extensions"):
        raw = params.get(name)
        if raw:
            try:
                payload[name] = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return refusal(400, "BAD_REQUEST", f"`{name}` is not valid JSON")
    return payload


def has_bearer_credential(request: Request) -> bool:
    """Whether the request carries ``Authorization: Bearer <something>`` (valid or not)."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(secret.strip())


def _too_deep(limit: int, nesting: int | None = None) -> DocumentRefusal:
    measured = "" if nesting is None else f" {nesting} levels"
    return DocumentRefusal(
        "QUERY_TOO_DEEP",
        f"The document nests its selections, fragments and values{measured}; at most {limit}",
    )


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
