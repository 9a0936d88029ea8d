"""SQL statements (and transactions) per request, measured in-process.

The app is built with create_app() against the bench database, started (its lifespan), and
driven through httpx.ASGITransport: each operation is sent once to warm up (the parse and validation caches
fill then), then once measured between ``app.state.db.statements.reset()`` and ``.count``.
Transactions are counted from SQLAlchemy's "begin" event, except on autocommit connections
(the app's reads), which send no BEGIN: each counted one costs a BEGIN and a COMMIT/ROLLBACK
round trip on top of its statements, which the statement counter does not see.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import event

from bench import bodies
from bench.dataset import Sample
from bench.operations import MIX_WRITE_SHARE, OPERATIONS, Pool, RequestKind
from gql_progress.edge.app import create_app
from gql_progress.settings import load_settings


@dataclass(frozen=True)
class Cost:
    statements: float
    transactions: float


class _Transactions:
    def __init__(self) -> None:
        self.count = 0

    def on_begin(self, conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") != "AUTOCOMMIT" and options.get("sqlite_begin") != "NONE":
            self.count += 1


async def measure(database_url: str, samples: list[Sample]) -> dict[str, Cost]:
    short = next(s for s in samples if len(s.lesson_ids) < 200)
    long = next(s for s in samples if len(s.lesson_ids) == 200)
    app = create_app(load_settings(database_url=database_url, mode="production"))
    db = app.state.db
    transactions = _Transactions()
    event.listen(db.engine.sync_engine, "begin", transactions.on_begin)
    rng = random.Random(1)
    costs: dict[str, Cost] = {}
    try:
        transport = httpx.ASGITransport(app=app)
        # With its lifespan, as served: the listener runs, so a key checked by the warm-up is
        # cached for the measured request (auth/credential_cache.py), as in steady state.
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
        ):
            for operation in OPERATIONS.values():
                if len(operation.requests) > 1:
                    continue  # MIX: weighted from its parts below
                kind, document = operation.requests[0]
                sample = long if operation.pool is Pool.LONG else short
                for attempt in ("warm-up", "measured"):
                    body = bodies.body(kind, document, sample, rng)
                    if kind is RequestKind.BULK:
                        # Un-complete, then complete: the measured call moves the enrollment.
                        body["variables"]["completed"] = attempt == "measured"
                    db.statements.reset()
                    transactions.count = 0
                    response = await client.post("/graphql", json=body, headers=bodies.headers(sample))
                    _check(operation.name, response)
                costs[operation.name] = Cost(db.statements.count, transactions.count)
    finally:
        await db.dispose()
    page, beat = costs["Q1"], costs["M1"]
    share = MIX_WRITE_SHARE
    costs["MIX"] = Cost(
        statements=(1 - share) * page.statements + share * beat.statements,
        transactions=(1 - share) * page.transactions + share * beat.transactions,
    )
    return costs


def _check(name: str, response: httpx.Response) -> None:
    text = response.text
    if response.status_code != 200 or '"errors"' in text or 'Error"' in text:
        raise RuntimeError(f"{name} failed in-process ({response.status_code}): {text[:500]}")
