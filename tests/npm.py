"""Node packages for the tests that run JavaScript against a real server (tests/http_audit,
tests/client_recipes): ``npm ci`` from the npm registry on first use, once per lockfile.

Without node or npm such a test is skipped, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def npm_installed(directory: Path, purpose: str) -> str:
    """The path of ``node``, once ``directory``'s package-lock.json is installed in its
    node_modules; ``purpose`` names what needs them in the skip or failure message."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        if in_ci():
            pytest.fail(f"CI=true but npm or node is missing: {purpose} must run in CI")
        pytest.skip(f"npm or node is not installed: {purpose} needs them")
    lockfile = (directory / "package-lock.json").read_bytes()
    stamp = directory / "node_modules" / f".installed-{hashlib.sha256(lockfile).hexdigest()[:16]}"
    # Test workers start together: one installs, the others wait for it and find it done.
    lock_path = (
        Path(tempfile.gettempdir())
        / f"gql-progress-npm-{hashlib.sha256(bytes(directory)).hexdigest()[:16]}.lock"
    )
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=directory,
                check=True,
                timeout=300,
            )
            stamp.touch()
    return node
