"""The shared batch for "rows of one table by primary key"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Row, Select, bindparam, select

from gql_progress.api.loaders.base import BatchLoader

Key = int
Result = Row[Any] | None  # None: no such row


class RowByIdLoader(BatchLoader[Key, Result]):
    columns: ClassVar[Sequence[ColumnElement[Any]]]  # the table's columns, the first being its id
    # Built once per subclass (see lessons_by_course.py).
    statement: ClassVar[Select[Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.statement = select(*cls.columns).where(cls.columns[0].in_(bindparam("keys", expanding=True)))

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        async with self.db.read() as conn:
            rows = await conn.execute(self.statement, {"keys": list(keys)})
            by_id = {row[0]: row for row in rows}
        return [by_id.get(key) for key in keys]
