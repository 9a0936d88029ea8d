"""The shared batch for "rows of one table by primary key"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Row, select

from gql_progress.api.loaders.base import BatchLoader

Key = int
Result = Row[Any] | None  # None: no such row


class RowByIdLoader(BatchLoader[Key, Result]):
    columns: ClassVar[Sequence[ColumnElement[Any]]]  # the table's columns, the first being its id

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        id_column = self.columns[0]
        async with self.db.read() as conn:
            rows = await conn.execute(select(*self.columns).where(id_column.in_(keys)))
            by_id = {row[0]: row for row in rows}
        return [by_id.get(key) for key in keys]
