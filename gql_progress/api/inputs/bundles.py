"""Inputs for bundles and products, and the one-of refs platforms name things with."""

from __future__ import annotations

import strawberry
from strawberry import UNSET

from gql_progress.api.types.enums import ProductKind
from gql_progress.api.types.product import try_decode_product_id
from gql_progress.domain.bundles import ItemRef
from gql_progress.domain.errors import ProblemList
from gql_progress.domain.ids import decode_into
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


# One-of is enforced by GraphQL for literals and variables alike; these checks are the second
# line, so a ref that somehow arrives with zero or two fields is a ValidationError, not a crash.


def _exactly_one(problems: ProblemList, path: tuple[str, ...], values: dict[str, object]) -> str | None:
    given = [name for name, value in values.items() if value is not UNSET and value is not None]
    if len(given) != 1:
        problems.add(path, f"give exactly one of {', '.join(values)}")
        return None
    return given[0]


def bundle_ref(problems: ProblemList, ref: BundleRefInput, path: tuple[str, ...]) -> BundleRef | None:
    chosen = _exactly_one(problems, path, {"id": ref.id, "productId": ref.product_id, "slug": ref.slug})
    if chosen == "id":
        pk = decode_into(problems, ref.id, "Bundle", (*path, "id"))
        return None if pk is None else BundleRef(id=pk)
    if chosen == "productId":
        return BundleRef(product_id=ref.product_id)
    if chosen == "slug":
        return BundleRef(slug=ref.slug)
    return None


def user_ref(problems: ProblemList, ref: UserRefInput, path: tuple[str, ...]) -> UserRef | None:
    chosen = _exactly_one(problems, path, {"id": ref.id, "email": ref.email, "externalId": ref.external_id})
    if chosen == "id":
        pk = decode_into(problems, ref.id, "User", (*path, "id"))
        return None if pk is None else UserRef(id=pk)
    if chosen == "email":
        return UserRef(email=ref.email)
    if chosen == "externalId":
        return UserRef(external_id=ref.external_id)
    return None


def product_ref(problems: ProblemList, ref: ProductRefInput, path: tuple[str, ...]) -> ProductRef | None:
    chosen = _exactly_one(problems, path, {"id": ref.id, "productId": ref.product_id})
    if chosen == "id":
        assert ref.id is not None
        decoded = try_decode_product_id(ref.id)
        if decoded is None:
            problems.add((*path, "id"), "is not a product id")
            return None
        return ProductRef(id=decoded[1], kind=decoded[0])
    if chosen == "productId":
        return ProductRef(product_id=ref.product_id)
    return None


def item_refs(
    problems: ProblemList, items: list[BundleItemInput], path: tuple[str, ...]
) -> list[ItemRef | None]:
    """One entry per input item, None where the item could not be read (noted in ``problems``)."""
    refs: list[ItemRef | None] = []
    for index, item in enumerate(items):
        item_path = (*path, str(index))
        ref = None
        chosen = _exactly_one(problems, item_path, {"course": item.course, "product": item.product})
        if chosen == "course":
            course_pk = decode_into(problems, item.course, "Course", (*item_path, "course"))
            ref = None if course_pk is None else ItemRef(course_id=course_pk)
        elif chosen == "product":
            assert item.product is not None
            decoded = try_decode_product_id(item.product)
            if decoded is None:
                problems.add((*item_path, "product"), "is not a product id")
            else:
                ref = ItemRef(product_pk=decoded[1], product_kind=decoded[0])
        refs.append(ref)
    return refs
