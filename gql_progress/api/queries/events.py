from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy import func, select

from gql_progress.api.context import Info
from gql_progress.api.pagination import (
    AfterArgument,
    Connection,
    FirstArgument,
    connection_from_rows,
    page_request,
)
from gql_progress.api.types.event import Event
from gql_progress.api.types.event_type import EventType
from gql_progress.db.models import Event as EventModel
from gql_progress.db.rows import EventRow, Keyed, columns, make
from gql_progress.db.types import utcnow
from gql_progress.domain.events import settled_upper_id
from gql_progress.domain.ids import decode_optional_id, within_column


@strawberry.type
class EventQueries:
    @strawberry.field(
        description=(
            "The event log, oldest first, a page at a time (admin). A consumer that polls keeps "
            "the last endCursor and passes it as `after` next time: it sees each event once, in "
            "order. A page stops before an event whose predecessor is still being committed "
            "(hasNextPage stays true), so no cursor ever moves past an event not yet visible. "
            "Forward only: a backward page could end past an event still being committed."
        )
    )
    async def events(
        self,
        info: Info,
        types: Annotated[
            list[EventType] | None, strawberry.argument(description="Only events of these types.")
        ] = None,
        user_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this learner's.")
        ] = None,
        course_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this course's.")
        ] = None,
        first: FirstArgument = None,
        after: AfterArgument = None,
    ) -> Connection[Event]:
        info.context.viewer.require_admin()
        page = page_request(info, first, after)
        query = select(*columns(EventRow))
        user_pk = decode_optional_id(user_id, "User", ("userId",))
        course_pk = decode_optional_id(course_id, "Course", ("courseId",))
        if types:
            query = query.where(EventModel.type.in_([t.value for t in types]))
        if user_pk is not None:
            query = query.where(EventModel.user_id == user_pk)
        if course_pk is not None:
            query = query.where(EventModel.course_id == course_pk)
        after_id = 0 if page.after_pk is None else within_column(EventModel.id, page.after_pk)
        db = info.context.db
        async with db.read() as conn:
            rows = (
                await conn.execute(
                    query.where(EventModel.id > after_id).order_by(EventModel.id).limit(page.limit + 1)
                )
            ).all()
            upper = None
            if rows:
                # Every id (whatever the filters) up to the page's end, to find gaps in it.
                last = rows[min(len(rows), page.limit) - 1].id
                ids = await conn.execute(
                    select(EventModel.id, EventModel.occurred_at)
                    .where(EventModel.id > after_id, EventModel.id <= last)
                    .order_by(EventModel.id)
                )
                upper = settled_upper_id(after_id, [(i, at) for i, at in ids], utcnow())
        held_back = upper is not None
        if upper is not None:
            rows = [row for row in rows if row.id <= upper]

        async def count_total() -> int:
            async with db.read() as conn:
                total = await conn.scalar(select(func.count()).select_from(query.subquery()))
                return int(total or 0)

        keyed = [Keyed(row.id, make(EventRow, row)) for row in rows]
        return connection_from_rows(keyed, page, Event.from_row, count_total, more_held_back=held_back)
