from __future__ import annotations

from collections.abc import Sequence

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.summaries import course_counts
from gql_progress.domain.summary import CourseSummary, summarize

Key = tuple[int, int]  # (user id, course id)
Result = CourseSummary


class SummaryByUserCourseLoader(BatchLoader[Key, Result]):
    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        async with self.db.read() as conn:
            counts = await course_counts(conn, keys)
        return [summarize(counts[k]) for k in keys]
