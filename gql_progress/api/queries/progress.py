from __future__ import annotations

from typing import Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.inputs.lessons import (
    LESSON_ID_DEPRECATION,
    LESSON_IDS_DEPRECATION,
    LessonRefInput,
    one_lesson,
    requested_lessons,
)
from gql_progress.api.lesson_refs import lesson_rows
from gql_progress.api.pagination import (
    AfterArgument,
    BeforeArgument,
    Connection,
    FirstArgument,
    LastArgument,
    PageArguments,
)
from gql_progress.api.queries.progress_listing import progress_connection
from gql_progress.api.subjects import requested_subject
from gql_progress.api.types.completion_status import LessonCompletion
from gql_progress.api.types.course_summary import CourseSummary
from gql_progress.api.types.progress import Progress
from gql_progress.domain.errors import FieldProblem, InvalidInput, ProblemList
from gql_progress.domain.ids import decode_id, encode_id
from gql_progress.domain.refs import LessonRef

MAX_STATUS_IDS = 500
USER_ID = "Whose records: defaults to the caller. Admins may name any user; others only themselves."


@strawberry.type
class ProgressQueries:
    @strawberry.field(
        description="Progress records of the caller (or of userId, for admins), in creation order."
    )
    async def progress(
        self,
        info: Info,
        course_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this course's lessons.")
        ] = None,
        lesson_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only this lesson (its global id; or send lesson).",
                deprecation_reason=LESSON_ID_DEPRECATION,
            ),
        ] = None,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=USER_ID)] = None,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
        lesson: Annotated[
            LessonRefInput | None,
            strawberry.argument(description="Only this lesson, by global id or the platform's externalId."),
        ] = None,
    ) -> Connection[Progress]:
        subject = requested_subject(info, user_id)
        lesson_pk = None
        if lesson_id is not None or lesson is not None:
            problems = ProblemList()
            ref = one_lesson(problems, lesson_id, lesson)
            ref = problems.read_or_raise(ref)
            # A lesson that does not exist has no records: an empty page, as for an unknown id.
            row = (await lesson_rows(info, [ref]))[0] if ref.id is None else None
            lesson_pk = ref.id if ref.id is not None else (0 if row is None else int(row.id))
        return await progress_connection(
            info, subject, course_id, lesson_pk, PageArguments(first, after, last, before)
        )

    @strawberry.field(
        description=(
            "Completion of each requested lesson, one entry per id in request order (up to 500). "
            "Ids that name no lesson are reported with found: false, not as incomplete."
        )
    )
    async def completion_status(
        self,
        info: Info,
        lesson_ids: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(
                description="Lesson ids. Give this or lessons, not both.",
                deprecation_reason=LESSON_IDS_DEPRECATION,
            ),
        ] = None,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=USER_ID)] = None,
        lessons: Annotated[
            list[LessonRefInput] | None,
            strawberry.argument(
                description="Lessons by global id or the platform's externalId (or send lessonIds)."
            ),
        ] = None,
    ) -> list[LessonCompletion]:
        problems = ProblemList()
        requested = requested_lessons(problems, lesson_ids, lessons)
        problems.raise_if_any()
        if len(requested) > MAX_STATUS_IDS:
            name = "lessonIds" if lessons is None else "lessons"
            raise InvalidInput([FieldProblem((name,), f"at most {MAX_STATUS_IDS} ids")])
        subject = requested_subject(info, user_id)
        loaders = info.context.loaders
        refs = [ref if isinstance(ref, LessonRef) else LessonRef(id=ref) for _, ref in requested]
        rows = await lesson_rows(info, [ref for ref in refs if ref.id is not None or ref.external_id])
        lessons_found = iter(rows)
        pks: list[int | None] = []
        for ref in refs:
            row = next(lessons_found) if ref.id is not None or ref.external_id else None
            # A removed lesson is no longer part of any course: reported like one that never was.
            pks.append(None if row is None or row.removed_at is not None else int(row.id))
        found = sorted({pk for pk in pks if pk is not None})
        records = await loaders.progress_by_user_lesson.load_many([(subject, pk) for pk in found])
        by_lesson = dict(zip(found, records, strict=True))
        entries = []
        for (raw, sent), pk in zip(requested, pks, strict=True):
            external_id = sent.external_id if isinstance(sent, LessonRef) else None
            if external_id is not None:
                raw = "" if pk is None else encode_id("Lesson", pk)
            if pk is None:
                entries.append(
                    LessonCompletion(
                        lesson_id=strawberry.ID(raw),
                        external_id=external_id,
                        found=False,
                        completed=None,
                        completed_at=None,
                    )
                )
                continue
            record = by_lesson[pk]
            entries.append(
                LessonCompletion(
                    lesson_id=strawberry.ID(raw),
                    external_id=external_id,
                    found=True,
                    completed=bool(record and record.completed),
                    completed_at=record.completed_at if record else None,
                )
            )
        return entries

    @strawberry.field(
        description="The caller's (or userId's, for admins) summary of a course; null if no such course."
    )
    async def course_summary(
        self,
        info: Info,
        course_id: Annotated[strawberry.ID, strawberry.argument(description="The course.")],
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description=USER_ID)] = None,
    ) -> CourseSummary | None:
        subject = requested_subject(info, user_id)
        course_pk = decode_id(course_id, "Course", ("courseId",))
        if await info.context.loaders.course_by_id.load(course_pk) is None:
            return None
        summary = await info.context.loaders.summary(subject, course_pk)
        return CourseSummary.from_domain(summary)
