from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.models import Enrollment

Key = int
Result = Row[Any] | None


class EnrollmentByIdLoader(BatchLoader[Key, Result]):
    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        async with self.db.read() as conn:
            rows = await conn.execute(select(*Enrollment.__table__.c).where(Enrollment.id.in_(keys)))
            by_id = {r.id: r for r in rows}
        return [by_id.get(k) for k in keys]
