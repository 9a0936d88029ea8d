"""Where a learner stands in a bundle: the platform-facing read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.types.bundle import Bundle
from gql_progress.api.types.course import Course, course_by_pk
from gql_progress.api.types.enums import ProductKind
from gql_progress.api.types.errors import ForbiddenError, NotEnrolledError, NotFoundError, ValidationError
from gql_progress.api.types.product import Product, product_from_row
from gql_progress.api.types.user import User
from gql_progress.domain import bundle_progress as domain

COMPLETION_PERCENTAGE_HELP = (
    "The mean of the course items' completionPercentage (products do not count), rounded to two "
    "decimals; 100 only when every course item is complete; 0 for a bundle without courses."
)
WEIGHTED_COMPLETION_PERCENTAGE_HELP = (
    "The mean over every item: a course item counts its completionPercentage, a product 100 when "
    "consumed and 0 otherwise. Rounded to two decimals; 100 only when every item is done; 0 for an "
    "empty bundle."
)


@strawberry.type(description="A course of the bundle and the learner's progress in it.")
class CourseItemProgress:
    position: int = strawberry.field(description="The item's place in the bundle, from 0.")
    product_id: str | None = strawberry.field(description="The course's product id, if it has one.")
    completion_percentage: float = strawberry.field(
        description="The learner's completion of the course, as in CourseSummary.completionPercentage."
    )
    completed: bool = strawberry.field(description="Whether the learner completed the course.")
    expected_completion_days: int | None = strawberry.field(
        description="Days a learner is expected to need for the course; null when unknown."
    )
    course_pk: strawberry.Private[int]
    user_pk: strawberry.Private[int]

    @strawberry.field(description="The course; its nested progress fields are this learner's.")
    async def course(self, info: Info) -> Course:
        return await course_by_pk(info, self.course_pk, subject_user_id=self.user_pk)


@strawberry.type(description="A non-course product of the bundle and whether the learner consumed it.")
class ProductItemProgress:
    position: int = strawberry.field(description="The item's place in the bundle, from 0.")
    # Nullable like CourseItemProgress.productId, so one selection of productId can span the
    # union's members (GraphQL rejects same-named fields of different nullability there).
    product_id: str | None = strawberry.field(
        description="The product's product id (always set for products)."
    )
    kind: ProductKind = strawberry.field(description="What the product is.")
    completed: bool = strawberry.field(description="Whether the learner consumed it (setProductCompletion).")
    completed_at: datetime | None = strawberry.field(description="When it was marked consumed; null if not.")
    product_pk: strawberry.Private[int]

    @strawberry.field(description="The product.")
    async def product(self, info: Info) -> Product:
        row = await info.context.loaders.product_by_id.load(self.product_pk)
        assert row is not None
        return product_from_row(row)


BundleItemProgress = Annotated[
    CourseItemProgress | ProductItemProgress,
    strawberry.union("BundleItemProgress", description="The learner's progress on one bundle item."),
]


@strawberry.type(description="Where one learner stands in a bundle they are enrolled in.")
class BundleProgress:
    title: str = strawberry.field(description="The bundle's title.")
    completion_percentage: float = strawberry.field(description=COMPLETION_PERCENTAGE_HELP)
    weighted_completion_percentage: float = strawberry.field(description=WEIGHTED_COMPLETION_PERCENTAGE_HELP)
    enrolled_at: datetime = strawberry.field(description="When the learner was enrolled in the bundle.")
    items: list[BundleItemProgress] = strawberry.field(description="Each item of the bundle, in order.")
    bundle: Bundle = strawberry.field(description="The bundle.")
    user_pk: strawberry.Private[int]

    @strawberry.field(description="The learner.")
    async def user(self, info: Info) -> User:
        row = await info.context.loaders.user_by_id.load(self.user_pk)
        assert row is not None
        return User.from_row(row)

    @classmethod
    def from_domain(cls, progress: domain.BundleProgress) -> BundleProgress:
        items: list[BundleItemProgress] = []
        for item in progress.items:
            if isinstance(item, domain.CourseItemProgress):
                items.append(
                    CourseItemProgress(
                        position=item.position,
                        product_id=item.product_id,
                        completion_percentage=item.completion_percentage,
                        completed=item.completed,
                        expected_completion_days=item.expected_completion_days,
                        course_pk=item.course_id,
                        user_pk=progress.user_id,
                    )
                )
            else:
                items.append(
                    ProductItemProgress(
                        position=item.position,
                        product_id=item.product_id,
                        kind=ProductKind(item.kind.value),
                        completed=item.completed,
                        completed_at=item.completed_at,
                        product_pk=item.product_pk,
                    )
                )
        return cls(
            title=progress.bundle.title,
            completion_percentage=progress.completion_percentage,
            weighted_completion_percentage=progress.weighted_completion_percentage,
            enrolled_at=progress.enrolled_at,
            items=items,
            bundle=Bundle.from_row(progress.bundle),
            user_pk=progress.user_id,
        )


BundleProgressResult = Annotated[
    BundleProgress | ValidationError | NotFoundError | NotEnrolledError | ForbiddenError,
    strawberry.union(
        "BundleProgressResult",
        description=(
            "The learner's bundle progress, or why there is none: VALIDATION_FAILED (bad refs), "
            "NOT_FOUND (no such bundle or user), NOT_ENROLLED, FORBIDDEN (a learner asking about "
            "someone else)."
        ),
    ),
]
