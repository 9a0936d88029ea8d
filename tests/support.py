"""Test helpers: call the API as a client would, and seed data through the domain layer."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gql_progress.api.loaders.by_id import RowByIdLoader
from gql_progress.auth import issue_api_key
from gql_progress.db.engine import Database
from gql_progress.db.models import Base, LessonKind, UserRole
from gql_progress.domain import catalog
from gql_progress.domain.ids import encode_id

_counter = itertools.count(1)


@dataclass(frozen=True)
class SeededUser:
    pk: int
    id: str  # global id
    key: str
    email: str
    external_id: str


@dataclass(frozen=True)
class SeededCourse:
    pk: int
    id: str
    slug: str
    lesson_pks: list[int]
    lesson_ids: list[str]


@dataclass
class Api:
    client: httpx.AsyncClient
    db: Database
    app: Starlette
    default_key: str | None = field(default=None)

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> httpx.Response:
        headers = {}
        token = key or self.default_key
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        """POST a document; assert HTTP 200 and return the whole body (data and errors)."""
        response = await self.post(query, variables, key=key)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        """POST a document that must succeed without GraphQL errors; return ``data``."""
        body = await self.gql(query, variables, key=key)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def statements(self, query: str, variables: dict[str, Any] | None = None, *, key: str) -> int:
        """SQL statements one successful request costs, after a warm-up request.

        The warm-up fills what fills once (parsed and validated documents), so the count is
        the steady-state cost a client pays.
        """
        await self.data(query, variables, key=key)
        self.db.statements.reset()
        await self.data(query, variables, key=key)
        return self.db.statements.count

    async def user(self, role: UserRole = UserRole.LEARNER, name: str = "Test User") -> SeededUser:
        n = next(_counter)
        row = await catalog.create_user(
            self.db,
            {"external_id": f"ext-{n}", "email": f"user{n}@example.com", "name": name, "role": role},
        )
        key = await issue_api_key(self.db, row.id, "test")
        return SeededUser(row.id, encode_id("User", row.id), key.secret, row.email, row.external_id)

    async def admin(self) -> SeededUser:
        return await self.user(UserRole.ADMIN, name="Admin")

    async def course(
        self,
        lessons: int = 3,
        *,
        required: list[bool] | None = None,
        kind: LessonKind = LessonKind.VIDEO,
        **course_values: Any,
    ) -> SeededCourse:
        n = next(_counter)
        row = await catalog.create_course(
            self.db, {"slug": f"course-{n}", "title": f"Course {n}", **course_values}
        )
        pks = []
        for i in range(lessons):
            is_required = True if required is None else required[i]
            lesson = await catalog.add_lesson(
                self.db,
                row.id,
                {"title": f"Lesson {i}", "kind": kind, "duration_seconds": 600, "is_required": is_required},
            )
            pks.append(lesson.id)
        return SeededCourse(
            row.id, encode_id("Course", row.id), row.slug, pks, [encode_id("Lesson", p) for p in pks]
        )

    async def enroll(self, user: SeededUser, course: SeededCourse) -> None:
        await catalog.enroll(self.db, user.pk, course.pk)


def fail_loads_by_id(monkeypatch: pytest.MonkeyPatch, model: type[Base], message: str) -> None:
    """Every batch of the by-id loader of ``model``'s table raises ``RuntimeError(message)``;
    the other tables' by-id loaders load as before."""
    load = RowByIdLoader.batch_load_fn

    async def failing(self: RowByIdLoader[Any], keys: Sequence[int]) -> list[Any]:
        if self.table is model.__table__:
            raise RuntimeError(message)
        return await load(self, keys)

    monkeypatch.setattr(RowByIdLoader, "batch_load_fn", failing)
