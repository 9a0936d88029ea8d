"""One keyset page of children for each of many parents, in one statement per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic

from sqlalchemy import func, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.api.loaders.child_rows import KEY, PARENT, ChildRows
from gql_progress.db.engine import Database
from gql_progress.db.rows import Keyed, RowT, columns, make
from gql_progress.domain.ids import within_column

RANK = "nested_rank"


@dataclass(frozen=True)
class PageKey:
    parent: int
    filter: Hashable
    limit: int
    after: int | None  # the key the page starts after
    before: int | None = None  # the key the page ends before
    backward: bool = False  # the last `limit` rows (descending), not the first


Key = PageKey


class ChildPagesLoader(BatchLoader[Key, list[Keyed[RowT]]], Generic[RowT]):
    """Each key's page: at most limit + 1 rows in key order (descending for a backward page); the
    extra one says "more follow" (or precede)."""

    def __init__(self, db: Database, rows: ChildRows[Any, RowT]) -> None:
        super().__init__(db)
        self.rows = rows

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[list[Keyed[RowT]]]:
        # Parents asking for the same page (size, cursor, filter) share one statement. The
        # number of distinct pages is bounded by the document's arguments, never by the number
        # of parents; one request usually has exactly one.
        groups: dict[PageKey, set[int]] = defaultdict(set)
        for key in keys:
            groups[replace(key, parent=0)].add(key.parent)
        found: dict[Key, list[Keyed[RowT]]] = {}
        row_class = self.rows.row
        width = len(columns(row_class))
        async with self.db.read() as conn:
            for page, parents in groups.items():
                result = await conn.execute(self._statement(page, sorted(parents)))
                for row in result:
                    child = Keyed(getattr(row, KEY), make(row_class, row[:width]))
                    found.setdefault(replace(page, parent=getattr(row, PARENT)), []).append(child)
        return [found.get(key, []) for key in keys]

    def _statement(self, page: PageKey, parents: list[int]) -> Any:
        # Each parent's first (or, backward, last) limit + 1 rows within the cursors: ROW_NUMBER
        # restarts per parent, which plain LIMIT cannot do across parents (SQLite ≥ 3.25 and
        # PostgreSQL have it).
        key = self.rows.key
        order = key.desc() if page.backward else key
        ranked = self.rows.of_parents(page.filter, parents).add_columns(
            func.row_number().over(partition_by=self.rows.parent, order_by=order).label(RANK)
        )
        if page.after is not None:
            ranked = ranked.where(key > within_column(key, page.after))
        if page.before is not None:
            ranked = ranked.where(key < within_column(key, page.before))
        pages = ranked.subquery()
        in_order = pages.c[KEY].desc() if page.backward else pages.c[KEY]
        return select(pages).where(pages.c[RANK] <= page.limit + 1).order_by(pages.c[PARENT], in_order)
