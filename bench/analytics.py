"""`python -m bench.analytics`: time courseAnalytics and platformAnalytics on the bench dataset.

Builds the benchmark database (bench/dataset.py, scale 1 by default: 1.25 M progress rows), adds
one more 50-lesson course with 2,500 enrollments (`analytics-course`: the issue's size; the
dataset's own courses have 500 each), then runs the queries in-process through the real app
(`httpx.ASGITransport`: no network, no uvicorn) a few times and prints the timings, the statement
counts and PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) of each analytics statement. No wrk, no
servers: it loads the machine only while the dataset is built (about a minute).

    .venv/bin/python -m bench.analytics [--scale 1] [--runs 7] [--keep-db] [--reuse] [--explain] [--compare]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
from typing import Any

import httpx
from sqlalchemy import event

from bench import dataset
from gql_progress.auth import issue_api_key
from gql_progress.db.engine import Database
from gql_progress.db.models import UserRole
from gql_progress.domain import catalog
from gql_progress.edge.app import create_app
from gql_progress.settings import load_settings

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432"
ANALYTICS_SLUG = "analytics-course"
ANALYTICS_ENROLLMENTS = 2_500

COURSE_ANALYTICS = """
query ($slug: String!, $from: DateTime, $to: DateTime) {
  courseAnalytics(course: {slug: $slug}, from: $from, to: $to) {
    enrolledLearners activeLearners completedLearners completionRate averageCompletionPercentage
    medianTimeToCompletionDays p90TimeToCompletionDays lessonsCompleted coursesCompleted
    lessons { lesson { id title } started completed completionRate averageTimeSpentMinutes
              averageWatchedRatio averageQuizScore quizPassRate }
    dropOff { lesson { id } reached reachedRate lost dropOffRate }
    hardestLessons(limit: 5) { lesson { id } started completed completionRateAmongStarted }
  }
}
"""

PLATFORM_ANALYTICS = """
query ($from: DateTime!, $to: DateTime!) {
  platformAnalytics(from: $from, to: $to) {
    courses enrollments enrolledLearners completedEnrollments completionRate
    averageCompletionPercentage medianTimeToCompletionDays p90TimeToCompletionDays
    activeLearners lessonsCompleted coursesCompleted
    daily { date activeLearners lessonsCompleted coursesCompleted }
  }
}
"""


COURSE_CASES: list[tuple[str, dict[str, Any]]] = [
    ("courseAnalytics, 2,500 enrollments, all time", {"slug": ANALYTICS_SLUG}),
    (
        "courseAnalytics, 2,500 enrollments, window Jan 15 - Feb 15",
        {"slug": ANALYTICS_SLUG, "from": "2026-01-15T00:00:00Z", "to": "2026-02-15T00:00:00Z"},
    ),
    ("courseAnalytics, 500 enrollments (course-00001)", {"slug": "course-00001"}),
]


def analytics_course_statements(size: dataset.Size) -> list[str]:
    """One more 50-lesson course with 2,500 enrollments (learners 1..2,500) and a funnel: each
    learner has records on every lesson up to a furthest one (all 50 for the one in ten who
    completed the course), completed before it. Deterministic, as the rest of the dataset."""
    course = size.courses + 2
    n = min(ANALYTICS_ENROLLMENTS, size.learners)
    furthest = (
        "CASE WHEN e.status = 'COMPLETED' THEN 49"
        " ELSE ((e.user_id::bigint * 2654435761) % 4294967296) / 85899346 END"
    )
    return [
        f"""
        INSERT INTO courses (id, slug, product_id, title, description, requires_sequential_progress,
                             certificate_enabled, keep_completion_on_change, created_at, updated_at)
        VALUES ({course}, '{ANALYTICS_SLUG}', 'prod-analytics', 'Analytics course', '', false, false, true,
                timestamptz '2025-06-01 00:00:00+00', timestamptz '2025-06-01 00:00:00+00')
        """,
        f"""
        INSERT INTO lessons (id, course_id, position, title, kind, duration_seconds, is_required,
                             pass_score, created_at, updated_at)
        SELECT (SELECT max(id) FROM lessons) + p + 1, {course}, p, 'Lesson ' || (p + 1),
               (ARRAY['VIDEO', 'VIDEO', 'ARTICLE', 'QUIZ', 'VIDEO', 'ASSIGNMENT', 'OTHER'])[p % 7 + 1],
               120 + (p * 97) % 1500, p % 10 <> 9,
               CASE WHEN p % 7 = 3 THEN 60 END,
               timestamptz '2025-06-01 00:00:00+00', timestamptz '2025-06-01 00:00:00+00'
        FROM generate_series(0, 49) p
        """,
        f"""
        INSERT INTO enrollments (id, user_id, course_id, enrolled_at, status, completed_at)
        SELECT (SELECT max(id) FROM enrollments) + u, u, {course},
               timestamptz '2026-01-01 00:00:00+00' + u * interval '37 minutes',
               CASE WHEN u % 10 = 0 THEN 'COMPLETED' ELSE 'ACTIVE' END,
               CASE WHEN u % 10 = 0 THEN timestamptz '2026-01-01 00:00:00+00' + u * interval '37 minutes'
                    + ((u * 7919) % 90 + 1) * interval '1 day' + (u % 24) * interval '1 hour' END
        FROM generate_series(1, {n}) u
        """,
        f"""
        INSERT INTO lesson_progress (id, user_id, lesson_id, completed, progress_percentage,
            video_position_seconds, last_position_seconds, quiz_score, quiz_attempts, quiz_passed,
            time_spent_minutes, is_bookmarked, completed_at, last_accessed_at, created_at, updated_at)
        SELECT (SELECT max(id) FROM lesson_progress) + row_number() OVER (ORDER BY e.user_id, l.position),
               e.user_id, l.id, d.done, CASE WHEN d.done THEN 100 ELSE 40 END,
               (e.user_id * 7 + l.position * 13) % (l.duration_seconds + 60), 0,
               CASE WHEN l.kind = 'QUIZ' THEN ((e.user_id * 31 + l.position) % 101)::float8 END,
               CASE WHEN l.kind = 'QUIZ' THEN 1 ELSE 0 END,
               CASE WHEN l.kind = 'QUIZ' THEN (e.user_id * 31 + l.position) % 101 >= 60 END,
               1 + (e.user_id + l.position) % 45, false,
               CASE WHEN d.done THEN d.at END, d.at, d.at, d.at
        FROM enrollments e
        JOIN lessons l ON l.course_id = e.course_id
        CROSS JOIN LATERAL (SELECT {furthest} AS furthest) f
        CROSS JOIN LATERAL (
            SELECT e.status = 'COMPLETED' OR l.position < f.furthest AS done,
                   e.enrolled_at + l.position * interval '6 hours'
                   + (e.user_id % 13) * interval '1 minute' AS at
        ) d
        WHERE e.course_id = {course} AND l.position <= f.furthest
        """,
        *(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            for table in ("courses", "lessons", "enrollments", "lesson_progress")
        ),
    ]


async def build(pg_url: str, name: str, size: dataset.Size) -> None:
    import asyncpg

    maintenance, url = dataset.database_urls(pg_url, name)
    await dataset.create_database(maintenance, name)
    await dataset.migrate_schema(url)
    report = await dataset.load(url, size)
    print(f"dataset loaded in {report.seconds:.1f} s: {report.rows}", flush=True)
    conn = await asyncpg.connect(url, timeout=10)
    try:
        async with conn.transaction():
            for statement in analytics_course_statements(size):
                await conn.execute(statement)
        await conn.execute("VACUUM (ANALYZE)")
        rows = await conn.fetchval(
            "SELECT count(*) FROM lesson_progress p JOIN lessons l ON l.id = p.lesson_id "
            "JOIN courses c ON c.id = l.course_id WHERE c.slug = $1",
            ANALYTICS_SLUG,
        )
        total = await conn.fetchval("SELECT count(*) FROM lesson_progress")
        print(
            f"{ANALYTICS_SLUG}: 50 lessons, {ANALYTICS_ENROLLMENTS} enrollments, {rows} records; "
            f"{total} progress rows in all",
            flush=True,
        )
    finally:
        await conn.close()


class Captured:
    """The SQL statements (with parameters) the app sends, to EXPLAIN them afterwards: the
    resolvers' through SQLAlchemy, a compiled read's straight to asyncpg (Database.read_value)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.statements: list[tuple[str, Any]] = []
        self._read_value = db.read_value
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._on_execute)
        db.read_value = self._on_read_value  # type: ignore[method-assign]

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.statements.append((statement, parameters))

    async def _on_read_value(self, sql: str, *arguments: Any) -> Any:
        self.statements.append((sql, arguments))
        return await self._read_value(sql, *arguments)

    def close(self) -> None:
        event.remove(self.db.engine.sync_engine, "before_cursor_execute", self._on_execute)
        self.db.read_value = self._read_value  # type: ignore[method-assign]


def _app(url: str, **settings: Any) -> Any:
    """The app as measured: no webhooks, rate limit or live updates; keys touched rarely."""
    return create_app(
        load_settings(
            database_url=url,
            webhooks_enabled=False,
            rate_limit_enabled=False,
            live_updates_enabled=False,
            api_key_touch_interval_seconds=3600,
            **settings,
        )
    )


async def _admin_key(db: Database) -> str:
    suffix = int(time.time())
    admin = await catalog.create_user(
        db,
        {
            "external_id": f"bench-admin-{suffix}",
            "email": f"admin{suffix}@bench.example",
            "name": "Bench admin",
            "role": UserRole.ADMIN,
        },
    )
    return (await issue_api_key(db, admin.id, "bench")).secret


async def _timed(
    client: httpx.AsyncClient, key: str, document: str, variables: dict[str, Any]
) -> tuple[float, Any]:
    """One request: its seconds and its body (which must hold no error)."""
    started = time.perf_counter()
    response = await client.post(
        "/graphql",
        json={"query": document, "variables": variables},
        headers={"Authorization": f"Bearer {key}"},
    )
    elapsed = time.perf_counter() - started
    body = response.json()
    assert response.status_code == 200, body
    assert not body.get("errors"), body
    return elapsed, body


async def measure(url: str, runs: int, explain: bool) -> None:
    app = _app(url)
    async with app.router.lifespan_context(app):
        db: Database = app.state.db
        key = await _admin_key(db)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def post(document: str, variables: dict[str, Any]) -> float:
                return (await _timed(client, key, document, variables))[0]

            cases = [
                *((label, COURSE_ANALYTICS, variables) for label, variables in COURSE_CASES),
                (
                    "platformAnalytics, 366 days, every course",
                    PLATFORM_ANALYTICS,
                    {"from": "2026-01-01T00:00:00Z", "to": "2027-01-02T00:00:00Z"},
                ),
            ]
            for label, document, variables in cases:
                await post(document, variables)  # warm-up: parse, plan caches, buffers
                db.statements.reset()
                timings = [await post(document, variables) for _ in range(runs)]
                per_request = db.statements.count / runs
                ms = sorted(t * 1000 for t in timings)
                print(
                    f"{label}: median {statistics.median(ms):.0f} ms, min {ms[0]:.0f}, max {ms[-1]:.0f} "
                    f"({runs} runs, {per_request:g} statements per request)",
                    flush=True,
                )
                if explain:
                    captured = Captured(db)
                    await post(document, variables)
                    captured.close()
                    await _explain(url, captured.statements)


async def compare(url: str, runs: int) -> None:
    """courseAnalytics on two apps in one process, compiled reads on and off, their requests
    alternated (the order swapped each round) so that other load on the machine falls on both
    alike; each answer checked equal to the other's."""
    apps = {compiled: _app(url, compiled_reads=compiled) for compiled in (True, False)}
    async with contextlib.AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        key = await _admin_key(apps[True].state.db)
        clients = {
            compiled: await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
            )
            for compiled, app in apps.items()
        }

        async def post(compiled: bool, variables: dict[str, Any]) -> tuple[float, Any]:
            return await _timed(clients[compiled], key, COURSE_ANALYTICS, variables)

        for label, variables in COURSE_CASES:
            timings: dict[bool, list[float]] = {True: [], False: []}
            for round_ in range(runs + 1):  # the first round warms both up
                order = (True, False) if round_ % 2 else (False, True)
                answers = [await post(compiled, variables) for compiled in order]
                assert answers[0][1] == answers[1][1], "the two paths answered differently"
                if round_:
                    for compiled, (elapsed, _) in zip(order, answers, strict=True):
                        timings[compiled].append(elapsed * 1000)
            fast, slow = (statistics.median(timings[c]) for c in (True, False))
            print(
                f"{label}: compiled median {fast:.0f} ms (min {min(timings[True]):.0f}), resolvers "
                f"{slow:.0f} ms (min {min(timings[False]):.0f}), compiled/resolvers {fast / slow:.2f} "
                f"({runs} alternated rounds, equal answers)",
                flush=True,
            )


async def _explain(url: str, statements: list[tuple[str, Any]]) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        for statement, parameters in statements:
            if "lesson_progress" not in statement:
                continue  # the key and course lookups
            plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *parameters)
            print("    " + "\n    ".join(row[0] for row in plan), flush=True)
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="dataset scale (default 1: 1.25 M rows)")
    parser.add_argument("--runs", type=int, default=7, help="timed requests per query (after one warm-up)")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--db-name", default="gql_progress_bench_analytics")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument(
        "--reuse", action="store_true", help="measure an existing database (built with --keep-db)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each statement"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="courseAnalytics only: compiled reads against the resolvers, requests alternated in one process",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    size = dataset.Size.for_scale(args.scale)
    maintenance, url = dataset.database_urls(args.pg_url, args.db_name)
    try:
        if not args.reuse:
            asyncio.run(build(args.pg_url, args.db_name, size))
        else:
            asyncio.run(dataset.migrate_schema(url))  # new indexes, if any
        asyncio.run(compare(url, args.runs) if args.compare else measure(url, args.runs, args.explain))
    finally:
        if not args.keep_db:
            asyncio.run(dataset.drop_database(maintenance, args.db_name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
