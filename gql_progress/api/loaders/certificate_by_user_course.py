from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.models import Certificate

Key = tuple[int, int]  # (user id, course id)
Result = Row[Any] | None


class CertificateByUserCourseLoader(BatchLoader[Key, Result]):
    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(*Certificate.__table__.c).where(
                    Certificate.user_id.in_({u for u, _ in keys}),
                    Certificate.course_id.in_({c for _, c in keys}),
                )
            )
            by_key = {(r.user_id, r.course_id): r for r in rows}
        return [by_key.get(k) for k in keys]
