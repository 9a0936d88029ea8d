from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from gql_progress.api.loaders.base import BatchLoader
from gql_progress.db.models import BundleItem
from gql_progress.db.rows import BundleItemRow, columns

Key = int  # bundle id
Result = list[BundleItemRow]  # the bundle's items by position


class ItemsByBundleLoader(BatchLoader[Key, Result]):
    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Result]:
        by_bundle: dict[int, list[BundleItemRow]] = {k: [] for k in keys}
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(*columns(BundleItemRow))
                .where(BundleItem.bundle_id.in_(keys))
                .order_by(BundleItem.bundle_id, BundleItem.position)
            )
            for row in map(BundleItemRow._make, rows):
                by_bundle[row.bundle_id].append(row)
        return [by_bundle[k] for k in keys]
