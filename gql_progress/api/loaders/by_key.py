"""The shared batch for "rows of one table by a unique column" (a user's email, a course's slug…).

One loader per column, made when a request first looks rows up by it (Loaders.row_by_key), so
federation's ``_entities`` costs one statement per type and key however many representations
it is sent.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.sql.elements import KeyedColumnElement

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.engine import Database

Key = str
Result = Row[Any] | None  # None: no such row


@functools.cache
def _statement(column: KeyedColumnElement[Any]) -> Select[Any]:
    # Built once per column (see lessons_by_course.py).
    return select(*column.table.c).where(column.in_(bindparam("keys", expanding=True)))


class RowByKeyLoader(BatchLoader[Key, Result]):
    def __init__(self, db: Database, column: KeyedColumnElement[Any]) -> None:
        super().__init__(db)
        self.column = column
        self.statement = _statement(column)

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        async with self.db.read() as conn:
            rows = await conn.execute(self.statement, {"keys": list(keys)})
            by_key = {row._mapping[self.column]: row for row in rows}
        return [by_key.get(key) for key in keys]
