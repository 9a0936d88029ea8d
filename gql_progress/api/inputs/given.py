"""Turn an input object into the columns the client actually sent (UNSET means "leave as is")."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

from strawberry import UNSET


def given_columns(data: object, names: Iterable[str]) -> dict[str, Any]:
    """The sent fields among ``names`` (input attribute names equal column names)."""
    values = {}
    for name in names:
        value = getattr(data, name)
        if value is not UNSET:
            values[name] = value.value if isinstance(value, Enum) else value
    return values
