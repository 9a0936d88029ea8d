"""The load generator: wrk (C, closed loop) with bench/lua/bench.lua building every request."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.operations import MIX_WRITE_SHARE, Operation

LUA_SCRIPT = Path(__file__).resolve().parent / "lua" / "bench.lua"


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's packages when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    print("wrk is missing: installing the Debian package", flush=True)
    install = [*sudo, "apt-get", "install", "-y", "-q", "wrk"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, env=env, check=False).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk could not be installed (apt-get install wrk)")
    return found


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0].split(" [")[0] if (out.stdout or out.stderr) else "wrk"


def write_operation_conf(operation: Operation, directory: Path) -> Path:
    """The operation as the Lua script reads it: tab-separated name and value per line."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"pool\t{operation.pool}", f"share\t{MIX_WRITE_SHARE}"]
    lines += [f"marker\t{marker}" for marker in operation.markers]
    lines += [f"request\t{kind}\t{json.dumps(document)}" for kind, document in operation.requests]
    path = directory / f"{operation.name}.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True)
class RunResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    non2xx: int
    gql_errors: int
    bad_bodies: int
    failure: str | None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non2xx + self.gql_errors + self.bad_bodies

    @property
    def valid(self) -> bool:
        return self.errors == 0 and self.requests > 0


_RESULT = re.compile(r"^BENCH_RESULT (\{.*\})$", re.MULTILINE)
_FAILURE = re.compile(r"^BENCH_FAILURE (.*)$", re.MULTILINE)


def parse_output(stdout: str) -> RunResult:
    match = _RESULT.search(stdout)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{stdout[-2000:]}")
    r = json.loads(match.group(1))
    failure = _FAILURE.search(stdout)
    socket_errors = sum(r[k] for k in ("socket_connect", "socket_read", "socket_write", "socket_timeout"))
    return RunResult(
        requests=r["requests"],
        seconds=r["duration_us"] / 1e6,
        p50_ms=r["p50_us"] / 1000,
        p90_ms=r["p90_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        max_ms=r["max_us"] / 1000,
        socket_errors=socket_errors,
        non2xx=r["non2xx"],
        gql_errors=r["gql_errors"],
        bad_bodies=r["bad_bodies"],
        failure=failure.group(1) if failure else None,
    )


@dataclass(frozen=True)
class Wrk:
    binary: str
    workload_dir: Path
    threads: int = 2
    timeout_s: int = 30  # a slow request is measured, not dropped as a socket error

    def run(self, url: str, conf: Path, connections: int, seconds: float, seed: int) -> RunResult:
        command = [
            self.binary, f"-t{min(self.threads, connections)}", f"-c{connections}",
            f"-d{max(1, round(seconds))}s", f"--timeout={self.timeout_s}s", "--latency",
            "-s", str(LUA_SCRIPT), url, "--", str(conf), str(self.workload_dir), str(seed),
        ]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stderr[-2000:]}\n{out.stdout[-2000:]}")
        return parse_output(out.stdout)
