"""A PgBouncer in transaction-pooling mode that a test owns: Debian's `pgbouncer` (1.18, which
keeps no prepared statements across transactions), on a free port of 127.0.0.1, in front of the
tests' PostgreSQL, stopped and its files removed when the block ends.

Installed with apt when missing and running as root (as tests/browser.py does for chromium; CI
installs it beforehand in .ci/run); otherwise the test is skipped, or fails where PostgreSQL is
required (GQL_PROGRESS_REQUIRE_PG, CI). PgBouncer refuses to run as root: when the tests run as
root, its files belong to, and it runs as, the `postgres` account.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.servers import free_port

REQUIRED = os.environ.get("GQL_PROGRESS_REQUIRE_PG", "") not in {"", "0", "false"} or os.environ.get(
    "CI", ""
).strip().lower() in {"true", "1", "yes"}


def _installed() -> str | None:
    # /usr/sbin is not on every PATH.
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")


def pgbouncer_executable() -> str:
    found = _installed()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "pgbouncer"]
        if subprocess.run(install, env=env, capture_output=True, timeout=600).returncode != 0:
            # A fresh container has no package lists yet.
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=300)
            subprocess.run(install, env=env, capture_output=True, timeout=600)
        found = _installed()
    if found is None:
        if REQUIRED:
            pytest.fail("PostgreSQL tests are required but pgbouncer is missing (apt-get install pgbouncer)")
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer, as root)")
    return found


@dataclass(frozen=True)
class PooledDatabase:
    """One test database, reached through the bouncer (``url``) and directly (``direct_url``)."""

    url: str
    direct_url: str

    def settings(self) -> dict[str, str]:
        """The app's settings for it, as an operator sets them behind a transaction pooler."""
        return {"database_url": self.url, "db_pooler": "transaction", "db_listen_url": self.direct_url}

    def env(self) -> dict[str, str]:
        return {f"GQL_PROGRESS_{name.upper()}": value for name, value in self.settings().items()}


_CONFIG = """\
[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {root}/users.txt
pool_mode = transaction
; Few server connections for many clients: transactions of different clients share sessions,
; which is what the tests must survive (and the shared PostgreSQL has few slots).
default_pool_size = {pool_size}
max_client_conn = 500
logfile = {root}/pgbouncer.log
pidfile =
"""


@asynccontextmanager
async def pgbouncer(direct_url: str, *, pool_size: int = 3) -> AsyncIterator[PooledDatabase]:
    """A bouncer in front of ``direct_url``'s server; the same database through it."""
    executable = pgbouncer_executable()
    direct = make_url(direct_url)
    run_as = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="gqlp-pgbouncer-"))
    port = free_port()
    (root / "pgbouncer.ini").write_text(
        _CONFIG.format(
            host=direct.host or "127.0.0.1",
            port=direct.port or 5432,
            listen_port=port,
            root=root,
            pool_size=pool_size,
        )
    )
    (root / "users.txt").write_text(f'"{direct.username or "postgres"}" ""\n')
    if run_as:
        account = pwd.getpwnam(run_as)
        for path in (root, root / "pgbouncer.ini", root / "users.txt"):
            os.chown(path, account.pw_uid, account.pw_gid)
    process = await asyncio.create_subprocess_exec(
        executable,
        str(root / "pgbouncer.ini"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        user=run_as,
        group=run_as,
        extra_groups=[] if run_as else None,
    )
    try:
        await _accepting(process, port, root)
        pooled = direct.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        yield PooledDatabase(url=pooled, direct_url=direct_url)
    finally:
        if process.returncode is None:
            # SIGTERM: immediate shutdown, every client and server connection closed (SIGINT
            # would wait for clients to leave).
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        shutil.rmtree(root, ignore_errors=True)


async def _accepting(process: asyncio.subprocess.Process, port: int, root: Path) -> None:
    for _ in range(200):
        if process.returncode is not None:
            break
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.025)
            continue
        writer.close()
        await writer.wait_closed()
        return
    log = root / "pgbouncer.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    raise AssertionError(f"pgbouncer did not start (exit {process.returncode}):\n{text}")
