"""Products other than courses: one GraphQL type per kind, sharing the Product interface."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql_progress.api.types.enums import ProductKind
from gql_progress.api.types.node import Node
from gql_progress.db.models import ProductKind as StoredKind
from gql_progress.db.rows import ProductRow
from gql_progress.domain.ids import encode_id, try_decode_id


@strawberry.interface(description="Something a platform sells that is not a course.")
class Product(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    product_id: str = strawberry.field(description="The platform's product id (unique).")
    kind: ProductKind = strawberry.field(description="What the product is; also tells its GraphQL type.")
    title: str = strawberry.field(description="Title.")
    description: str = strawberry.field(description="Description (may be empty).")
    created_at: datetime = strawberry.field(description="When the product was created.")
    updated_at: datetime = strawberry.field(description="When the product last changed.")
    pk: strawberry.Private[int]


@strawberry.type(description="A contest or challenge.")
class Contest(Product):
    pass


@strawberry.type(description="A live session: webinar, workshop, class.")
class LiveEvent(Product):
    pass


@strawberry.type(description="An ebook.")
class Ebook(Product):
    pass


@strawberry.type(description="Files to download: templates, datasets, source code.")
class DownloadableProduct(Product):
    pass


# What a Product always is: one of its kinds' types (so it fits the unions that list them).
KindedProduct = Contest | LiveEvent | Ebook | DownloadableProduct
PRODUCT_TYPES: dict[StoredKind, type[KindedProduct]] = {
    StoredKind.CONTEST: Contest,
    StoredKind.LIVE_EVENT: LiveEvent,
    StoredKind.EBOOK: Ebook,
    StoredKind.DOWNLOADABLE_PRODUCT: DownloadableProduct,
}
PRODUCT_TYPE_NAMES = {cls.__name__: kind for kind, cls in PRODUCT_TYPES.items()}


def product_from_row(row: ProductRow) -> KindedProduct:
    kind = StoredKind(row.kind)
    cls = PRODUCT_TYPES[kind]
    return cls(
        id=strawberry.ID(encode_id(cls.__name__, row.id)),
        product_id=row.product_id,
        kind=ProductKind(kind.value),
        title=row.title,
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
        pk=row.id,
    )


def try_decode_product_id(value: str) -> tuple[StoredKind, int] | None:
    """(kind, primary key) of a Contest, LiveEvent, Ebook or DownloadableProduct id, else None.

    The kind in the id must still match the row's kind: check it after loading.
    """
    for type_name, kind in PRODUCT_TYPE_NAMES.items():
        pk = try_decode_id(value, type_name)
        if pk is not None:
            return kind, pk
    return None


def product_type_name(kind: StoredKind) -> str:
    return PRODUCT_TYPES[kind].__name__
