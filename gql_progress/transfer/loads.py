"""Per file kind, the set-based statements that take a staged batch into our tables.

Each batch, in its transaction: resolve the platform's identifiers to our ids (UPDATE … FROM,
one statement per identifier), take out the rows that cannot be written with the reason
(DELETE … RETURNING, one statement per rule), then one INSERT … SELECT … ON CONFLICT DO UPDATE.
The update only touches rows whose values differ, so importing the same file twice changes
nothing the second time (not even updated_at).

Columns a CSV file does not have keep their stored values on rows that exist (new rows get the
defaults); ``present`` names the ones it has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.dialect import insert_for
from gql_progress.db.models import Course, Enrollment, EnrollmentStatus, Lesson, LessonProgress, User
from gql_progress.domain.catalog import COURSE_COLUMNS, LESSON_COLUMNS
from gql_progress.domain.completion.statements import WRITABLE_COLUMNS


@dataclass(frozen=True, slots=True)
class Refusal:
    line: int
    column: str
    reason: str


@dataclass
class Loaded:
    """What one batch did: rows refused (with why), rows written, courses whose enrollments the
    completion engine must look at afterwards."""

    refused: list[Refusal] = field(default_factory=list)
    written: int = 0
    course_ids: set[int] = field(default_factory=set)


Reason = Callable[[Any], str]  # the refused row's value of the column -> the reason


async def _refuse(
    conn: AsyncConnection,
    staged: Table,
    condition: ColumnElement[bool],
    column: str,
    reason: str | Reason,
    loaded: Loaded,
) -> None:
    """Take the rows matching ``condition`` out of the batch, each refused with ``reason``."""
    value = staged.c.get(column, staged.c.line)
    rows = await conn.execute(delete(staged).where(condition).returning(staged.c.line, value))
    for line, found in rows:
        loaded.refused.append(Refusal(line, column, reason(found) if callable(reason) else reason))


def _repeats(staged: Table, *keys: ColumnElement[Any]) -> ColumnElement[bool]:
    """Rows whose ``keys`` an earlier row of the batch already has (the earlier one stays)."""
    ranked = (
        select(
            staged.c.line,
            func.row_number().over(partition_by=list(keys), order_by=staged.c.line).label("n"),
        )
        .where(*(key.is_not(None) for key in keys))
        .subquery()
    )
    return staged.c.line.in_(select(ranked.c.line).where(ranked.c.n > 1))


async def _resolve(
    conn: AsyncConnection,
    staged: Table,
    target: str,
    source: Any,
    pairs: Iterable[tuple[str, Any]],
) -> None:
    """Fill ``staged.<target>`` with ``source`` where a staged column equals a column of its table."""
    for staged_column, ours in pairs:
        if staged_column in staged.c:
            await conn.execute(
                update(staged)
                .where(ours == staged.c[staged_column], staged.c[target].is_(None))
                .values({target: source})
            )


def _named(what: str, column: str) -> Reason:
    return lambda value: f"no {what} has {column} {value!r}"


async def _upsert(
    conn: AsyncConnection,
    target: Any,
    values: dict[str, ColumnElement[Any]],
    staged: Table,
    conflict: list[str],
    changing: list[str],
    *,
    joins: Callable[[Any], Any] | None = None,
    stamp: str | None = None,
) -> int:
    """INSERT … SELECT ``values`` FROM the batch ON CONFLICT (``conflict``) DO UPDATE the
    ``changing`` columns, only where one differs (then also ``stamp``, the updated_at)."""
    source = select(*values.values()).select_from(joins(staged) if joins else staged)
    # The WHERE also keeps SQLite from reading ON CONFLICT as part of a join (its documented
    # parsing ambiguity of INSERT … SELECT … ON CONFLICT).
    source = source.where(staged.c.line >= 0)
    statement = insert_for(conn, target).from_select(list(values), source)
    if changing:
        new = statement.excluded
        set_ = {name: new[name] for name in changing}
        if stamp is not None:
            set_[stamp] = new[stamp]
        statement = statement.on_conflict_do_update(
            index_elements=conflict,
            set_=set_,
            where=or_(*(target.c[name].is_distinct_from(new[name]) for name in changing)),
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=conflict)
    result = await conn.execute(statement)
    return max(result.rowcount or 0, 0)


def _now(now: datetime, column: Any) -> ColumnElement[Any]:
    return literal(now, type_=column.type)


async def _course_ids(conn: AsyncConnection, staged: Table) -> set[int]:
    return set((await conn.scalars(select(staged.c.course_id).distinct())).all())


@dataclass(frozen=True)
class _Identified:
    """How a staged row names a ``what`` of ``table``: by either of two identifiers, each a
    (staged column, our column) pair; its id goes to the staged column ``target``."""

    what: str
    target: str
    table: Any
    first: tuple[str, str]
    second: tuple[str, str]


_COURSE = _Identified(
    "course", "course_id", Course.__table__, ("course_slug", "slug"), ("course_product_id", "product_id")
)
_USER = _Identified(
    "user", "user_id", User.__table__, ("user_external_id", "external_id"), ("user_email", "email")
)


async def _resolve_by_either(
    conn: AsyncConnection, staged: Table, loaded: Loaded, present: frozenset[str], by: _Identified
) -> None:
    """Fill ``staged.<target>`` with the id of the row of ``table`` that the first identifier
    names, else the second; a row whose identifier names nothing, or whose two identifiers
    name different rows, is refused. Identifiers the file does not have cost no statement."""
    what, target, table = by.what, by.target, by.table
    (first_staged, first_ours), (second_staged, second_ours) = by.first, by.second
    s = staged.c
    if first_staged in present:
        await _resolve(conn, staged, target, table.c.id, [(first_staged, table.c[first_ours])])
        await _refuse(
            conn,
            staged,
            s[target].is_(None) & s[first_staged].is_not(None),
            first_staged,
            _named(what, first_ours),
            loaded,
        )
    if second_staged not in present:
        return
    if first_staged in present:
        disagree = s[second_staged].is_not(None) & ~exists().where(
            table.c.id == s[target], table.c[second_ours] == s[second_staged]
        )
        await _refuse(
            conn,
            staged,
            s[target].is_not(None) & disagree,
            second_staged,
            lambda v: f"{v!r} is not the {second_ours} of the {what} {first_staged} names",
            loaded,
        )
    await _resolve(conn, staged, target, table.c.id, [(second_staged, table.c[second_ours])])
    await _refuse(conn, staged, s[target].is_(None), second_staged, _named(what, second_ours), loaded)


# --- users ----------------------------------------------------------------------------------


async def load_users(conn: AsyncConnection, staged: Table, present: frozenset[str], now: datetime) -> Loaded:
    loaded = Loaded()
    s, users = staged.c, User.__table__
    await _refuse(
        conn, staged, _repeats(staged, s.external_id), "external_id", "repeats an earlier row's", loaded
    )
    await _refuse(conn, staged, _repeats(staged, s.email), "email", "repeats an earlier row's", loaded)
    taken = exists().where(User.email == s.email, User.external_id != s.external_id)
    await _refuse(conn, staged, taken, "email", lambda v: f"{v!r} belongs to another user", loaded)
    stored = users.alias("stored")
    values = {
        "external_id": s.external_id,
        "email": s.email,
        "name": s.name,
        "role": s.role,
        # Not given: kept from an earlier import, else now.
        "created_at": func.coalesce(s.created_at, stored.c.created_at, _now(now, User.created_at)),
    }
    changing: list[str] = [c for c in ("email", "name", "role", "created_at") if c in present]
    loaded.written = await _upsert(
        conn,
        users,
        values,
        staged,
        ["external_id"],
        changing,
        joins=lambda t: t.outerjoin(stored, stored.c.external_id == s.external_id),
    )
    return loaded


# --- courses --------------------------------------------------------------------------------

# What a catalog write may set, but the row's key, which the import matches on.
_COURSE_COLUMNS = tuple(c for c in COURSE_COLUMNS if c != "slug")


async def load_courses(
    conn: AsyncConnection, staged: Table, present: frozenset[str], now: datetime
) -> Loaded:
    loaded = Loaded()
    s = staged.c
    await _refuse(conn, staged, _repeats(staged, s.slug), "slug", "repeats an earlier row's", loaded)
    await _refuse(
        conn, staged, _repeats(staged, s.product_id), "product_id", "repeats an earlier row's", loaded
    )
    taken = exists().where(Course.product_id == s.product_id, Course.slug != s.slug)
    await _refuse(conn, staged, taken, "product_id", lambda v: f"{v!r} belongs to another course", loaded)
    stamp = _now(now, Course.updated_at)
    values: dict[str, ColumnElement[Any]] = {"slug": s.slug, **{c: s[c] for c in _COURSE_COLUMNS}}
    values.update(created_at=stamp, updated_at=stamp)
    changing = [c for c in _COURSE_COLUMNS if c in present]
    loaded.written = await _upsert(
        conn, Course.__table__, values, staged, ["slug"], changing, stamp="updated_at"
    )
    return loaded


# --- lessons --------------------------------------------------------------------------------

# The lesson's course, then what a catalog write may set but its key (the external id).
_LESSON_COLUMNS = ("course_id", *(c for c in LESSON_COLUMNS if c != "external_id"))


async def load_lessons(
    conn: AsyncConnection, staged: Table, present: frozenset[str], now: datetime
) -> Loaded:
    loaded = Loaded()
    s = staged.c
    await _resolve_by_either(conn, staged, loaded, present, _COURSE)
    await _refuse(
        conn, staged, _repeats(staged, s.external_id), "external_id", "repeats an earlier row's", loaded
    )
    await _refuse(
        conn,
        staged,
        _repeats(staged, s.course_id, s.position),
        "position",
        "repeats an earlier row's",
        loaded,
    )
    elsewhere = exists().where(Lesson.external_id == s.external_id, Lesson.course_id != s.course_id)
    await _refuse(
        conn, staged, elsewhere, "external_id", lambda v: f"{v!r} is a lesson of another course", loaded
    )
    removed = exists().where(Lesson.external_id == s.external_id, Lesson.removed_at.is_not(None))
    await _refuse(conn, staged, removed, "external_id", lambda v: f"{v!r} is a removed lesson", loaded)
    taken = exists().where(
        Lesson.course_id == s.course_id,
        Lesson.position == s.position,
        Lesson.removed_at.is_(None),
        or_(Lesson.external_id.is_(None), Lesson.external_id != s.external_id),
    )
    await _refuse(conn, staged, taken, "position", lambda v: f"{v} is another lesson's in the course", loaded)
    loaded.course_ids = await _course_ids(conn, staged)
    stamp = _now(now, Lesson.updated_at)
    values: dict[str, ColumnElement[Any]] = {
        "external_id": s.external_id,
        **{c: s[c] for c in _LESSON_COLUMNS},
    }
    values.update(created_at=stamp, updated_at=stamp)
    changing = [c for c in _LESSON_COLUMNS[1:] if c in present]
    loaded.written = await _upsert(
        conn, Lesson.__table__, values, staged, ["external_id"], changing, stamp="updated_at"
    )
    return loaded


# --- enrollments ----------------------------------------------------------------------------


async def load_enrollments(
    conn: AsyncConnection, staged: Table, present: frozenset[str], now: datetime
) -> Loaded:
    loaded = Loaded()
    s = staged.c
    await _resolve_by_either(conn, staged, loaded, present, _USER)
    await _resolve_by_either(conn, staged, loaded, present, _COURSE)
    await _refuse(
        conn,
        staged,
        _repeats(staged, s.user_id, s.course_id),
        "",
        "repeats an earlier row's learner and course",
        loaded,
    )
    loaded.course_ids = await _course_ids(conn, staged)
    stored = Enrollment.__table__.alias("stored")
    values = {
        "user_id": s.user_id,
        "course_id": s.course_id,
        # Not given: kept from an earlier import, else now.
        "enrolled_at": func.coalesce(s.enrolled_at, stored.c.enrolled_at, _now(now, Enrollment.enrolled_at)),
        "status": literal(EnrollmentStatus.ACTIVE.value),
    }
    changing = ["enrolled_at"] if "enrolled_at" in present else []
    loaded.written = await _upsert(
        conn,
        Enrollment.__table__,
        values,
        staged,
        ["user_id", "course_id"],
        changing,
        joins=lambda t: t.outerjoin(
            stored, and_(stored.c.user_id == s.user_id, stored.c.course_id == s.course_id)
        ),
    )
    return loaded


# --- progress -------------------------------------------------------------------------------

# What a client may set on a record (the upsert's WRITABLE_COLUMNS), but completion and its
# percentage, which the import derives with their dates below; plus the last access the old LMS
# recorded, which a client's write sets to now instead.
_PROGRESS_COLUMNS = (
    *sorted(WRITABLE_COLUMNS - {"completed", "progress_percentage"}),
    "last_accessed_at",
)


async def load_progress(
    conn: AsyncConnection, staged: Table, present: frozenset[str], now: datetime
) -> Loaded:
    """The batch's records; its rows arrive resolved (user_id, lesson_id, course_id)."""
    loaded = Loaded()
    s = staged.c
    # Resolved and checked before staging (transfer/resolving.py): every staged row is written.
    table = LessonProgress.__table__
    stored = LessonProgress.__table__.alias("stored")
    completed = func.coalesce(s.completed, s.completed_at.is_not(None))
    sets_completion = bool(present & {"completed", "completed_at"})
    percentage_only = "progress_percentage" in present and not sets_completion
    # The stored record is read (a join) only where a row needs it: a completion the file
    # does not date keeps the date an earlier import gave it; a percentage without completion
    # columns is 100 while the stored record is completed (as in upsertProgress).
    undated = await conn.scalar(select(exists().where(completed, s.completed_at.is_(None))))
    reads_stored = percentage_only or bool(undated)
    now_value = _now(now, LessonProgress.completed_at)
    kept = case((stored.c.completed, stored.c.completed_at), else_=None) if reads_stored else None
    values: dict[str, ColumnElement[Any]] = {
        "user_id": s.user_id,
        "lesson_id": s.lesson_id,
        "completed": completed,
        "completed_at": case((completed, func.coalesce(s.completed_at, kept, now_value)), else_=None),
        "progress_percentage": case((completed, 100.0), else_=s.progress_percentage),
        **{c: s[c] for c in _PROGRESS_COLUMNS},
        "created_at": now_value,
        "updated_at": now_value,
    }
    if conn.dialect.name == "postgresql":
        values["metadata"] = cast(s.metadata, JSONB)
    changing = [c for c in _PROGRESS_COLUMNS if c in present]
    if sets_completion:
        changing += ["completed", "completed_at", "progress_percentage"]
    elif percentage_only:
        values["progress_percentage"] = case(
            (func.coalesce(stored.c.completed, False), 100.0), else_=s.progress_percentage
        )
        changing.append("progress_percentage")

    def joins(staged_table: Any) -> Any:
        return staged_table.outerjoin(
            stored, and_(stored.c.user_id == s.user_id, stored.c.lesson_id == s.lesson_id)
        )

    loaded.written = await _upsert(
        conn,
        table,
        values,
        staged,
        ["user_id", "lesson_id"],
        changing,
        joins=joins if reads_stored else None,
        stamp="updated_at",
    )
    return loaded


LOADS = {
    "users": load_users,
    "courses": load_courses,
    "lessons": load_lessons,
    "enrollments": load_enrollments,
    "progress": load_progress,
}
