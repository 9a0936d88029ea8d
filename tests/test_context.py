"""A WebSocket connection's context is shared by its subscriptions; their loaders are not."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gql_progress.api.context import Context
from gql_progress.api.loaders import Loaders
from gql_progress.db.engine import Database
from gql_progress.db.models import UserRole
from gql_progress.domain.viewer import Viewer
from gql_progress.settings import load_settings


async def test_each_subscription_reads_its_updates_with_loaders_of_its_own(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'context.db'}")
    connection = Context(
        db=db,
        settings=load_settings(),
        viewer=Viewer(user_id=1, role=UserRole.LEARNER),
        request_loaders=Loaders(db),
        request_id="r",
    )
    first_update = asyncio.Event()
    seen: dict[str, list[Loaders]] = {"a": [], "b": []}

    async def subscription(name: str) -> None:
        # Strawberry runs each operation of a connection in a task of its own (as here).
        own = connection.fresh_loaders()
        seen[name].append(own)
        if name == "a":
            first_update.set()
            await asyncio.sleep(0)  # b reads an update meanwhile
        else:
            await first_update.wait()
        seen[name].append(connection.loaders)

    await asyncio.gather(subscription("a"), subscription("b"))
    try:
        (a_made, a_used), (b_made, b_used) = seen["a"], seen["b"]
        assert a_used is a_made
        assert b_used is b_made
        assert a_made is not b_made
        # Outside any subscription, the connection's own loaders.
        assert connection.loaders is connection.request_loaders
    finally:
        await db.dispose()
