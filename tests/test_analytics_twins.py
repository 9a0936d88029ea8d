"""The analytics figures computed in Python (domain/analytics.py: rounding, ratios, means,
percentile interpolation) and their SQL twins, which the compiled courseAnalytics uses, agree
on generated values (PostgreSQL): the same float8 in, the same float out, bit for bit.
"""

from __future__ import annotations

import asyncpg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gql_progress.domain import analytics

pytestmark = pytest.mark.postgres_only

SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


async def same(pg_conn: asyncpg.Connection, sql: str, expected: float | None, *arguments: object) -> None:
    got = await pg_conn.fetchval(f"SELECT {sql}", *arguments)
    assert got == expected
    if expected is not None:  # the same float: sign of a zero included
        assert repr(got) == repr(expected)


floats = st.floats(allow_nan=False, allow_infinity=False)
# Values on or beside a tie of the rounding: k/2^n and decimal ties that are not binary ones.
near_ties = st.builds(lambda k, n: k / 2**n, st.integers(-(10**6), 10**6), st.integers(0, 12)) | st.builds(
    lambda k, p: (2 * k + 1) / (2 * 10**p), st.integers(0, 10**5), st.integers(1, 6)
)


@SETTINGS
@given(value=floats | near_ties, places=st.integers(0, 6))
@example(value=0.125, places=2)  # a binary tie: half to even, 0.12
@example(value=0.00015, places=4)  # below its decimal tie in binary: 0.0001
@example(value=2.675, places=2)
@example(value=-0.00001, places=4)  # -0.0
@example(value=5e-324, places=4)  # subnormal
@example(value=2.0**60 + 1024, places=2)  # an integer already
async def test_rounded(pg_conn: asyncpg.Connection, value: float, places: int) -> None:
    await same(pg_conn, analytics.rounded_sql("$1::float8", places), round(value, places), value)


counts = st.integers(0, 10**9)


@SETTINGS
@given(
    numerator=counts, denominator=counts, places=st.sampled_from([analytics.RATE_PLACES, analytics.PLACES])
)
@example(numerator=1, denominator=32, places=4)
@example(numerator=3, denominator=0, places=4)
async def test_ratio_of_counts(
    pg_conn: asyncpg.Connection, numerator: int, denominator: int, places: int
) -> None:
    twin = analytics.ratio_sql("$1::bigint", "$2::bigint", places)
    await same(pg_conn, twin, analytics.ratio(numerator, denominator, places), numerator, denominator)


@SETTINGS
# Sums of stored values are never subnormal; a float8 division that underflows to 0 is an error in
# PostgreSQL (the runner then lets the resolvers answer), where Python says 0.0.
@given(total=st.none() | st.floats(0, 10**9, allow_subnormal=False), count=st.none() | counts)
async def test_mean(pg_conn: asyncpg.Connection, total: float | None, count: int | None) -> None:
    twin = analytics.mean_sql("$1::float8", "$2::bigint")
    await same(pg_conn, twin, analytics._mean(total, count), total, count)


# Durations as the statement computes them: microseconds of an interval over a day's seconds.
days = st.integers(-(10**14), 10**14).map(lambda us: us / 1_000_000 / 86_400)


@SETTINGS
@given(
    n=st.none() | st.integers(1, 1000),
    fraction=st.sampled_from([analytics.MEDIAN, analytics.P90]),
    low=st.none() | days,
    high=days,
)
async def test_interpolate(
    pg_conn: asyncpg.Connection, n: int | None, fraction: tuple[int, int], low: float | None, high: float
) -> None:
    twin = analytics.interpolate_sql("$1::bigint", fraction, "$2::float8", "$3::float8")
    await same(pg_conn, twin, analytics.interpolate(n, fraction, low, high), n, low, high)
