from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.models import Enrollment
from gql_progress.db.rows import EnrollmentRow, columns

Key = tuple[int, int]  # (user id, course id)
Result = EnrollmentRow | None


# Built once (see lessons_by_course.py); a superset when several users and courses are asked for.
_ENROLLMENT = select(*columns(EnrollmentRow)).where(
    Enrollment.user_id.in_(bindparam("users", expanding=True)),
    Enrollment.course_id.in_(bindparam("courses", expanding=True)),
)


class EnrollmentByUserCourseLoader(BatchLoader[Key, Result]):
    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        async with self.db.read() as conn:
            users, courses = sorted({u for u, _ in keys}), sorted({c for _, c in keys})
            rows = await conn.execute(_ENROLLMENT, {"users": users, "courses": courses})
            by_key = {(r.user_id, r.course_id): r for r in map(EnrollmentRow._make, rows)}
        return [by_key.get(k) for k in keys]
