"""Who may see a course's learners and analytics: its instructors and admins, nobody else.

The one rule for issue 7's instructor access. Callers that are refused must answer exactly as
for a course that does not exist (the IDOR rule), so these functions return booleans or the
subset of courses allowed, never a reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.dialect import insert_for
from gql_progress.db.engine import Database
from gql_progress.db.models import Course, CourseInstructor, Enrollment, User, UserRole
from gql_progress.db.rows import CourseRow, EnrollmentRow, UserRow, columns, first
from gql_progress.db.types import utcnow
from gql_progress.domain.catalog import normalize_email
from gql_progress.domain.errors import FieldProblem, InvalidInput, NotFound
from gql_progress.domain.refs import Identity, UserRef, is_self, names
from gql_progress.domain.viewer import Viewer


def decided_by_role(viewer: Viewer) -> bool | None:
    """Whether the viewer may see every course's learners (True) or none (False) by role alone;
    None for instructors, whose assignments decide course by course."""
    if viewer.is_admin:
        return True
    if viewer.role is not UserRole.INSTRUCTOR:
        return False
    return None


def may_see_course_learners_sql(caller: str, course_id: str) -> str:
    """The SQL twin of ``may_see_course_learners`` for compiled reads (``caller``: a row with the
    viewer's ``id``, ``is_admin`` and ``role``; see domain/viewer.py), held to it by
    tests/test_access_twins.py: admins, and instructors assigned to the course."""
    return (
        f"({caller}.is_admin OR ({caller}.role = '{UserRole.INSTRUCTOR.value}' AND EXISTS ("
        f"SELECT 1 FROM course_instructors ci "
        f"WHERE ci.user_id = {caller}.id AND ci.course_id = {course_id})))"
    )


async def taught_course_ids(conn: AsyncConnection, viewer: Viewer, course_ids: Iterable[int]) -> set[int]:
    """Of ``course_ids``, those whose learners and analytics the viewer may see (one statement
    at most; none for admins and learners)."""
    wanted = set(course_ids)
    by_role = decided_by_role(viewer)
    if by_role is not None:
        return wanted if by_role else set()
    if not wanted:
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


# --- courses and users named by the platform's identifiers -----------------------------------


@dataclass(frozen=True)
class CourseRef:
    """Exactly one of these is set (the API layer checks that)."""

    id: int | None = None
    slug: str | None = None
    product_id: str | None = None


def _course_condition(ref: CourseRef) -> ColumnElement[bool]:
    if ref.id is not None:
        return Course.id == ref.id
    if ref.slug is not None:
        return names(Course.slug, ref.slug)
    return names(Course.product_id, ref.product_id)


def _user_condition(ref: UserRef) -> ColumnElement[bool]:
    if ref.id is not None:
        return User.id == ref.id
    if ref.email is not None:
        return names(User.email, normalize_email(ref.email))
    return names(User.external_id, ref.external_id)


async def find_course(conn: AsyncConnection, ref: CourseRef) -> CourseRow:
    row = first(CourseRow, await conn.execute(select(*columns(CourseRow)).where(_course_condition(ref))))
    if row is None:
        raise NotFound("course")
    return row


async def _find_user(conn: AsyncConnection, ref: UserRef) -> UserRow:
    row = first(UserRow, await conn.execute(select(*columns(UserRow)).where(_user_condition(ref))))
    if row is None:
        raise NotFound("user")
    return row


# --- assigning instructors (admins) ----------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    course: CourseRow
    user: UserRow
    assigned_at: datetime | None  # None once unassigned
    changed: bool  # whether this call assigned or unassigned (False: it already was so)


async def assign_instructor(db: Database, viewer: Viewer, course: CourseRef, user: UserRef) -> Assignment:
    """Make ``user`` an instructor of ``course``; assigning twice keeps the first assignment.

    Only users whose role is INSTRUCTOR can be assigned: admins see every course already, and
    a learner would gain nothing (the rule above ignores assignments of other roles).
    """
    viewer.require_admin()
    async with db.write() as conn:
        course_row = await find_course(conn, course)
        user_row = await _find_user(conn, user)
        if user_row.role != UserRole.INSTRUCTOR:
            raise InvalidInput(
                [
                    FieldProblem(
                        ("user",), f"must be an INSTRUCTOR (this user is {UserRole(user_row.role).value})"
                    )
                ]
            )
        created = (
            await conn.execute(
                insert_for(conn, CourseInstructor.__table__)
                .values(course_id=course_row.id, user_id=user_row.id, assigned_at=utcnow())
                .on_conflict_do_nothing(index_elements=["course_id", "user_id"])
                .returning(CourseInstructor.assigned_at)
            )
        ).scalar()
        if created is not None:
            return Assignment(course_row, user_row, created, changed=True)
        existing = await conn.scalar(
            select(CourseInstructor.assigned_at).where(
                CourseInstructor.course_id == course_row.id, CourseInstructor.user_id == user_row.id
            )
        )
        return Assignment(course_row, user_row, existing, changed=False)


async def unassign_instructor(db: Database, viewer: Viewer, course: CourseRef, user: UserRef) -> Assignment:
    """Remove ``user`` from ``course``'s instructors (whatever their role now); idempotent."""
    viewer.require_admin()
    async with db.write() as conn:
        course_row = await find_course(conn, course)
        user_row = await _find_user(conn, user)
        removed = (
            await conn.execute(
                delete(CourseInstructor)
                .where(CourseInstructor.course_id == course_row.id, CourseInstructor.user_id == user_row.id)
                .returning(CourseInstructor.user_id)
            )
        ).first()
        return Assignment(course_row, user_row, None, changed=removed is not None)


# --- one learner's progress in one course ----------------------------------------------------


@dataclass(frozen=True)
class LearnerInCourse:
    course: CourseRow
    enrollment: EnrollmentRow


async def learner_in_course(
    db: Database, viewer: Viewer, identity: Identity, learner: UserRef, course: CourseRef
) -> LearnerInCourse:
    """The learner's enrollment in the course, for admins, the course's instructors and the
    learner themselves.

    Everyone else is told the course does not exist, exactly as for a course that does not
    (the IDOR rule): a refused caller cannot tell whether the course, the learner or the
    enrollment exists. A learner that is not enrolled, or does not exist, is "learner not
    found" for those allowed to see the course's learners: an instructor cannot probe the
    platform's users through their course.
    """
    async with db.read() as conn:
        course_row = await find_course(conn, course)
        own = is_self(learner, identity)
        if not own and not await may_see_course_learners(conn, viewer, course_row.id):
            raise NotFound("course")
        enrollment = first(
            EnrollmentRow,
            await conn.execute(
                select(*columns(EnrollmentRow))
                .join(User, User.id == Enrollment.user_id)
                .where(
                    Enrollment.course_id == course_row.id,
                    User.id == identity.id if own else _user_condition(learner),
                )
            ),
        )
    if enrollment is None:
        raise NotFound("learner")
    return LearnerInCourse(course_row, enrollment)
