from __future__ import annotations

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.types.course_summary import CourseSummary
from gql_progress.api.types.progress import Progress


@strawberry.type(description="A progress record that was just written (progressUpdated).")
class ProgressUpdate:
    progress: Progress = strawberry.field(
        description=(
            "The record as read after the write. Writes that follow each other faster than the "
            "client reads arrive as one update with the latest state."
        )
    )
    course_id: strawberry.Private[int]

    @strawberry.field(description="The learner's summary of the course, read with the record.")
    async def summary(self, info: Info) -> CourseSummary:
        summary = await info.context.loaders.summary(self.progress.user_id, self.course_id)
        return CourseSummary.from_domain(summary)
