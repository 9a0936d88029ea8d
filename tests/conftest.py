"""Fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL, and the real app.

Each backend is migrated once per session into a template. SQLite: every test gets a copy of
the file. PostgreSQL: every test gets a database of this worker's pool (PgPool), cloned from the
template (CREATE DATABASE … TEMPLATE) once and emptied after each test, so tests never see each
other's rows and never depend on leftovers.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from hypothesis import settings as hypothesis_settings
from starlette.applications import Starlette

from gql_progress.db import migrate
from gql_progress.db.engine import Database
from tests import read_corpus
from tests.apps import GENEROUS_LIMITS, client_for, running_app
from tests.support import Api

# In CI every property test runs the same examples on every run (derandomized): a red CI blocks
# everything, so it must not depend on which examples chance picks that day. Runs elsewhere keep
# searching at random (where the twins' tests found their bugs); a failure prints the blob that
# replays it (@reproduce_failure).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
    hypothesis_settings.load_profile("ci")

PG_ADMIN_URL = os.environ.get("GQL_PROGRESS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("GQL_PROGRESS_REQUIRE_PG", "") not in {"", "0", "false"}


def _pg_url(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# Everything of a database that is not rows: tables, columns, defaults, constraints, indexes,
# sequences, types, functions, triggers, rules, policies, grants, its own settings, and the
# migration it is at. Any DDL inserts, updates or deletes rows of these catalogs, each new row
# version carrying the xid that wrote it: the count and the sum of their xmin change with it
# (VACUUM and ANALYZE update pg_class in place, keeping xmin). A test that changed any of it
# does not give its database back to the pool.
_CATALOGS = (
    *("pg_class", "pg_attribute", "pg_attrdef", "pg_constraint", "pg_index", "pg_sequence"),
    *("pg_type", "pg_enum", "pg_proc", "pg_trigger", "pg_rewrite", "pg_policy", "pg_namespace"),
    "pg_extension",
)
_SHAPE = "SELECT concat_ws(',', {}, {}, {})".format(
    ", ".join(f"(SELECT count(*) || ':' || sum(xmin::text::bigint) FROM {name})" for name in _CATALOGS),
    "(SELECT string_agg(version_num, ',') FROM public.alembic_version)",
    "(SELECT string_agg(array_to_string(setconfig, ','), ';') FROM pg_db_role_setting"
    " WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()))",
)
# No commit waits for its WAL flush (~2-3 ms each here, and tests commit thousands of times):
# what a crash of the server could lose is a test database. Locks, isolation and visibility
# are the same.
_DATABASE_SETTINGS = "synchronous_commit = off"
# Clients only: an autovacuum worker may be busy with a test database, and takes no lock that a
# DELETE waits for.
_OTHER_SESSIONS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
)


class PgPool:
    """Migrated PostgreSQL databases of one pytest process, each used by one test at a time.

    CREATE DATABASE … TEMPLATE writes the whole database (catalogs included) to the WAL and
    DROP DATABASE waits for a checkpoint: 0.2-0.5 s per test here, seconds when others create
    and drop at the same time. Emptying a database costs ~20 ms: every table's rows deleted and
    every sequence set back to its start, in one transaction (DELETE, not TRUNCATE: a TRUNCATE
    makes new files for each table and index and cost more than a new database, ~0.5 s).

    A database goes back to the pool only if no client is still connected to it (a leftover
    connection could hold locks or write later) and its shape (_SHAPE) is the template's; else
    it is dropped, as every database was before, and the next test gets a new clone. So is one
    that cannot be emptied (session_replication_role needs a superuser).
    """

    def __init__(self, template: str, shape: str, cleaning: str) -> None:
        self.template = template
        self.shape = shape
        self.cleaning = cleaning
        self.free: list[str] = []

    @classmethod
    async def of(cls, template: str) -> PgPool:
        await _pg_admin(f'ALTER DATABASE "{template}" SET {_DATABASE_SETTINGS}')
        conn = await asyncpg.connect(_pg_url(template), timeout=5)
        try:
            shape = await conn.fetchval(_SHAPE)
            tables = await conn.fetch(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                " AND (schemaname, tablename) <> ('public', 'alembic_version')"
            )
            sequences = await conn.fetch(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) AS name, start_value"
                " FROM pg_sequences"
            )
        finally:
            await conn.close()
        # session_replication_role = replica: foreign keys are not checked, so the order of the
        # DELETEs does not matter (every row goes). No commit wait: a crash loses a test database.
        statements = [
            "SET LOCAL session_replication_role = replica",
            "SET LOCAL synchronous_commit = off",
            "SET LOCAL lock_timeout = '5s'",
            *(f"DELETE FROM {row['name']}" for row in tables),
            "SELECT " + ", ".join(f"setval('{s['name']}', {s['start_value']}, false)" for s in sequences)
            if sequences
            else "SELECT 1",
        ]
        return cls(template, shape, ";\n".join(statements))

    async def take(self) -> str:
        if self.free:
            pool_counts["reused"] += 1
            return self.free.pop()
        pool_counts["cloned"] += 1
        name = f"gqlp_test_{uuid.uuid4().hex[:12]}"
        await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        # A clone does not inherit its template's settings.
        await _pg_admin(f'ALTER DATABASE "{name}" SET {_DATABASE_SETTINGS}')
        return name

    async def give_back(self, name: str) -> None:
        try:
            reusable = await self._empty(name)
        except (OSError, TimeoutError, asyncpg.PostgresError):
            reusable = False
        if reusable:
            self.free.append(name)
        else:
            pool_counts["dropped"] += 1
            await _drop(name)

    async def _empty(self, name: str) -> bool:
        conn = await asyncpg.connect(_pg_url(name), timeout=5)
        try:
            # Sessions of the test's app or servers that are still closing leave within moments.
            for _ in range(40):
                if await conn.fetchval(_OTHER_SESSIONS) == 0:
                    break
                await asyncio.sleep(0.025)
            else:
                return False
            if await conn.fetchval(_SHAPE) != self.shape:
                return False
            async with conn.transaction():
                await conn.execute(self.cleaning)
            return True
        finally:
            await conn.close()

    async def close(self) -> None:
        while self.free:
            await _drop(self.free.pop())


async def _drop(name: str) -> None:
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_pools: dict[str, PgPool] = {}
pool_counts = {"reused": 0, "cloned": 0, "dropped": 0}  # of this process, for whoever asks


@pytest.fixture(scope="session")
async def pg_template() -> AsyncIterator[str | None]:
    try:
        await _pg_admin("SELECT 1")
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        if REQUIRE_PG:
            pytest.fail(f"GQL_PROGRESS_REQUIRE_PG is set but PostgreSQL is unreachable: {exc}")
        yield None
        return
    name = f"gqlp_tpl_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    db = Database(_pg_url(name))
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()  # a template must have no open connections to be copied
    pool = _pools[name] = await PgPool.of(name)
    yield name
    del _pools[name]
    await pool.close()
    await _drop(name)


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    db = Database(f"sqlite:///{path}")
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()
    return path


@asynccontextmanager
async def pg_database(pg_template: str | None) -> AsyncIterator[str]:
    """A migrated PostgreSQL database no other test is using and none has left rows in."""
    if pg_template is None:
        pytest.skip("PostgreSQL is not reachable (set GQL_PROGRESS_REQUIRE_PG=1 to fail instead)")
    pool = _pools[pg_template]
    name = await pool.take()
    try:
        yield _pg_url(name)
    finally:
        await pool.give_back(name)


@asynccontextmanager
async def pg_connection(pg_template: str | None) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection to a pg_database: SQL twins are evaluated on it as written."""
    async with pg_database(pg_template) as url:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            yield connection
        finally:
            await connection.close()


@asynccontextmanager
async def seeded_pg(pg_template: str | None, seed: str) -> AsyncIterator[tuple[Database, asyncpg.Connection]]:
    """A pg_database holding ``seed``'s rows, with an engine for the Python rules and a plain
    asyncpg connection for their SQL twins (tests/test_access_twins.py, test_bundle_outcome_twins.py)."""
    async with pg_database(pg_template) as url:
        db = Database(url, pool_size=1)
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(seed)
            yield db, conn
        finally:
            await conn.close()
            await db.dispose()


@pytest.fixture(scope="module")
async def pg_conn(pg_template: str | None) -> AsyncIterator[asyncpg.Connection]:
    """pg_connection for a module's tests (the SQL twins' property tests)."""
    async with pg_connection(pg_template) as connection:
        yield connection


async def _fresh_pg(pg_template: str | None) -> AsyncIterator[str]:
    """pg_database as an async iterator (for `async for url in _fresh_pg(...)` callers)."""
    async with pg_database(pg_template) as url:
        yield url


@asynccontextmanager
async def fresh_database(
    backend: str, pg_template: str | None, sqlite_template: Path, directory: Path
) -> AsyncIterator[str]:
    """A fresh, migrated database of ``backend`` ("sqlite" or "postgresql"), for fixtures of any
    scope (module-scoped seeded worlds: tests/seeded_world.py)."""
    if backend == "sqlite":
        path = directory / "test.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
    else:
        async with pg_database(pg_template) as url:
            yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, pg_template: str | None, sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[str]:
    """A fresh, migrated database; every test using it runs once per backend."""
    async with fresh_database(request.param, pg_template, sqlite_template, tmp_path) as url:
        yield url


@pytest.fixture
async def pg_database_url(pg_template: str | None) -> AsyncIterator[str]:
    """A fresh PostgreSQL database, for behaviour that only PostgreSQL has (row locks)."""
    async with pg_database(pg_template) as url:
        yield url


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[Starlette]:
    async with running_app(database_url, **GENEROUS_LIMITS) as running:
        yield running


@pytest.fixture
async def pg_app(pg_database_url: str) -> AsyncIterator[Starlette]:
    async with running_app(pg_database_url, **GENEROUS_LIMITS) as running:
        yield running


@pytest.fixture
async def api(app: Starlette) -> AsyncIterator[Api]:
    """The app over HTTP (in-process ASGI), plus helpers that seed data through the domain layer."""
    async with client_for(app) as value:
        yield value


@pytest.fixture
async def pg_api(pg_app: Starlette) -> AsyncIterator[Api]:
    async with client_for(pg_app) as value:
        yield value


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GQL_PROGRESS_* variables from the developer's shell leak into settings tests."""
    for name in list(os.environ):
        if name.startswith("GQL_PROGRESS_") and name != "GQL_PROGRESS_REQUIRE_PG":
            monkeypatch.delenv(name)


# --- the read corpus (tests/read_corpus.py) ----------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-read-corpus",
        action="store_true",
        help="add the query documents the tests sent to tests/read_corpus.jsonl instead of failing",
    )


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """The xdist controller gathers what each worker recorded."""
    output = getattr(node, "workeroutput", {})
    if "read_corpus" in output:
        read_corpus.RECORDER.merge(output["read_corpus"])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A document the tests sent that the corpus lacks fails the run (or, with
    --update-read-corpus, is added): tests/test_read_corpus.py replays the corpus on both read
    paths, so a new test's documents must reach it."""
    config = session.config
    if hasattr(config, "workerinput"):
        config.workeroutput["read_corpus"] = read_corpus.RECORDER.dump()  # type: ignore[attr-defined]
        return
    entries = read_corpus.load()
    absent = read_corpus.missing(read_corpus.RECORDER, entries)
    if not absent:
        return
    if config.getoption("--update-read-corpus"):
        read_corpus.write(read_corpus.updated(read_corpus.RECORDER, entries))
        print(f"\nread corpus: added {len(absent)} documents to {read_corpus.CORPUS}")
        return
    shown = "\n".join(f"  {document[:150]!r} (operation {name!r})" for document, name in absent[:10])
    print(
        f"\nread corpus: the tests sent {len(absent)} query documents that {read_corpus.CORPUS.name} "
        "lacks (tests/test_read_corpus.py replays it); run pytest --update-read-corpus and commit the "
        f"file:\n{shown}"
    )
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
