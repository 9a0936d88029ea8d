"""Refreshes the vendored GraphiQL files from the npm registry, or proves them unchanged.

    python -m gql_progress.graphiql.vendor          # fetch assets.PACKAGES, rewrite static/vendor/
    python -m gql_progress.graphiql.vendor --check  # fetch again; fail unless ours are the published

Each tarball must match the sha512 integrity that the registry publishes for its version (what
npm itself checks); with --check, also the integrity recorded in vendor.json, so that different
bytes under a published version number would be caught too. Files are taken from the tarball as
they are: nothing here rewrites them. Needs only the standard library and registry.npmjs.org.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import shutil
import sys
import tarfile
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from gql_progress.graphiql.assets import (
    MANIFEST_PATH,
    PACKAGES,
    VENDOR_DIR,
    Package,
    differences,
    read_manifest,
    sha256,
    vendored,
)

REGISTRY = "https://registry.npmjs.org"
TIMEOUT_SECONDS = 60


class VendorError(Exception):
    pass


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
        data: bytes = response.read()
        return data


def published(package: Package, pinned_integrity: str | None = None) -> tuple[dict[str, Any], bytes]:
    """The registry's ``dist`` entry for the package's version, and its tarball, verified."""
    # A scoped name's slash is encoded (@graphiql%2Fplugin-explorer), as npm's own client does.
    dist: dict[str, Any] = json.loads(_get(f"{REGISTRY}/{quote(package.name, safe='@')}/{package.version}"))[
        "dist"
    ]
    integrity: str = dist["integrity"]
    if pinned_integrity is not None and integrity != pinned_integrity:
        raise VendorError(
            f"{package.directory}: the registry now publishes {integrity}, not {pinned_integrity}"
        )
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise VendorError(f"{package.directory}: unexpected integrity algorithm {algorithm}")
    tarball = _get(dist["tarball"])
    if base64.b64encode(hashlib.sha512(tarball).digest()).decode() != expected:
        raise VendorError(f"{package.directory}: the tarball does not match its integrity {integrity}")
    return dist, tarball


def extract(package: Package, tarball: bytes) -> dict[str, bytes]:
    """The package's files from its tarball (npm puts them under one top folder, "package/")."""
    files = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        members = {
            member.name.partition("/")[2]: member for member in archive.getmembers() if member.isfile()
        }
        for name in package.files:
            member = members.get(name)
            reader = archive.extractfile(member) if member else None
            if reader is None:
                raise VendorError(f"{package.directory} has no file {name}")
            files[name] = reader.read()
    return files


def refresh() -> None:
    entries = []
    shutil.rmtree(VENDOR_DIR, ignore_errors=True)
    for package in PACKAGES:
        dist, tarball = published(package)
        files = extract(package, tarball)
        for name, data in files.items():
            path = vendored(package, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        entries.append(
            {
                "name": package.name,
                "version": package.version,
                "tarball": dist["tarball"],
                "integrity": dist["integrity"],
                "files": {name: sha256(data) for name, data in files.items()},
            }
        )
        print(f"{package.directory}: {', '.join(files)} ({sum(map(len, files.values()))} bytes)")
    manifest = {
        "about": "Written by `python -m gql_progress.graphiql.vendor` from registry.npmjs.org; not edited.",
        "packages": entries,
    }
    MANIFEST_PATH.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {VENDOR_DIR} and {MANIFEST_PATH}")


def check() -> list[str]:
    """What differs from the published packages (nothing, when the vendored files are theirs)."""
    problems = differences()
    if problems:
        return problems
    pinned = {entry["name"]: entry["integrity"] for entry in read_manifest()["packages"]}
    for package in PACKAGES:
        _, tarball = published(package, pinned[package.name])
        for name, data in extract(package, tarball).items():
            if vendored(package, name).read_bytes() != data:
                problems.append(f"{package.directory}/{name} differs from the published file")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gql_progress.graphiql.vendor", description=__doc__)
    parser.add_argument("--check", action="store_true", help="verify against the registry; change nothing")
    args = parser.parse_args(argv)
    try:
        if not args.check:
            refresh()
            return 0
        problems = check()
    except (OSError, VendorError) as exc:  # urllib's errors are OSErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("the vendored GraphiQL files are the published ones")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
