"""Compiled reads at request time: find the document's plan, run it on asyncpg, forward the bytes.

Used on PostgreSQL for queries by a caller whose key reads progress (``progress:read``); everything
else, and every request whose document has no plan, goes to the resolver path unchanged. The plan
cache holds the misses too, so an uncompilable document is inspected once.

The statement goes to asyncpg directly (SQLAlchemy's per-statement cost showed in the profile),
on a direct pool (db/direct.py): the request's replica's, or the primary's (``Database.read_value``);
asyncpg prepares it once per connection (its statement cache), unless
``GQL_PROGRESS_DB_PREPARED_STATEMENTS`` turns that off.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import DocumentNode, GraphQLSchema

from gql_progress.api.compiled.planner import NotCompiled, Paging, Plan, Planner
from gql_progress.api.compiled.plans import PlanCache
from gql_progress.db.engine import Database
from gql_progress.db.faults import database_fault
from gql_progress.domain.viewer import Viewer
from gql_progress.tracing import OFF, Tracing

logger = logging.getLogger("gql_progress.compiled")


class CompiledReads:
    def __init__(self, db: Database, schema: GraphQLSchema, paging: Paging, tracing: Tracing = OFF) -> None:
        self.db = db
        self.tracing = tracing
        self.planner = Planner(schema, paging)
        self.plans: PlanCache[Plan] = PlanCache(self.planner.plan)
        # Requests answered by a plan, and those a plan's guard handed to the resolvers: the
        # differential tests check which path ran.
        self.answered = 0
        self.refused = 0

    async def answer(
        self,
        query: str,
        document: DocumentNode,
        operation_name: str | None,
        variables: Any,
        viewer: Viewer,
    ) -> bytes | None:
        """The response body, or None when the resolver path must answer. The caller's scope
        was checked by the edge's request policy (edge/policy.py)."""
        plan = self.plans.plan_for(query, document, operation_name)
        if plan is None:
            return None
        try:
            arguments = plan.bind(viewer, variables if isinstance(variables, dict) else None)
        except NotCompiled:
            return None
        try:
            # One span for the statement that builds the whole response (when tracing is on).
            with self.tracing.compiled_read(plan.sql):
                body: str | None = await self.db.read_value(plan.sql, *arguments)
        except Exception as error:
            if database_fault(error) is not None:
                raise  # busy or unreachable: the resolvers would meet the same (503 either way)
            # A compiler bug must not cost the client its answer: the resolvers give it.
            logger.exception("a compiled read failed; the resolver path answers instead")
            return None
        finally:
            self.db.statements.record()
        if body is None:
            self.refused += 1
            return None  # a guard refused: the resolvers word the error (declarations.Root)
        self.answered += 1
        return body.encode()
