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


def _selects(selections: Iterable[Any], wanted: set[str]) -> bool:
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name in wanted:
                return True
        # Fragment spreads and inline fragments stand for fields at this same level.
        elif _selects(selection.selections, wanted):
            return True
    return False
