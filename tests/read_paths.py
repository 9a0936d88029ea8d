"""The two read paths side by side, for the differential tests (tests/test_compiled_reads.py,
tests/test_read_corpus.py): two apps on one PostgreSQL database seeded with the demo data, one
answering reads from compiled statements, the other only through the resolvers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from gql_progress.api.compiled.runner import CompiledReads
from gql_progress.demo import DemoKeys, seed_demo
from tests.apps import GENEROUS_LIMITS, client_for, running_app
from tests.conftest import pg_database
from tests.support import Api

ROLES = ("learner", "instructor", "admin")

# Random documents are large: the rate and document limits stay out of the comparison.
ROOMY = {
    **GENEROUS_LIMITS,
    "max_query_aliases": 10_000,
    "max_query_cost": 100_000_000,
    "max_query_depth": 100,
    # The demo's few learners: hardestLessons ranks lessons with one starter or more.
    "analytics_min_sample": 1,
    # The PostgreSQL server is shared (max_connections 100): each of these module-long apps
    # holds a few connections, not the default 20 (a pair held 13-16 while its tests ran, 9 with 4).
    "db_pool_size": 4,
}


@dataclass
class Pair:
    compiled: Api
    resolvers: Api
    keys: DemoKeys

    @property
    def plans(self) -> CompiledReads:
        compiled = self.compiled.app.state.compiled
        assert isinstance(compiled, CompiledReads)
        return compiled

    def key(self, who: str) -> str:
        secret: str = getattr(self.keys, who).secret
        return secret

    async def both(self, document: str, variables: dict[str, Any] | None, key: str) -> tuple[Any, Any]:
        fast = await self.compiled.post(document, variables, key=key)
        slow = await self.resolvers.post(document, variables, key=key)
        assert fast.status_code == slow.status_code, (fast.text, slow.text)
        return comparable(fast.json()), comparable(slow.json())


def comparable(body: Any) -> Any:
    """A response body with its errors in a canonical order.

    graphql-core lists errors in the order its resolvers raised them, which for sibling fields
    awaiting the database differs from run to run on the resolver path itself (seen: the
    same request to the same app answered [b, c] and then [c, b]). The spec gives that order no
    meaning; every error must still be there, equal in message, path, locations and extensions.
    """
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return body
    errors = sorted(body["errors"], key=lambda error: json.dumps(error, sort_keys=True))
    return {**body, "errors": errors}


@asynccontextmanager
async def paired_apps(pg_template: str | None) -> AsyncIterator[Pair]:
    """For a module-scoped fixture. The documents these apps are sent are the tests' own
    variations, so they stay out of the read corpus (tests/read_corpus.py)."""
    async with (
        pg_database(pg_template) as url,
        running_app(url, **ROOMY) as fast,
        running_app(url, compiled_reads=False, **ROOMY) as slow,
        client_for(fast, record=False) as compiled,
        client_for(slow, record=False) as resolvers,
    ):
        keys = await seed_demo(compiled.db)
        await _more_data(compiled)
        yield Pair(compiled, resolvers, keys)


async def _more_data(api: Api) -> None:
    """What the demo lacks: a removed lesson with a record, a record with every field set."""
    async with api.db.write() as conn:
        await conn.execute(
            text(
                "UPDATE lesson_progress SET quiz_score = 87.5, quiz_attempts = 2, quiz_passed = true, "
                'notes = \'née "quoted" \\ back\', metadata = \'{"b": 1, "a": [1, 2.5, null]}\', '
                "last_accessed_at = '2026-01-02 03:04:05.000123+00' "
                "WHERE id = (SELECT min(id) FROM lesson_progress)"
            )
        )
        await conn.execute(
            text(
                "UPDATE lessons SET removed_at = '2026-02-03 04:05:06+00' WHERE id = ("
                "SELECT max(l.id) FROM lessons l JOIN lesson_progress p ON p.lesson_id = l.id)"
            )
        )
