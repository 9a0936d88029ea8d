"""Helpers of the import and export tests: the real command in a thread, and table snapshots."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import text

from gql_progress.cli import main
from gql_progress.db.engine import Database

TABLES = ("users", "courses", "lessons", "enrollments", "lesson_progress", "certificates", "events")


async def cli(*argv: str | Path) -> int:
    """main() in a thread: it runs its own event loop, and the test's loop is running."""
    return await asyncio.to_thread(main, [str(a) for a in argv])


async def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables an import writes, in id order."""
    db = Database(url)
    try:
        async with db.read() as conn:
            return {
                table: [tuple(row) for row in await conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
                for table in TABLES
            }
    finally:
        await db.dispose()


async def scalar(url: str, sql: str) -> Any:
    db = Database(url)
    try:
        async with db.read() as conn:
            return await conn.scalar(text(sql))
    finally:
        await db.dispose()


def write(directory: Path, name: str, content: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(content, encoding="utf-8")
    return path
