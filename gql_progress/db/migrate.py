"""Run the Alembic migrations from code (CLI, tests, benchmark)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from gql_progress.db.engine import Database

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Step:
    """One revision applied (``upgraded``) or reverted, told as it happens."""

    revision: str
    upgraded: bool
    title: str


OnStep = Callable[[Step], None]


def migrations_dir() -> Path:
    # A wheel carries the migrations inside the package; a source checkout has them at the top.
    for candidate in (_PACKAGE_DIR / "_migrations", _PACKAGE_DIR.parent / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError("the migrations directory was not found next to the package")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


@functools.cache
def scripts() -> ScriptDirectory:
    """The migrations this code carries (read once: loading them imports every revision file)."""
    return ScriptDirectory.from_config(alembic_config())


def target_revisions(name: str) -> tuple[str, ...]:
    """The revisions ``name`` stands for: head, base (none), a revision id or its unique prefix;
    ValueError, in one line listing the known ones, for anything else."""
    directory = scripts()
    if name in {"head", "heads"}:
        return tuple(sorted(directory.get_heads()))
    if name == "base":
        return ()
    try:
        script = directory.get_revision(name)
    except CommandError:
        script = None
    if script is None:
        known = ", ".join(s.revision for s in reversed(list(directory.walk_revisions())))
        raise ValueError(f"unknown revision {name!r}; known: base, {known} (head)")
    return (script.revision,)


def is_downgrade(current: tuple[str, ...], target: tuple[str, ...]) -> bool:
    """Whether going from ``current`` to ``target`` reverts revisions (Alembic's upgrade to an
    older revision does nothing at all, silently)."""
    if not current or set(current) == set(target):
        return False
    ancestors = {script.revision for script in scripts().iterate_revisions(current, "base")}
    return set(target) <= ancestors


def is_head(revisions: tuple[str, ...]) -> bool:
    return bool(revisions) and set(revisions) == set(scripts().get_heads())


async def upgrade(database: Database, revision: str = "head", on_step: OnStep | None = None) -> None:
    await _run(database, lambda cfg: command.upgrade(cfg, revision), on_step)


async def downgrade(database: Database, revision: str = "base", on_step: OnStep | None = None) -> None:
    await _run(database, lambda cfg: command.downgrade(cfg, revision), on_step)


async def _run(database: Database, action: Callable[[Config], None], on_step: OnStep | None) -> None:
    def tell(*, step: Any, **_: Any) -> None:
        assert on_step is not None
        script = step.up_revision
        title = script.doc.splitlines()[0] if script is not None and script.doc else ""
        on_step(Step(step.up_revision_id, step.is_upgrade, title))

    def run(sync_conn: Connection) -> None:
        config = alembic_config()
        # migrations/env.py uses this connection instead of opening its own, and passes the
        # callback to Alembic's on_version_apply hook (called after each revision).
        config.attributes["connection"] = sync_conn
        if on_step is not None:
            config.attributes["on_version_apply"] = tell
        action(config)

    async with database.write() as conn:
        await conn.run_sync(run)
