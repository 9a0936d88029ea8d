from __future__ import annotations

from gql_progress.api.loaders.by_id import RowByIdLoader
from gql_progress.db.models import Lesson


class LessonByIdLoader(RowByIdLoader):
    columns = tuple(Lesson.__table__.c)
