"""The kinds of events in the event log (the values stored in events.type)."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="What happened: the kind of an event in the event log.")
class EventType(Enum):
    LESSON_COMPLETED = strawberry.enum_value(
        "LESSON_COMPLETED", description="A lesson became completed for a learner."
    )
    LESSON_UNCOMPLETED = strawberry.enum_value(
        "LESSON_UNCOMPLETED", description="A completed lesson was marked not completed."
    )
    COURSE_COMPLETED = strawberry.enum_value(
        "COURSE_COMPLETED", description="An enrollment became COMPLETED: every required lesson is done."
    )
    CERTIFICATE_ISSUED = strawberry.enum_value(
        "CERTIFICATE_ISSUED",
        description="A certificate was issued for a completed course; `data` holds its code.",
    )
    PROGRESS_RESET = strawberry.enum_value(
        "PROGRESS_RESET", description="A learner's progress was reset; `data` may give the reason."
    )
    COMPLETION_GRANTED = strawberry.enum_value(
        "COMPLETION_GRANTED",
        description="An admin granted a completion without the work being recorded; `data` gives why.",
    )
