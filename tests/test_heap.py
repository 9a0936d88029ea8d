"""The start-up heap is frozen once per process (gql_progress/edge/heap.py), so that full collections
no longer walk it while requests wait."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gql_progress.edge.heap import YOUNG_THRESHOLD

# A fresh process: the test process's own collector was set by whichever app started first.
_PROBE = """
import asyncio, gc, json, sys
from gql_progress.edge.app import create_app
from gql_progress.db.engine import Database
from gql_progress.db import migrate
from gql_progress.settings import load_settings

async def main():
    db = Database(sys.argv[1])
    await migrate.upgrade(db)
    await db.dispose()
    before = gc.get_freeze_count()
    app = create_app(load_settings(database_url=sys.argv[1], webhooks_enabled=False))
    async with app.router.lifespan_context(app):
        started = gc.get_freeze_count()
    second = create_app(load_settings(database_url=sys.argv[1], webhooks_enabled=False))
    async with second.router.lifespan_context(second):
        again = gc.get_freeze_count()
    print(json.dumps([before, started, again, gc.get_threshold()[0]]))

asyncio.run(main())
"""


def test_the_first_app_to_start_freezes_the_heap_and_raises_the_young_threshold(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'heap.db'}"
    out = subprocess.run([sys.executable, "-c", _PROBE, url], capture_output=True, text=True, check=True)
    before, started, again, young = json.loads(out.stdout.strip().splitlines()[-1])

    assert before == 0
    assert started > 50_000  # the schema, the models, the modules: all of start-up
    # Once per process: a second app freezes nothing more (frozen objects freed by their
    # reference counts, the first app's among them, leave the permanent generation).
    assert again <= started
    assert young == YOUNG_THRESHOLD
