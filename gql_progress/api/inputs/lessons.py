"""The one-of lesson ref: a lesson named by its global id or the platform's external id, and the
deprecated ``lessonId``/``lessonIds`` arguments it replaces (still accepted, never both)."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry
from strawberry import UNSET

from gql_progress.api.inputs.one_of import global_id, one_of
from gql_progress.domain.errors import ProblemList
from gql_progress.domain.ids import decode_into, try_decode_id
from gql_progress.domain.refs import LessonRef

LESSON_ID_DEPRECATION = "Use lesson, which also takes the platform's externalId."
LESSON_IDS_DEPRECATION = "Use lessons, which also take the platform's externalId."


@strawberry.input(one_of=True, description="A lesson, by exactly one of its identifiers.")
class LessonRefInput:
    id: strawberry.ID | None = strawberry.field(default=UNSET, description="Global id.")
    external_id: str | None = strawberry.field(
        default=UNSET, description="The platform's id for the lesson (Lesson.externalId)."
    )


def lesson_ref(problems: ProblemList, ref: LessonRefInput, path: tuple[str, ...]) -> LessonRef | None:
    return one_of(
        problems,
        path,
        {
            "id": (ref.id, global_id(problems, (*path, "id"), "Lesson", lambda pk: LessonRef(id=pk))),
            "externalId": (ref.external_id, lambda key: LessonRef(external_id=key)),
        },
    )


def one_lesson(
    problems: ProblemList, lesson_id: str | None, lesson: LessonRefInput | None, path: tuple[str, ...] = ()
) -> LessonRef | None:
    """The lesson of an input that has both the deprecated ``lessonId`` and ``lesson``: exactly
    one must be given."""
    if (lesson_id is None) == (lesson is None):
        for name in ("lessonId", "lesson"):
            problems.add((*path, name), "give exactly one of lessonId, lesson")
        return None
    if lesson is not None:
        return lesson_ref(problems, lesson, (*path, "lesson"))
    pk = decode_into(problems, lesson_id, "Lesson", (*path, "lessonId"))
    return None if pk is None else LessonRef(id=pk)


def requested_lessons(
    problems: ProblemList,
    lesson_ids: Sequence[str] | None,
    lessons: Sequence[LessonRefInput] | None,
    path: tuple[str, ...] = (),
) -> list[tuple[str, int | LessonRef | None]]:
    """Each requested lesson as (the text the client sent, its id or its external-id ref) for
    the per-item paths, where a malformed id fails its own item (INVALID_ID), not the call.
    Exactly one of the deprecated ``lessonIds`` and ``lessons`` must be given."""
    if (lesson_ids is None) == (lessons is None):
        for name in ("lessonIds", "lessons"):
            problems.add((*path, name), "give exactly one of lessonIds, lessons")
        return []
    if lesson_ids is not None:
        return [(raw, try_decode_id(raw, "Lesson")) for raw in lesson_ids]
    requested: list[tuple[str, int | LessonRef | None]] = []
    for item in lessons or ():
        # GraphQL's one-of guarantees exactly one field; an id that names no lesson of ours
        # fails its item (INVALID_ID) like a malformed lessonIds entry.
        if item.external_id is not None and item.external_id is not UNSET:
            requested.append((item.external_id, LessonRef(external_id=item.external_id)))
        else:
            raw = str(item.id) if item.id is not None and item.id is not UNSET else ""
            requested.append((raw, try_decode_id(raw, "Lesson")))
    return requested
