"""`python -m bench.cpu`: the server's CPU per request, in-process, for A/B-testing a change.

The app runs in this process (``create_app``, production mode) against a bench database that
``python -m bench --keep-db`` left behind. Each request goes straight to the ASGI app (no socket,
no HTTP client in the measurement), one after another, and what is reported is CPU time per
request (``time.process_time``): what this process spent, which another program on the machine
changes far less than it changes wall time or requests per second. Comparing two commits: run it
in two worktrees, alternately, a few times each (the ladder in RESULTS.md was measured so).

    python -m bench --scale 0.1 --quick --keep-db --db-name bench_cpu     # once: the data
    python -m bench.cpu --db-name bench_cpu --scale 0.1 --ops Q0,Q1,M1    # per commit
    python -m bench.cpu --db-name bench_cpu --scale 0.1 --ops Q1 --profile /tmp/q1.prof
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import random
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message

from bench import bodies
from bench.dataset import Sample, Size, database_urls, samples
from bench.operations import OPERATIONS, Operation, Pool
from gql_progress.edge.app import create_app
from gql_progress.settings import load_settings

WARM_UP = 30


def _pool(operation: Operation, found: list[Sample], size: Size) -> list[Sample]:
    long_course = size.long_course_id
    if operation.pool is Pool.LONG:
        return [s for s in found if s.course_id == long_course]
    if operation.pool is Pool.SHORT:
        return [s for s in found if s.course_id != long_course]
    return found


async def _request(app: ASGIApp, body: bytes, headers: dict[str, str]) -> None:
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw_headers += [(b"content-length", str(len(body)).encode()), (b"host", b"bench")]
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    answer = b"".join(m.get("body", b"") for m in sent[1:])
    if sent[0]["status"] != 200 or b'"errors"' in answer:
        raise RuntimeError(f"the request failed: {sent[0]['status']} {answer[:300]!r}")


async def measure(
    database_url: str, size: Size, names: list[str], requests: int, profile: str | None
) -> None:
    found = await samples(database_url, size)
    settings = load_settings(
        database_url=database_url,
        mode="production",
        rate_limit_learner="100000000/minute",
        api_key_touch_interval_seconds=3600,
        webhooks_enabled=False,
        log_level="WARNING",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        for name in names:
            operation = OPERATIONS[name]
            cpu, wall = await _run(app, operation, _pool(operation, found, size), requests, profile, names)
            print(
                f"{name}: {1000 * cpu / requests:.2f} ms CPU per request "
                f"({1000 * wall / requests:.2f} ms wall, {requests} requests)",
                flush=True,
            )


async def _run(
    app: ASGIApp,
    operation: Operation,
    pool: list[Sample],
    requests: int,
    profile: str | None,
    names: list[str],
) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of ``requests`` requests after a warm-up."""
    kind, document = operation.requests[0]
    rng = random.Random(1)

    async def one() -> None:
        sample = rng.choice(pool)
        body = orjson.dumps(bodies.body(kind, document, sample, rng))
        await _request(app, body, bodies.headers(sample))

    for _ in range(WARM_UP):
        await one()
    profiler = cProfile.Profile() if profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    for _ in range(requests):
        await one()
    if profiler is not None:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if profiler is not None and profile is not None:
        target = profile if len(names) == 1 else f"{profile}.{operation.name}"
        profiler.dump_stats(target)
        print(f"  profile: {target} (python -m pstats {target})")
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db-name", required=True, help="a database `python -m bench --keep-db` left")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--scale", type=float, default=1.0, help="the scale the database was built at")
    parser.add_argument("--ops", default="Q0,Q1,Q2,Q3,M1,M2", help="comma-separated, MIX excepted")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per operation")
    parser.add_argument("--profile", help="write a cProfile of the measured requests here")
    args = parser.parse_args()
    names = [name.strip() for name in args.ops.split(",") if name.strip()]
    unknown = [name for name in names if name not in OPERATIONS or name == "MIX"]
    if unknown:
        parser.error(f"unknown operations: {', '.join(unknown)}")
    _, url = database_urls(args.pg_url, args.db_name)
    asyncio.run(measure(url, Size.for_scale(args.scale), names, args.requests, args.profile))


if __name__ == "__main__":
    main()
