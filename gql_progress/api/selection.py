"""Looking ahead at what a request selects, to fetch together what will be needed together."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strawberry.types.nodes import SelectedField

from gql_progress.api.context import Info


def selects_any(info: Info, names: Iterable[str]) -> bool:
    """Whether the current field's selection (fragments included) asks for any of ``names``."""
    wanted = set(names)
    return any(_selects(field.selections, wanted) for field in info.selected_fields)


def selects_on_nodes(info: Info, names: Iterable[str]) -> bool:
    """Whether the current connection field asks its nodes (``nodes`` or ``edges.node``) for any
    of ``names``."""
    wanted = set(names)
    nodes = [
        *_children(info.selected_fields, "nodes"),
        *_children(_children(info.selected_fields, "edges"), "node"),
    ]
    return any(_selects(node.selections, wanted) for node in nodes)


def _children(fields: Iterable[Any], name: str) -> list[SelectedField]:
    """The sub-fields called ``name`` of ``fields``, looking through fragments."""
    found: list[SelectedField] = []
    for field in fields:
        found += _named(field.selections, name)
    return found


def _named(selections: Iterable[Any], name: str) -> list[SelectedField]:
    found: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name == name:
                found.append(selection)
        else:
            found += _named(selection.selections, name)
    return found


def _selects(selections: Iterable[Any], wanted: set[str]) -> bool:
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name in wanted:
                return True
        # Fragment spreads and inline fragments stand for fields at this same level.
        elif _selects(selection.selections, wanted):
            return True
    return False
