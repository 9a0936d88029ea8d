"""Course.lessonsConnection: a course's current lessons a page at a time, batched over courses."""

from __future__ import annotations

from sqlalchemy import select

from gql_progress.api.context import Info
from gql_progress.api.loaders.child_rows import ChildRows, no_filter
from gql_progress.api.nested_pages import load_page
from gql_progress.api.pagination import Connection, PageArguments
from gql_progress.api.selection import selects_on_nodes
from gql_progress.api.types.lesson import Lesson
from gql_progress.db.models import Lesson as LessonModel
from gql_progress.db.rows import LessonRow, columns

# By position, which is unique among a course's current lessons (a partial unique index).
CURRENT_LESSONS_OF_COURSE = ChildRows(
    row=LessonRow,
    query=no_filter(select(*columns(LessonRow)).where(LessonModel.removed_at.is_(None))),
    parent=LessonModel.course_id,
    key=LessonModel.position,
)


async def lessons_connection(
    info: Info, course_id: int, subject_user_id: int, paging: PageArguments
) -> Connection[Lesson]:
    request = paging.request(info)
    if not selects_on_nodes(info, ("progress", "progressStatus")):
        page = await load_page(info, CURRENT_LESSONS_OF_COURSE, course_id, request)
        return page.connection(lambda row: Lesson.from_row(row, subject_user_id=subject_user_id))
    # As Course.lessons does: the subject's records of the course are queued with the page, so
    # both batches run together and every lesson answers its progress from memory.
    records_load = info.context.loaders.progress_by_user_course.load((subject_user_id, course_id))
    page = await load_page(info, CURRENT_LESSONS_OF_COURSE, course_id, request)
    records = await records_load
    return page.connection(lambda row: Lesson.from_row(row, subject_user_id=subject_user_id, records=records))
