from __future__ import annotations

from datetime import datetime

import strawberry

from gql_progress.domain.completion.summary import CourseSummary as DomainSummary
from gql_progress.domain.ids import encode_id


@strawberry.type(
    description=(
        "One learner's standing in one course, computed from their lesson progress. "
        "Required lessons decide completion; when a course marks no lesson as required, "
        "every lesson counts as required."
    )
)
class CourseSummary:
    course_id: strawberry.ID = strawberry.field(description="The course summarised.")
    user_id: strawberry.ID = strawberry.field(description="The learner summarised.")
    total_lessons: int = strawberry.field(description="Lessons in the course.")
    completed_lessons: int = strawberry.field(description="Lessons the learner completed.")
    in_progress_lessons: int = strawberry.field(
        description="Lessons with recorded progress that are not completed."
    )
    required_lessons: int = strawberry.field(description="Lessons marked required.")
    completed_required_lessons: int = strawberry.field(description="Required lessons the learner completed.")
    completion_percentage: float = strawberry.field(
        description=(
            "completedRequiredLessons / requiredLessons × 100, rounded to 2 decimals, never above "
            "100 (all lessons count when none is required; 0 for a course without lessons)."
        )
    )
    total_time_spent_minutes: int = strawberry.field(
        description="Sum of timeSpentMinutes over the learner's records in this course."
    )
    last_accessed_at: datetime | None = strawberry.field(
        description="The latest lastAccessedAt of the learner's records in this course."
    )
    is_complete: bool = strawberry.field(
        description="True when every required lesson is completed (the enrollment's COMPLETED rule)."
    )

    @classmethod
    def from_domain(cls, summary: DomainSummary) -> CourseSummary:
        return cls(
            course_id=strawberry.ID(encode_id("Course", summary.course_id)),
            user_id=strawberry.ID(encode_id("User", summary.user_id)),
            total_lessons=summary.total_lessons,
            completed_lessons=summary.completed_lessons,
            in_progress_lessons=summary.in_progress_lessons,
            required_lessons=summary.required_lessons,
            completed_required_lessons=summary.completed_required_lessons,
            completion_percentage=summary.completion_percentage,
            total_time_spent_minutes=summary.total_time_spent_minutes,
            last_accessed_at=summary.last_accessed_at,
            is_complete=summary.is_complete,
        )
