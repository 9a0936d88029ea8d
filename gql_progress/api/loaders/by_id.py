"""Rows of one table by primary key: the shared batch, and ``ById``, which declares one table's
loader in one line of Loaders' class body."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Generic, Protocol, overload

from sqlalchemy import Select, bindparam, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.engine import Database
from gql_progress.db.rows import RowT, columns, make

Key = int


@functools.cache
def _statement(row_class: type) -> Select[Any]:
    # Built once per table (see lessons_by_course.py). batch_load_fn reads each row's id by
    # position, so the table must declare its id first, as every model does.
    id_column = columns(row_class)[0]
    table = id_column.table
    if not (id_column.primary_key and len(list(table.primary_key)) == 1):
        raise ValueError(f"{table}: its first column is not its primary key")
    return select(*columns(row_class)).where(id_column.in_(bindparam("keys", expanding=True)))


class RowByIdLoader(BatchLoader[Key, RowT | None], Generic[RowT]):  # None: no such row
    def __init__(self, db: Database, row_class: type[RowT]) -> None:
        super().__init__(db)
        self.row_class = row_class
        self.table = columns(row_class)[0].table
        self.statement = _statement(row_class)

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[RowT | None]:
        async with self.db.read() as conn:
            rows = await conn.execute(self.statement, {"keys": list(keys)})
            by_id = {row[0]: make(self.row_class, row) for row in rows}
        return [by_id.get(key) for key in keys]


class _HasDb(Protocol):
    db: Database


class ById(Generic[RowT]):
    """``course_by_id = ById(CourseRow)`` in Loaders' class body: that Loaders' own
    RowByIdLoader of the row class's table, made on first use and then kept on the instance, as
    functools' cached_property would (a non-data descriptor, so the instance's attribute wins
    thereafter).

    A declaration rather than a method per table, so the by-id loaders read as one table of name
    to row class, and mypy still sees each attribute as a RowByIdLoader of that row class."""

    def __init__(self, row_class: type[RowT]) -> None:
        self.row_class = row_class
        _statement(row_class)  # at import, so a table without a leading id fails there

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, loaders: None, owner: type[Any]) -> ById[RowT]: ...

    @overload
    def __get__(self, loaders: _HasDb, owner: type[Any]) -> RowByIdLoader[RowT]: ...

    def __get__(self, loaders: _HasDb | None, owner: type[Any]) -> ById[RowT] | RowByIdLoader[RowT]:
        if loaders is None:  # looked up on the class
            return self
        loader = vars(loaders)[self.name] = RowByIdLoader(loaders.db, self.row_class)
        return loader
