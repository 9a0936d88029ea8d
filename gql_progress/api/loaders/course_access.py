"""Whether this request's viewer may see a course's learners and instructors (domain/teaching.py).

Keyed by course id for one viewer: a list of courses asking each for its learners costs one
statement for an instructor and none for anyone else, however many courses there are.
"""

from __future__ import annotations

from collections.abc import Sequence

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.engine import Database
from gql_progress.domain.teaching import decided_by_role, taught_course_ids
from gql_progress.domain.viewer import Viewer

Key = int  # course id
Result = bool


class CourseAccessLoader(BatchLoader[Key, Result]):
    def __init__(self, db: Database, viewer: Viewer) -> None:
        super().__init__(db)
        self.viewer = viewer

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        by_role = decided_by_role(self.viewer)
        if by_role is not None:  # no connection needed
            return [by_role] * len(keys)
        async with self.db.read() as conn:
            allowed = await taught_course_ids(conn, self.viewer, keys)
        return [key in allowed for key in keys]
