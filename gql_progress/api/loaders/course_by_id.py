from __future__ import annotations

from gql_progress.api.loaders.by_id import RowByIdLoader
from gql_progress.db.models import Course


class CourseByIdLoader(RowByIdLoader):
    columns = tuple(Course.__table__.c)
