from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.type(description="Whether one requested lesson is completed by the user.")
class LessonCompletion:
    lesson_id: strawberry.ID = strawberry.field(
        description=(
            "The id as it was requested; for a lesson requested by externalId, its global id "
            "(empty when the externalId names no lesson)."
        )
    )
    external_id: str | None = strawberry.field(
        description="The externalId the lesson was requested by; null when it was requested by id.",
    )
    found: bool = strawberry.field(
        description="False when the id is malformed or names no lesson; completed is then null."
    )
    completed: bool | None = strawberry.field(
        description="Whether the user completed the lesson; null when the lesson was not found."
    )
    completed_at: datetime | None = strawberry.field(description="When it was completed.")
