"""The bundle rollup rules in Python (domain/bundle_progress.py) and their SQL twins, which the
compiled reads use (api/compiled/declarations.py), agree on generated bundles (PostgreSQL).

Each generated bundle is a list of items in order: courses with a learner's consistent counts,
products consumed or not. Python builds the items and the two means as the resolvers do; the
twins evaluate the same items in PostgreSQL; every item's fraction and completion and both
percentages must be equal, to the last bit of the float.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gql_progress.db.engine import Database
from gql_progress.db.models import ProductKind
from gql_progress.domain.bundle_progress import (
    BundleProgress,
    ItemProgress,
    ProductItemProgress,
    course_item,
    item_completed_sql,
    item_fraction,
    item_fraction_sql,
    mean_percentage_sql,
)
from gql_progress.domain.completion.summary import CourseCounts, counted_lessons_sql
from tests.test_summary import _counts, consistent_counts

pytestmark = pytest.mark.postgres_only

# A course's counts, or a product consumed (True) or not.
Item = CourseCounts | bool

items = st.lists(st.one_of(consistent_counts(max_lessons=5_000), st.booleans()), max_size=25)
CONSUMED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def _python(bundle: list[Item]) -> BundleProgress:
    entries: list[ItemProgress] = [
        course_item(position, item, None, None)
        if isinstance(item, CourseCounts)
        else ProductItemProgress(
            position=position,
            product_pk=position,
            product_id=f"p{position}",
            kind=ProductKind.EBOOK,
            completed=item,
            completed_at=CONSUMED_AT if item else None,
        )
        for position, item in enumerate(bundle)
    ]
    return BundleProgress(bundle=None, user_id=1, enrolled_at=CONSUMED_AT, items=entries)  # type: ignore[arg-type]


# The generated items as rows, each rule evaluated by its twin (as _bundle_items does).
_DONE, _NEEDED = counted_lessons_sql("i.total", "i.required", "i.completed", "i.completed_required")
_RULES = ("i.is_course", _DONE, _NEEDED, "i.consumed")
ROWS = (
    f"FROM (SELECT i.position, i.is_course, {item_fraction_sql(*_RULES)} AS fraction, "
    f"{item_completed_sql(*_RULES)} AS completed "
    "FROM unnest($1::int[], $2::bool[], $3::int[], $4::int[], $5::int[], $6::int[], $7::bool[]) "
    "AS i(position, is_course, total, required, completed, completed_required, consumed)) v WHERE true"
)
SQL = (
    f"SELECT {mean_percentage_sql(ROWS + ' AND v.is_course', 'v.fraction', 'v.completed', 'v.position')}, "
    f"{mean_percentage_sql(ROWS, 'v.fraction', 'v.completed', 'v.position')}, "
    f"(SELECT array_agg(v.fraction ORDER BY v.position) {ROWS}), "
    f"(SELECT array_agg(v.completed ORDER BY v.position) {ROWS})"
)


def _columns(bundle: list[Item]) -> list[list[Any]]:
    courses = [item if isinstance(item, CourseCounts) else _counts(total=0) for item in bundle]
    return [
        list(range(len(bundle))),
        [isinstance(item, CourseCounts) for item in bundle],
        [c.total_lessons for c in courses],
        [c.required_lessons for c in courses],
        [c.completed_lessons for c in courses],
        [c.completed_required_lessons for c in courses],
        [item is True for item in bundle],
    ]


async def _compare(db: Database, bundle: list[Item]) -> None:
    async with db.read() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        mean, weighted, fractions, completed = await driver.fetchrow(SQL, *_columns(bundle))
    expected = _python(bundle)
    assert (mean, weighted) == (
        expected.completion_percentage,
        expected.weighted_completion_percentage,
    ), bundle
    assert (fractions or []) == [item_fraction(i) for i in expected.items], bundle
    assert (completed or []) == [i.completed for i in expected.items], bundle


@pytest.mark.postgres_only
async def test_the_sql_twins_of_the_bundle_rollup_agree_with_python(pg_database_url: str) -> None:
    db = Database(pg_database_url, pool_size=1)
    loop = asyncio.get_running_loop()
    try:

        @settings(
            max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
        )
        @given(items)
        # Ties and near-ties of the rounding: 1 of 800 is 0.125 % (Python rounds to even: 0.12);
        # 107 of 4,000 is 2.675 % as a float just below it (2.67); 99,996 of 100,000 stays 99.99.
        @example([_counts(total=800, completed=1)])
        @example([_counts(total=4_000, completed=107)])
        @example([_counts(total=32, completed=1), True, False])
        @example([_counts(total=100_000, completed=99_996)])
        @example([_counts(total=3, completed=3), True])
        @example([_counts(total=0)])
        @example([True, True])
        @example([])
        def check(bundle: list[Item]) -> None:
            asyncio.run_coroutine_threadsafe(_compare(db, bundle), loop).result(timeout=60)

        # Hypothesis drives from a worker thread; the database is used on the test's event loop.
        await asyncio.to_thread(check)
    finally:
        await db.dispose()
