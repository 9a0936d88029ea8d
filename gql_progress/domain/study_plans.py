"""Study plans: a learner's own ordered lists of lessons, and the instances they start of them.

A plan and its instances hold no progress. What an instance shows is the learner's global
progress on each lesson (see study_plan_progress.py), so one lesson completed anywhere is
completed in every instance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.engine import Database
from gql_progress.db.models import Lesson, StudyPlan, StudyPlanInstance, StudyPlanLesson, User
from gql_progress.db.rows import StudyPlanInstanceRow, StudyPlanRow, columns, one
from gql_progress.db.types import utcnow
from gql_progress.domain.catalog import check_text, refuse_nul
from gql_progress.domain.errors import NotFound, ProblemList
from gql_progress.domain.viewer import Viewer

MAX_TITLE_LENGTH = 500
MAX_PLAN_LESSONS = 500

# ``values`` below hold the fields a client sent: "title" (str) and "lesson_ids" (lesson primary
# keys in plan order; None where the API layer could not decode an id and already said so).
PlanValues = Mapping[str, Any]


async def create_plan(
    db: Database, *, user_id: int, values: PlanValues, problems: ProblemList | None = None
) -> StudyPlanRow:
    """A new plan owned by ``user_id`` (whom the caller may act for); ``problems`` are the
    caller's own findings (malformed ids), reported together with these."""
    problems = problems if problems is not None else ProblemList()
    lesson_ids = validate_plan(problems, values)
    now = utcnow()
    async with db.write() as conn:
        await _check_current_lessons(conn, problems, values.get("lesson_ids"))
        problems.raise_if_any()
        if await conn.scalar(select(User.id).where(User.id == user_id)) is None:
            raise NotFound("user")
        plan = one(
            StudyPlanRow,
            await conn.execute(
                insert(StudyPlan)
                .values(user_id=user_id, title=values["title"], created_at=now, updated_at=now)
                .returning(*columns(StudyPlanRow))
            ),
        )
        await _write_lessons(conn, plan.id, lesson_ids)
    return plan


async def update_plan(
    db: Database,
    viewer: Viewer,
    plan_id: int,
    values: PlanValues,
    problems: ProblemList | None = None,
) -> StudyPlanRow:
    """Change the title and/or replace the ordered lessons of a plan the viewer may access."""
    problems = problems if problems is not None else ProblemList()
    lesson_ids = validate_plan(problems, values)
    async with db.write() as conn:
        # Input first, then the plan: the answer for bad input never depends on whose plan it is.
        await _check_current_lessons(conn, problems, values.get("lesson_ids"))
        problems.raise_if_any()
        # Locked: two updates of one plan's lessons run one after the other, never interleaved.
        await _accessible_plan_owner(conn, viewer, plan_id, lock=True)
        changes: dict[str, Any] = {}
        if "title" in values:
            changes["title"] = values["title"]
        if "lesson_ids" in values:
            await conn.execute(delete(StudyPlanLesson).where(StudyPlanLesson.study_plan_id == plan_id))
            await _write_lessons(conn, plan_id, lesson_ids)
        if changes or "lesson_ids" in values:
            changes["updated_at"] = utcnow()
        statement = update(StudyPlan).where(StudyPlan.id == plan_id).returning(*columns(StudyPlanRow))
        # With nothing to change, still return the row.
        return one(StudyPlanRow, await conn.execute(statement.values(**(changes or {"id": StudyPlan.id}))))


async def start_instance(db: Database, viewer: Viewer, plan_id: int) -> StudyPlanInstanceRow:
    """A new run through a plan the viewer may access; it belongs to the plan's owner."""
    async with db.write() as conn:
        owner_id = await _accessible_plan_owner(conn, viewer, plan_id, lock=False)
        statement = (
            insert(StudyPlanInstance)
            .values(study_plan_id=plan_id, user_id=owner_id, started_at=utcnow())
            .returning(*columns(StudyPlanInstanceRow))
        )
        return one(StudyPlanInstanceRow, await conn.execute(statement))


def validate_plan(problems: ProblemList, values: PlanValues) -> list[int]:
    """Adds every problem that needs no database; returns the well-formed lesson ids in order."""
    check_text(problems, values, "title", MAX_TITLE_LENGTH)
    refuse_nul(problems, values)  # lesson ids are numbers by now: only the title can hold one
    if "lesson_ids" not in values:
        return []
    lesson_ids: Sequence[int | None] | None = values["lesson_ids"]
    if lesson_ids is None:
        problems.add(("lesson_ids",), "must not be null")
        return []
    if not 1 <= len(lesson_ids) <= MAX_PLAN_LESSONS:
        problems.add(("lesson_ids",), f"must list between 1 and {MAX_PLAN_LESSONS} lessons")
        return []
    seen: set[int] = set()
    for index, lesson_id in enumerate(lesson_ids):
        if lesson_id is None:
            continue
        if lesson_id in seen:
            problems.add(("lesson_ids", str(index)), "is listed more than once")
        seen.add(lesson_id)
    return [pk for pk in lesson_ids if pk is not None]


async def _check_current_lessons(
    conn: AsyncConnection, problems: ProblemList, lesson_ids: Sequence[int | None] | None
) -> None:
    """Each id must name a lesson that is part of its course (removed ones are not)."""
    wanted = sorted({pk for pk in lesson_ids or () if pk is not None})
    if not wanted or len(lesson_ids or ()) > MAX_PLAN_LESSONS:
        return
    current = set(
        (await conn.execute(select(Lesson.id).where(Lesson.id.in_(wanted), Lesson.removed_at.is_(None))))
        .scalars()
        .all()
    )
    for index, lesson_id in enumerate(lesson_ids or ()):
        if lesson_id is not None and lesson_id not in current:
            problems.add(("lesson_ids", str(index)), "names no current lesson")


async def _write_lessons(conn: AsyncConnection, plan_id: int, lesson_ids: Sequence[int]) -> None:
    rows = [
        {"study_plan_id": plan_id, "position": position, "lesson_id": lesson_id}
        for position, lesson_id in enumerate(lesson_ids)
    ]
    if rows:
        await conn.execute(insert(StudyPlanLesson).values(rows))


async def _accessible_plan_owner(conn: AsyncConnection, viewer: Viewer, plan_id: int, *, lock: bool) -> int:
    statement = select(StudyPlan.id, StudyPlan.user_id).where(StudyPlan.id == plan_id)
    plan = (await conn.execute(statement.with_for_update() if lock else statement)).first()
    # Another learner's plan is answered exactly like one that does not exist.
    if plan is None or not viewer.can_access(plan.user_id):
        raise NotFound("study plan")
    return int(plan.user_id)
