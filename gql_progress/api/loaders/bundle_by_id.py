from __future__ import annotations

from gql_progress.api.loaders.by_id import RowByIdLoader
from gql_progress.db.models import Bundle


class BundleByIdLoader(RowByIdLoader):
    columns = tuple(Bundle.__table__.c)
