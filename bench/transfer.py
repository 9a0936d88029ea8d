"""`python -m bench.transfer`: rows/s of `gql-progress import` and `gql-progress export` on
PostgreSQL (issue 18), not a timed test. Run it alone: it is CPU heavy.

Generates a platform (bench/transfer_data.py; 1,000,000 progress rows by default) as CSV files,
creates the database ``gql_progress_bench_transfer``, migrates it with the project's migrations,
runs the real command (``.venv/bin/gql-progress``, a subprocess, as an operator would), and times
each step; drops the database at the end. The import's rows/s is the progress file's, the file
that is large in a migration; the export's is ``export progress`` to CSV and to Parquet.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.transfer_data import Shape, write_dataset
from gql_progress.db import migrate
from gql_progress.db.engine import Database

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "gql_progress_bench_transfer"
COMMAND = Path(sys.executable).with_name("gql-progress")


async def _admin(pg_url: str, sql: str) -> None:
    conn = await asyncpg.connect(f"{pg_url}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([str(COMMAND), *argv], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--courses", type=int, default=40)
    parser.add_argument("--lessons", type=int, default=50, help="lessons per course")
    parser.add_argument("--courses-per-user", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=25_000, help="import rows per transaction")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL))
    options = parser.parse_args()
    shape = Shape(options.users, options.courses, options.lessons, options.courses_per_user)
    url = f"{options.pg_url}/{DB_NAME}"
    with tempfile.TemporaryDirectory(prefix="gqlp-transfer-") as work:
        files = Path(work) / "lms"
        started = time.perf_counter()
        write_dataset(files, shape)
        print(f"generated {shape.progress_rows:,} progress rows in {time.perf_counter() - started:.1f} s")
        asyncio.run(_admin(options.pg_url, f'DROP DATABASE IF EXISTS "{DB_NAME}"'))
        asyncio.run(_admin(options.pg_url, f'CREATE DATABASE "{DB_NAME}"'))
        try:
            asyncio.run(_migrate(url))
            env = {**os.environ, "GQL_PROGRESS_DATABASE_URL": url}
            batch = ["--batch-size", str(options.batch_size)]
            catalog = Path(work) / "catalog"
            catalog.mkdir()
            for kind in ("users", "courses", "lessons", "enrollments"):
                (files / f"{kind}.csv").rename(catalog / f"{kind}.csv")
            seconds = _timed(["import", str(catalog), *batch], env)
            print(f"import users, courses, lessons, enrollments: {seconds:.1f} s")
            seconds = _timed(["import", str(files / "progress.csv"), *batch], env)
            print(
                f"import progress: {shape.progress_rows:,} rows in {seconds:.1f} s = "
                f"{shape.progress_rows / seconds:,.0f} rows/s (whole command, completion rules included)"
            )
            seconds = _timed(["import", str(files / "progress.csv"), *batch], env)
            print(
                f"import progress again (nothing changes): {seconds:.1f} s = "
                f"{shape.progress_rows / seconds:,.0f} rows/s"
            )
            for fmt in ("csv", "parquet"):
                target = Path(work) / f"progress.{fmt}"
                seconds = _timed(["export", "progress", "--format", fmt, "-o", str(target), *batch], env)
                print(
                    f"export progress --format {fmt}: {seconds:.1f} s = "
                    f"{shape.progress_rows / seconds:,.0f} rows/s ({target.stat().st_size / 1e6:.0f} MB)"
                )
        finally:
            asyncio.run(_admin(options.pg_url, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
