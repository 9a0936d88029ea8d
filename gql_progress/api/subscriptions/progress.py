from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.loaders import Loaders
from gql_progress.api.subjects import requested_subject
from gql_progress.api.types.course_completion import CourseCompletion
from gql_progress.api.types.progress import Progress
from gql_progress.api.types.progress_update import ProgressUpdate
from gql_progress.domain.completion.notices import CourseCompleted, Notice, ProgressWritten
from gql_progress.domain.errors import NotFound
from gql_progress.domain.ids import decode_id
from gql_progress.live.broker import Broker, Subscription, Topic


@strawberry.type
class ProgressSubscriptions:
    # Plain coroutines that return the stream: a refusal (FORBIDDEN, NOT_FOUND) is raised before
    # anything is streamed, so the client gets the protocol's `error` message for the operation.
    @strawberry.subscription(
        description=(
            "Every progress record written for the user in the course, heartbeats included, as "
            "it is written. Learners may follow only their own progress; admins anyone's."
        )
    )
    async def progress_updated(
        self,
        info: Info,
        course_id: Annotated[strawberry.ID, strawberry.argument(description="The course to follow.")],
        user_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Whose progress: omitted for the caller; another user's needs an admin key."
            ),
        ] = None,
    ) -> AsyncGenerator[ProgressUpdate, None]:
        # Refused before anything is looked up: the answer says nothing about that user.
        user_pk = requested_subject(info, user_id)
        course_pk = await _existing_course(info, course_id)
        return _progress_updates(info, Topic(ProgressWritten, course_pk, user_pk))

    @strawberry.subscription(
        description=(
            "Every enrollment of the course that becomes COMPLETED. Learners receive only their "
            "own completions; admins everyone's."
        )
    )
    async def course_completed(
        self,
        info: Info,
        course_id: Annotated[strawberry.ID, strawberry.argument(description="The course to follow.")],
    ) -> AsyncGenerator[CourseCompletion, None]:
        course_pk = await _existing_course(info, course_id)
        viewer = info.context.viewer
        topic = Topic(CourseCompleted, course_pk, None if viewer.is_admin else viewer.user_id)
        return _completions(info, topic)


async def _existing_course(info: Info, course_id: str) -> int:
    course_pk = decode_id(course_id, "Course", ("courseId",))
    if await info.context.loaders.course_by_id.load(course_pk) is None:
        raise NotFound("course", course_id)
    return course_pk


def _broker(info: Info) -> Broker:
    # Set on every WebSocket context (app.py refuses sockets when live updates are off);
    # subscriptions run nowhere else (ProgressSchema.execute refuses them over HTTP).
    assert info.context.live is not None
    return info.context.live


def _fresh_loaders(info: Info) -> Loaders:
    # The context lives as long as the connection; each notice is read like a new request, or
    # the loaders' caches would answer with what an earlier update read. A connection has one
    # viewer, so its subscriptions sharing the newest loaders show nothing they may not see.
    info.context.loaders = Loaders(info.context.db)
    return info.context.loaders


async def _batches(subscription: Subscription) -> AsyncGenerator[list[Notice], None]:
    while True:
        yield await subscription.next_batch()


async def _progress_updates(info: Info, topic: Topic) -> AsyncGenerator[ProgressUpdate, None]:
    with _broker(info).subscribe(topic) as subscription:
        async for batch in _batches(subscription):
            # A record written several times while the client read is sent once, as it is now.
            record_ids = list(dict.fromkeys(n.record_id for n in batch if isinstance(n, ProgressWritten)))
            rows = await _fresh_loaders(info).progress_by_id.load_many(record_ids)
            for row in rows:
                # None: cleared meanwhile (resetProgress); there is nothing left to show.
                if row is not None and row.user_id == topic.user_id:
                    yield ProgressUpdate(progress=Progress.from_row(row), course_id=topic.course_id)


async def _completions(info: Info, topic: Topic) -> AsyncGenerator[CourseCompletion, None]:
    with _broker(info).subscribe(topic) as subscription:
        async for batch in _batches(subscription):
            notices = [n for n in batch if isinstance(n, CourseCompleted)]
            loader = _fresh_loaders(info).enrollment_by_user_course
            rows = await loader.load_many([(n.user_id, n.course_id) for n in notices])
            for notice, row in zip(notices, rows, strict=True):
                if row is not None:  # None: unenrolled meanwhile
                    yield CourseCompletion.from_row(row, notice.completed_at)
