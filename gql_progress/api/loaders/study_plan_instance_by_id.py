from __future__ import annotations

from gql_progress.api.loaders.by_id import RowByIdLoader
from gql_progress.db.models import StudyPlanInstance


class StudyPlanInstanceByIdLoader(RowByIdLoader):
    columns = tuple(StudyPlanInstance.__table__.c)
