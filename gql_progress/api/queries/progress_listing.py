"""The progress connection shared by Query.progress and User.progress."""

from __future__ import annotations

from sqlalchemy import select

from gql_progress.api.context import Info
from gql_progress.api.ids import decode_optional_id
from gql_progress.api.pagination import Connection, page_request, paginate
from gql_progress.api.types.progress import Progress
from gql_progress.db.models import Lesson, LessonProgress
from gql_progress.db.progress import PROGRESS_COLUMNS


async def progress_connection(
    info: Info,
    user_id: int,
    course_id: str | None,
    lesson_id: str | None,
    first: int | None,
    after: str | None,
) -> Connection[Progress]:
    course_pk = decode_optional_id(course_id, "Course", ("courseId",))
    lesson_pk = decode_optional_id(lesson_id, "Lesson", ("lessonId",))
    page = page_request(info, first, after)
    query = select(*PROGRESS_COLUMNS).where(LessonProgress.user_id == user_id)
    if course_pk is not None:
        query = query.join(Lesson, Lesson.id == LessonProgress.lesson_id).where(Lesson.course_id == course_pk)
    if lesson_pk is not None:
        query = query.where(LessonProgress.lesson_id == lesson_pk)
    return await paginate(info, query, LessonProgress.id, page, Progress.from_row)
