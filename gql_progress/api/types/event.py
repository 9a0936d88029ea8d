from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from gql_progress.api.context import Info
from gql_progress.api.types.event_type import EventType
from gql_progress.api.types.node import Node
from gql_progress.db.rows import EventRow
from gql_progress.domain.event_data import public_event_data
from gql_progress.domain.ids import encode_id


@strawberry.type(
    description=(
        "One entry of the append-only event log, written in the same transaction as the change it "
        "records. Carries the identifiers a consumer joins on, ours and the platform's."
    )
)
class Event(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id; events are ordered by it.")
    type: EventType = strawberry.field(description="What happened.")
    occurred_at: datetime = strawberry.field(description="When it happened (the change's commit time).")
    user_id: strawberry.ID = strawberry.field(description="The learner's global id.")
    course_id: strawberry.ID | None = strawberry.field(description="The course's global id, if any.")
    lesson_id: strawberry.ID | None = strawberry.field(description="The lesson's global id, if any.")
    actor_id: strawberry.ID | None = strawberry.field(
        description="Who caused it (the learner, or an admin); null when the system did (a course change)."
    )
    data: JSON | None = strawberry.field(description="Details of the type: a reason, a certificate's code.")
    user_pk: strawberry.Private[int]
    course_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: EventRow) -> Event:
        return cls(
            id=strawberry.ID(encode_id("Event", row.id)),
            type=EventType(row.type),
            occurred_at=row.occurred_at,
            user_id=strawberry.ID(encode_id("User", row.user_id)),
            course_id=None if row.course_id is None else strawberry.ID(encode_id("Course", row.course_id)),
            lesson_id=None if row.lesson_id is None else strawberry.ID(encode_id("Lesson", row.lesson_id)),
            actor_id=None
            if row.actor_user_id is None
            else strawberry.ID(encode_id("User", row.actor_user_id)),
            data=cast(JSON, public_event_data(row.data)),
            user_pk=row.user_id,
            course_pk=row.course_id,
        )

    @strawberry.field(description="The learner's id on the platform (null if the user no longer exists).")
    async def user_external_id(self, info: Info) -> str | None:
        row = await info.context.loaders.user_by_id.load(self.user_pk)
        return None if row is None else str(row.external_id)

    @strawberry.field(description="The course's product id on the platform, if it has one.")
    async def course_product_id(self, info: Info) -> str | None:
        if self.course_pk is None:
            return None
        row = await info.context.loaders.course_by_id.load(self.course_pk)
        return None if row is None or row.product_id is None else str(row.product_id)
