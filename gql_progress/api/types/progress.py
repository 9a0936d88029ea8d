from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from gql_progress.api.context import Info
from gql_progress.api.types.enums import ProgressStatus
from gql_progress.api.types.node import Node
from gql_progress.db.rows import ProgressRow
from gql_progress.domain.ids import encode_id

if TYPE_CHECKING:
    from gql_progress.api.types.lesson import Lesson
    from gql_progress.api.types.user import User


@strawberry.type(
    description=(
        "A learner's one record for one lesson. There is at most one per (user, lesson); "
        "a lesson with nothing recorded has no Progress (its progress field is null)."
    )
)
class Progress(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id of this record.")
    status: ProgressStatus = strawberry.field(
        description="IN_PROGRESS or COMPLETED (a record never says NOT_STARTED)."
    )
    completed: bool = strawberry.field(description="Whether the learner completed the lesson.")
    progress_percentage: float = strawberry.field(
        description="0–100; always 100 while the lesson is completed."
    )
    video_position_seconds: int = strawberry.field(
        description="Furthest or current position in the video, in seconds."
    )
    last_position_seconds: int = strawberry.field(
        description="Where playback or reading should resume, in seconds."
    )
    quiz_score: float | None = strawberry.field(description="Latest quiz score, 0–100.")
    quiz_attempts: int = strawberry.field(description="Quiz attempts recorded.")
    quiz_passed: bool | None = strawberry.field(description="Whether the quiz was passed.")
    time_spent_minutes: int = strawberry.field(
        description=(
            "Time spent on the lesson, in minutes, as the client claims it (activeSeconds is measured)."
        )
    )
    active_seconds: int = strawberry.field(
        description=(
            "Time spent on the lesson as the server measured it, in seconds: the sum of the gaps "
            "between upsertProgress writes on this record that were at most the heartbeat window "
            "(GQL_PROGRESS_ACTIVE_TIME_WINDOW_SECONDS, 60 by default), by the database's clock. A "
            "longer gap (an idle tab, a closed laptop) adds nothing; bulk completion and admin "
            "grants add nothing."
        )
    )
    notes: str | None = strawberry.field(description="The learner's notes (up to 10,000 characters).")
    is_bookmarked: bool = strawberry.field(description="Whether the learner bookmarked the lesson.")
    metadata: JSON | None = strawberry.field(
        description="Free-form JSON object the client stores with the record (up to 16 KiB)."
    )
    completed_at: datetime | None = strawberry.field(
        description="When the lesson was (first, since the last un-completion) completed."
    )
    last_accessed_at: datetime | None = strawberry.field(description="When progress was last written.")
    created_at: datetime = strawberry.field(description="When the record was created.")
    updated_at: datetime = strawberry.field(description="When the record last changed.")
    grant_reason: str | None = strawberry.field(
        description="Why an admin completed this lesson for the learner (grantCompletion); null otherwise."
    )
    user_id: strawberry.Private[int]
    lesson_id: strawberry.Private[int]
    granted_by_user_id: strawberry.Private[int | None] = None

    @classmethod
    def from_row(cls, row: ProgressRow) -> Progress:
        return cls(
            id=strawberry.ID(encode_id("Progress", row.id)),
            status=ProgressStatus.COMPLETED if row.completed else ProgressStatus.IN_PROGRESS,
            completed=row.completed,
            progress_percentage=row.progress_percentage,
            video_position_seconds=row.video_position_seconds,
            last_position_seconds=row.last_position_seconds,
            quiz_score=row.quiz_score,
            quiz_attempts=row.quiz_attempts,
            quiz_passed=row.quiz_passed,
            time_spent_minutes=row.time_spent_minutes,
            active_seconds=row.active_seconds,
            notes=row.notes,
            is_bookmarked=row.is_bookmarked,
            metadata=None if row.metadata is None else JSON(row.metadata),
            completed_at=row.completed_at,
            last_accessed_at=row.last_accessed_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            grant_reason=row.grant_reason,
            user_id=row.user_id,
            lesson_id=row.lesson_id,
            granted_by_user_id=row.granted_by_user_id,
        )

    @strawberry.field(
        description=(
            "The admin who completed this lesson for the learner (grantCompletion); null when the "
            "learner completed it, or when it is not completed."
        )
    )
    async def granted_by(
        self, info: Info
    ) -> Annotated[User, strawberry.lazy("gql_progress.api.types.user")] | None:
        from gql_progress.api.types.user import User

        if self.granted_by_user_id is None:
            return None
        row = await info.context.loaders.user_by_id.load(self.granted_by_user_id)
        return None if row is None else User.from_row(row)

    @strawberry.field(description="The learner this record belongs to.")
    async def user(self, info: Info) -> Annotated[User, strawberry.lazy("gql_progress.api.types.user")]:
        from gql_progress.api.types.user import user_by_pk

        return await user_by_pk(info, self.user_id)

    @strawberry.field(description="The lesson this record is about.")
    async def lesson(self, info: Info) -> Annotated[Lesson, strawberry.lazy("gql_progress.api.types.lesson")]:
        from gql_progress.api.types.lesson import Lesson

        row = await info.context.loaders.lesson_by_id.load(self.lesson_id)
        assert row is not None
        return Lesson.from_row(row, subject_user_id=self.user_id)
