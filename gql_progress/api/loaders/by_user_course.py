"""The one row of a table per (user, course), for tables unique on that pair (enrollments,
certificates): one shared batch, declared per table by its row class."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Generic

from sqlalchemy import Select, bindparam, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.engine import Database
from gql_progress.db.rows import RowT, columns, make

Key = tuple[int, int]  # (user id, course id)


@functools.cache
def _statement(row_class: type) -> Select[Any]:
    # Built once per table (see lessons_by_course.py); a superset when several users and courses
    # are asked for, which the batch narrows to the pairs asked.
    table = columns(row_class)[0].table
    return select(*columns(row_class)).where(
        table.c.user_id.in_(bindparam("users", expanding=True)),
        table.c.course_id.in_(bindparam("courses", expanding=True)),
    )


class RowByUserCourseLoader(BatchLoader[Key, RowT | None], Generic[RowT]):  # None: no such row
    def __init__(self, db: Database, row_class: type[RowT]) -> None:
        super().__init__(db)
        self.row_class = row_class
        self.statement = _statement(row_class)

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[RowT | None]:
        users, courses = sorted({u for u, _ in keys}), sorted({c for _, c in keys})
        async with self.db.read() as conn:
            rows = await conn.execute(self.statement, {"users": users, "courses": courses})
            by_key = {(row.user_id, row.course_id): make(self.row_class, row) for row in rows}
        return [by_key.get(key) for key in keys]
