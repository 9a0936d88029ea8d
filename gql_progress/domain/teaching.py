"""Who may see a course's learners and analytics: its instructors and admins, nobody else.

The one rule for issue 7's instructor access. Callers that are refused must answer exactly as
for a course that does not exist (the IDOR rule), so these functions return booleans or the
subset of courses allowed, never a reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.models import CourseInstructor, UserRole
from gql_progress.domain.viewer import Viewer


async def taught_course_ids(conn: AsyncConnection, viewer: Viewer, course_ids: Iterable[int]) -> set[int]:
    """Of ``course_ids``, those whose learners and analytics the viewer may see (one statement
    at most; none for admins and learners)."""
    wanted = set(course_ids)
    if viewer.is_admin:
        return wanted
    if viewer.role is not UserRole.INSTRUCTOR or not wanted:
        return set()
    rows = await conn.scalars(
        select(CourseInstructor.course_id).where(
            CourseInstructor.user_id == viewer.user_id,
            CourseInstructor.course_id.in_(sorted(wanted)),
        )
    )
    return set(rows)


async def may_see_course_learners(conn: AsyncConnection, viewer: Viewer, course_id: int) -> bool:
    """Whether the viewer may see analytics and every learner's progress for ``course_id``."""
    return course_id in await taught_course_ids(conn, viewer, [course_id])
