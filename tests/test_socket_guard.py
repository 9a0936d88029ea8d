"""socket_guard.py overrides methods of Strawberry's graphql-transport-ws handler that are not a
documented extension point: each must still exist, with the parameters the override takes, in the
Strawberry version installed (pyproject pins the range this was written against)."""

from __future__ import annotations

import inspect

import pytest
from strawberry.http.async_base_view import AsyncBaseHTTPView
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from gql_progress.edge.socket_guard import GuardedTransportWSHandler
from gql_progress.edge.view import ProgressGraphQLView

OVERRIDDEN = sorted(
    name
    for name, value in vars(GuardedTransportWSHandler).items()
    if inspect.isfunction(value) and name != "__init__" and not name.startswith("_")
)


def test_the_handler_overrides_the_methods_it_was_written_for() -> None:
    assert OVERRIDDEN == [
        "handle_connection_init",
        "handle_message",
        "handle_subscribe",
        "run_operation",
        "send_message",
        "shutdown",
    ]


@pytest.mark.parametrize("name", OVERRIDDEN)
def test_each_overridden_method_exists_in_strawberry_with_the_same_parameters(name: str) -> None:
    base = getattr(BaseGraphQLTransportWSHandler, name, None)
    assert inspect.iscoroutinefunction(base), f"Strawberry's handler no longer has {name}()"
    ours = inspect.signature(getattr(GuardedTransportWSHandler, name)).parameters
    assert list(inspect.signature(base).parameters) == list(ours)


def test_strawberry_builds_the_handler_the_view_names_and_calls_its_public_connect_hook() -> None:
    assert "graphql_transport_ws_handler_class" in vars(AsyncBaseHTTPView)
    assert ProgressGraphQLView.graphql_transport_ws_handler_class is GuardedTransportWSHandler
    # What Strawberry's handle_connection_init calls with the connection_init payload in the context.
    assert "on_ws_connect" in inspect.getsource(BaseGraphQLTransportWSHandler.handle_connection_init)
    assert list(inspect.signature(AsyncBaseHTTPView.on_ws_connect).parameters) == ["self", "context"]
    # The state the overrides read, set by the base's constructor.
    source = inspect.getsource(BaseGraphQLTransportWSHandler.__init__)
    for attribute in ("self.operations", "self.connection_acknowledged", "self.context", "self.view"):
        assert attribute in source
