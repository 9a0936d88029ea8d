"""An event's ``data`` as clients see it: ids in it become the API's global ids.

Shared by the events query and the webhook payloads, so both speak the same ids.
"""

from __future__ import annotations

from typing import Any

from gql_progress.domain.ids import encode_id

# Keys of ``data`` that hold a primary key, and the type their global id names.
_ID_KEYS = {"certificateId": "Certificate"}


def public_event_data(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {
        key: encode_id(_ID_KEYS[key], value) if key in _ID_KEYS and isinstance(value, int) else value
        for key, value in data.items()
    }
