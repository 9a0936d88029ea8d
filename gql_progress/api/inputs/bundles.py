"""Inputs for bundles and products, and the one-of refs platforms name things with."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry import UNSET

from gql_progress.api.inputs.one_of import RefT, global_id, one_of
from gql_progress.api.types.enums import ProductKind
from gql_progress.api.types.product import try_decode_product_id
from gql_progress.db.models import ProductKind as StoredKind
from gql_progress.domain.bundles import ItemRef
from gql_progress.domain.errors import ProblemList
from gql_progress.domain.refs import BundleRef, ProductRef, UserRef

_PARTIAL = "Omit to leave unchanged."
_EXACTLY_ONE = "Exactly one field must be given."


@strawberry.input(one_of=True, description="A bundle, by exactly one of its identifiers.")
class BundleRefInput:
    id: strawberry.ID | None = strawberry.field(default=UNSET, description="Global id.")
    product_id: str | None = strawberry.field(default=UNSET, description="The platform's product id.")
    slug: str | None = strawberry.field(default=UNSET, description="The bundle's slug.")


@strawberry.input(one_of=True, description="A user, by exactly one of their identifiers.")
class UserRefInput:
    id: strawberry.ID | None = strawberry.field(default=UNSET, description="Global id.")
    email: str | None = strawberry.field(default=UNSET, description="Email address, any case.")
    external_id: str | None = strawberry.field(default=UNSET, description="The platform's id for the user.")


@strawberry.input(one_of=True, description="A non-course product, by exactly one of its identifiers.")
class ProductRefInput:
    id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Global id (of a Contest, LiveEvent, Ebook or DownloadableProduct)."
    )
    product_id: str | None = strawberry.field(default=UNSET, description="The platform's product id.")


@strawberry.input(one_of=True, description="One bundle item: exactly one of a course or a product.")
class BundleItemInput:
    course: strawberry.ID | None = strawberry.field(default=UNSET, description="A course's global id.")
    product: strawberry.ID | None = strawberry.field(
        default=UNSET, description="A Contest, LiveEvent, Ebook or DownloadableProduct global id."
    )


@strawberry.input(description="One (bundle, user) question of bundleProgressBatch.")
class BundleProgressRequestInput:
    bundle: BundleRefInput = strawberry.field(description="The bundle.")
    user: UserRefInput | None = strawberry.field(
        default=None, description="The learner; null means the caller."
    )


@strawberry.input(description="A new product (not a course: use createCourse for those).")
class CreateProductInput:
    product_id: str = strawberry.field(description="The platform's product id (unique among products).")
    kind: ProductKind = strawberry.field(description="What the product is; it cannot change later.")
    title: str = strawberry.field(description="Title.")
    description: str = strawberry.field(default="", description="Description.")


@strawberry.input(description="Changes to a product. Its kind cannot change: its id names the kind.")
class UpdateProductInput:
    id: strawberry.ID = strawberry.field(description="The product.")
    product_id: str | None = strawberry.field(default=UNSET, description=_PARTIAL)
    title: str | None = strawberry.field(default=UNSET, description=_PARTIAL)
    description: str | None = strawberry.field(default=UNSET, description=_PARTIAL)


@strawberry.input(description="A new bundle.")
class CreateBundleInput:
    product_id: str = strawberry.field(description="The platform's product id (unique among bundles).")
    slug: str = strawberry.field(description="Unique lower-case words joined by hyphens.")
    title: str = strawberry.field(description="Title.")
    description: str = strawberry.field(default="", description="Description.")
    items: list[BundleItemInput] | None = strawberry.field(
        default=None, description="The items in order (up to 200); none when omitted."
    )


@strawberry.input(description="Changes to a bundle's own fields (setBundleItems changes its items).")
class UpdateBundleInput:
    id: strawberry.ID = strawberry.field(description="The bundle.")
    product_id: str | None = strawberry.field(default=UNSET, description=_PARTIAL)
    slug: str | None = strawberry.field(default=UNSET, description=_PARTIAL)
    title: str | None = strawberry.field(default=UNSET, description=_PARTIAL)
    description: str | None = strawberry.field(default=UNSET, description=_PARTIAL)


@strawberry.input(description="A product marked consumed or not.")
class SetProductCompletionInput:
    product: ProductRefInput = strawberry.field(description="The product.")
    completed: bool = strawberry.field(description="Whether the learner consumed it.")
    user: UserRefInput | None = strawberry.field(
        default=None, description="The learner; null means the caller. Admins may name anyone."
    )


PRODUCT_COLUMNS = ("product_id", "kind", "title", "description")
BUNDLE_COLUMNS = ("product_id", "slug", "title", "description")


def bundle_ref(problems: ProblemList, ref: BundleRefInput, path: tuple[str, ...]) -> BundleRef | None:
    return one_of(
        problems,
        path,
        {
            "id": (ref.id, global_id(problems, (*path, "id"), "Bundle", lambda pk: BundleRef(id=pk))),
            "productId": (ref.product_id, lambda key: BundleRef(product_id=key)),
            "slug": (ref.slug, lambda key: BundleRef(slug=key)),
        },
    )


def user_ref(problems: ProblemList, ref: UserRefInput, path: tuple[str, ...]) -> UserRef | None:
    return one_of(
        problems,
        path,
        {
            "id": (ref.id, global_id(problems, (*path, "id"), "User", lambda pk: UserRef(id=pk))),
            "email": (ref.email, lambda key: UserRef(email=key)),
            "externalId": (ref.external_id, lambda key: UserRef(external_id=key)),
        },
    )


def product_ref(problems: ProblemList, ref: ProductRefInput, path: tuple[str, ...]) -> ProductRef | None:
    return one_of(
        problems,
        path,
        {
            "id": (
                ref.id,
                _product_id(problems, (*path, "id"), lambda kind, pk: ProductRef(id=pk, kind=kind)),
            ),
            "productId": (ref.product_id, lambda key: ProductRef(product_id=key)),
        },
    )


def item_refs(
    problems: ProblemList, items: list[BundleItemInput], path: tuple[str, ...]
) -> list[ItemRef | None]:
    """One entry per input item, None where the item could not be read (noted in ``problems``)."""
    return [_item_ref(problems, item, (*path, str(index))) for index, item in enumerate(items)]


def _item_ref(problems: ProblemList, item: BundleItemInput, path: tuple[str, ...]) -> ItemRef | None:
    product = _product_id(
        problems, (*path, "product"), lambda kind, pk: ItemRef(product_pk=pk, product_kind=kind)
    )
    return one_of(
        problems,
        path,
        {
            "course": (
                item.course,
                global_id(problems, (*path, "course"), "Course", lambda pk: ItemRef(course_id=pk)),
            ),
            "product": (item.product, product),
        },
    )


def _product_id(
    problems: ProblemList, path: tuple[str, ...], build: Callable[[StoredKind, int], RefT]
) -> Callable[[str], RefT | None]:
    """A choice's builder for the id of a product of any kind (a malformed one noted at ``path``)."""

    def read(value: str) -> RefT | None:
        decoded = try_decode_product_id(value)
        if decoded is None:
            problems.add(path, "is not a product id")
            return None
        return build(*decoded)

    return read
