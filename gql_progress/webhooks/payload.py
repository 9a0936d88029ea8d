"""The JSON body of a delivery: one event, with the platform's identifiers next to our ids.

A receiver (a platform's backend) knows its users by external id and its courses by product
id, so both are sent: it never has to call back to translate our ids.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from gql_progress.db.models import Course, Event, User
from gql_progress.domain.event_data import public_event_data
from gql_progress.domain.ids import encode_id


def event_global_id(event_pk: int) -> str:
    return encode_id("Event", event_pk)


def event_columns_query() -> Select[Any]:
    """Event columns plus what the body shows of its user, actor and course (outer joins: the
    log outlives the rows it mentions, and a deleted user still gets their event delivered)."""
    actor = aliased(User)
    columns: list[Any] = [
        Event.id.label("event_id"),
        Event.type.label("event_type"),
        Event.occurred_at,
        Event.user_id,
        User.external_id.label("user_external_id"),
        Event.course_id,
        Course.product_id.label("course_product_id"),
        Event.lesson_id,
        Event.actor_user_id,
        actor.external_id.label("actor_external_id"),
        Event.data,
    ]
    return (
        select(*columns)
        .select_from(Event)
        .outerjoin(User, User.id == Event.user_id)
        .outerjoin(Course, Course.id == Event.course_id)
        .outerjoin(actor, actor.id == Event.actor_user_id)
    )


def event_body(row: Any) -> bytes:
    """The body for a row of ``event_columns_query()``.

    Built when it is sent, from the rows as they are then: an external id changed between two
    attempts shows its new value. The event itself never changes.
    """
    document = {
        "id": event_global_id(row.event_id),
        "type": str(row.event_type),
        "occurredAt": row.occurred_at.isoformat(),
        "user": {"id": encode_id("User", row.user_id), "externalId": row.user_external_id},
        "course": (
            None
            if row.course_id is None
            else {"id": encode_id("Course", row.course_id), "productId": row.course_product_id}
        ),
        "lesson": None if row.lesson_id is None else {"id": encode_id("Lesson", row.lesson_id)},
        "actor": (
            None
            if row.actor_user_id is None
            else {"id": encode_id("User", row.actor_user_id), "externalId": row.actor_external_id}
        ),
        "data": public_event_data(row.data),
    }
    return orjson.dumps(document)
