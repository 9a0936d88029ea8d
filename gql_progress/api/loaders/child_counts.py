"""How many children each of many parents has, in one grouped COUNT per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy import func, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.api.loaders.child_rows import PARENT, ChildRows
from gql_progress.db.engine import Database

Key = tuple[int, Hashable]  # (parent id, the connection's filter)
Result = int


class ChildCountsLoader(BatchLoader[Key, Result]):
    def __init__(self, db: Database, rows: ChildRows[Any, Any]) -> None:
        super().__init__(db)
        self.rows = rows

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        # Paging arguments do not change a count: only differing filters need their own statement.
        groups: dict[Hashable, set[int]] = defaultdict(set)
        for parent, filter in keys:
            groups[filter].add(parent)
        counts: dict[Key, int] = {}
        async with self.db.read() as conn:
            for filter, parents in groups.items():
                children = self.rows.of_parents(filter, sorted(parents)).subquery()
                result = await conn.execute(
                    select(children.c[PARENT], func.count()).group_by(children.c[PARENT])
                )
                counts.update(((parent, filter), count) for parent, count in result)
        # A parent without children has no group, hence no row.
        return [counts.get(key, 0) for key in keys]
