"""What every resolver gets: the caller, the database, settings and this request's loaders."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry

from gql_progress.api.loaders import Loaders
from gql_progress.auth import Authenticator
from gql_progress.db.engine import Database
from gql_progress.domain.viewer import Viewer
from gql_progress.live.broker import Broker
from gql_progress.settings import Settings


@dataclass
class Context:
    db: Database
    settings: Settings
    viewer: Viewer
    loaders: Loaders
    request_id: str
    # WebSocket connections only: this process's live updates, the connection_init payload
    # (set by Strawberry) and what checks the API key in it (the view's on_ws_connect).
    live: Broker | None = None
    connection_params: dict[str, object] | None = None
    authenticator: Authenticator | None = None


Info = strawberry.Info[Context, None]
