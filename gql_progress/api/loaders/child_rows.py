"""What a nested connection pages: the child rows of many parents, each parent's in key order.

Both nested loaders (``child_pages.py``, ``child_counts.py``) build their one statement per
batch from a ``ChildRows``; ``api/nested_pages.py`` turns the results into connections.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select

from gql_progress.db.rows import RowT, check_reads

# Labels of the columns the statements add to the base select; rows carry them by these names.
PARENT = "nested_parent"
KEY = "nested_key"

FilterT = TypeVar("FilterT", bound=Hashable)


@dataclass(frozen=True, eq=False)
class ChildRows(Generic[FilterT, RowT]):
    """The rows of ``query(filter)`` grouped by ``parent``, each group ordered by ``key``, read
    back as ``row`` (the select's columns are ``columns(row)``, checked when a statement is built).

        ``key`` must be an integer unique within a parent: it is the cursor, and pages continue
        with ``key > after``. ``filter`` holds a connection's own arguments (e.g. a courseId); it
        must be hashable because it is part of the loaders' keys. The select must name each of its
        columns once (the statements wrap it in a subquery).

        Compared by identity (``eq=False``): define each once at module level, so that every
        resolver of one request finds the same loaders for it.
    """

    row: type[RowT]
    query: Callable[[FilterT], Select[Any]]
    parent: Any  # a column of the select's tables holding the parent's id
    key: Any  # an integer column, unique within a parent

    def of_parents(self, filter: FilterT, parents: Iterable[int]) -> Select[Any]:
        """The children of ``parents``, with their parent and key under fixed labels."""
        query = self.query(filter)
        check_reads(query, self.row)
        return query.add_columns(self.parent.label(PARENT), self.key.label(KEY)).where(
            self.parent.in_(parents)
        )


def no_filter(query: Select[Any]) -> Callable[[None], Select[Any]]:
    """For connections without arguments of their own: the same select whatever the filter."""
    return lambda _: query
