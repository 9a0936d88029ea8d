"""One keyset page of children for each of many parents, in one statement per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, select

from gql_progress.api.ids import within_column
from gql_progress.api.loaders.base import BatchLoader
from gql_progress.api.loaders.child_rows import KEY, PARENT, ChildRows
from gql_progress.db.engine import Database

RANK = "nested_rank"


@dataclass(frozen=True)
class PageKey:
    parent: int
    filter: Hashable
    limit: int
    after: int | None  # the key the page starts after


Key = PageKey
Result = list[Row[Any]]  # at most limit + 1 rows in key order; the extra one says "more follow"


class ChildPagesLoader(BatchLoader[Key, Result]):
    def __init__(self, db: Database, rows: ChildRows[Any]) -> None:
        super().__init__(db)
        self.rows = rows

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        # Parents asking for the same page (size, cursor, filter) share one statement. The
        # number of distinct pages is bounded by the document's arguments, never by the number
        # of parents; one request usually has exactly one.
        groups: dict[tuple[Hashable, int, int | None], set[int]] = defaultdict(set)
        for key in keys:
            groups[key.filter, key.limit, key.after].add(key.parent)
        found: dict[Key, Result] = {}
        async with self.db.read() as conn:
            for (filter, limit, after), parents in groups.items():
                result = await conn.execute(self._statement(filter, sorted(parents), limit, after))
                for row in result:
                    found.setdefault(PageKey(getattr(row, PARENT), filter, limit, after), []).append(row)
        return [found.get(key, []) for key in keys]

    def _statement(self, filter: Hashable, parents: list[int], limit: int, after: int | None) -> Any:
        # Each parent's first limit + 1 rows past the cursor: ROW_NUMBER restarts per parent,
        # which plain LIMIT cannot do across parents (SQLite ≥ 3.25 and PostgreSQL have it).
        key = self.rows.key
        ranked = self.rows.of_parents(filter, parents).add_columns(
            func.row_number().over(partition_by=self.rows.parent, order_by=key).label(RANK)
        )
        if after is not None:
            ranked = ranked.where(key > within_column(key, after))
        pages = ranked.subquery()
        return select(pages).where(pages.c[RANK] <= limit + 1).order_by(pages.c[PARENT], pages.c[KEY])
