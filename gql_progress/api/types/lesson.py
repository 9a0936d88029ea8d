from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row

from gql_progress.api.context import Info
from gql_progress.api.ids import encode_id
from gql_progress.api.subjects import subject_user
from gql_progress.api.types.course import USER_ID_HELP
from gql_progress.api.types.enums import LessonKind, ProgressStatus
from gql_progress.api.types.progress import Progress

if TYPE_CHECKING:
    from gql_progress.api.types.course import Course


@strawberry.type(description="One lesson of a course.")
class Lesson:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    position: int = strawberry.field(description="Order within the course (unique there, from 0).")
    title: str = strawberry.field(description="Title.")
    kind: LessonKind = strawberry.field(description="What the lesson holds.")
    duration_seconds: int | None = strawberry.field(description="Length in seconds, if known.")
    is_required: bool = strawberry.field(
        description="Whether the lesson counts toward completing the course."
    )
    created_at: datetime = strawberry.field(description="When the lesson was created.")
    updated_at: datetime = strawberry.field(description="When the lesson last changed.")
    pk: strawberry.Private[int]
    course_pk: strawberry.Private[int]
    subject_user_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any], *, subject_user_id: int) -> Lesson:
        return cls(
            id=strawberry.ID(encode_id("Lesson", row.id)),
            position=row.position,
            title=row.title,
            kind=LessonKind(row.kind),
            duration_seconds=row.duration_seconds,
            is_required=row.is_required,
            created_at=row.created_at,
            updated_at=row.updated_at,
            pk=row.id,
            course_pk=row.course_id,
            subject_user_id=subject_user_id,
        )

    @strawberry.field(description="The course this lesson belongs to.")
    async def course(self, info: Info) -> Annotated[Course, strawberry.lazy("gql_progress.api.types.course")]:
        from gql_progress.api.types.course import Course

        row = await info.context.loaders.course_by_id.load(self.course_pk)
        assert row is not None
        return Course.from_row(row, subject_user_id=self.subject_user_id)

    @strawberry.field(description="The user's record for this lesson; null when nothing was recorded.")
    async def progress(
        self,
        info: Info,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=USER_ID_HELP)] = None,
    ) -> Progress | None:
        user = subject_user(info, self.subject_user_id, user_id)
        records = await info.context.loaders.progress_by_user_course.load((user, self.course_pk))
        row = records.get(self.pk)
        return None if row is None else Progress.from_row(row)

    @strawberry.field(description="The user's status on this lesson, NOT_STARTED when nothing was recorded.")
    async def progress_status(
        self,
        info: Info,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=USER_ID_HELP)] = None,
    ) -> ProgressStatus:
        user = subject_user(info, self.subject_user_id, user_id)
        records = await info.context.loaders.progress_by_user_course.load((user, self.course_pk))
        row = records.get(self.pk)
        if row is None:
            return ProgressStatus.NOT_STARTED
        return ProgressStatus.COMPLETED if row.completed else ProgressStatus.IN_PROGRESS
