"""What a field answers when the caller may not see what it holds: what it answers for nothing.

A connection the caller may not see is the empty page a list without items gives (same
arguments checked, same pageInfo, totalCount 0), so the answer reveals nothing (the IDOR rule).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from gql_progress.api.context import Info
from gql_progress.api.pagination import Connection, PageArguments, connection_from_rows

NodeT = TypeVar("NodeT")


async def _zero() -> int:
    return 0


def empty_connection(info: Info, paging: PageArguments) -> Connection[Any]:
    """The page of an empty list; bad ``first``/``after`` are refused as for any list."""
    return connection_from_rows([], paging.request(info), lambda row: row, _zero)


def owns_or_admin(info: Info, owner_id: int) -> bool:
    """Whether the caller may see a user's own lists (enrollments, progress, plans…): that user
    or an admin. Instructors see learners only through the courses they teach."""
    return info.context.viewer.can_access(owner_id)


async def owners_list(
    info: Info,
    owner_id: int,
    paging: PageArguments,
    connection: Callable[[Info, int, PageArguments], Awaitable[Connection[NodeT]]],
) -> Connection[NodeT]:
    """A user's own list (enrollments, progress, plans…): ``connection``'s page for that user or
    an admin, the empty page for anyone else."""
    if not owns_or_admin(info, owner_id):
        return empty_connection(info, paging)
    return await connection(info, owner_id, paging)
