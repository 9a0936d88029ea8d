"""Progress rows resolved to our ids before they are staged: the platform's identifiers of a
batch looked up in one statement per table, the rules checked row by row in Python.

Progress files are the large ones (a million rows in a migration), and resolving them in the
staging table cost two UPDATEs that rewrite it and five DELETE scans per batch: ~150 ms of a
batch's ~700 (bench/RESULTS.md). The lookups here read only the batch's distinct identifiers
(a few hundred users and lessons in a batch of 25,000 rows) through the unique indexes. The
rules and reasons are loads.py's for the other kinds, in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.models import Enrollment, Lesson, User
from gql_progress.transfer.columns import Kind
from gql_progress.transfer.loads import Loaded, Refusal

_NOT_ENROLLED = "the learner is not enrolled in the lesson's course (import enrollments first)"
# Bound parameters per IN list: PostgreSQL takes at most 32,767 per statement.
_CHUNK = 5_000


async def _rows_where(conn: AsyncConnection, query: Any, column: Any, values: Iterable[Any]) -> list[Any]:
    wanted = sorted(set(values))
    found: list[Any] = []
    for start in range(0, len(wanted), _CHUNK):
        found += (await conn.execute(query.where(column.in_(wanted[start : start + _CHUNK])))).all()
    return found


async def resolve_progress(
    conn: AsyncConnection, kind: Kind, rows: Sequence[tuple[Any, ...]], present: frozenset[str]
) -> tuple[list[tuple[Any, ...]], Loaded]:
    """The rows that can be written, each followed by (user id, lesson id, course id), and the
    refused ones with the courses the written ones touch."""
    slot = {c.name: i for i, c in enumerate(kind.columns, start=1)}
    by_external, by_email, completed, completed_at, lesson = (
        slot["user_external_id"],
        slot["user_email"],
        slot["completed"],
        slot["completed_at"],
        slot["lesson_external_id"],
    )
    users_by_external: dict[str, tuple[int, str]] = {}
    users_by_email: dict[str, int] = {}
    if "user_external_id" in present:
        found = await _rows_where(
            conn,
            select(User.id, User.external_id, User.email),
            User.external_id,
            (r[by_external] for r in rows if r[by_external] is not None),
        )
        users_by_external = {r.external_id: (r.id, r.email) for r in found}
    if "user_email" in present:
        emails = (r[by_email] for r in rows if r[by_email] is not None and r[by_external] is None)
        found = await _rows_where(conn, select(User.id, User.email), User.email, emails)
        users_by_email = {r.email: r.id for r in found}
    found = await _rows_where(
        conn,
        select(Lesson.id, Lesson.external_id, Lesson.course_id).where(Lesson.removed_at.is_(None)),
        Lesson.external_id,
        (r[lesson] for r in rows),
    )
    lessons = {r.external_id: (r.id, r.course_id) for r in found}
    user_ids = {u for u, _ in users_by_external.values()} | set(users_by_email.values())
    found = await _rows_where(
        conn, select(Enrollment.user_id, Enrollment.course_id), Enrollment.user_id, user_ids
    )
    enrolled = {(r.user_id, r.course_id) for r in found}

    loaded = Loaded()
    refuse = loaded.refused.append
    seen: set[tuple[int, int]] = set()
    out: list[tuple[Any, ...]] = []
    for row in rows:
        line = row[0]
        if row[completed] is False and row[completed_at] is not None:
            refuse(Refusal(line, "completed_at", "is given but completed is false"))
            continue
        external, email = row[by_external], row[by_email]
        if external is not None:
            user = users_by_external.get(external)
            if user is None:
                refuse(Refusal(line, "user_external_id", f"no user has external_id {external!r}"))
                continue
            user_id = user[0]
            if email is not None and email != user[1]:
                refuse(
                    Refusal(
                        line, "user_email", f"{email!r} is not the email of the user user_external_id names"
                    )
                )
                continue
        else:
            found_id = users_by_email.get(email)
            if found_id is None:
                refuse(Refusal(line, "user_email", f"no user has email {email!r}"))
                continue
            user_id = found_id
        current = lessons.get(row[lesson])
        if current is None:
            refuse(Refusal(line, "lesson_external_id", f"no current lesson has external_id {row[lesson]!r}"))
            continue
        lesson_id, course_id = current
        if (user_id, course_id) not in enrolled:
            refuse(
                Refusal(
                    line, "", "the learner is not enrolled in the lesson's course (import enrollments first)"
                )
            )
            continue
        if (user_id, lesson_id) in seen:
            refuse(Refusal(line, "", "repeats an earlier row's learner and lesson"))
            continue
        seen.add((user_id, lesson_id))
        loaded.course_ids.add(course_id)
        out.append((*row, user_id, lesson_id, course_id))
    return out, loaded
