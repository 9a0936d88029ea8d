"""Relay's node(id)/nodes(ids): any object by its global id, with the typed fields' access rules."""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.queries.api_keys import api_key_node
from gql_progress.api.queries.study_plans import visible_study_plan, visible_study_plan_instance
from gql_progress.api.queries.webhooks import webhook_delivery_node, webhook_endpoint_node
from gql_progress.api.types.bundle import Bundle
from gql_progress.api.types.certificate import Certificate
from gql_progress.api.types.course import Course
from gql_progress.api.types.enrollment import Enrollment
from gql_progress.api.types.lesson import Lesson
from gql_progress.api.types.node import Node
from gql_progress.api.types.product import PRODUCT_TYPE_NAMES, product_from_row, product_type_name
from gql_progress.api.types.progress import Progress
from gql_progress.api.types.user import User
from gql_progress.domain.errors import FieldProblem, InvalidInput
from gql_progress.domain.ids import decode_any_id

MAX_NODES = 100


async def resolve_node(info: Info, global_id: str) -> Node | None:
    """The object, or None when it does not exist or the caller may not see it.

    Both cases give the same answer, so an id reveals nothing about other learners' data.
    """
    decoded = decode_any_id(global_id)
    if decoded is None:
        return None
    type_name, pk = decoded
    viewer = info.context.viewer
    loaders = info.context.loaders

    def visible(owner_id: int) -> bool:
        return viewer.can_access(owner_id)

    if type_name == "Course":
        course = await loaders.course_by_id.load(pk)
        return None if course is None else Course.from_row(course, subject_user_id=viewer.user_id)
    if type_name == "Lesson":
        lesson = await loaders.lesson_by_id.load(pk)
        return None if lesson is None else Lesson.from_row(lesson, subject_user_id=viewer.user_id)
    if type_name == "User":
        user = await loaders.user_by_id.load(pk)
        return User.from_row(user) if user is not None and visible(user.id) else None
    if type_name == "Enrollment":
        enrollment = await loaders.enrollment_by_id.load(pk)
        return (
            Enrollment.from_row(enrollment)
            if enrollment is not None and visible(enrollment.user_id)
            else None
        )
    if type_name == "Bundle":
        bundle = await loaders.bundle_by_id.load(pk)
        return None if bundle is None else Bundle.from_row(bundle)
    if type_name in PRODUCT_TYPE_NAMES:
        product = await loaders.product_by_id.load(pk)
        # The id names a kind; a product of another kind is not what it names.
        return (
            product_from_row(product)
            if product is not None and product_type_name(product.kind) == type_name
            else None
        )
    if type_name == "Certificate":
        certificate = await loaders.certificate_by_id.load(pk)
        return (
            Certificate.from_row(certificate)
            if certificate is not None and visible(certificate.user_id)
            else None
        )
    if type_name == "Progress":
        record = await loaders.progress_by_id.load(pk)
        return Progress.from_row(record) if record is not None and visible(record.user_id) else None
    if type_name == "StudyPlan":
        return await visible_study_plan(info, pk)
    if type_name == "StudyPlanInstance":
        return await visible_study_plan_instance(info, pk)
    if type_name == "WebhookEndpoint":
        return await webhook_endpoint_node(info, pk)
    if type_name == "WebhookDelivery":
        return await webhook_delivery_node(info, pk)
    if type_name == "ApiKey":
        return await api_key_node(info, pk)
    return None


@strawberry.type
class NodeQueries:
    @strawberry.field(
        description=(
            "Any object by its global id; null when it does not exist or the caller may not see "
            "it (the two are indistinguishable)."
        )
    )
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
    ) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(
        description="Objects by global id, one entry per id in request order (up to 100); null as in node."
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="Global ids.")],
    ) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise InvalidInput([FieldProblem(("ids",), f"at most {MAX_NODES} ids")])
        # Gathered so the loaders batch: a constant number of statements per type.
        return list(await asyncio.gather(*(resolve_node(info, i) for i in ids)))
