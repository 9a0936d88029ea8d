"""The floor: the course page (Q1) and the heartbeat (M1) with nothing but Starlette and asyncpg.

Each request is one prepared statement that checks the key, does the work and builds the whole
JSON response in PostgreSQL; the body goes back to the client untouched. The responses carry the
same content as gql_progress's (the harness compares them), so the distance between the two is
what the GraphQL server costs on top of the database work.

Run as the app is run: ``uvicorn bench.floor:create_app --factory --workers 2 …`` with
GQL_PROGRESS_DATABASE_URL set.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# The app's own SQL renderings of timestamps and global ids (the compiled reads use them too), so
# the floor's JSON is built exactly as the API's.
from gql_progress.api.compiled.sql import global_id, iso_utc

KEY_PREFIX = "gqlp_"


# The course page. The key, the course and its lessons, each lesson's progress record of the
# caller (one probe of uq_lesson_progress_user_id_lesson_id per lesson) and the summary counts,
# in one aggregate pass.
COURSE_PAGE_SQL = f"""
WITH viewer AS (
    SELECT user_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL
),
course AS (
    SELECT id, title FROM courses WHERE slug = $2
),
page AS (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE l.is_required) AS required,
           count(*) FILTER (WHERE p.completed) AS completed,
           count(*) FILTER (WHERE p.completed AND l.is_required) AS completed_required,
           json_agg(json_build_object(
               'id', {global_id("Lesson", "l.id")},
               'title', l.title,
               'kind', l.kind,
               'durationSeconds', l.duration_seconds,
               'isRequired', l.is_required,
               'progress', CASE WHEN p.id IS NULL THEN NULL ELSE json_build_object(
                   'status', CASE WHEN p.completed THEN 'COMPLETED' ELSE 'IN_PROGRESS' END,
                   'progressPercentage', p.progress_percentage,
                   'videoPositionSeconds', p.video_position_seconds,
                   'lastPositionSeconds', p.last_position_seconds,
                   'completedAt', {iso_utc("p.completed_at")}) END
           ) ORDER BY l.position) AS lessons
    FROM course c
    JOIN lessons l ON l.course_id = c.id
    LEFT JOIN lesson_progress p ON p.user_id = (SELECT user_id FROM viewer) AND p.lesson_id = l.id
),
summary AS (
    -- A course that marks no lesson as required counts every lesson (domain/completion/summary.py).
    SELECT CASE WHEN required > 0 THEN required ELSE total END AS needed,
           CASE WHEN required > 0 THEN completed_required ELSE completed END AS done
    FROM page
)
SELECT (SELECT user_id FROM viewer) IS NOT NULL AS authenticated,
       json_build_object('data', json_build_object('course', (
           SELECT json_build_object(
               'title', c.title,
               'summary', json_build_object(
                   'completionPercentage',
                   CASE WHEN s.needed = 0 THEN 0
                        ELSE least(100, round(s.done * 100.0 / s.needed, 2))::float8 END,
                   'completedLessons', page.completed,
                   'totalLessons', page.total),
               'lessons', coalesce(page.lessons, '[]'::json))
           FROM course c, page, summary s
       )))::text AS body
"""

# The heartbeat: the key check and the enrollment check folded into the INSERT's SELECT; only the
# sent columns change on conflict, as gql_progress's upsert does.
HEARTBEAT_SQL = f"""
WITH viewer AS (
    SELECT user_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL
),
written AS (
    INSERT INTO lesson_progress AS p (
        user_id, lesson_id, completed, progress_percentage, video_position_seconds,
        last_position_seconds, quiz_attempts, time_spent_minutes, is_bookmarked,
        last_accessed_at, created_at, updated_at)
    SELECT v.user_id, l.id, false, 0, $3, $4, 0, $5, false, now(), now(), now()
    FROM viewer v
    JOIN lessons l ON l.id = $2
    JOIN enrollments e ON e.user_id = v.user_id AND e.course_id = l.course_id
    ON CONFLICT (user_id, lesson_id) DO UPDATE SET
        video_position_seconds = EXCLUDED.video_position_seconds,
        last_position_seconds = EXCLUDED.last_position_seconds,
        time_spent_minutes = EXCLUDED.time_spent_minutes,
        last_accessed_at = EXCLUDED.last_accessed_at,
        updated_at = EXCLUDED.updated_at
    RETURNING p.id, p.last_accessed_at
)
SELECT (SELECT user_id FROM viewer) IS NOT NULL AS authenticated,
       (SELECT json_build_object('data', json_build_object('upsertProgress', json_build_object(
            '__typename', 'UpsertProgressSuccess',
            'progress', json_build_object(
                'id', {global_id("Progress", "w.id")},
                'lastAccessedAt', {iso_utc("w.last_accessed_at")}))))::text
        FROM written w) AS body
"""

_UNAUTHENTICATED = orjson.dumps(
    {
        "data": None,
        "errors": [
            {"message": "The API key is invalid or revoked", "extensions": {"code": "UNAUTHENTICATED"}}
        ],
    }
)
_NOT_ENROLLED = orjson.dumps(
    {
        "data": {
            "upsertProgress": {
                "__typename": "NotEnrolledError",
                "code": "NOT_ENROLLED",
                "message": "no such lesson, or not enrolled in its course",
            }
        }
    }
)
_BAD_REQUEST = orjson.dumps({"data": None, "errors": [{"message": "bad request"}]})


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def _key_hash(request: Request) -> str | None:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    return hashlib.sha256(secret.encode()).hexdigest()


def _lesson_pk(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        decoded = base64.b64decode(value.encode(), validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        return None
    prefix, _, pk = decoded.partition(":")
    return int(pk) if prefix == "Lesson" and pk.isdigit() and len(pk) <= 18 else None


async def _variables(request: Request) -> dict[str, Any]:
    try:
        payload = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return {}
    variables = payload.get("variables") if isinstance(payload, dict) else None
    return variables if isinstance(variables, dict) else {}


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _keep_session(_: asyncpg.Connection) -> None:
    # The floor changes no session state, so skip asyncpg's per-release reset round trip.
    return None


def create_app() -> Starlette:
    dsn = _asyncpg_dsn(os.environ["GQL_PROGRESS_DATABASE_URL"])
    pool_size = int(os.environ.get("GQL_PROGRESS_DB_POOL_SIZE", "10"))
    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # As many connections as gql_progress may open per process (pool_size + as many overflow).
        state["pool"] = await asyncpg.create_pool(
            dsn, min_size=2, max_size=2 * pool_size, reset=_keep_session
        )
        yield
        await state["pool"].close()

    async def course_page(request: Request) -> Response:
        key_hash = _key_hash(request)
        slug = (await _variables(request)).get("slug")
        if key_hash is None:
            return _json(_UNAUTHENTICATED, 401)
        if not isinstance(slug, str):
            return _json(_BAD_REQUEST, 400)
        row = await state["pool"].fetchrow(COURSE_PAGE_SQL, key_hash, slug)
        if not row["authenticated"]:
            return _json(_UNAUTHENTICATED, 401)
        return _json(row["body"].encode())

    async def heartbeat(request: Request) -> Response:
        key_hash = _key_hash(request)
        variables = await _variables(request)
        if key_hash is None:
            return _json(_UNAUTHENTICATED, 401)
        lesson_pk = _lesson_pk(variables.get("lessonId"))
        numbers = [variables.get(name) for name in ("video", "last", "minutes")]
        if lesson_pk is None or not all(isinstance(n, int) and n >= 0 for n in numbers):
            return _json(_BAD_REQUEST, 400)
        row = await state["pool"].fetchrow(HEARTBEAT_SQL, key_hash, lesson_pk, *numbers)
        if not row["authenticated"]:
            return _json(_UNAUTHENTICATED, 401)
        if row["body"] is None:
            return _json(_NOT_ENROLLED)
        return _json(row["body"].encode())

    async def healthz(_: Request) -> Response:
        return _json(b'{"status":"ok"}')

    return Starlette(
        routes=[
            Route("/floor/course-page", course_page, methods=["POST"]),
            Route("/floor/upsert-progress", heartbeat, methods=["POST"]),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
