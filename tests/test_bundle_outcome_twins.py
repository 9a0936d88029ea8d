"""Which answer a (bundle, user) pair gets, in Python (domain/bundle_progress.bundle_progress_batch)
and in its SQL twin (pair_outcome_sql, which the compiled reads render from), agree (PostgreSQL).

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
from gql_progress.domain.errors import DomainError
from gql_progress.domain.refs import BundleRef, Identity, UserRef
from gql_progress.domain.scopes import Scope
from gql_progress.domain.viewer import Viewer
from tests.conftest import seeded_pg

pytestmark = pytest.mark.postgres_only

# Users 1..4 (an admin, two learners, an instructor in no bundle), bundles 1..2; each of the
# others enrolled in some. The ids, emails and names no row holds name nothing.
WORLD = """
INSERT INTO users (id, external_id, email, name, role, created_at) VALUES
  (1, 'a', 'a@example.com', 'A', 'ADMIN', now()), (2, 'l', 'l@example.com', 'L', 'LEARNER', now()),
  (3, 'm', 'm@example.com', 'M', 'LEARNER', now()), (4, 'i', 'i@example.com', 'I', 'INSTRUCTOR', now());
INSERT INTO bundles (id, product_id, slug, title, description, created_at, updated_at) VALUES
  (1, 'p1', 's1', 'One', '', now(), now()), (2, 'p2', 's2', 'Two', '', now(), now());
INSERT INTO bundle_enrollments (user_id, bundle_id, enrolled_at) VALUES
  (1, 1, now()), (2, 1, now()), (2, 2, now()), (3, 2, now());
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
