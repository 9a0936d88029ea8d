from __future__ import annotations

from gql_progress.api.loaders.by_id import RowByIdLoader
from gql_progress.db.models import StudyPlan


class StudyPlanByIdLoader(RowByIdLoader):
    columns = tuple(StudyPlan.__table__.c)
