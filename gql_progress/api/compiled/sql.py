"""SQL that renders values exactly as the GraphQL layer serializes them (PostgreSQL).

Each function takes the SQL of a value and returns the SQL of its JSON form: the compiled
statement builds the response in the database, so what Strawberry's scalars would print
(Python's ``isoformat()``, our base64 global ids) is written here once, in SQL.
"""

from __future__ import annotations

from gql_progress.domain.ids import encode_id_sql


def iso_utc(value: str) -> str:
    """Python's ``datetime.isoformat()`` of an aware UTC datetime: microseconds only when not
    zero, then ``+00:00``."""
    local = f"({value} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN {value} IS NULL THEN NULL ELSE "
        f"to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS') "
        f"|| CASE WHEN date_trunc('second', {local}) = {local} THEN '' ELSE to_char({local}, '.US') END "
        "|| '+00:00' END"
    )


def global_id(type_name: str, pk: str) -> str:
    """domain/ids.encode_id in SQL (its twin there)."""
    return encode_id_sql(type_name, pk)


def cursor_sql(pk: str) -> str:
    """api/pagination.encode_cursor in SQL: base64 of ``cursor:pk``; NULL for a NULL key."""
    return f"encode(convert_to('cursor:' || {pk}, 'UTF8'), 'base64')"


def text_literal(value: str) -> str:
    """A constant string; only ever called with names from our own schema."""
    assert "'" not in value, value
    assert "\\" not in value, value
    return f"'{value}'"


def json_object(pairs: list[tuple[str, str]]) -> str:
    """``json_build_object`` of (response key, SQL value) pairs; keys come from the validated
    document (GraphQL names: letters, digits, underscores), so they are safe as literals."""
    if not pairs:
        return "json_build_object()"
    return "json_build_object(" + ", ".join(f"{text_literal(key)}, {value}" for key, value in pairs) + ")"


def text_constant(value: str) -> str:
    """Any string of ours (an error's message) as an SQL string literal: quotes doubled, which
    is the whole escaping PostgreSQL's standard-conforming strings (the default since 9.1) need."""
    assert "\x00" not in value, value
    return "'" + value.replace("'", "''") + "'"
