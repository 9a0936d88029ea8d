"""Connections nested under other objects, batched across their parents.

``paginate`` costs a statement per connection, so a connection under a list (each user's
progress, each course's lessons) would cost one per parent, plus a COUNT per parent for
totalCount. Here every parent's resolver asks this request's loaders for its ``ChildRows``
instead: one statement answers the pages of all parents of a batch, and one grouped COUNT their
totalCounts, run only when a client selects totalCount. Cursors, page sizes and PageInfo are
those of ``paginate``.

A new nested connection is a ``ChildRows`` at module level and one call in its resolver::

    ENROLLMENTS_OF_USER = ChildRows(
        row=EnrollmentRow,
        query=no_filter(select(*columns(EnrollmentRow))),
        parent=Enrollment.user_id,
        key=Enrollment.id,
    )
    ...
    page = PageArguments(first, after, last, before)
    return await nested_connection(info, ENROLLMENTS_OF_USER, self.pk, page, to_node)

``to_node`` gets each row as the ``row`` class (db/rows.py), so mypy checks what it reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gql_progress.api.context import Info
from gql_progress.api.loaders.child_pages import PageKey
from gql_progress.api.loaders.child_rows import ChildRows
from gql_progress.api.pagination import Connection, PageArguments, PageRequest, connection_from_rows
from gql_progress.db.rows import Keyed, RowT

NodeT = TypeVar("NodeT")


@dataclass(frozen=True)
class NestedPage(Generic[RowT]):
    """A parent's page of rows, before they become nodes (for nodes that need more data)."""

    rows: Sequence[Keyed[RowT]]  # in key order, with one look-ahead row when more follow
    request: PageRequest
    count_total: Callable[[], Awaitable[int]]

    def connection(self, to_node: Callable[[RowT], NodeT]) -> Connection[NodeT]:
        return connection_from_rows(self.rows, self.request, to_node, self.count_total)


async def load_page(
    info: Info, rows: ChildRows[Any, RowT], parent: int, request: PageRequest, where: Hashable = None
) -> NestedPage[RowT]:
    """``parent``'s page of ``rows``; ``where`` is the filter ``rows.query`` is called with.

    Takes a validated ``page_request`` so that a caller loading more alongside (see
    lesson_listing.py) can refuse bad arguments before queuing anything.
    """
    loaders = info.context.loaders
    key = PageKey(parent, where, request.limit, request.after_pk, request.before_pk, request.backward)
    page_rows = await loaders.child_pages(rows).load(key)
    counts = loaders.child_counts(rows)
    return NestedPage(page_rows, request, lambda: counts.load((parent, where)))


async def nested_connection(
    info: Info,
    rows: ChildRows[Any, RowT],
    parent: int,
    arguments: PageArguments,
    to_node: Callable[[RowT], NodeT],
    where: Hashable = None,
) -> Connection[NodeT]:
    """``parent``'s page of ``rows`` as a connection of ``to_node(row)``."""
    page = await load_page(info, rows, parent, arguments.request(info), where)
    return page.connection(to_node)
