"""The plans of documents, by (text, operation name), the misses kept too: a document that cannot
be planned is inspected once. Shared by the compiled reads (runner.py) and writes (writes.py)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from graphql import DocumentNode

from gql_progress.api.compiled.arguments import NotCompiled

P = TypeVar("P")

PLAN_CACHE_SIZE = 256


class PlanCache(Generic[P]):
    def __init__(self, plan: Callable[[DocumentNode, str | None], P], size: int = PLAN_CACHE_SIZE) -> None:
        self._plan = plan
        self._size = size
        self._plans: OrderedDict[tuple[str, str | None], P | None] = OrderedDict()

    def plan_for(self, query: str, document: DocumentNode, operation_name: str | None) -> P | None:
        """The document's plan, made on first use; None when it has none (NotCompiled)."""
        key = (query, operation_name)
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        try:
            plan: P | None = self._plan(document, operation_name)
        except NotCompiled:
            plan = None
        self._plans[key] = plan
        if len(self._plans) > self._size:
            self._plans.popitem(last=False)
        return plan
