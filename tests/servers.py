"""Real server processes for fault tests: `gql-progress serve` (the CLI, so its settings reach
uvicorn) on a free port of 127.0.0.1, with its log in a file the test can read."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

REPO = Path(__file__).resolve().parent.parent

# Load tests send hundreds of operations per key; the limits themselves are tested elsewhere.
GENEROUS_RATE = "1000000/minute"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    process: asyncio.subprocess.Process
    base: str
    _log: IO[bytes]

    def log(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def sigterm(self) -> float:
        """Send SIGTERM; the monotonic time it was sent."""
        self.process.send_signal(signal.SIGTERM)
        return time.monotonic()

    async def exited(self, within: float) -> tuple[int, float]:
        """Wait for the process to exit: (exit code, monotonic time it was seen exiting)."""
        code = await asyncio.wait_for(self.process.wait(), within)
        return code, time.monotonic()


@asynccontextmanager
async def serve(database_url: str, env: Mapping[str, str] | None = None) -> AsyncIterator[Server]:
    """A server answering /readyz; stopped (SIGTERM, then SIGKILL) when the block ends."""
    async with serve_many(database_url, 1, env) as (server,):
        yield server


@asynccontextmanager
async def serve_many(
    database_url: str, count: int, env: Mapping[str, str] | None = None
) -> AsyncIterator[list[Server]]:
    """``count`` servers of one database, started together (start-up is seconds of imports)."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GQL_PROGRESS_")},
        "GQL_PROGRESS_DATABASE_URL": database_url,
        "GQL_PROGRESS_WEBHOOKS_ENABLED": "false",
        "GQL_PROGRESS_LOG_LEVEL": "WARNING",
        "GQL_PROGRESS_RATE_LIMIT_LEARNER": GENEROUS_RATE,
        "GQL_PROGRESS_RATE_LIMIT_ADMIN": GENEROUS_RATE,
        **(env or {}),
    }
    with contextlib.ExitStack() as files:
        servers = []
        try:
            for _ in range(count):
                port = free_port()
                # A file, not a pipe: nobody reads a pipe while the server runs, and a full one
                # blocks it.
                log = files.enter_context(tempfile.TemporaryFile())
                command = ("-m", "gql_progress", "serve", "--host", "127.0.0.1", "--port", str(port))
                process = await asyncio.create_subprocess_exec(
                    sys.executable, *command, cwd=REPO, env=environment, stdout=log, stderr=log
                )
                servers.append(Server(process, f"http://127.0.0.1:{port}", log))
            try:
                await asyncio.gather(*map(_ready, servers))
            except AssertionError:
                for server in servers:
                    print(server.log())  # shown by pytest with the failure
                raise
            yield servers
        finally:
            for server in servers:
                if server.process.returncode is None:
                    server.process.terminate()
            for server in servers:
                try:
                    await asyncio.wait_for(server.process.wait(), 15)
                except TimeoutError:
                    server.process.kill()
                    await server.process.wait()


async def _ready(server: Server) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            if server.process.returncode is not None:
                raise AssertionError(f"server exited with {server.process.returncode}")
            try:
                if (await client.get(f"{server.base}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("server did not start")


def graphql_body(query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"query": query, "variables": dict(variables or {})}
