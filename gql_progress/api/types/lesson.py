from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.subjects import subject_user
from gql_progress.api.types.course import USER_ID_HELP
from gql_progress.api.types.enums import LessonKind, ProgressStatus
from gql_progress.api.types.node import Node
from gql_progress.api.types.progress import Progress
from gql_progress.db.rows import LessonRow, ProgressRow
from gql_progress.domain.completion.sequence import first_missing
from gql_progress.domain.ids import encode_id

if TYPE_CHECKING:
    from gql_progress.api.types.course import Course


@strawberry.type(description="One lesson of a course.")
class Lesson(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    position: int = strawberry.field(description="Order within the course (unique there, from 0).")
    title: str = strawberry.field(description="Title.")
    external_id: str | None = strawberry.field(
        description="The platform's own id for the lesson (unique among lessons), if it has one."
    )
    kind: LessonKind = strawberry.field(description="What the lesson holds.")
    duration_seconds: int | None = strawberry.field(description="Length in seconds, if known.")
    is_required: bool = strawberry.field(
        description="Whether the lesson counts toward completing the course."
    )
    pass_score: float | None = strawberry.field(
        description=(
            "For quizzes: a recorded quizScore at or above it passes the quiz (quizPassed) and "
            "completes the lesson; a lower score later never takes that back. Null: no automatic pass."
        )
    )
    created_at: datetime = strawberry.field(description="When the lesson was created.")
    updated_at: datetime = strawberry.field(description="When the lesson last changed.")
    removed_at: datetime | None = strawberry.field(
        description=(
            "When the lesson was removed from its course; null while it is part of it. Learners' "
            "records on a removed lesson are kept but no longer count."
        )
    )
    pk: strawberry.Private[int]
    course_pk: strawberry.Private[int]
    subject_user_id: strawberry.Private[int]
    # The subject's records in this course by lesson id, when the parent fetched them already.
    records: strawberry.Private[Mapping[int, ProgressRow] | None] = None

    @classmethod
    def from_row(
        cls, row: LessonRow, *, subject_user_id: int, records: Mapping[int, ProgressRow] | None = None
    ) -> Lesson:
        return cls(
            id=strawberry.ID(encode_id("Lesson", row.id)),
            position=row.position,
            title=row.title,
            external_id=row.external_id,
            kind=LessonKind(row.kind),
            duration_seconds=row.duration_seconds,
            is_required=row.is_required,
            pass_score=row.pass_score,
            created_at=row.created_at,
            updated_at=row.updated_at,
            removed_at=row.removed_at,
            pk=row.id,
            course_pk=row.course_id,
            subject_user_id=subject_user_id,
            records=records,
        )

    @strawberry.field(description="The course this lesson belongs to.")
    async def course(self, info: Info) -> Annotated[Course, strawberry.lazy("gql_progress.api.types.course")]:
        from gql_progress.api.types.course import course_by_pk

        return await course_by_pk(info, self.course_pk, subject_user_id=self.subject_user_id)

    @strawberry.field(
        description="The user's record for this lesson; null when nothing was recorded.",
        graphql_type=Progress | None,
    )
    def progress(
        self,
        info: Info,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=USER_ID_HELP)] = None,
    ) -> Progress | Awaitable[Progress | None] | None:
        # Synchronous when the course page fetched the records with the lessons: a page of
        # 200 lessons then costs no awaitable per lesson.
        if user_id is None and self.records is not None:
            row = self.records.get(self.pk)
            return None if row is None else Progress.from_row(row)
        return self._load_progress(info, user_id)

    @strawberry.field(
        description="The user's status on this lesson, NOT_STARTED when nothing was recorded.",
        graphql_type=ProgressStatus,
    )
    def progress_status(
        self,
        info: Info,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=USER_ID_HELP)] = None,
    ) -> ProgressStatus | Awaitable[ProgressStatus]:
        if user_id is None and self.records is not None:
            return _status(self.records.get(self.pk))
        return self._load_status(info, user_id)

    @strawberry.field(
        description=(
            "Whether the user may not complete this lesson yet: the course is sequential and an "
            "earlier required lesson is incomplete. Always false in other courses."
        )
    )
    async def locked(
        self,
        info: Info,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=USER_ID_HELP)] = None,
    ) -> bool:
        user = subject_user(info, self.subject_user_id, user_id)
        loaders = info.context.loaders
        course = await loaders.course_by_id.load(self.course_pk)
        if course is None or not course.requires_sequential_progress:
            return False
        lessons, records = await asyncio.gather(
            loaders.lessons_by_course.load(self.course_pk),
            loaders.progress_by_user_course.load((user, self.course_pk)),
        )
        completed = {lesson_id for lesson_id, record in records.items() if record.completed}
        return first_missing(lessons, completed, self.pk) is not None

    async def _record(self, info: Info, user_id: str | None) -> ProgressRow | None:
        user = subject_user(info, self.subject_user_id, user_id)
        records = await info.context.loaders.progress_by_user_course.load((user, self.course_pk))
        return records.get(self.pk)

    async def _load_progress(self, info: Info, user_id: str | None) -> Progress | None:
        row = await self._record(info, user_id)
        return None if row is None else Progress.from_row(row)

    async def _load_status(self, info: Info, user_id: str | None) -> ProgressStatus:
        return _status(await self._record(info, user_id))


def _status(row: ProgressRow | None) -> ProgressStatus:
    if row is None:
        return ProgressStatus.NOT_STARTED
    return ProgressStatus.COMPLETED if row.completed else ProgressStatus.IN_PROGRESS
