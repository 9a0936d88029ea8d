from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.models import BundleItem

Key = int  # bundle id
Result = list[Row[Any]]  # the bundle's items by position


class ItemsByBundleLoader(BatchLoader[Key, Result]):
    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        by_bundle: dict[int, list[Row[Any]]] = {k: [] for k in keys}
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(*BundleItem.__table__.c)
                .where(BundleItem.bundle_id.in_(keys))
                .order_by(BundleItem.bundle_id, BundleItem.position)
            )
            for row in rows:
                by_bundle[row.bundle_id].append(row)
        return [by_bundle[k] for k in keys]
