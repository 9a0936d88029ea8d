from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.models import Enrollment
from gql_progress.db.rows import EnrollmentRow, columns

Key = int  # user id
Result = list[EnrollmentRow]  # oldest enrollment first


# Built once (see lessons_by_course.py).
_ENROLLMENTS = (
    select(*columns(EnrollmentRow))
    .where(Enrollment.user_id.in_(bindparam("keys", expanding=True)))
    .order_by(Enrollment.user_id, Enrollment.enrolled_at, Enrollment.id)
)


class EnrollmentsByUserLoader(BatchLoader[Key, Result]):
    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        by_user: dict[int, list[EnrollmentRow]] = {k: [] for k in keys}
        async with self.db.read() as conn:
            rows = await conn.execute(_ENROLLMENTS, {"keys": list(keys)})
            for row in map(EnrollmentRow._make, rows):
                by_user[row.user_id].append(row)
        return [by_user[k] for k in keys]
