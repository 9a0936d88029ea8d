"""A PostgreSQL cluster the test owns (initdb into a temporary directory, a free port), so it
can restart it (`pg_ctl restart -m fast`) without touching the shared server other tests use;
and a streaming replica of one (`pg_basebackup -R`), which the test can pause, stop and start.

PostgreSQL refuses to run as root: when the tests run as root (CI containers), the cluster's
files belong to, and its commands run as, the `postgres` account.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.servers import free_port

REQUIRE_PG = os.environ.get("GQL_PROGRESS_REQUIRE_PG", "") not in {"", "0", "false"}


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class Cluster:
    bin_dir: Path
    root: Path
    port: int
    run_as: str | None
    # Server settings given on the command line at every start (`-c name=value`).
    settings: tuple[tuple[str, str], ...] = ()

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def run(self, program: str, *args: str) -> None:
        # Output to a file, not a pipe: the server pg_ctl starts would inherit the pipe and keep
        # it open, and reading it to the end would never end.
        with tempfile.TemporaryFile() as output:
            process = await asyncio.create_subprocess_exec(
                str(self.bin_dir / program),
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                cwd=self.root,
                user=self.run_as,
                group=self.run_as,
                extra_groups=[] if self.run_as else None,
            )
            if await asyncio.wait_for(process.wait(), 60) != 0:
                output.seek(0)
                text = output.read().decode(errors="replace")
                raise AssertionError(f"{program} {' '.join(args)} failed:\n{text}")

    async def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += "".join(f" -c {name}={value}" for name, value in self.settings)
        await self.run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "start"
        )

    async def stop_fast(self) -> None:
        await self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    async def restart_fast(self) -> None:
        """`pg_ctl restart -m fast`: every session is ended, the server stops and starts again;
        returns once it accepts connections."""
        await self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "restart")

    async def create_database(self, name: str) -> str:
        conn = await asyncpg.connect(self.url(), timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)


# For clusters that only a test's app and a replica use: little memory, few connections.
SMALL = (("shared_buffers", "16MB"), ("max_connections", "40"), ("max_wal_senders", "4"))


def _private_root(run_as: str | None) -> Path:
    root = Path(tempfile.mkdtemp(prefix="gqlp-pg-"))
    if run_as:
        account = pwd.getpwnam(run_as)
        os.chown(root, account.pw_uid, account.pw_gid)
    return root


def _require_binaries(*programs: str) -> Path:
    bin_dir = _bin_dir()
    if bin_dir is None or not all((bin_dir / program).exists() for program in programs):
        names = "/".join(programs)
        if REQUIRE_PG:
            pytest.fail(f"GQL_PROGRESS_REQUIRE_PG is set but {names} are not installed")
        pytest.skip(f"{names} are not installed")
    return bin_dir


@asynccontextmanager
async def _removed_at_exit(cluster: Cluster) -> AsyncIterator[Cluster]:
    try:
        yield cluster
    finally:
        if (cluster.data / "postmaster.pid").exists():
            await cluster.run("pg_ctl", "-D", str(cluster.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(cluster.root, ignore_errors=True)


@asynccontextmanager
async def own_cluster(settings: tuple[tuple[str, str], ...] = ()) -> AsyncIterator[Cluster]:
    bin_dir = _require_binaries("initdb", "pg_ctl")
    run_as = "postgres" if os.geteuid() == 0 else None
    cluster = Cluster(bin_dir, _private_root(run_as), free_port(), run_as, settings)
    async with _removed_at_exit(cluster):
        await cluster.run("initdb", "-D", str(cluster.data), "-U", "postgres", "-A", "trust", "--no-sync")
        await cluster.start()
        yield cluster


@asynccontextmanager
async def own_replica(primary: Cluster) -> AsyncIterator[Cluster]:
    """A hot standby of ``primary`` streaming its WAL (`pg_basebackup -R`: standby.signal and
    primary_conninfo written for it), with the primary's settings, on a port of its own. initdb's
    trust lines in pg_hba.conf let replication connections from 127.0.0.1 in."""
    _require_binaries("pg_basebackup")
    replica = Cluster(
        primary.bin_dir, _private_root(primary.run_as), free_port(), primary.run_as, primary.settings
    )
    async with _removed_at_exit(replica):
        await replica.run(
            "pg_basebackup",
            *("-D", str(replica.data), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            # -c fast: a checkpoint now rather than spread over minutes; -N: no fsync of the copy.
            *("-R", "-X", "stream", "-c", "fast", "-N"),
        )
        await replica.start()
        yield replica
