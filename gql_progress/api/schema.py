"""build_graphql_schema(): the one place the public contract is assembled."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import strawberry
from graphql import GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, ParserCache
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, StreamResult
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.base import get_object_definition
from strawberry.types.graphql import OperationType

from gql_progress.api.execution import answer_plain_leaves_directly
from gql_progress.api.federation import SCALARS, FederationQueries
from gql_progress.api.mutations.admin_progress import AdminProgressMutations
from gql_progress.api.mutations.api_keys import ApiKeyMutations
from gql_progress.api.mutations.bundles import BundleMutations
from gql_progress.api.mutations.catalog import CatalogMutations
from gql_progress.api.mutations.enrollment import EnrollmentMutations
from gql_progress.api.mutations.instructors import InstructorMutations
from gql_progress.api.mutations.progress import ProgressMutations
from gql_progress.api.mutations.study_plans import StudyPlanMutations
from gql_progress.api.mutations.webhooks import WebhookMutations
from gql_progress.api.queries.analytics import AnalyticsQueries
from gql_progress.api.queries.api_keys import ApiKeyQueries
from gql_progress.api.queries.bundles import BundleQueries
from gql_progress.api.queries.catalog import CatalogQueries
from gql_progress.api.queries.certificates import CertificateQueries
from gql_progress.api.queries.events import EventQueries
from gql_progress.api.queries.instructors import InstructorQueries
from gql_progress.api.queries.nodes import NodeQueries
from gql_progress.api.queries.progress import ProgressQueries
from gql_progress.api.queries.study_plans import StudyPlanQueries
from gql_progress.api.queries.viewer import ViewerQueries
from gql_progress.api.queries.webhooks import WebhookQueries
from gql_progress.api.raises import check_declared_errors
from gql_progress.api.scope_check import RequireScopes
from gql_progress.api.streamed_errors import ShapeStreamedErrors
from gql_progress.api.subscriptions.progress import ProgressSubscriptions
from gql_progress.api.validation import CachedValidation, hide_suggestions_in_execution

_QUERIES = (
    ViewerQueries,
    CatalogQueries,
    BundleQueries,
    ProgressQueries,
    StudyPlanQueries,
    WebhookQueries,
    CertificateQueries,
    EventQueries,
    ApiKeyQueries,
    AnalyticsQueries,
    InstructorQueries,
    NodeQueries,
)
Query = merge_types("Query", _QUERIES)
# GQL_PROGRESS_FEDERATION_ENABLED: the same Query plus _service and _entities (api/federation.py).
FederatedQuery = merge_types("Query", (*_QUERIES, FederationQueries))
Mutation = merge_types(
    "Mutation",
    (
        ProgressMutations,
        AdminProgressMutations,
        EnrollmentMutations,
        InstructorMutations,
        CatalogMutations,
        BundleMutations,
        StudyPlanMutations,
        WebhookMutations,
        ApiKeyMutations,
    ),
)
Subscription = merge_types("Subscription", (ProgressSubscriptions,))
for query in (Query, FederatedQuery):
    get_object_definition(query, strict=True).description = "Reads: the caller, the catalog and progress."
get_object_definition(
    Mutation, strict=True
).description = (
    "Writes. Results are unions: a success payload or a typed error; on an error nothing is written."
)
get_object_definition(Subscription, strict=True).description = (
    "Live updates over WebSocket (graphql-transport-ws on /graphql), authenticated by the API key "
    "in connection_init. Each update is read when it is sent."
)


class ProgressSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # The view's error shaping logs the unexpected ones with their traceback.
        return None

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        # HTTP runs one result per request: a subscription there would stream nothing.
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES)
        try:
            return await super().execute(
                query,
                variable_values=variable_values,
                context_value=context_value,
                root_value=root_value,
                operation_name=operation_name,
                allowed_operation_types=allowed - {OperationType.SUBSCRIPTION},
                operation_extensions=operation_extensions,
            )
        except InvalidOperationTypeError as exc:
            if exc.operation_type is not OperationType.SUBSCRIPTION:
                raise
            message = "Subscriptions run over WebSocket (graphql-transport-ws) on /graphql"
            return ExecutionResult(
                data=None, errors=[GraphQLError(message, extensions={"code": "WEBSOCKET_REQUIRED"})]
            )

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        # Only WebSocket streams here (the view enables no HTTP streaming transport). Queries
        # and mutations belong to HTTP, where the request limits and key rules apply.
        return await super().stream(
            query,
            variable_values=variable_values,
            context_value=context_value,
            root_value=root_value,
            operation_name=operation_name,
            operation_extensions=operation_extensions,
            allowed_operation_types=(OperationType.SUBSCRIPTION,),
        )


def build_graphql_schema(
    *, production: bool = False, federation: bool = False, **extra: Any
) -> strawberry.Schema:
    """``production``: introspection is refused (the schema is published as schema.graphql;
    a production server need not hand its map to whoever asks). ``federation``: an Apollo
    Federation 2 subgraph besides (api/federation.py); off, the schema is schema.graphql's."""
    extensions: list[Any] = [
        lambda: ShapeStreamedErrors(hide_suggestions=production),
        # Each operation needs its scope (scope_check.py), before any resolver runs.
        RequireScopes,
        # Clients send the same few documents over and over: parse and validate each once.
        # (factories: the caches themselves are module-level and shared by every request).
        # Validation hides graphql-core's "Did you mean …?" in production (api/validation.py).
        lambda: ParserCache(maxsize=256),
        lambda: CachedValidation(hide_suggestions=production),
    ]
    if federation:
        extra.setdefault("config", StrawberryConfig(scalar_map=SCALARS))
    if production:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    # A field that could raise an error its union lacks fails here, not in a request.
    check_declared_errors(Mutation)
    check_declared_errors(Query)
    schema = ProgressSchema(
        query=FederatedQuery if federation else Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        **extra,
    )
    answer_plain_leaves_directly(schema)
    if production:
        hide_suggestions_in_execution(schema)
    return schema


@functools.cache
def shared_graphql_schema(production: bool, federation: bool = False) -> strawberry.Schema:
    """The schema of one mode, built once per process. A built schema holds no per-app state
    (the view, request gate, loaders and database are each app's own) and building one costs
    ~60 ms of CPU; processes that create many apps (the test suite: thousands) share it."""
    return build_graphql_schema(production=production, federation=federation)
