"""Opaque global ids: base64("Type:pk"), the format of Strawberry's relay GlobalID.

Clients treat ids as opaque strings; the type prefix means an id of one kind can never be
mistaken for another (a course id sent as a lessonId is "not a lesson id", not some lesson).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import BigInteger

from gql_progress.domain.errors import FieldProblem, InvalidInput, ProblemList

# Primary keys are 32-bit integers, except progress records and webhook deliveries (64-bit). An
# id beyond its column's range names nothing; refusing it here keeps it from reaching the
# database as an overflow.
MAX_INT_PK = 2**31 - 1
MAX_BIGINT_PK = 2**63 - 1
_MAX_PK = {"Progress": MAX_BIGINT_PK, "WebhookDelivery": MAX_BIGINT_PK}


def max_pk(type_name: str) -> int:
    return _MAX_PK.get(type_name, MAX_INT_PK)


def within_column(column: Any, value: int) -> int:
    """``value`` as a bind for ``column > value`` (cursors): a number past the column's range is
    past every row, and clamping keeps it a valid bind (PostgreSQL refuses an out-of-range one)."""
    return min(value, MAX_BIGINT_PK if isinstance(column.type, BigInteger) else MAX_INT_PK)


def encode_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def encode_id_sql(type_name: str, pk: str) -> str:
    """``encode_id`` in SQL (PostgreSQL), given the SQL of the key (NULL stays NULL): base64 of
    ``Type:pk``; every id is short enough that ``encode`` breaks no line."""
    return f"encode(convert_to('{type_name}:' || {pk}, 'UTF8'), 'base64')"


def decode_any_id(value: str) -> tuple[str, int] | None:
    """(type name, primary key) of any well-formed id, or None."""
    try:
        type_name = base64.b64decode(value.encode(), validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeError, ValueError):
        return None
    pk = try_decode_id(value, type_name)
    return None if pk is None else (type_name, pk)


def try_decode_id(value: str, type_name: str) -> int | None:
    """The primary key in ``value`` if it is a well-formed id of ``type_name``, else None."""
    try:
        decoded = base64.b64decode(value.encode(), validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        return None
    prefix, sep, pk = decoded.partition(":")
    if not sep or prefix != type_name or not pk.isdigit() or len(pk) > 19:
        return None
    number = int(pk)
    return number if number <= max_pk(type_name) else None


def decode_into(
    problems: ProblemList, value: str | None, type_name: str, path: tuple[str, ...]
) -> int | None:
    """Decode ``value`` (None stays None), noting a malformed id in ``problems`` instead of raising.

    For inputs with several fields, so a bad id is reported together with the other bad fields.
    """
    if value is None:
        return None
    pk = try_decode_id(value, type_name)
    if pk is None:
        problems.add(path, f"is not a {type_name} id")
    return pk


def decode_id(value: str, type_name: str, path: tuple[str, ...]) -> int:
    pk = try_decode_id(value, type_name)
    if pk is None:
        raise InvalidInput([FieldProblem(path, f"is not a {type_name} id")])
    return pk


def decode_optional_id(value: str | None, type_name: str, path: tuple[str, ...]) -> int | None:
    return None if value is None else decode_id(value, type_name, path)
