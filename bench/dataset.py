"""The benchmark database: created, migrated, filled set-based in PostgreSQL, dropped.

Everything is a pure function of the scale, so two runs at the same scale hold the same rows.
At scale 1: 10,000 learners; 100 courses of 50 lessons plus one course of 200 lessons; every
learner enrolled in 5 courses (one learner in 20 in the 200-lesson course); progress on about
half of the enrolled lessons (~1.3 M rows), 60 % of those completed; one learner in 25 has
completed their first course (enrollment COMPLETED). API keys are derived from the user id
(see ``api_key``) and stored, as the app stores them, as sha256 hex of the whole key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gql_progress.db import migrate
from gql_progress.db.engine import Database
from gql_progress.domain.ids import encode_id

KEY_SUFFIX = "_s3cr3t"
LESSONS_PER_COURSE = 50
LONG_COURSE_LESSONS = 200
ENROLLMENTS_PER_LEARNER = 5
LONG_COURSE_EVERY = 20  # learners whose id is a multiple of this take the long course
COMPLETED_COURSE_EVERY = 25  # learners whose id is a multiple of this completed their first course


def api_key(user_id: int) -> str:
    """The bench learner's key: deterministic, so the load generator can present it."""
    return f"gqlp_bench_{user_id:08d}{KEY_SUFFIX}"


@dataclass(frozen=True)
class Size:
    learners: int
    courses: int  # 50-lesson courses; the 200-lesson course comes on top

    @classmethod
    def for_scale(cls, scale: float) -> Size:
        return cls(learners=max(100, round(10_000 * scale)), courses=max(5, round(100 * scale)))

    @property
    def long_course_id(self) -> int:
        return self.courses + 1


def database_urls(server_url: str, name: str) -> tuple[str, str]:
    """(maintenance URL, bench database URL) from BENCH_PG_URL, with or without a database."""
    parts = urlsplit(server_url)
    maintenance_db = parts.path.strip("/") or "postgres"
    maintenance = urlunsplit(parts._replace(path=f"/{maintenance_db}"))
    return maintenance, urlunsplit(parts._replace(path=f"/{name}"))


async def create_database(maintenance_url: str, name: str) -> None:
    conn = await asyncpg.connect(maintenance_url, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(maintenance_url: str, name: str) -> None:
    conn = await asyncpg.connect(maintenance_url, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def migrate_schema(url: str) -> None:
    db = Database(url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()


# Deterministic pseudo-random 0..1023 for a (user, lesson) pair: Knuth's multiplicative hash of
# the pair, high bits. Pure bigint arithmetic (no overflow), so every PostgreSQL gives the same.
_MIX = "(((((e.user_id::bigint * 1000003 + l.id) % 2147483648) * 2654435761) % 4294967296) / 4194304)::int"


def load_statements(size: Size) -> list[str]:
    """The load, as SQL; sizes are our own integers, formatted in."""
    n, c = size.learners, size.courses
    return [
        # The rows are consistent by construction: skip the FK triggers while loading.
        "SET session_replication_role = replica",
        "SET synchronous_commit = off",
        f"""
        INSERT INTO users (id, external_id, email, name, role, created_at)
        SELECT u, 'bench-' || lpad(u::text, 8, '0'), 'learner' || lpad(u::text, 8, '0') || '@bench.example',
               CASE WHEN u % 7 = 0 THEN 'Zoë Ångström ' ELSE 'Learner ' END || u, 'LEARNER',
               timestamptz '2026-01-01 00:00:00+00' + u * interval '1 second'
        FROM generate_series(1, {n}) u
        """,
        f"""
        INSERT INTO api_keys (id, prefix, key_hash, user_id, label, created_at)
        SELECT u, left(k.secret, 12), encode(sha256(convert_to(k.secret, 'UTF8')), 'hex'), u, 'bench',
               timestamptz '2026-01-01 00:00:00+00'
        FROM generate_series(1, {n}) u,
             LATERAL (SELECT 'gqlp_bench_' || lpad(u::text, 8, '0') || '{KEY_SUFFIX}' AS secret) k
        """,
        f"""
        INSERT INTO courses (id, slug, product_id, title, description, expected_completion_days,
                             requires_sequential_progress, certificate_enabled, created_at, updated_at)
        SELECT c,
               CASE WHEN c = {c} + 1 THEN 'long-course' ELSE 'course-' || lpad(c::text, 5, '0') END,
               'prod-' || c,
               CASE WHEN c = {c} + 1 THEN 'The "Long" Course — 200 lessons'
                    ELSE (ARRAY['SQL', 'Python', 'Go', 'Design', 'Statistics'])[c % 5 + 1]
                         || ' fundamentals, part ' || c END,
               'Course ' || c, CASE WHEN c % 3 = 0 THEN NULL ELSE 30 END, c % 4 = 0, c % 2 = 0,
               timestamptz '2025-06-01 00:00:00+00', timestamptz '2025-06-01 00:00:00+00'
        FROM generate_series(1, {c} + 1) c
        """,
        f"""
        INSERT INTO lessons (id, course_id, position, title, kind, duration_seconds, is_required,
                             created_at, updated_at)
        SELECT (c - 1) * 50 + p + 1, c, p,
               'Lesson ' || (p + 1) || CASE WHEN p % 13 = 4 THEN ': “quotes” & \\backslash' ELSE '' END,
               (ARRAY['VIDEO', 'VIDEO', 'ARTICLE', 'QUIZ', 'VIDEO', 'ASSIGNMENT', 'OTHER'])[p % 7 + 1],
               CASE WHEN p % 11 = 5 THEN NULL ELSE 120 + (p * 97 + c * 13) % 1500 END,
               p % 10 <> 9,
               timestamptz '2025-06-01 00:00:00+00', timestamptz '2025-06-01 00:00:00+00'
        FROM generate_series(1, {c} + 1) c,
             generate_series(0, CASE WHEN c = {c} + 1 THEN 199 ELSE 49 END) p
        """,
        f"""
        INSERT INTO enrollments (id, user_id, course_id, enrolled_at, status, completed_at)
        SELECT (u - 1) * 5 + j + 1, u,
               CASE WHEN j = 4 AND u % 20 = 0 THEN {c} + 1 ELSE (u + j * ({c} / 5)) % {c} + 1 END,
               timestamptz '2026-01-01 00:00:00+00' + ((u - 1) * 5 + j) * interval '1 minute',
               CASE WHEN j = 0 AND u % 25 = 0 THEN 'COMPLETED' ELSE 'ACTIVE' END,
               CASE WHEN j = 0 AND u % 25 = 0 THEN timestamptz '2026-03-01 12:00:00+00' END
        FROM generate_series(1, {n}) u, generate_series(0, 4) j
        """,
        f"""
        INSERT INTO lesson_progress (id, user_id, lesson_id, completed, progress_percentage,
            video_position_seconds, last_position_seconds, quiz_score, quiz_attempts, quiz_passed,
            time_spent_minutes, notes, is_bookmarked, metadata, completed_at, last_accessed_at,
            created_at, updated_at)
        SELECT (e.id::bigint - 1) * 200 + l.position + 1, e.user_id, l.id, d.done,
               CASE WHEN d.done THEN 100 ELSE (d.mix % 199) / 2.0 END,
               (d.mix * 7) % coalesce(l.duration_seconds, 600),
               (d.mix * 5) % coalesce(l.duration_seconds, 600),
               CASE WHEN l.kind = 'QUIZ' THEN (d.mix % 101)::float8 END,
               CASE WHEN l.kind = 'QUIZ' THEN 1 + d.mix % 3 ELSE 0 END,
               CASE WHEN l.kind = 'QUIZ' THEN d.mix % 101 >= 60 END,
               1 + d.mix % 90, NULL, d.mix % 17 = 0, NULL,
               CASE WHEN d.done THEN d.at END, d.at, d.at - interval '3 days', d.at
        FROM enrollments e
        JOIN lessons l ON l.course_id = e.course_id
        CROSS JOIN LATERAL (
            SELECT {_MIX} AS mix,
                   timestamptz '2026-02-01 00:00:00+00'
                   + (e.user_id * 3607 + l.id * 61) * interval '1 second'
                   + (({_MIX} * 997) % 1000) * interval '1 microsecond' AS at
        ) m
        CROSS JOIN LATERAL (SELECT m.mix, m.at, e.status = 'COMPLETED' OR m.mix < 307 AS done) d
        WHERE e.status = 'COMPLETED' OR d.mix < 512
        ORDER BY e.user_id, l.id
        """,
        # Explicit ids above: move the sequences past them so the app can insert.
        *(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            for table in ("users", "api_keys", "courses", "lessons", "enrollments", "lesson_progress")
        ),
    ]


@dataclass(frozen=True)
class LoadReport:
    seconds: float
    rows: dict[str, int]


async def load(url: str, size: Size) -> LoadReport:
    """Fill the migrated database, then VACUUM ANALYZE and CHECKPOINT (needs a superuser)."""
    started = time.monotonic()
    conn = await asyncpg.connect(url, timeout=10)
    try:
        async with conn.transaction():
            for statement in load_statements(size):
                await conn.execute(statement)
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute("CHECKPOINT")
        rows = {}
        for table in ("users", "courses", "lessons", "enrollments", "lesson_progress", "api_keys"):
            rows[table] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()
    return LoadReport(seconds=time.monotonic() - started, rows=rows)


@dataclass(frozen=True)
class Workload:
    """The files the wrk script reads: courses with their lesson ids, and (key, course) pairs."""

    directory: Path
    pairs: int
    long_pairs: int


async def export_workload(url: str, size: Size, directory: Path) -> Workload:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        courses = await conn.fetch(
            "SELECT c.id, c.slug, array_agg(l.id ORDER BY l.position) AS lessons "
            "FROM courses c JOIN lessons l ON l.course_id = c.id GROUP BY c.id ORDER BY c.id"
        )
        pairs = await conn.fetch("SELECT user_id, course_id FROM enrollments ORDER BY id")
    finally:
        await conn.close()
    _write_workload(
        directory,
        [(c["id"], c["slug"], list(c["lessons"])) for c in courses],
        [(p["user_id"], p["course_id"]) for p in pairs],
    )
    long_pairs = sum(1 for p in pairs if p["course_id"] == size.long_course_id)
    return Workload(directory=directory, pairs=len(pairs), long_pairs=long_pairs)


def _write_workload(
    directory: Path, courses: list[tuple[int, str, list[int]]], pairs: list[tuple[int, int]]
) -> None:
    """courses.tsv: id, slug, lesson count, lesson ids; pairs.tsv: learner key, course id, learner
    id (for PostGraphile, which takes the learner as a variable)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "courses.tsv").open("w") as out:
        for course_id, slug, lessons in courses:
            ids = ",".join(encode_id("Lesson", lesson) for lesson in lessons)
            out.write(f"{course_id}\t{slug}\t{len(lessons)}\t{ids}\n")
    with (directory / "pairs.tsv").open("w") as out:
        for user_id, course_id in pairs:
            out.write(f"{api_key(user_id)}\t{course_id}\t{user_id}\n")


@dataclass(frozen=True)
class Sample:
    """One (learner, enrolled course) pair, as the wrk script would draw it."""

    user_id: int
    key: str
    course_id: int
    slug: str
    lesson_ids: list[str]


async def samples(url: str, size: Size) -> list[Sample]:
    """A few fixed pairs: plain ones, a completed enrollment, and the 200-lesson course."""
    wanted = [
        (1, None),
        (LONG_COURSE_EVERY, size.long_course_id),
        (COMPLETED_COURSE_EVERY, None),
        (7, None),
        (2 * LONG_COURSE_EVERY, size.long_course_id),
    ]
    conn = await asyncpg.connect(url, timeout=10)
    try:
        found = []
        for user_id, course_id in wanted:
            row = await conn.fetchrow(
                "SELECT e.course_id, c.slug, array_agg(l.id ORDER BY l.position) AS lessons "
                "FROM enrollments e JOIN courses c ON c.id = e.course_id "
                "JOIN lessons l ON l.course_id = c.id "
                "WHERE e.user_id = $1 AND ($2::int IS NULL OR e.course_id = $2) "
                "GROUP BY e.id, e.course_id, c.slug ORDER BY e.id LIMIT 1",
                user_id,
                course_id,
            )
            if row is not None:
                found.append(
                    Sample(
                        user_id=user_id,
                        key=api_key(user_id),
                        course_id=row["course_id"],
                        slug=row["slug"],
                        lesson_ids=[encode_id("Lesson", lesson) for lesson in row["lessons"]],
                    )
                )
    finally:
        await conn.close()
    return found
