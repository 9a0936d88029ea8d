from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy import bindparam, select

from gql_progress.api.context import Info
from gql_progress.api.inputs.one_of import require_one_argument
from gql_progress.api.lesson_refs import lesson_rows
from gql_progress.api.pagination import (
    AfterArgument,
    BeforeArgument,
    Connection,
    FirstArgument,
    LastArgument,
    page_request,
    paginate,
)
from gql_progress.api.subjects import requested_subject
from gql_progress.api.types.course import USER_ID_HELP, Course
from gql_progress.api.types.lesson import Lesson
from gql_progress.db.models import Course as CourseModel
from gql_progress.db.rows import CourseRow, columns, first
from gql_progress.domain.ids import decode_id
from gql_progress.domain.refs import LessonRef
from gql_progress.domain.text import contains_nul

# Built once (see api/loaders/lessons_by_course.py).
_COURSE_BY_SLUG = select(*columns(CourseRow)).where(CourseModel.slug == bindparam("slug"))


@strawberry.type
class CatalogQueries:
    @strawberry.field(
        description="A course by exactly one of id, slug or the platform's productId; null when none."
    )
    async def course(
        self,
        info: Info,
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        slug: Annotated[str | None, strawberry.argument(description="The course's slug.")] = None,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=USER_ID_HELP)] = None,
        product_id: Annotated[
            str | None, strawberry.argument(description="The platform's product id for the course.")
        ] = None,
    ) -> Course | None:
        # The message names productId only to whoever sends it: the old pair's error stays.
        newer = {} if product_id is None else {"productId": product_id}
        require_one_argument({"id": id, "slug": slug, **newer})
        subject = requested_subject(info, user_id)
        if id is not None:
            row = await info.context.loaders.course_by_id.load(decode_id(id, "Course", ("id",)))
        elif product_id is not None:
            row = (
                None
                if contains_nul(product_id)
                else await info.context.loaders.row_by_key(
                    CourseRow, CourseModel.__table__.c.product_id
                ).load(product_id)
            )
        elif contains_nul(slug):
            row = None  # no slug holds U+0000, and PostgreSQL would refuse to compare it
        else:
            async with info.context.db.read() as conn:
                row = first(CourseRow, await conn.execute(_COURSE_BY_SLUG, {"slug": slug}))
        return None if row is None else Course.from_row(row, subject_user_id=subject)

    @strawberry.field(description="All courses, in creation order, a page at a time.")
    async def courses(
        self,
        info: Info,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[Course]:
        page = page_request(info, first, after, last, before)
        viewer_id = info.context.viewer.user_id
        return await paginate(
            info,
            select(*columns(CourseRow)),
            CourseRow,
            CourseModel.id,
            page,
            lambda row: Course.from_row(row, subject_user_id=viewer_id),
        )

    @strawberry.field(
        description="A lesson by exactly one of id or the platform's externalId; null when there is none."
    )
    async def lesson(
        self,
        info: Info,
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=USER_ID_HELP)] = None,
        external_id: Annotated[
            str | None, strawberry.argument(description="The platform's id for the lesson.")
        ] = None,
    ) -> Lesson | None:
        require_one_argument({"id": id, "externalId": external_id})
        subject = requested_subject(info, user_id)
        ref = (
            LessonRef(external_id=external_id)
            if id is None
            else LessonRef(id=decode_id(id, "Lesson", ("id",)))
        )
        row = (await lesson_rows(info, [ref]))[0]
        return None if row is None else Lesson.from_row(row, subject_user_id=subject)
