"""Lessons named by refs (global id or the platform's external id), looked up through the
request's loaders: one statement per batch of external ids, none for ids."""

from __future__ import annotations

from collections.abc import Sequence

from gql_progress.api.context import Info
from gql_progress.db.models import Lesson
from gql_progress.db.rows import LessonRow
from gql_progress.domain.errors import NotFound
from gql_progress.domain.refs import LessonRef
from gql_progress.domain.text import contains_nul


async def lesson_rows(info: Info, refs: Sequence[LessonRef]) -> list[LessonRow | None]:
    """The lesson row each ref names (removed lessons included), or None, in order."""
    loaders = info.context.loaders
    ids = [r.id for r in refs if r.id is not None]
    # No external id holds U+0000, and PostgreSQL would refuse to compare one.
    external = [r.external_id for r in refs if r.external_id is not None and not contains_nul(r.external_id)]
    by_id = dict(zip(ids, await loaders.lesson_by_id.load_many(ids), strict=True))
    by_external = dict(
        zip(
            external,
            await loaders.row_by_key(LessonRow, Lesson.__table__.c.external_id).load_many(external),
            strict=True,
        )
    )
    return [by_id.get(r.id) if r.id is not None else by_external.get(r.external_id or "") for r in refs]


async def lesson_pk(info: Info, ref: LessonRef) -> int:
    """The id of the lesson ``ref`` names; NotFound("lesson") when it names none, as for an
    unknown id. An id is passed through unchecked: the write it is for checks it anyway."""
    if ref.id is not None:
        return ref.id
    row = (await lesson_rows(info, [ref]))[0]
    if row is None:
        raise NotFound("lesson")
    return int(row.id)
