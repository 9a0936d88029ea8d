"""Where the reads of one request go, and whose writes it makes (db/replicas.py).

Set by the edge for one GraphQL request over HTTP, after the caller is known; read by
``Database.read()``, ``Database.read_value()`` and the commit of ``Database.write()``. Anything
run outside a request (workers, the key lookup before the route is set, subscriptions) finds
none and reads the primary.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gql_progress.db.replicas import Replica


@dataclass(slots=True)
class ReadRoute:
    # The user whose commits these are: their next queries must see them (read-your-writes).
    caller: int | None
    # Where the request's reads go; None: the primary. One replica for the whole request, so its
    # loaders read one consistent position; set to None when that replica fails mid-request.
    replica: Replica | None


read_route: ContextVar[ReadRoute | None] = ContextVar("gql_progress_read_route", default=None)
