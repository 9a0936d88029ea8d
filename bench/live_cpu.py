"""`python -m bench.live_cpu`: the live server's CPU per request, as `make bench` runs it.

bench.cpu calls the ASGI app directly; this runs it under uvicorn (2 workers, uvloop, httptools)
and loads it with wrk, then divides the workers' CPU (utime + stime from /proc) by the requests
answered: what uvicorn's protocol, the ASGI plumbing and the edge cost on top of bench.cpu's
figure. CPU, not req/s, so that another program on the machine changes it less.

    python -m bench --scale 0.1 --quick --ops Q0 --keep-db --no-postgraphile --no-results --db-name X
    python -m bench.live_cpu --db-name X --ops Q0,Q1 --concurrency 32 --seconds 10
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench import load
from bench.__main__ import WORK
from bench.dataset import database_urls
from bench.operations import OPERATIONS
from bench.servers import UvicornServer, free_port
from gql_progress.edge.http_protocol import HTTP_PROTOCOL

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db-name", required=True)
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--ops", default="Q0,Q1")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--app", default="gql_progress.edge.app:create_app")
    parser.add_argument("--http", default=HTTP_PROTOCOL, help="uvicorn's --http (httptools: uvicorn's own)")
    options = parser.parse_args()
    _, url = database_urls(options.pg_url, options.db_name)
    work = WORK / options.db_name
    wrk = load.Wrk(load.ensure_wrk(), work)
    server = UvicornServer("gql_progress", options.app, free_port(), work / "live_cpu.log", options.http)
    try:
        server.start(url)  # inside: a server that fails its start is still stopped
        pids = server.worker_pids()
        for name in options.ops.split(","):
            conf = load.write_operation_conf(OPERATIONS[name], work / "live_ops")
            wrk.run(f"{server.base_url}/graphql", conf, options.concurrency, 2, 1)  # warm-up
            before = cpu_seconds(pids)
            result = wrk.run(f"{server.base_url}/graphql", conf, options.concurrency, options.seconds, 2)
            spent = cpu_seconds(pids) - before
            print(
                f"{name} c{options.concurrency}: {result.rps:,.0f} req/s, "
                f"worker CPU {1000 * spent / result.requests:.3f} ms/request, errors {result.errors}",
                flush=True,
            )
            if result.failure:
                print(f"  first failure: {result.failure}", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
