"""A learner's summary of a course (domain/completion/summary.py), for many (user, course) pairs at once."""

from __future__ import annotations

from collections.abc import Sequence

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.engine import Database
from gql_progress.db.rows import LessonRow, ProgressRow
from gql_progress.domain.completion.summary import (
    CourseCounts,
    CourseSummary,
    count_course,
    count_courses,
    summarize,
)

Key = tuple[int, int]  # (user id, course id)
Result = CourseSummary


class SummaryByUserCourseLoader(BatchLoader[Key, Result]):
    """Counts in SQL (one aggregate statement per batch, only the counts travel), except the pairs
    whose lessons and records this request loads anyway: the course page, which shows each lesson
    with its progress, counts those in memory and so pays no statement for its summary.

    Only loads already asked for when the batch runs are seen: a summary beside its course's
    lessons is counted from them, one above lessons that load later (``enrollments { summary
    course { lessons { progress } } }``) in SQL, a statement more than sharing the rows would
    cost, and the same for any number of enrollments."""

    def __init__(
        self,
        db: Database,
        lessons: BatchLoader[int, list[LessonRow]],
        records: BatchLoader[Key, dict[int, ProgressRow]],
    ) -> None:
        super().__init__(db)
        self.lessons = lessons
        self.records = records

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        in_memory = {}
        for user_id, course_id in keys:
            lessons = self.lessons.requested(course_id)
            records = self.records.requested((user_id, course_id))
            if lessons is not None and records is not None:
                in_memory[(user_id, course_id)] = (lessons, records)
        counts: dict[Key, CourseCounts] = {}
        in_sql = [key for key in keys if key not in in_memory]
        if in_sql:
            async with self.db.read() as conn:
                counts = await count_courses(conn, in_sql)
        for (user_id, course_id), (lessons, records) in in_memory.items():
            counts[(user_id, course_id)] = count_course(
                user_id, course_id, await lessons, (await records).values()
            )
        return [summarize(counts[key]) for key in keys]
