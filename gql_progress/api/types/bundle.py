from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.types.course import Course
from gql_progress.api.types.node import Node
from gql_progress.api.types.product import Contest, DownloadableProduct, Ebook, LiveEvent, product_from_row
from gql_progress.db.rows import BundleRow
from gql_progress.domain.ids import encode_id

BundleItem = Annotated[
    Course | Contest | LiveEvent | Ebook | DownloadableProduct,
    strawberry.union("BundleItem", description="One thing a bundle sells: a course or another product."),
]


@strawberry.type(
    description="What a platform sells as one product: an ordered list of courses and other products."
)
class Bundle(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    product_id: str = strawberry.field(description="The platform's product id for the bundle (unique).")
    slug: str = strawberry.field(description="Unique, URL-friendly name.")
    title: str = strawberry.field(description="Title.")
    description: str = strawberry.field(description="Description (may be empty).")
    created_at: datetime = strawberry.field(description="When the bundle was created.")
    updated_at: datetime = strawberry.field(description="When the bundle or its items last changed.")
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: BundleRow) -> Bundle:
        return cls(
            id=strawberry.ID(encode_id("Bundle", row.id)),
            product_id=row.product_id,
            slug=row.slug,
            title=row.title,
            description=row.description,
            created_at=row.created_at,
            updated_at=row.updated_at,
            pk=row.id,
        )

    @strawberry.field(
        description=(
            "The bundle's items in order. A course item's nested progress fields are the caller's "
            "(admins can pass userId to them)."
        )
    )
    async def items(self, info: Info) -> list[BundleItem]:
        loaders = info.context.loaders
        rows = await loaders.items_by_bundle.load(self.pk)
        # Both batches are requested before either is awaited, so every bundle in the request
        # shares one statement per item kind.
        courses = loaders.course_by_id.load_many([r.course_id for r in rows if r.course_id is not None])
        products = loaders.product_by_id.load_many([r.product_pk for r in rows if r.product_pk is not None])
        course_rows = iter(await courses)
        product_rows = iter(await products)
        viewer_id = info.context.viewer.user_id
        items: list[BundleItem] = []
        for row in rows:
            if row.course_id is not None:
                course = next(course_rows)
                assert course is not None  # the foreign key cascades
                items.append(Course.from_row(course, subject_user_id=viewer_id))
            else:
                product = next(product_rows)
                assert product is not None
                items.append(product_from_row(product))
        return items
