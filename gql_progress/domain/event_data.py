"""An event's ``data`` as clients see it: ids in it become the API's global ids.

Shared by the events query and the webhook payloads, so both speak the same ids. The compiled
reads render it with ``public_event_data_sql``, its twin; tests/test_event_twins.py holds the two
together on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from gql_progress.domain.ids import encode_id, encode_id_sql

# Keys of ``data`` that hold a primary key, and the type their global id names.
_ID_KEYS = {"certificateId": "Certificate"}


def public_event_data(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {
        key: encode_id(_ID_KEYS[key], value) if key in _ID_KEYS and isinstance(value, int) else value
        for key, value in data.items()
    }


def public_event_data_sql(data: str) -> str:
    """``public_event_data`` of the SQL of a jsonb value, as jsonb: SQL NULL and JSON null (what a
    Python None is stored as) are null; anything else but an object makes ``jsonb_each`` fail, as
    ``.items()`` fails in Python.

    Python's ``isinstance(value, int)`` holds for a JSON integer and, as ``bool`` is an ``int``,
    for true and false too (printed ``True``/``False``); a number with a fraction or an exponent
    reads as a float and is kept as it is.
    """
    replaced = []
    for key, type_name in _ID_KEYS.items():
        # A number in data may be longer than any key: PostgreSQL's base64 breaks lines at 76
        # characters, Python's never does.
        number = f"replace({encode_id_sql(type_name, 'de.value::text')}, chr(10), '')"
        truth = encode_id_sql(type_name, "initcap(de.value::text)")
        replaced.append(
            f"WHEN de.key = '{key}' AND jsonb_typeof(de.value) = 'number' "
            f"AND de.value::text ~ '^-?[0-9]+$' THEN to_jsonb({number}) "
            f"WHEN de.key = '{key}' AND jsonb_typeof(de.value) = 'boolean' THEN to_jsonb({truth})"
        )
    value = f"CASE {' '.join(replaced)} ELSE de.value END"
    return (
        f"CASE WHEN {data} IS NULL OR jsonb_typeof({data}) = 'null' THEN NULL ELSE coalesce("
        f"(SELECT jsonb_object_agg(de.key, {value}) FROM jsonb_each({data}) de), '{{}}'::jsonb) END"
    )
