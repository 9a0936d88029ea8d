"""Rows of one table by primary key: the shared batch, and ``ById``, which declares one table's
loader in one line of Loaders' class body."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Protocol, overload

from sqlalchemy import FromClause, Row, Select, bindparam, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.engine import Database
from gql_progress.db.models import Base

Key = int
Result = Row[Any] | None  # None: no such row


@functools.cache
def _statement(table: FromClause) -> Select[Any]:
    # Built once per table (see lessons_by_course.py). batch_load_fn reads each row's id by
    # position, so the table must declare its id first, as every model does.
    id_column = table.c[0]
    if not (id_column.primary_key and len(list(table.primary_key)) == 1):
        raise ValueError(f"{table}: its first column is not its primary key")
    return select(*table.c).where(id_column.in_(bindparam("keys", expanding=True)))


class RowByIdLoader(BatchLoader[Key, Result]):
    def __init__(self, db: Database, table: FromClause) -> None:
        super().__init__(db)
        self.table = table
        self.statement = _statement(table)

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        async with self.db.read() as conn:
            rows = await conn.execute(self.statement, {"keys": list(keys)})
            by_id = {row[0]: row for row in rows}
        return [by_id.get(key) for key in keys]


class _HasDb(Protocol):
    db: Database


class ById:
    """``course_by_id = ById(Course)`` in Loaders' class body: that Loaders' own RowByIdLoader of
    the model's table, made on first use and then kept on the instance, as functools'
    cached_property would (a non-data descriptor, so the instance's attribute wins thereafter).

    A declaration rather than a method per table, so the by-id loaders read as one table of name
    to model, and mypy still sees each attribute as a RowByIdLoader."""

    def __init__(self, model: type[Base]) -> None:
        self.table = model.__table__
        _statement(self.table)  # at import, so a table without a leading id fails there

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, loaders: None, owner: type[Any]) -> ById: ...

    @overload
    def __get__(self, loaders: _HasDb, owner: type[Any]) -> RowByIdLoader: ...

    def __get__(self, loaders: _HasDb | None, owner: type[Any]) -> ById | RowByIdLoader:
        if loaders is None:  # looked up on the class
            return self
        loader = vars(loaders)[self.name] = RowByIdLoader(loaders.db, self.table)
        return loader
