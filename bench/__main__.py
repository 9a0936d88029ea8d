"""`python -m bench`: build the dataset, start the servers, measure, report (see bench/README.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import dataset, load, machine, peer, plan, report, statements, verify
from bench.operations import FLOOR_PATHS, OPERATIONS, PEER_OPERATIONS
from bench.servers import RssSampler, Server, UvicornServer, free_port
from gql_progress.edge.http_protocol import HTTP_PROTOCOL

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432"
WORK = Path(__file__).resolve().parent / ".work"


@dataclass(frozen=True)
class Options:
    scale: float
    quick: bool
    all_full: bool
    pg_url: str
    db_name: str
    keep_db: bool
    operations: set[str] | None
    concurrencies: tuple[int, ...]
    wrk_threads: int
    write_results: bool
    postgraphile: bool

    @property
    def runs_peer(self) -> bool:
        """PostGraphile runs when asked for and some chosen operation is one it answers."""
        chosen = OPERATIONS.keys() if self.operations is None else self.operations
        return self.postgraphile and bool(chosen & PEER_OPERATIONS.keys())


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="dataset size: 0.1, 1 (default) or 10")
    parser.add_argument("--quick", action="store_true", help="smoke run: one 5 s run per row")
    parser.add_argument("--all-full", action="store_true", help="warm-up + 3 × 15 s for every row")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--db-name", default="gql_progress_bench", help="database created and dropped")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--ops", help=f"comma-separated subset of {','.join(OPERATIONS)}")
    parser.add_argument("--concurrency", default="32,64", help="comma-separated connection counts")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument(
        "--no-postgraphile", action="store_true", help="leave out the PostGraphile peer (no npm install)"
    )
    parser.add_argument(
        "--no-results", action="store_true", help="print only; leave RESULTS.md alone (implied by --quick)"
    )
    args = parser.parse_args(argv)
    operations = None
    if args.ops:
        operations = {name.strip().upper() for name in args.ops.split(",")}
        unknown = operations - OPERATIONS.keys()
        if unknown:
            parser.error(f"unknown operations: {', '.join(sorted(unknown))}")
    return Options(
        scale=args.scale,
        quick=args.quick,
        all_full=args.all_full,
        pg_url=args.pg_url,
        db_name=args.db_name,
        keep_db=args.keep_db,
        operations=operations,
        concurrencies=tuple(int(c) for c in args.concurrency.split(",")),
        wrk_threads=args.wrk_threads,
        write_results=not (args.no_results or args.quick),
        postgraphile=not args.no_postgraphile,
    )


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def measure(
    step: plan.Step, server: Server, wrk: load.Wrk, conf: Path, seed: int, database: str
) -> report.Measurement:
    path = FLOOR_PATHS[step.operation] if step.server == plan.FLOOR else "/graphql"
    url = server.base_url + path
    noise = machine.OtherLoad(database)
    with RssSampler(server) as rss:
        wrk.run(url, conf, step.connections, step.warmup_s, seed)
        noise.start()
        runs = [wrk.run(url, conf, step.connections, step.run_s, seed + i + 1) for i in range(step.runs)]
        other = noise.stop()
    return report.Measurement(step=step, runs=runs, peak_rss_bytes=rss.peak_bytes, other_cores=other)


def operation_confs(directory: Path) -> dict[tuple[str, str], Path]:
    """The wrk input of every (server, operation): PostGraphile gets its own documents."""
    confs: dict[tuple[str, str], Path] = {}
    for server, operations in ((plan.GQL, OPERATIONS), (plan.PEER, PEER_OPERATIONS)):
        folder = directory / ("postgraphile" if server == plan.PEER else "ours")
        for name, operation in operations.items():
            confs[(server, name)] = load.write_operation_conf(operation, folder)
    for name in FLOOR_PATHS:
        confs[(plan.FLOOR, name)] = confs[(plan.GQL, name)]
    return confs


def run(options: Options) -> int:
    started_at, started = report.now(), time.monotonic()
    wrk_binary = load.ensure_wrk()
    installed = peer.install(WORK) if options.runs_peer else None
    peer_version = installed.describe() if installed else None
    size = dataset.Size.for_scale(options.scale)
    maintenance_url, url = dataset.database_urls(options.pg_url, options.db_name)
    work = WORK / options.db_name
    shutil.rmtree(work, ignore_errors=True)
    steps = plan.build(
        quick=options.quick,
        all_full=options.all_full,
        operations=options.operations,
        concurrencies=options.concurrencies,
        peer=installed is not None,
    )
    say(f"{len(steps)} load steps, {sum(s.seconds for s in steps)} s of load; scale {options.scale:g}")

    # As `gql-progress serve` runs it: httptools with each response sent in one write.
    gql = UvicornServer(
        plan.GQL, "gql_progress.edge.app:create_app", free_port(), work / "gql_progress.log", HTTP_PROTOCOL
    )
    floor = UvicornServer(plan.FLOOR, "bench.floor:create_app", free_port(), work / "floor.log")
    servers: dict[str, Server] = {plan.GQL: gql, plan.FLOOR: floor}
    if installed is not None:
        servers[plan.PEER] = peer.PostGraphileServer(
            plan.PEER, installed, free_port(), work / "postgraphile.log"
        )
    asyncio.run(dataset.create_database(maintenance_url, options.db_name))
    try:
        say(f"database {options.db_name}: migrating and loading {size}")
        asyncio.run(dataset.migrate_schema(url))
        loaded = asyncio.run(dataset.load(url, size))
        say(f"loaded in {loaded.seconds:.1f} s: {loaded.rows}")
        workload = asyncio.run(dataset.export_workload(url, size, work))
        samples = asyncio.run(dataset.samples(url, size))
        described = asyncio.run(machine.describe(url, load.wrk_version(wrk_binary)))

        say("statements per request (in-process)")
        costs = asyncio.run(statements.measure(url, samples))
        say(", ".join(f"{name} {cost.statements:g}" for name, cost in costs.items()))

        if plan.PEER in servers:
            # PostGraphile reads the schema at start-up: the computed columns must exist by then.
            asyncio.run(peer.add_summary_columns(url))
        say(", ".join(f"{server.name} on :{server.port}" for server in servers.values()))
        for server in servers.values():
            server.start(url)
        comparisons = asyncio.run(verify.compare(gql.base_url, floor.base_url, samples))
        if plan.PEER in servers:
            peer_url = servers[plan.PEER].base_url
            comparisons += asyncio.run(
                verify.compare_peer(gql.base_url, peer_url, samples, list(PEER_OPERATIONS))
            )
        for comparison in comparisons:
            outcome = "equal" if comparison.equal else comparison.detail
            say(f"{comparison.system} check {comparison.operation}: {outcome}")
        different = {c.system for c in comparisons if not c.equal}
        if different:
            fix = {plan.FLOOR: "bench/floor.py", plan.PEER: "bench/postgraphile/ or bench/peer_shape.py"}
            for system in sorted(different):
                say(f"{system} does not answer what gql_progress answers: fix {fix[system]} first")
            return 1

        wrk = load.Wrk(wrk_binary, workload.directory, threads=options.wrk_threads)
        confs = operation_confs(work / "ops")
        measurements = []
        for index, step in enumerate(steps, 1):
            say(f"[{index}/{len(steps)}] {step.server} {step.operation} c{step.connections} {step.label()}")
            conf = confs[(step.server, step.operation)]
            m = measure(step, servers[step.server], wrk, conf, index * 100, options.db_name)
            median = m.median
            say(
                f"    {median.rps:,.1f} req/s, p50 {median.p50_ms:.1f} ms, p99 {median.p99_ms:.1f} ms, "
                f"errors {m.errors}, RSS {m.peak_rss_bytes / report.MIB:.0f} MiB, "
                f"other CPU {m.other_cores:.2f}"
            )
            measurements.append(m)
    finally:
        for server in servers.values():
            server.stop()
        if not options.keep_db:
            asyncio.run(dataset.drop_database(maintenance_url, options.db_name))

    context = report.Context(
        started=started_at,
        commit=machine.commit(),
        machine=described.describe(),
        scale=options.scale,
        rows=loaded.rows,
        load_seconds=loaded.seconds,
        plan=plan.describe(options.quick, options.all_full),
        wrk_threads=options.wrk_threads,
        comparisons=comparisons,
        peer=peer_version,
        wall_seconds=time.monotonic() - started,
    )
    text = report.render(context, measurements, costs)
    (work / "results.json").write_text(json.dumps(report.as_json(measurements, costs), indent=1))
    print()
    print(text)
    if options.write_results:
        report.append(text)
        say(f"appended to {report.RESULTS}")
    return 0 if all(m.valid for m in measurements) else 2


def main(argv: list[str] | None = None) -> int:
    return run(parse(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
