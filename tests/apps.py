"""The real app, running, for tests: the fixtures' app and the apps tests build with settings of
their own (rate limits, JWT, metrics…), made one way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette

from gql_progress.edge.app import create_app
from gql_progress.settings import load_settings
from tests.read_corpus import RECORDER
from tests.support import Api

# No lastUsedAt flush and no webhook worker in the background: their statements would land in
# the statement counts; the webhook tests run their workers themselves, when they choose.
# Every request looks its key up (no credential cache), so the statement counts the tests assert
# are each request's own; tests/test_credential_cache.py runs the cache.
QUIET = {"api_key_touch_interval_seconds": 3600, "webhooks_enabled": False, "api_key_cache_seconds": 0}

# Rate limits stay on (every request goes through the check) but out of the way: the tests of
# the limits themselves build apps with small ones.
GENEROUS_RATE = "100000/minute"
GENEROUS_LIMITS = {
    "rate_limit_learner": GENEROUS_RATE,
    "rate_limit_instructor": GENEROUS_RATE,
    "rate_limit_admin": GENEROUS_RATE,
    "rate_limit_storage": "memory://",
}

# Webhook receivers in tests listen on 127.0.0.1 over http, and some tests register example.com
# and example.org URLs on a machine that may have no DNS: the operator's allow-list
# (GQL_PROGRESS_WEBHOOKS_ALLOWED_HOSTS) lets them in. Without it both are refused, as
# tests/test_webhook_addresses.py shows.
LOCAL_WEBHOOKS = {"webhooks_allowed_hosts": "127.0.0.1,example.com,example.org"}


@asynccontextmanager
async def running_app(database_url: str, **settings: Any) -> AsyncIterator[Starlette]:
    """The app with its lifespan running; ``settings`` override QUIET."""
    app = create_app(load_settings(database_url=database_url, **{**QUIET, **settings}))
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client_for(app: Starlette, *, record: bool = True) -> AsyncIterator[Api]:
    """The app over HTTP (in-process ASGI), plus helpers that seed data through the domain layer.

    The query documents sent are recorded for the read corpus (tests/read_corpus.py) unless
    ``record`` is false (clients that send generated or rewritten documents)."""
    transport = httpx.ASGITransport(app=app)
    hooks = {"request": [RECORDER.on_request]} if record else {}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", event_hooks=hooks
    ) as client:
        yield Api(client=client, db=app.state.db, app=app)


@asynccontextmanager
async def api_with(database_url: str, **settings: Any) -> AsyncIterator[Api]:
    """A running app with these settings (over QUIET), called over HTTP."""
    async with running_app(database_url, **settings) as app, client_for(app) as api:
        yield api
