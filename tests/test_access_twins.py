"""The access rules in Python (domain/viewer.py, domain/teaching.py) and their SQL twins, which
the compiled reads add as predicates and guards, agree for every kind of caller (PostgreSQL).

Each generated case is a caller (role, the scopes its key grants), a user it names and a course:
the Python rule answers, the SQL twin is evaluated against the same rows with the caller bound as
the compiled statements bind it (api/compiled/planner.py), and the two must be equal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gql_progress.db.engine import Database
from gql_progress.db.models import UserRole
from gql_progress.domain.errors import Forbidden
from gql_progress.domain.scopes import Scope
from gql_progress.domain.teaching import may_see_course_learners, may_see_course_learners_sql
from gql_progress.domain.viewer import Viewer, can_access_sql, subject_allowed_sql
from tests.conftest import seeded_pg

pytestmark = pytest.mark.postgres_only

# Users 1..3 (an admin, a learner, an instructor); the instructor teaches course 1 of 1..2. Ids 4
# and 3 name no user and no course: a rule must not depend on the row existing unless it says so.
WORLD = """
INSERT INTO users (id, external_id, email, name, role, created_at) VALUES
  (1, 'a', 'a@example.com', 'A', 'ADMIN', now()), (2, 'l', 'l@example.com', 'L', 'LEARNER', now()),
  (3, 'i', 'i@example.com', 'I', 'INSTRUCTOR', now());
INSERT INTO courses (id, slug, title, description, requires_sequential_progress,
  certificate_enabled, created_at, updated_at) VALUES
  (1, 'one', 'One', '', false, false, now(), now()), (2, 'two', 'Two', '', false, false, now(), now());
INSERT INTO course_instructors (course_id, user_id, assigned_at) VALUES (1, 3, now());
"""

CALLER = "(VALUES ($1::bigint, $2::boolean, $3::text)) AS caller(id, is_admin, role)"


class World:
    def __init__(self, db: Database, conn: asyncpg.Connection) -> None:
        self.db = db
        self.conn = conn

    async def sql(self, viewer: Viewer, condition: str, *arguments: object) -> bool:
        caller = (viewer.user_id, viewer.is_admin, viewer.role.value)
        value = await self.conn.fetchval(f"SELECT {condition} FROM {CALLER}", *caller, *arguments)
        return value is True


@pytest.fixture(scope="module")
async def world(pg_template: str | None) -> AsyncIterator[World]:
    async with seeded_pg(pg_template, WORLD) as (db, conn):
        yield World(db, conn)


viewers = st.builds(
    Viewer,
    user_id=st.integers(1, 4),
    role=st.sampled_from(list(UserRole)),
    granted_scopes=st.none() | st.frozensets(st.sampled_from(list(Scope))),
)
user_ids = st.integers(1, 4)

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(viewer=viewers, owner=user_ids)
async def test_can_access(world: World, viewer: Viewer, owner: int) -> None:
    assert await world.sql(viewer, can_access_sql("caller", "$4::bigint"), owner) == viewer.can_access(owner)


@SETTINGS
@given(viewer=viewers, requested=st.none() | user_ids)
async def test_subject_allowed(world: World, viewer: Viewer, requested: int | None) -> None:
    try:
        viewer.subject(requested)
        allowed = True
    except Forbidden:
        allowed = False
    assert await world.sql(viewer, subject_allowed_sql("caller", "$4::bigint"), requested) == allowed


@SETTINGS
@given(viewer=viewers, course=st.integers(1, 3))
async def test_may_see_course_learners(world: World, viewer: Viewer, course: int) -> None:
    async with world.db.read() as conn:
        expected = await may_see_course_learners(conn, viewer, course)
    twin = may_see_course_learners_sql("caller", "$4::bigint")
    assert await world.sql(viewer, twin, course) == expected
