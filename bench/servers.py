"""The servers under test and how they are started, checked and stopped.

gql_progress and the floor run as in production: uvicorn, 2 workers, uvloop, httptools, no access
log; PostGraphile (bench/peer.py) is one Node process. Also samples their memory: the resident
set of the processes that serve requests, summed, read from /proc.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import httpx

WORKERS = 2
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A server under test: a process started from a command, ready once it answers.

    Subclasses say how to run it (command, environment), how to ask it whether it is ready and
    which processes do its work (for memory sampling).
    """

    def __init__(self, name: str, port: int, log_path: Path, cwd: Path = REPO) -> None:
        self.name = name
        self.port = port
        self.log_path = log_path
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self, database_url: str) -> dict[str, str]:
        raise NotImplementedError

    def answers(self) -> bool:
        """True once the server answers a request (it may still be starting its workers)."""
        raise NotImplementedError

    def worker_pids(self) -> list[int]:
        """The processes that serve requests."""
        raise NotImplementedError

    def ready(self) -> bool:
        return self.answers()

    def start(self, database_url: str, timeout_s: float = 60.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.cwd,
                env=self.environment(database_url),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start-up:\n{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become ready in {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


class UvicornServer(Server):
    """An ASGI app factory ("module:factory") as production runs it."""

    def __init__(self, name: str, app: str, port: int, log_path: Path, http: str = "httptools") -> None:
        super().__init__(name, port, log_path)
        self.app = app
        self.http = http

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", self.app, "--factory",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", str(WORKERS), "--loop", "uvloop", "--http", self.http,
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip

    def environment(self, database_url: str) -> dict[str, str]:
        return {
            **os.environ,
            "GQL_PROGRESS_MODE": "production",
            "GQL_PROGRESS_DATABASE_URL": database_url,
        }

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def ready(self) -> bool:
        return self.answers() and len(self.worker_pids()) == WORKERS

    def worker_pids(self) -> list[int]:
        """The uvicorn workers: children of the master, less multiprocessing's resource tracker."""
        if self.process is None:
            return []
        master = self.process.pid
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            # The fields after the command name, which may itself hold spaces and parentheses.
            ppid = int(stat.rpartition(")")[2].split()[1])
            if ppid == master and b"resource_tracker" not in cmdline:
                pids.append(int(entry.name))
        return sorted(pids)


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


class RssSampler:
    """Peak of the summed RSS of a server's workers, sampled every ``interval_s`` while in use."""

    def __init__(self, server: Server, interval_s: float = 0.2) -> None:
        self._pids = server.worker_pids()
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{server.name}", daemon=True)
        self.peak_bytes = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, rss_bytes(self._pids))
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, rss_bytes(self._pids))
