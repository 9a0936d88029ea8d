"""The rows-by-id loaders, declared one line per table in Loaders (api/loaders/by_id.py)."""

from __future__ import annotations

import asyncio

from gql_progress.api.loaders import Loaders
from tests.support import Api


async def test_a_by_id_loader_is_made_once_per_loaders_and_shares_its_tables_statement(api: Api) -> None:
    mine, theirs = Loaders(api.db), Loaders(api.db)

    assert mine.course_by_id is mine.course_by_id  # one DataLoader, hence one cache, per request
    assert mine.course_by_id is not theirs.course_by_id  # never shared between requests
    assert mine.course_by_id is not mine.lesson_by_id  # type: ignore[comparison-overlap]  # typed apart now
    assert mine.course_by_id.statement is theirs.course_by_id.statement  # built once per table


async def test_a_by_id_loader_batches_ids_into_one_statement_and_answers_none_for_a_missing_id(
    api: Api,
) -> None:
    course = await api.course(lessons=1)
    loaders = Loaders(api.db)
    api.db.statements.reset()

    found, missing, lesson = await asyncio.gather(
        loaders.course_by_id.load(course.pk),
        loaders.course_by_id.load(course.pk + 1000),
        loaders.lesson_by_id.load(course.lesson_pks[0]),
    )

    assert api.db.statements.count == 2  # one per table, however many ids
    assert found is not None
    assert found.slug == course.slug
    assert missing is None
    assert lesson is not None
    assert lesson.course_id == course.pk
    assert loaders.course_by_id.requested(course.pk) is not None
    assert loaders.course_by_id.requested(course.pk + 1) is None
