from __future__ import annotations

from gql_progress.api.loaders.by_id import RowByIdLoader
from gql_progress.db.models import Product


class ProductByIdLoader(RowByIdLoader):
    columns = tuple(Product.__table__.c)
