"""The shared shape of our loaders: a Database handle and an async batch function."""

from __future__ import annotations

from asyncio import Future
from collections.abc import Sequence
from typing import Generic, TypeVar

from aiodataloader import DataLoader

from gql_progress.db.engine import Database

K = TypeVar("K")
V = TypeVar("V")


class BatchLoader(DataLoader[K, V], Generic[K, V]):
    def __init__(self, db: Database) -> None:
        # Our own map for DataLoader's cache (its public cache_map argument), so that requested()
        # can tell another loader what this request loads anyway.
        self._loads: dict[K, Future[V]] = {}
        super().__init__(cache_map=self._loads)
        self.db = db

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V]:
        raise NotImplementedError

    def requested(self, key: K) -> Future[V] | None:
        """The key's load if this request asked for it already (done or in flight), else None."""
        return self._loads.get(key)
