"""Run the Alembic migrations from code (CLI, tests, benchmark)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from gql_progress.db.engine import Database

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


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


async def upgrade(database: Database, revision: str = "head") -> None:
    await _run(database, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(database: Database, revision: str = "base") -> None:
    await _run(database, lambda cfg: command.downgrade(cfg, revision))


async def _run(database: Database, action: object) -> None:
    def run(sync_conn: Connection) -> None:
        config = alembic_config()
        # migrations/env.py uses this connection instead of opening its own.
        config.attributes["connection"] = sync_conn
        action(config)  # type: ignore[operator]

    async with database.write() as conn:
        await conn.run_sync(run)
