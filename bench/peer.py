"""The peer: PostGraphile v5 (amber preset) in one Node 22 process, installed from the npm registry.

What is committed lives in bench/postgraphile/: package.json and package-lock.json (exact
versions of ``node``, the npm package that ships a Node 22 binary, and ``postgraphile``),
graphile.config.mjs and summary.sql (the summary computed columns). The package files and the
config are copied to bench/.work/postgraphile/ and installed there with ``npm ci``, once per
version of the package files: Node resolves the config's imports from the folder the config is in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from bench.servers import Server

SOURCE = Path(__file__).resolve().parent / "postgraphile"
COPIED = ("package.json", "package-lock.json", "graphile.config.mjs")
SUMMARY_SQL = SOURCE / "summary.sql"
INSTALLED_STAMP = ".installed"  # the package files as last installed


@dataclass(frozen=True)
class Install:
    directory: Path

    @property
    def node(self) -> Path:
        # The node package's own binary, not whichever node is on PATH (PostGraphile 5 needs 22+).
        return self.directory / "node_modules" / "node" / "bin" / "node"

    @property
    def cli(self) -> Path:
        return self.directory / "node_modules" / "postgraphile" / "dist" / "cli-run.js"

    @property
    def config(self) -> Path:
        return self.directory / "graphile.config.mjs"

    def describe(self) -> str:
        """ "PostGraphile 5.1.5 on Node v22.23.3": what actually got installed."""
        package = self.directory / "node_modules" / "postgraphile" / "package.json"
        version = json.loads(package.read_text())["version"]
        node = subprocess.run([str(self.node), "--version"], capture_output=True, text=True, check=True)
        return f"PostGraphile {version} on Node {node.stdout.strip()}"


def install(work: Path) -> Install:
    """``npm ci`` of bench/postgraphile/ under ``work``, skipped when those files are installed already."""
    target = Install(work / "postgraphile")
    target.directory.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        shutil.copyfile(SOURCE / name, target.directory / name)
    packages = b"".join((SOURCE / name).read_bytes() for name in ("package.json", "package-lock.json"))
    stamp = target.directory / INSTALLED_STAMP
    if stamp.exists() and stamp.read_bytes() == packages and target.node.exists() and target.cli.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "PostGraphile is installed with npm, which is missing (or run with --no-postgraphile)"
        )
    print("installing PostGraphile and Node 22 from the npm registry (npm ci)", flush=True)
    log = target.directory / "npm-ci.log"
    with log.open("wb") as out:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=target.directory,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0 or not target.node.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"npm ci failed ({done.returncode}), see {log}:\n{tail}")
    stamp.write_bytes(packages)
    return target


async def add_summary_columns(database_url: str) -> None:
    """summary.sql into the bench database, before PostGraphile reads its schema."""
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        await conn.execute(SUMMARY_SQL.read_text())
    finally:
        await conn.close()


class PostGraphileServer(Server):
    """``postgraphile -C graphile.config.mjs`` with the installed Node: one process, one event loop."""

    def __init__(self, name: str, installed: Install, port: int, log_path: Path) -> None:
        super().__init__(name, port, log_path, cwd=installed.directory)
        self.installed = installed

    def command(self) -> list[str]:
        return [str(self.installed.node), str(self.installed.cli), "-C", str(self.installed.config)]

    def environment(self, database_url: str) -> dict[str, str]:
        return {
            **os.environ,
            "BENCH_PG_URL": database_url,
            "BENCH_PORT": str(self.port),
            "NODE_ENV": "production",
            "GRAPHILE_ENV": "production",
        }

    def answers(self) -> bool:
        try:
            answer = httpx.post(f"{self.base_url}/graphql", json={"query": "{ __typename }"}, timeout=1.0)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def worker_pids(self) -> list[int]:
        return [] if self.process is None else [self.process.pid]
