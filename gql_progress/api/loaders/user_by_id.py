from __future__ import annotations

from gql_progress.api.loaders.by_id import RowByIdLoader
from gql_progress.db.models import User


class UserByIdLoader(RowByIdLoader):
    columns = tuple(User.__table__.c)
