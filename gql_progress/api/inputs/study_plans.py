from __future__ import annotations

import strawberry

_LESSON_IDS = "1–500 distinct ids of current lessons, from any courses, in plan order."


@strawberry.input(description="A new study plan.")
class CreateStudyPlanInput:
    title: str = strawberry.field(description="Title: not empty, up to 500 characters.")
    lesson_ids: list[strawberry.ID] = strawberry.field(description=_LESSON_IDS)
    user_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Whose plan: defaults to the caller; admins may name any user.",
    )


@strawberry.input(description="Changes to a study plan.")
class UpdateStudyPlanInput:
    id: strawberry.ID = strawberry.field(description="The study plan.")
    title: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Title: not empty, up to 500 characters. Omit to leave unchanged.",
    )
    lesson_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            _LESSON_IDS + " Replaces the whole list (existing instances follow it). Omit to leave unchanged."
        ),
    )
