"""Cursor connections: keyset pages over ascending ids, forward (`first`/`after`) or backward
(`last`/`before`), with a lazily counted totalCount.

A backward page is the same keyset read the other way: the `last` items before `before` (or of
the whole list), fetched in descending key order with one look-ahead row and shown ascending, so
a page reads the same whichever way it was reached, and costs the same one statement."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import strawberry
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.api.context import Info
from gql_progress.db.rows import Keyed, RowT, check_reads, make
from gql_progress.domain.errors import FieldProblem, InvalidInput
from gql_progress.domain.ids import MAX_BIGINT_PK, within_column

NodeT = TypeVar("NodeT")
# The label of the ordering key paginate reads beside the row (the cursor of its edge).
_PAGE_KEY = "page_key"

FirstArgument = Annotated[
    int | None, strawberry.argument(description="Page size (default and maximum from settings).")
]
AfterArgument = Annotated[str | None, strawberry.argument(description="Cursor after which the page starts.")]
LastArgument = Annotated[
    int | None,
    strawberry.argument(
        description="Page size counted back from `before` or from the end of the list (paging "
        "backward; not with `first`). Default and maximum as for `first`."
    ),
]
BeforeArgument = Annotated[str | None, strawberry.argument(description="Cursor before which the page ends.")]


@strawberry.type(description="Where a page sits in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow this page.")
    has_previous_page: bool = strawberry.field(description="Whether items precede this page.")
    start_cursor: str | None = strawberry.field(
        description="Cursor of the first item of the page; pass it as `before` for the previous page."
    )
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last item; pass it as `after` for the next page."
    )


@strawberry.type(description="An item with its cursor.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(description="Opaque position of this item in the list.")
    node: NodeT = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list that can grow.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page with their cursors.")
    page_info: PageInfo = strawberry.field(description="Paging information.")
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="The items of this page, without cursors.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="How many items the whole list holds (counted only when asked).")
    async def total_count(self) -> int:
        return await self.count_total()


def encode_cursor(pk: int) -> str:
    return base64.b64encode(f"cursor:{pk}".encode()).decode()


def decode_cursor(cursor: str, argument: str = "after") -> int:
    try:
        prefix, _, pk = base64.b64decode(cursor, validate=True).decode().partition(":")
        if prefix == "cursor" and pk.isdigit() and len(pk) <= 19 and int(pk) <= MAX_BIGINT_PK:
            return int(pk)
    except (ValueError, UnicodeError):
        pass
    raise InvalidInput([FieldProblem((argument,), "is not a cursor from this API")])


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after_pk: int | None
    before_pk: int | None = None
    # `last`: the page ends at `before` (or the list's end) and is fetched in descending order.
    backward: bool = False


@dataclass(frozen=True)
class PageArguments:
    """A connection field's four paging arguments, as its resolver received them."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def request(self, info: Info) -> PageRequest:
        """The page they ask for; InvalidInput (naming the argument) when they cannot be one."""
        return page_request(info, self.first, self.after, self.last, self.before)


def page_request(
    info: Info,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> PageRequest:
    settings = info.context.settings
    if first is not None and last is not None:
        raise InvalidInput([FieldProblem(("last",), "cannot be sent with first: page one way at a time")])
    backward = last is not None
    size, name = (last, "last") if backward else (first, "first")
    limit = settings.default_page_size if size is None else size
    if not 0 <= limit <= settings.max_page_size:
        raise InvalidInput([FieldProblem((name,), f"must be between 0 and {settings.max_page_size}")])
    return PageRequest(
        limit=limit,
        after_pk=None if after is None else decode_cursor(after),
        before_pk=None if before is None else decode_cursor(before, "before"),
        backward=backward,
    )


async def paginate(
    info: Info,
    query: Select[Any],
    row_class: type[RowT],
    id_column: Any,
    page: PageRequest,
    to_node: Callable[[RowT], NodeT],
) -> Connection[NodeT]:
    """One page of ``query`` (which reads ``row_class``'s columns) ordered by ``id_column``;
    totalCount runs a COUNT only if selected.

    For a top-level list: a connection under a list of parents pages through
    ``api/nested_pages.py`` instead, which batches the parents into one statement.
    """
    check_reads(query, row_class)
    db = info.context.db
    order = id_column.desc() if page.backward else id_column
    paged = query.add_columns(id_column.label(_PAGE_KEY)).order_by(order).limit(page.limit + 1)
    if page.after_pk is not None:
        paged = paged.where(id_column > within_column(id_column, page.after_pk))
    if page.before_pk is not None:
        paged = paged.where(id_column < within_column(id_column, page.before_pk))
    async with db.read() as conn:
        width = len(query.selected_columns)
        rows = [
            Keyed(getattr(row, _PAGE_KEY), make(row_class, row[:width])) for row in await conn.execute(paged)
        ]

    async def count_total() -> int:
        async with db.read() as conn:
            return await _count(conn, query)

    return connection_from_rows(rows, page, to_node, count_total)


def connection_from_rows(
    rows: Sequence[Keyed[RowT]],
    page: PageRequest,
    to_node: Callable[[RowT], NodeT],
    count_total: Callable[[], Awaitable[int]],
    more_held_back: bool = False,
) -> Connection[NodeT]:
    """A page from rows fetched with one look-ahead row (``limit + 1`` at most), in key order,
    or in descending key order for a backward page (shown ascending).

    The look-ahead row only tells that more follow (before a backward page); it is not part of
    the page. ``more_held_back``: the caller cut the page short (rows follow that it may not
    show yet).
    """
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    if page.backward:
        rows = rows[::-1]
        has_next, has_previous = page.before_pk is not None or more_held_back, more
    else:
        has_next, has_previous = more or more_held_back, page.after_pk is not None
    edges = [Edge(cursor=encode_cursor(key), node=to_node(row)) for key, row in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count_total=count_total,
    )


async def _count(conn: AsyncConnection, query: Select[Any]) -> int:
    total = await conn.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return int(total or 0)
