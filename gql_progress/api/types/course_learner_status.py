from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="Which of a course's learners to list (Course.learners).")
class CourseLearnerStatus(Enum):
    ACTIVE = strawberry.enum_value(
        "ACTIVE", description="Enrollments not completed yet (those NOT_STARTED included)."
    )
    COMPLETED = strawberry.enum_value("COMPLETED", description="Enrollments that are COMPLETED.")
    NOT_STARTED = strawberry.enum_value(
        "NOT_STARTED",
        description="ACTIVE enrollments without any progress record on the course's current lessons.",
    )
