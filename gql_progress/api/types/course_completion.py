from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.types.enrollment import Enrollment
from gql_progress.db.rows import EnrollmentRow

if TYPE_CHECKING:
    from gql_progress.api.types.user import User


@strawberry.type(description="An enrollment that became COMPLETED (courseCompleted).")
class CourseCompletion:
    completed_at: datetime = strawberry.field(description="When the enrollment became COMPLETED.")
    enrollment: Enrollment = strawberry.field(
        description=(
            "The enrollment as read after the completion; its status is ACTIVE again if a lesson "
            "was un-completed since."
        )
    )
    user_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: EnrollmentRow, completed_at: datetime) -> CourseCompletion:
        return cls(completed_at=completed_at, enrollment=Enrollment.from_row(row), user_id=row.user_id)

    @strawberry.field(description="The learner who completed the course.")
    async def user(self, info: Info) -> Annotated[User, strawberry.lazy("gql_progress.api.types.user")]:
        from gql_progress.api.types.user import user_by_pk

        return await user_by_pk(info, self.user_id)
