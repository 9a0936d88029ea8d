"""What every resolver gets: the caller, the database, settings and this request's loaders."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry

from gql_progress.api.loaders import Loaders
from gql_progress.db.engine import Database
from gql_progress.domain.viewer import Viewer
from gql_progress.settings import Settings


@dataclass
class Context:
    db: Database
    settings: Settings
    viewer: Viewer
    loaders: Loaders
    request_id: str


Info = strawberry.Info[Context, None]
