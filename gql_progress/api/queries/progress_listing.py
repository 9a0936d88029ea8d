"""The progress connections: Query.progress (one user) and User.progress (batched over users)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from gql_progress.api.context import Info
from gql_progress.api.loaders.child_rows import ChildRows
from gql_progress.api.nested_pages import nested_connection
from gql_progress.api.pagination import Connection, PageArguments, paginate
from gql_progress.api.types.progress import Progress
from gql_progress.db.models import Lesson, LessonProgress
from gql_progress.db.rows import ProgressRow
from gql_progress.domain.completion.statements import PROGRESS_COLUMNS
from gql_progress.domain.ids import decode_optional_id


def _records(course_pk: int | None) -> Select[Any]:
    """Progress records of every user, only those of ``course_pk``'s lessons when given."""
    query = select(*PROGRESS_COLUMNS)
    if course_pk is not None:
        query = query.join(Lesson, Lesson.id == LessonProgress.lesson_id).where(Lesson.course_id == course_pk)
    return query


# A user's records in creation order; the filter is the courseId argument.
PROGRESS_OF_USER = ChildRows(
    row=ProgressRow, query=_records, parent=LessonProgress.user_id, key=LessonProgress.id
)


async def progress_connection(
    info: Info,
    user_id: int,
    course_id: str | None,
    lesson_pk: int | None,
    paging: PageArguments,
) -> Connection[Progress]:
    """``lesson_pk``: only that lesson's record (the caller resolved lessonId or lesson)."""
    course_pk = decode_optional_id(course_id, "Course", ("courseId",))
    page = paging.request(info)
    query = _records(course_pk).where(LessonProgress.user_id == user_id)
    if lesson_pk is not None:
        query = query.where(LessonProgress.lesson_id == lesson_pk)
    return await paginate(info, query, ProgressRow, LessonProgress.id, page, Progress.from_row)


async def user_progress_connection(
    info: Info, user_id: int, course_id: str | None, paging: PageArguments
) -> Connection[Progress]:
    """User.progress: the same records and pages, batched with the other users of the request."""
    course_pk = decode_optional_id(course_id, "Course", ("courseId",))
    return await nested_connection(info, PROGRESS_OF_USER, user_id, paging, Progress.from_row, course_pk)
