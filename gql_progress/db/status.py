"""What `gql-progress status` reports: the schema's revision and the size of the main tables."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from gql_progress.db.engine import Database
from gql_progress.db.models import Course, LessonProgress, User
from gql_progress.db.revision import SchemaRevision, schema_revision


@dataclass(frozen=True)
class DatabaseStatus:
    revision: SchemaRevision
    # None while the tables do not exist yet (a database never migrated).
    users: int | None
    courses: int | None
    progress_rows: int | None


async def database_status(db: Database) -> DatabaseStatus:
    revision = await schema_revision(db)
    if not revision.current:
        return DatabaseStatus(revision, None, None, None)
    async with db.read() as conn:
        users, courses, progress = (
            await conn.execute(
                select(
                    select(func.count()).select_from(User).scalar_subquery(),
                    select(func.count()).select_from(Course).scalar_subquery(),
                    select(func.count()).select_from(LessonProgress).scalar_subquery(),
                )
            )
        ).one()
    return DatabaseStatus(revision, int(users), int(courses), int(progress))
