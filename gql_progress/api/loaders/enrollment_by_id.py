from __future__ import annotations

from gql_progress.api.loaders.by_id import RowByIdLoader
from gql_progress.db.models import Enrollment


class EnrollmentByIdLoader(RowByIdLoader):
    columns = tuple(Enrollment.__table__.c)
