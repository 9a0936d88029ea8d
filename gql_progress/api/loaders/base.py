"""The shared shape of our loaders: a Database handle and an async batch function."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from aiodataloader import DataLoader

from gql_progress.db.engine import Database

K = TypeVar("K")
V = TypeVar("V")


class BatchLoader(DataLoader[K, V], Generic[K, V]):
    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V]:
        raise NotImplementedError
