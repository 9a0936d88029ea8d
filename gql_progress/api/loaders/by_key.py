"""The shared batch for "rows of one table by a unique column" (a user's email, a course's slug…).

One loader per column, made when a request first looks rows up by it (Loaders.row_by_key), so
federation's ``_entities`` costs one statement per type and key however many representations
it is sent.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Generic

from sqlalchemy import Select, bindparam, select
from sqlalchemy.sql.elements import KeyedColumnElement

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.engine import Database
from gql_progress.db.rows import RowT, columns, make

Key = str


@functools.cache
def _statement(row_class: type, column: KeyedColumnElement[Any]) -> tuple[Select[Any], int]:
    # Built once per column (see lessons_by_course.py); with the column's place in the row.
    selected = columns(row_class)
    if column.table is not selected[0].table:
        raise ValueError(f"{column} is not a column of {row_class.__name__}'s table")
    place = [c.key for c in selected].index(column.key)
    return select(*selected).where(column.in_(bindparam("keys", expanding=True))), place


class RowByKeyLoader(BatchLoader[Key, RowT | None], Generic[RowT]):  # None: no such row
    def __init__(self, db: Database, row_class: type[RowT], column: KeyedColumnElement[Any]) -> None:
        super().__init__(db)
        self.row_class = row_class
        self.column = column
        self.statement, self.place = _statement(row_class, column)

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[RowT | None]:
        async with self.db.read() as conn:
            rows = await conn.execute(self.statement, {"keys": list(keys)})
            by_key = {row[self.place]: make(self.row_class, row) for row in rows}
        return [by_key.get(key) for key in keys]
