"""The event log's rules in Python (domain/events.py, domain/event_data.py) and their SQL twins,
which the compiled `events` read uses, agree on generated logs and data (PostgreSQL).

The twins run against real rows of the events table, bound as the compiled statement binds them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gql_progress.domain.event_data import public_event_data, public_event_data_sql
from gql_progress.domain.events import GAP_SETTLE, settled_upper_id, settled_upper_id_sql

pytestmark = pytest.mark.postgres_only

NOW = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# An event's age around the settle time, to the microsecond (PostgreSQL's precision), either side.
_settle = int(GAP_SETTLE.total_seconds() * 1_000_000)
ages = st.sampled_from([0, 1, _settle - 1, _settle, _settle + 1]) | st.integers(-5_000_000, 2 * _settle)


@st.composite
def logs(draw: st.DrawFn) -> tuple[int, list[tuple[int, datetime]], int]:
    """(after_id, every event id above it with its time, the page's last id)."""
    steps = draw(st.lists(st.integers(1, 3), min_size=1, max_size=12))
    after = draw(st.integers(0, 3))
    ids, current = [], after
    for step in steps:
        current += step
        ids.append(current)
    times = [NOW - timedelta(microseconds=draw(ages)) for _ in ids]
    last = draw(st.sampled_from(ids))
    return after, list(zip(ids, times, strict=True)), last


@SETTINGS
@given(log=logs())
@example(log=(0, [(1, NOW), (3, NOW), (4, NOW)], 4))  # a new gap: the page stops at 1
@example(log=(0, [(2, NOW)], 2))  # a new gap right after the cursor: it may not move at all
@example(log=(1, [(3, NOW - GAP_SETTLE)], 3))  # exactly settled
async def test_settled_upper_id(
    pg_conn: asyncpg.Connection, log: tuple[int, list[tuple[int, datetime]], int]
) -> None:
    after, events, last = log
    async with pg_conn.transaction():
        await pg_conn.execute("DELETE FROM events")
        await pg_conn.executemany(
            "INSERT INTO events (id, type, occurred_at, user_id) VALUES ($1, 'LESSON_COMPLETED', $2, 1)",
            events,
        )
        expected = settled_upper_id(after, [(i, at) for i, at in events if i <= last], NOW)
        twin = settled_upper_id_sql("$1::bigint", "$2::bigint", "$3::timestamptz")
        assert await pg_conn.fetchval(f"SELECT {twin}", after, last, NOW) == expected


# jsonb holds no U+0000 (PostgreSQL refuses it), so no stored data can.
def texts(size: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=size)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts(5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts(3), inner, max_size=3),
    max_leaves=6,
)
keys = st.sampled_from(["certificateId", "code", "reason", "certificateid"]) | texts(4)
data = st.none() | st.dictionaries(keys, json_values, max_size=4)


@SETTINGS
@given(value=data)
@example(value={"certificateId": 7, "code": "c"})
@example(value={"certificateId": True})
@example(value={"certificateId": 7.0})
@example(value={})
async def test_public_event_data(pg_conn: asyncpg.Connection, value: dict[str, Any] | None) -> None:
    stored = json.dumps(value)  # None is stored as JSON null, as SQLAlchemy stores it
    # Python reads what PostgreSQL gives back for the jsonb (numbers as it normalises them).
    read = json.loads(await pg_conn.fetchval("SELECT $1::jsonb::text", stored))
    twin = await pg_conn.fetchval(f"SELECT ({public_event_data_sql('$1::jsonb')})::text", stored)
    assert (None if twin is None else json.loads(twin)) == public_event_data(read)
    assert await pg_conn.fetchval(f"SELECT ({public_event_data_sql('NULL::jsonb')})::text") is None
