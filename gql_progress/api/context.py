"""What every resolver gets: the caller, the database, settings and this request's loaders."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

import strawberry

from gql_progress.api.loaders import Loaders
from gql_progress.auth import Authenticated
from gql_progress.db.engine import Database
from gql_progress.domain.viewer import Viewer
from gql_progress.live.broker import Broker
from gql_progress.settings import Settings

# The loaders of one subscription's current update (Context.fresh_loaders). Set in the task that
# runs that subscription (Strawberry runs each operation of a WebSocket in a task of its own), so
# the connection's other subscriptions keep theirs.
_operation_loaders: ContextVar[Loaders | None] = ContextVar("operation_loaders", default=None)


@dataclass
class Context:
    db: Database
    settings: Settings
    viewer: Viewer
    # The request's loaders; a WebSocket connection's, until a subscription reads an update.
    request_loaders: Loaders
    request_id: str
    # WebSocket connections only: this process's live updates, the connection_init payload
    # (set by Strawberry) and the caller its key or token stands for (the view's on_ws_connect).
    live: Broker | None = None
    connection_params: dict[str, object] | None = None
    caller: Authenticated | None = None

    @property
    def loaders(self) -> Loaders:
        """This request's DataLoaders, or the current subscription update's."""
        loaders = _operation_loaders.get()
        return self.request_loaders if loaders is None else loaders

    def fresh_loaders(self) -> Loaders:
        """Loaders for the subscription update about to be read: each is read like a new request,
        or the caches would answer with what an earlier update read."""
        loaders = Loaders(self.db)
        _operation_loaders.set(loaders)
        return loaders


Info = strawberry.Info[Context, None]
