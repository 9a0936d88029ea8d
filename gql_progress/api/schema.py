"""build_graphql_schema(): the one place the public contract is assembled."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from gql_progress.api.mutations.admin_progress import AdminProgressMutations
from gql_progress.api.mutations.bundles import BundleMutations
from gql_progress.api.mutations.catalog import CatalogMutations
from gql_progress.api.mutations.enrollment import EnrollmentMutations
from gql_progress.api.mutations.progress import ProgressMutations
from gql_progress.api.mutations.study_plans import StudyPlanMutations
from gql_progress.api.mutations.webhooks import WebhookMutations
from gql_progress.api.queries.bundles import BundleQueries
from gql_progress.api.queries.catalog import CatalogQueries
from gql_progress.api.queries.certificates import CertificateQueries
from gql_progress.api.queries.events import EventQueries
from gql_progress.api.queries.nodes import NodeQueries
from gql_progress.api.queries.progress import ProgressQueries
from gql_progress.api.queries.study_plans import StudyPlanQueries
from gql_progress.api.queries.viewer import ViewerQueries
from gql_progress.api.queries.webhooks import WebhookQueries

Query = merge_types(
    "Query",
    (
        ViewerQueries,
        CatalogQueries,
        BundleQueries,
        ProgressQueries,
        StudyPlanQueries,
        WebhookQueries,
        CertificateQueries,
        EventQueries,
        NodeQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        ProgressMutations,
        AdminProgressMutations,
        EnrollmentMutations,
        CatalogMutations,
        BundleMutations,
        StudyPlanMutations,
        WebhookMutations,
    ),
)
Query.__strawberry_definition__.description = "Reads: the caller, the catalog and progress."  # type: ignore[attr-defined]
Mutation.__strawberry_definition__.description = (  # type: ignore[attr-defined]
    "Writes. Results are unions: a success payload or a typed error; on an error nothing is written."
)


class ProgressSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # The view's error shaping logs the unexpected ones with their traceback.
        return None


def build_graphql_schema(**extra: Any) -> strawberry.Schema:
    return ProgressSchema(
        query=Query,
        mutation=Mutation,
        extensions=[
            # Clients send the same few documents over and over: parse and validate each once.
            # (factories: the caches themselves are module-level and shared by every request).
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
        **extra,
    )
