"""Which published npm files the GraphiQL page loads, and where they are vendored.

The versions are the last of GraphiQL's line that ships a browser (UMD) build: 5.x is ES modules
only and needs a bundler or an import map of some forty packages. React 18 is the last with UMD
builds; GraphiQL 4 accepts 18 or 19. The explorer plugin 4.0.x is the one built for GraphiQL 4.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
# What vendor.py wrote: each package's tarball integrity (as the registry publishes it) and the
# sha256 of each file taken from it.
MANIFEST_PATH = Path(__file__).resolve().parent / "vendor.json"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    # Loaded by the page, in this order (package by package as listed in PACKAGES).
    loaded: tuple[str, ...]
    # Vendored alongside and never loaded: the licence (or, where the tarball has none, the
    # package.json that states it).
    kept: tuple[str, ...]

    @property
    def directory(self) -> str:
        """As on unpkg: ``@graphiql/plugin-explorer@4.0.6``."""
        return f"{self.name}@{self.version}"

    @property
    def files(self) -> tuple[str, ...]:
        return self.loaded + self.kept


PACKAGES = (
    Package("react", "18.3.1", ("umd/react.production.min.js",), ("LICENSE",)),
    Package("react-dom", "18.3.1", ("umd/react-dom.production.min.js",), ("LICENSE",)),
    Package("graphiql", "4.1.2", ("graphiql.min.css", "graphiql.min.js"), ("LICENSE",)),
    Package("@graphiql/plugin-explorer", "4.0.6", ("dist/style.css", "dist/index.umd.js"), ("package.json",)),
)


def vendored(package: Package, file: str) -> Path:
    return VENDOR_DIR / package.directory / file


def loaded_urls(suffix: str) -> list[str]:
    """The page's files ending in ``suffix``, in load order, relative to static/."""
    return [
        f"vendor/{package.directory}/{file}"
        for package in PACKAGES
        for file in package.loaded
        if file.endswith(suffix)
    ]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(MANIFEST_PATH.read_text())
    return manifest


def differences() -> list[str]:
    """What differs between the vendored files and the manifest (nothing, unless a file was edited
    or PACKAGES changed without running vendor.py)."""
    entries = {entry["name"]: entry for entry in read_manifest()["packages"]}
    problems = []
    for package in PACKAGES:
        entry = entries.pop(package.name, None)
        if entry is None or entry["version"] != package.version:
            problems.append(f"{package.directory} is not in {MANIFEST_PATH.name}")
            continue
        for file in package.files:
            path = vendored(package, file)
            if not path.is_file():
                problems.append(f"{package.directory}/{file} is missing")
            elif sha256(path.read_bytes()) != entry["files"].get(file):
                problems.append(f"{package.directory}/{file} is not the published file")
    problems.extend(f"{name} is in {MANIFEST_PATH.name} but not in PACKAGES" for name in entries)
    return problems
