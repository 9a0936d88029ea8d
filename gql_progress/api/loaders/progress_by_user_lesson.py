from __future__ import annotations

from collections.abc import Sequence

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.rows import ProgressRow
from gql_progress.domain.completion.statements import progress_for

Key = tuple[int, int]  # (user id, lesson id)
Result = ProgressRow | None  # None: nothing recorded yet


class ProgressByUserLessonLoader(BatchLoader[Key, Result]):
    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        async with self.db.read() as conn:
            rows = await progress_for(conn, (u for u, _ in keys), (lesson for _, lesson in keys))
        by_key = {(r.user_id, r.lesson_id): r for r in rows}
        return [by_key.get(k) for k in keys]
