"""Which answer a (bundle, user) pair gets, in Python (domain/bundle_progress.bundle_progress_batch)
and in its SQL twin (pair_outcome_sql, which the compiled reads render from), agree (PostgreSQL);
so do learnerProgress's (domain/teaching.learner_in_course and learner_outcome_sql).

Each generated case is a caller (an admin or a learner, by any role and key scopes) and a batch
of requests naming bundles and users by every identifier, some that exist and some that do not,
the caller themselves or someone else: progress, FORBIDDEN, bundle or user NOT_FOUND, NOT_ENROLLED.
The Python answers as the resolvers call it; the twin answers each request of the same batch as
the compiled statement binds it (one array per identifier); kind, words and pair must be equal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gql_progress.db.engine import Database
from gql_progress.db.models import UserRole
from gql_progress.domain.bundle_progress import Refusal, bundle_progress_batch, pair_outcome_sql
from gql_progress.domain.catalog import normalize_email
from gql_progress.domain.errors import DomainError, NotFound
from gql_progress.domain.refs import BundleRef, Identity, UserRef
from gql_progress.domain.scopes import Scope
from gql_progress.domain.teaching import CourseRef, LearnerRefusal, learner_in_course, learner_outcome_sql
from gql_progress.domain.viewer import Viewer
from tests.conftest import seeded_pg

pytestmark = pytest.mark.postgres_only

# Users 1..3 (an admin, two learners), bundles 1..2; each user enrolled in some bundles. Id 9 and
# the names below that no row holds name nothing.
WORLD = """
INSERT INTO users (id, external_id, email, name, role, created_at) VALUES
  (1, 'a', 'a@example.com', 'A', 'ADMIN', now()), (2, 'l', 'l@example.com', 'L', 'LEARNER', now()),
  (3, 'm', 'm@example.com', 'M', 'LEARNER', now()), (4, 'i', 'i@example.com', 'I', 'INSTRUCTOR', now());
INSERT INTO bundles (id, product_id, slug, title, description, created_at, updated_at) VALUES
  (1, 'p1', 's1', 'One', '', now(), now()), (2, 'p2', 's2', 'Two', '', now(), now());
INSERT INTO bundle_enrollments (user_id, bundle_id, enrolled_at) VALUES
  (1, 1, now()), (2, 1, now()), (2, 2, now()), (3, 2, now());
INSERT INTO courses (id, slug, product_id, title, description, requires_sequential_progress,
  certificate_enabled, created_at, updated_at) VALUES
  (1, 'c1', 'q1', 'One', '', false, false, now(), now()),
  (2, 'c2', 'q2', 'Two', '', false, false, now(), now());
INSERT INTO enrollments (user_id, course_id, enrolled_at, status) VALUES
  (2, 1, now(), 'ACTIVE'), (3, 1, now(), 'ACTIVE'), (3, 2, now(), 'ACTIVE'), (4, 2, now(), 'ACTIVE');
INSERT INTO course_instructors (course_id, user_id, assigned_at) VALUES (1, 4, now());
"""
IDENTITIES = {
    n: Identity(id=n, email=f"{x}@example.com", external_id=x)
    for n, x in ((1, "a"), (2, "l"), (3, "m"), (4, "i"))
}

CALLER = "(VALUES ($1::bigint, $2::boolean, $3::text)) AS caller(id, is_admin, role)"
# The batch as the compiled statement binds it (api/compiled/declarations._bundle_progress_batch).
SQL = (
    f"SELECT o.refusal, o.bundle_id, o.learner_id FROM {CALLER} CROSS JOIN LATERAL (SELECT r.n, x.* "
    "FROM unnest($4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[]) "
    "WITH ORDINALITY AS r(bpk, bprod, bslug, upk, uemail, uext, n) CROSS JOIN LATERAL ("
    + pair_outcome_sql("caller", ("r.bpk", "r.bprod", "r.bslug"), ("r.upk", "r.uemail", "r.uext"))
    + ") x) o ORDER BY o.n"
)

LEARNER_SQL = (
    f"SELECT o.refusal, o.enrollment_id FROM {CALLER} CROSS JOIN LATERAL ("
    + learner_outcome_sql(
        "caller", ("$4::bigint", "$5::text", "$6::text"), ("$7::bigint", "$8::text", "$9::text")
    )
    + ") o"
)

bundle_refs = st.one_of(
    st.builds(BundleRef, id=st.integers(1, 3)),
    st.builds(BundleRef, product_id=st.sampled_from(["p1", "p2", "p9"])),
    st.builds(BundleRef, slug=st.sampled_from(["s1", "s2", "s9"])),
)
user_refs = st.none() | st.one_of(
    st.builds(UserRef, id=st.integers(1, 4)),
    # Emails in any case and spacing: both sides normalise them.
    st.builds(
        UserRef, email=st.sampled_from(["a@example.com", " L@Example.com", "M@EXAMPLE.COM", "z@example.com"])
    ),
    st.builds(UserRef, external_id=st.sampled_from(["a", "l", "m", "i", "z"])),
)
course_refs = st.one_of(
    st.builds(CourseRef, id=st.integers(1, 3)),
    st.builds(CourseRef, slug=st.sampled_from(["c1", "c2", "c9"])),
    st.builds(CourseRef, product_id=st.sampled_from(["q1", "q2", "q9"])),
)
viewers = st.builds(
    Viewer,
    user_id=st.integers(1, 4),
    role=st.sampled_from(list(UserRole)),
    granted_scopes=st.none() | st.frozensets(st.sampled_from(list(Scope))),
)
Answer = tuple[Any, ...]


class World:
    def __init__(self, db: Database, conn: asyncpg.Connection) -> None:
        self.db = db
        self.conn = conn

    async def python(self, viewer: Viewer, requests: list[tuple[BundleRef, UserRef | None]]) -> list[Answer]:
        outcomes = await bundle_progress_batch(self.db, viewer, IDENTITIES[viewer.user_id], requests)
        return [
            (type(o).__name__, o.message)
            if isinstance(o, DomainError)
            else ("progress", o.bundle.id, o.user_id)
            for o in outcomes
        ]

    async def sql(self, viewer: Viewer, requests: list[tuple[BundleRef, UserRef | None]]) -> list[Answer]:
        users = [user or UserRef() for _, user in requests]
        arrays = [
            [b.id for b, _ in requests],
            [b.product_id for b, _ in requests],
            [b.slug for b, _ in requests],
            [u.id for u in users],
            [None if u.email is None else normalize_email(u.email) for u in users],
            [u.external_id for u in users],
        ]
        rows = await self.conn.fetch(SQL, viewer.user_id, viewer.is_admin, viewer.role.value, *arrays)
        answers: list[Answer] = []
        for refusal, bundle_id, learner_id in rows:
            if refusal is None:
                answers.append(("progress", bundle_id, learner_id))
            else:
                error = Refusal(refusal).error()
                answers.append((type(error).__name__, error.message))
        return answers

    async def learner_python(self, viewer: Viewer, learner: UserRef, course: CourseRef) -> Answer:
        try:
            found = await learner_in_course(self.db, viewer, IDENTITIES[viewer.user_id], learner, course)
        except NotFound as error:
            return ("NotFound", error.message)
        return ("enrollment", found.enrollment.id)

    async def learner_sql(self, viewer: Viewer, learner: UserRef, course: CourseRef) -> Answer:
        email = None if learner.email is None else normalize_email(learner.email)
        refs = (learner.id, email, learner.external_id, course.id, course.slug, course.product_id)
        caller = (viewer.user_id, viewer.is_admin, viewer.role.value)
        refusal, enrollment_id = await self.conn.fetchrow(LEARNER_SQL, *caller, *refs)
        if refusal is None:
            return ("enrollment", enrollment_id)
        error = LearnerRefusal(refusal).error()
        return (type(error).__name__, error.message)


@pytest.fixture(scope="module")
async def world(pg_template: str | None) -> AsyncIterator[World]:
    async with seeded_pg(pg_template, WORLD) as (db, conn):
        yield World(db, conn)


LEARNER = Viewer(user_id=2, role=UserRole.LEARNER, granted_scopes=None)
ADMIN = Viewer(user_id=1, role=UserRole.ADMIN, granted_scopes=None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(viewer=viewers, requests=st.lists(st.tuples(bundle_refs, user_refs), min_size=1, max_size=8))
# Each outcome once: a learner naming themselves by email, someone else, no such bundle; an admin
# naming no such user, someone not enrolled; a missing bundle outranks a forbidden-free missing user.
@example(viewer=LEARNER, requests=[(BundleRef(slug="s2"), UserRef(email=" L@Example.com"))])
@example(viewer=LEARNER, requests=[(BundleRef(slug="s9"), UserRef(external_id="m"))])
@example(viewer=LEARNER, requests=[(BundleRef(id=3), None)])
@example(viewer=ADMIN, requests=[(BundleRef(product_id="p1"), UserRef(external_id="z"))])
@example(viewer=ADMIN, requests=[(BundleRef(id=1), UserRef(id=3)), (BundleRef(slug="s9"), UserRef(id=4))])
async def test_the_pair_outcome_twin_agrees_with_python(
    world: World, viewer: Viewer, requests: list[tuple[BundleRef, UserRef | None]]
) -> None:
    assert await world.sql(viewer, requests) == await world.python(viewer, requests)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(viewer=viewers, learner=user_refs.filter(lambda ref: ref is not None), course=course_refs)
# The instructor of course 1 seeing a learner of it, and refused course 2's; a learner naming
# themselves by email, and another learner; a missing course and a missing learner for an admin.
@example(
    viewer=Viewer(user_id=4, role=UserRole.INSTRUCTOR),
    learner=UserRef(external_id="m"),
    course=CourseRef(id=1),
)
@example(
    viewer=Viewer(user_id=4, role=UserRole.INSTRUCTOR),
    learner=UserRef(external_id="m"),
    course=CourseRef(id=2),
)
@example(viewer=LEARNER, learner=UserRef(email=" L@Example.com"), course=CourseRef(slug="c1"))
@example(viewer=LEARNER, learner=UserRef(external_id="m"), course=CourseRef(slug="c1"))
@example(viewer=ADMIN, learner=UserRef(id=2), course=CourseRef(product_id="q9"))
@example(viewer=ADMIN, learner=UserRef(id=4), course=CourseRef(product_id="q1"))
async def test_the_learner_outcome_twin_agrees_with_python(
    world: World, viewer: Viewer, learner: UserRef, course: CourseRef
) -> None:
    assert await world.learner_sql(viewer, learner, course) == await world.learner_python(
        viewer, learner, course
    )
