"""`python -m bench.pg_cpu`: PostgreSQL's CPU per request, for the capacity model (docs/scaling.md).

Starts a private primary and a streaming replica of it (tests/pg_cluster.py: initdb, pg_basebackup
-R, the machine's PostgreSQL binaries, loopback ports), loads the bench dataset, and sends each
operation ``--requests`` times to the app in this process (as ``python -m bench.cpu`` does). Around
the measured requests it reads the CPU time (utime + stime, /proc) of every process of each
cluster, so what is reported is what PostgreSQL spent: the client backends that ran the statements,
and everything else (WAL writer, checkpointer, autovacuum, WAL sender) on the primary; the WAL
receiver and the startup process replaying the WAL on the replica. pg_stat_statements gives the
statements' own execution and planning time for comparison. The replica is not read: the reads'
cost is measured on the primary and is the same on a replica.

    python -m bench.pg_cpu --scale 0.1 --requests 5000 --ops M1,Q0,Q1,Q3
    python -m bench.pg_cpu --scale 0.1 --requests 5000 --ops M1 --concurrency 16   # group commit
    python -m bench.pg_cpu --scale 0.1 --requests 5000 --ops M1 --live-updates     # with NOTIFY

A tick of /proc is 10 ms: thousands of requests make it small against the total.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import orjson

from bench import bodies
from bench.cpu import WARM_UP, _pool, _request
from bench.dataset import Sample, Size, load, migrate_schema, samples
from bench.operations import OPERATIONS
from gql_progress.edge.app import create_app
from gql_progress.settings import load_settings
from tests.pg_cluster import Cluster, own_cluster, own_replica

TICKS = os.sysconf("SC_CLK_TCK")
# Production-like: WAL flushed at each commit (own_cluster's default is fsync=off, for tests).
SETTINGS = (
    ("shared_buffers", "128MB"),
    ("max_connections", "40"),
    ("max_wal_senders", "4"),
    ("fsync", "on"),
    ("synchronous_commit", "on"),
    ("shared_preload_libraries", "pg_stat_statements"),
    ("pg_stat_statements.track_planning", "on"),
)


def _cpu(pid: int, children: bool = False) -> float:
    """Seconds of CPU ``pid`` used (with ``children``: and its exited children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    used = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    if children:
        used += int(fields[13]) + int(fields[14])  # cutime, cstime
    return used / TICKS


@dataclass
class ClusterCpu:
    """CPU seconds by process kind (pg_stat_activity's backend_type; "other": the postmaster, its
    exited children such as autovacuum workers, and processes the view does not list)."""

    kinds: dict[str, float]

    def minus(self, before: ClusterCpu) -> dict[str, float]:
        return {kind: used - before.kinds.get(kind, 0.0) for kind, used in self.kinds.items()}


def _postmaster(cluster: Cluster) -> int:
    return int((cluster.data / "postmaster.pid").read_text().splitlines()[0])


async def _cluster_cpu(cluster: Cluster) -> ClusterCpu:
    postmaster = _postmaster(cluster)
    conn = await asyncpg.connect(cluster.url(), timeout=10)
    try:
        own = await conn.fetchval("SELECT pg_backend_pid()")
        kinds = {
            row["pid"]: row["backend_type"]
            for row in await conn.fetch("SELECT pid, backend_type FROM pg_stat_activity")
        }
    finally:
        await conn.close()
    return _processes_cpu(postmaster, own, kinds)


def _processes_cpu(postmaster: int, own: int, kinds: dict[int, str]) -> ClusterCpu:
    used_by: dict[str, float] = {"other": _cpu(postmaster, children=True)}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == own:
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            if int(stat.rpartition(")")[2].split()[1]) != postmaster:
                continue
            used = _cpu(int(entry))
        except (OSError, ValueError):
            continue  # exited meanwhile: counted in the postmaster's cutime
        kind = kinds.get(int(entry), "other")
        used_by[kind] = used_by.get(kind, 0.0) + used
    return ClusterCpu(used_by)


async def _caught_up(primary: Cluster, replica: Cluster, database: str) -> None:
    target = await _fetchval(primary.url(database), "SELECT pg_current_wal_lsn()::text")
    for _ in range(1200):
        if await _fetchval(
            replica.url(database), "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", target
        ):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the replica did not catch up within a minute")


async def _fetchval(url: str, sql: str, *arguments: object) -> object:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return await conn.fetchval(sql, *arguments)
    finally:
        await conn.close()


async def measure(
    scale: float, names: list[str], requests: int, concurrency: int, live_updates: bool
) -> None:
    size = Size.for_scale(scale)
    async with own_cluster(SETTINGS) as primary:
        url = await primary.create_database("pg_cpu")
        await _fetchval(url, "CREATE EXTENSION pg_stat_statements")
        await migrate_schema(url)
        report = await load(url, size)
        print(f"dataset: {report.rows} in {report.seconds:.0f} s", flush=True)
        async with own_replica(primary) as replica:
            found = await samples(url, size)
            settings = load_settings(
                database_url=url,
                mode="production",
                rate_limit_learner="100000000/minute",
                api_key_touch_interval_seconds=3600,
                webhooks_enabled=False,
                live_updates_enabled=live_updates,
                log_level="WARNING",
                db_pool_size=2 * concurrency,
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                for name in names:
                    await _one_operation(app, name, found, size, requests, concurrency, primary, replica)


async def _one_operation(
    app: object,
    name: str,
    found: list[Sample],
    size: Size,
    requests: int,
    concurrency: int,
    primary: Cluster,
    replica: Cluster,
) -> None:
    operation = OPERATIONS[name]
    kind, document = operation.requests[0]
    pool = _pool(operation, found, size)
    rng = random.Random(1)

    async def one() -> None:
        sample = rng.choice(pool)
        body = orjson.dumps(bodies.body(kind, document, sample, rng))
        await _request(app, body, bodies.headers(sample))  # type: ignore[arg-type]

    for _ in range(WARM_UP):
        await one()

    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    database = "pg_cpu"
    primary_url = primary.url(database)
    await _caught_up(primary, replica, database)
    await _fetchval(primary_url, "SELECT pg_stat_statements_reset()")
    wal_before = await _fetchval(primary_url, "SELECT pg_current_wal_lsn()::text")
    before = (
        await _cluster_cpu(primary),
        await _cluster_cpu(replica),
        time.process_time(),
        time.perf_counter(),
    )
    await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
    await _caught_up(primary, replica, database)
    after = (
        await _cluster_cpu(primary),
        await _cluster_cpu(replica),
        time.process_time(),
        time.perf_counter(),
    )
    wal_bytes = await _fetchval(primary_url, "SELECT pg_current_wal_lsn() - $1::text::pg_lsn", wal_before)
    statements = await _fetchval(
        primary_url,
        "SELECT json_agg(s ORDER BY total DESC)::text FROM (SELECT calls, "
        "round((total_exec_time + total_plan_time)::numeric, 1) AS total, left(query, 70) AS query "
        "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) "
        "AND query NOT LIKE '%pg_stat_statements%') s",
        database,
    )
    done = concurrency * (requests // concurrency)
    per = 1000 / done
    on_primary = after[0].minus(before[0])
    on_replica = after[1].minus(before[1])
    listed = orjson.loads(str(statements)) or []
    statement_ms = sum(float(s["total"]) for s in listed) / done

    def kinds(used: dict[str, float]) -> str:
        shown = sorted(
            ((kind, per * seconds) for kind, seconds in used.items() if seconds > 0), key=lambda x: -x[1]
        )
        return ", ".join(f"{kind} {ms:.3f}" for kind, ms in shown)

    print(
        f"{name} (concurrency {concurrency}, {done} requests): PostgreSQL CPU per request, ms: "
        f"primary {per * sum(on_primary.values()):.3f} ({kinds(on_primary)}); "
        f"replica {per * sum(on_replica.values()):.3f} ({kinds(on_replica)}); "
        f"pg_stat_statements exec+plan {statement_ms:.3f}; WAL {float(str(wal_bytes)) / done:.0f} bytes; "
        f"app CPU {per * (after[2] - before[2]):.2f}, wall {per * (after[3] - before[3]):.2f}",
        flush=True,
    )
    for s in listed[:4]:
        print(
            f"    {s['calls']:>6} calls {float(s['total']) / max(1, s['calls']) * 1000:8.1f} µs  {s['query']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pg_cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--ops", default="M1,Q1,Q3", help="comma-separated, MIX excepted")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight at once")
    parser.add_argument(
        "--live-updates", action="store_true", help="writes NOTIFY subscribers, as by default in production"
    )
    args = parser.parse_args()
    names = [name.strip() for name in args.ops.split(",") if name.strip()]
    unknown = [name for name in names if name not in OPERATIONS or name == "MIX"]
    if unknown:
        parser.error(f"unknown operations: {', '.join(unknown)}")
    asyncio.run(measure(args.scale, names, args.requests, args.concurrency, args.live_updates))


if __name__ == "__main__":
    main()
