"""What completing a course produces: the COURSE_COMPLETED event and, the first time and where
the course offers one, a certificate with an unguessable verification code."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.dialect import insert_for
from gql_progress.db.engine import Database
from gql_progress.db.models import Certificate, Course, EventType, User
from gql_progress.domain.events import NewEvent
from gql_progress.domain.text import contains_nul

CODE_BYTES = 24  # 192 random bits: guessing a valid code is hopeless


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


async def course_completion_events(
    conn: AsyncConnection,
    completions: Sequence[tuple[int, int]],
    actor_user_id: int | None,
    now: datetime,
    *,
    offering: set[int] | None = None,
) -> list[NewEvent]:
    """For (user, course) enrollments that just became COMPLETED (the caller holds their locks):
    issue the certificates not issued yet and return the events to record.

    A course completed again after an un-completion keeps its first certificate: the unique
    (user, course) constraint makes the second insert a no-op, so no second CERTIFICATE_ISSUED.
    """
    if not completions:
        return []
    events = [
        NewEvent(EventType.COURSE_COMPLETED, user_id, course_id, actor_user_id=actor_user_id)
        for user_id, course_id in completions
    ]
    if offering is None:  # the courses that offer a certificate, unless the caller knows them
        offering = set(
            (
                await conn.execute(
                    select(Course.id).where(
                        Course.id.in_({course_id for _, course_id in completions}), Course.certificate_enabled
                    )
                )
            ).scalars()
        )
    wanted = [(user_id, course_id) for user_id, course_id in completions if course_id in offering]
    if wanted:
        statement = (
            insert_for(conn, Certificate.__table__)
            .values(
                [
                    {"user_id": user_id, "course_id": course_id, "code": new_code(), "issued_at": now}
                    for user_id, course_id in wanted
                ]
            )
            .on_conflict_do_nothing(index_elements=["user_id", "course_id"])
            .returning(Certificate.id, Certificate.user_id, Certificate.course_id, Certificate.code)
        )
        for issued in await conn.execute(statement):
            events.append(
                NewEvent(
                    EventType.CERTIFICATE_ISSUED,
                    issued.user_id,
                    issued.course_id,
                    actor_user_id=actor_user_id,
                    data={"certificateId": issued.id, "code": issued.code},
                )
            )
    return events


async def verify_certificate(db: Database, code: str) -> Row[str, str, datetime] | None:
    """The learner's name, the course's title and the date for a valid code; nothing else."""
    # A code with U+0000 is none we issued, and PostgreSQL would refuse to compare it.
    if not code or len(code) > 64 or contains_nul(code):
        return None
    async with db.read() as conn:
        statement = (
            select(User.name.label("learner_name"), Course.title.label("course_title"), Certificate.issued_at)
            .join(User, User.id == Certificate.user_id)
            .join(Course, Course.id == Certificate.course_id)
            .where(Certificate.code == code)
        )
        return (await conn.execute(statement)).first()
