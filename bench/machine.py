"""What the numbers were measured on: the machine, the commit, and who else used the CPU."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    memory_gib: float
    postgres: str
    python: str
    wrk: str

    def describe(self) -> str:
        return (
            f"{self.cpu}, {self.cores} cores, {self.memory_gib:.1f} GiB; PostgreSQL {self.postgres}; "
            f"Python {self.python}; {self.wrk}"
        )


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


async def describe(database_url: str, wrk: str) -> Machine:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        postgres = str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
    return Machine(
        cpu=_cpu_model(),
        cores=os.cpu_count() or 0,
        memory_gib=_memory_gib(),
        postgres=postgres,
        python=platform.python_version(),
        wrk=wrk,
    )


def commit() -> str:
    """The short commit, "+dirty" when tracked files differ from it (as git describe --dirty)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no").strip()
    return f"{head}+dirty" if dirty else head


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command name, CPU seconds so far)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rpartition(")")[2].split()
        found[int(entry.name)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / tick)
    return found


def _postgres_database(pid: int) -> str | None:
    """The database a PostgreSQL backend serves, from its title ("postgres: 15/main: user db
    host(port) state"); None for PostgreSQL's own background processes."""
    try:
        title = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, UnicodeDecodeError):
        return None
    parts = title.strip().split(": ", 2)
    tokens = parts[2].split() if len(parts) == 3 else []
    if len(tokens) >= 3 and ("(" in tokens[2] or tokens[2] == "[local]"):
        return tokens[1]
    return None


class OtherLoad:
    """CPU used by processes that are not this run's, averaged in cores over a stretch of time:
    the benchmark's noise on a shared machine. Ours: the harness and its children (wrk, the
    servers) and PostgreSQL backends of the bench database. PostgreSQL's background processes
    count for no one; backends of other databases count as others'."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._start: dict[int, tuple[int, str, float]] = {}
        self._started = 0.0

    def start(self) -> None:
        self._start = _processes()
        self._started = _now()

    def stop(self) -> float:
        end = _processes()
        elapsed = _now() - self._started
        ours = _descendants(end, os.getpid())
        used = 0.0
        for pid, (_, name, cpu) in end.items():
            if pid in ours:
                continue
            if name.startswith("postgres") and _postgres_database(pid) in {None, self._database}:
                continue
            # A process born during the stretch used all its CPU in it.
            before = self._start[pid][2] if pid in self._start else 0.0
            used += max(0.0, cpu - before)
        return used / elapsed if elapsed > 0 else 0.0


def _now() -> float:
    return float(os.times().elapsed)


def _descendants(processes: dict[int, tuple[int, str, float]], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found
