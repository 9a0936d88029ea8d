"""Checks on text that both databases must be able to store the same way."""

from __future__ import annotations


def contains_nul(value: object) -> bool:
    """Whether a string, or any key or string inside a JSON value, holds U+0000.

    PostgreSQL's text and jsonb cannot store it (SQLite can), so it is refused everywhere:
    the same input must give the same answer on both databases.
    """
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False
