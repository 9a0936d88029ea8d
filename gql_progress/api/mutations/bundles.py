from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.inputs.bundles import (
    BUNDLE_COLUMNS,
    PRODUCT_COLUMNS,
    BundleItemInput,
    BundleRefInput,
    CreateBundleInput,
    CreateProductInput,
    SetProductCompletionInput,
    UpdateBundleInput,
    UpdateProductInput,
    UserRefInput,
    bundle_ref,
    item_refs,
    product_ref,
    user_ref,
)
from gql_progress.api.inputs.given import given_columns
from gql_progress.api.raises import raises
from gql_progress.api.subjects import caller_identity
from gql_progress.api.types.bundle import Bundle
from gql_progress.api.types.errors import (
    ConflictError,
    ForbiddenError,
    NotEnrolledError,
    NotFoundError,
    ValidationError,
)
from gql_progress.api.types.product import Product, product_from_row, try_decode_product_id
from gql_progress.domain import bundles
from gql_progress.domain.errors import (
    Conflict,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotEnrolled,
    NotFound,
    ProblemList,
)
from gql_progress.domain.ids import decode_id, decode_into

_FAILURES = ValidationError | ConflictError | NotFoundError | ForbiddenError


@strawberry.type(description="The product as saved.")
class ProductPayload:
    product: Product = strawberry.field(description="The product after the change.")


@strawberry.type(description="The bundle as saved.")
class BundlePayload:
    bundle: Bundle = strawberry.field(description="The bundle after the change.")


@strawberry.type(description="The bundle enrollment, new or existing.")
class EnrollInBundlePayload:
    bundle: Bundle = strawberry.field(description="The bundle.")
    enrolled_at: datetime = strawberry.field(description="When the user was enrolled in the bundle.")
    created: bool = strawberry.field(
        description="False when the user was already enrolled (the first enrollment is kept)."
    )


@strawberry.type(description="A product's consumed mark for a learner, as saved.")
class ProductCompletionPayload:
    product: Product = strawberry.field(description="The product.")
    completed: bool = strawberry.field(description="Whether the learner consumed it.")
    completed_at: datetime | None = strawberry.field(
        description="When it turned completed (kept while it stays completed); null when not completed."
    )


ProductResult = Annotated[
    ProductPayload | _FAILURES,
    strawberry.union("ProductResult", description="The saved product, or why nothing was saved."),
]
BundleResult = Annotated[
    BundlePayload | _FAILURES,
    strawberry.union("BundleResult", description="The saved bundle, or why nothing was saved."),
]
EnrollInBundleResult = Annotated[
    EnrollInBundlePayload | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("EnrollInBundleResult", description="The bundle enrollment, or why there is none."),
]
ProductCompletionResult = Annotated[
    ProductCompletionPayload | ValidationError | NotFoundError | NotEnrolledError | ForbiddenError,
    strawberry.union("ProductCompletionResult", description="The saved mark, or why nothing was saved."),
]


@strawberry.type
class BundleMutations:
    @strawberry.mutation(description="Create a product that is not a course (admin).")
    @raises(InvalidInput, Conflict, NotFound, Forbidden)
    async def create_product(
        self,
        info: Info,
        input: Annotated[CreateProductInput, strawberry.argument(description="What to write.")],
    ) -> ProductResult:
        info.context.viewer.require_admin()
        row = await bundles.create_product(info.context.db, given_columns(input, PRODUCT_COLUMNS))
        return ProductPayload(product=product_from_row(row))

    @strawberry.mutation(description="Change a product's fields (admin).")
    @raises(InvalidInput, Conflict, NotFound, Forbidden)
    async def update_product(
        self,
        info: Info,
        input: Annotated[UpdateProductInput, strawberry.argument(description="What to write.")],
    ) -> ProductResult:
        info.context.viewer.require_admin()
        decoded = try_decode_product_id(input.id)
        if decoded is None:
            raise InvalidInput([FieldProblem(("id",), "is not a product id")])
        kind, pk = decoded
        columns = given_columns(input, [c for c in PRODUCT_COLUMNS if c != "kind"])
        row = await bundles.update_product(info.context.db, pk, columns, kind=kind)
        return ProductPayload(product=product_from_row(row))

    @strawberry.mutation(description="Create a bundle, optionally with its items (admin).")
    @raises(InvalidInput, Conflict, NotFound, Forbidden)
    async def create_bundle(
        self,
        info: Info,
        input: Annotated[CreateBundleInput, strawberry.argument(description="What to write.")],
    ) -> BundleResult:
        info.context.viewer.require_admin()
        problems = ProblemList()
        items = None if input.items is None else item_refs(problems, input.items, ("items",))
        values = given_columns(input, BUNDLE_COLUMNS)
        row = await bundles.create_bundle(info.context.db, values, items, reported=problems)
        return BundlePayload(bundle=Bundle.from_row(row))

    @strawberry.mutation(description="Change a bundle's own fields (admin).")
    @raises(InvalidInput, Conflict, NotFound, Forbidden)
    async def update_bundle(
        self,
        info: Info,
        input: Annotated[UpdateBundleInput, strawberry.argument(description="What to write.")],
    ) -> BundleResult:
        info.context.viewer.require_admin()
        pk = decode_id(input.id, "Bundle", ("id",))
        row = await bundles.update_bundle(info.context.db, pk, given_columns(input, BUNDLE_COLUMNS))
        return BundlePayload(bundle=Bundle.from_row(row))

    @strawberry.mutation(
        description=(
            "Replace a bundle's items with this ordered list (admin): add, remove and reorder in one "
            "call. Learners already enrolled in the bundle are enrolled in its new courses."
        )
    )
    @raises(InvalidInput, Conflict, NotFound, Forbidden)
    async def set_bundle_items(
        self,
        info: Info,
        bundle_id: Annotated[strawberry.ID, strawberry.argument(description="The bundle.")],
        items: Annotated[
            list[BundleItemInput], strawberry.argument(description="Every item, in order (up to 200).")
        ],
    ) -> BundleResult:
        info.context.viewer.require_admin()
        problems = ProblemList()
        pk = decode_into(problems, bundle_id, "Bundle", ("bundleId",))
        refs = item_refs(problems, items, ("items",))
        # A bundleId that did not decode is among the reported problems: nothing is looked up.
        row = await bundles.set_bundle_items(info.context.db, pk or 0, refs, reported=problems)
        return BundlePayload(bundle=Bundle.from_row(row))

    @strawberry.mutation(
        description=(
            "Enroll a user in a bundle and in each of its courses (admin). Courses the user is "
            "already enrolled in keep their enrollment; enrolling again returns the first one."
        )
    )
    @raises(InvalidInput, NotFound, Forbidden)
    async def enroll_in_bundle(
        self,
        info: Info,
        bundle: Annotated[BundleRefInput, strawberry.argument(description="The bundle.")],
        user: Annotated[UserRefInput, strawberry.argument(description="The user to enroll.")],
    ) -> EnrollInBundleResult:
        info.context.viewer.require_admin()
        problems = ProblemList()
        bundle_key = bundle_ref(problems, bundle, ("bundle",))
        user_key = user_ref(problems, user, ("user",))
        bundle_key = problems.read_or_raise(bundle_key)
        user_key = problems.read_or_raise(user_key)
        row, created = await bundles.enroll_in_bundle(info.context.db, bundle_key, user_key)
        bundle_row = await info.context.loaders.bundle_by_id.load(row.bundle_id)
        if bundle_row is None:  # deleted in between: report it rather than crash
            raise NotFound("bundle")
        return EnrollInBundlePayload(
            bundle=Bundle.from_row(bundle_row), enrolled_at=row.enrolled_at, created=created
        )

    @strawberry.mutation(
        description=(
            "Mark a non-course product consumed or not (attended the live event, downloaded the "
            "ebook). Needs an enrollment in a bundle that holds it. completedAt is set when completed "
            "turns true, kept while it stays true, cleared when it turns false."
        )
    )
    @raises(InvalidInput, NotFound, NotEnrolled, Forbidden)
    async def set_product_completion(
        self,
        info: Info,
        input: Annotated[SetProductCompletionInput, strawberry.argument(description="What to write.")],
    ) -> ProductCompletionResult:
        problems = ProblemList()
        product_key = product_ref(problems, input.product, ("product",))
        user_key = None if input.user is None else user_ref(problems, input.user, ("user",))
        product_key = problems.read_or_raise(product_key)
        row = await bundles.set_product_completion(
            info.context.db,
            info.context.viewer,
            await caller_identity(info),
            product_key,
            user_key,
            input.completed,
        )
        product_row = await info.context.loaders.product_by_id.load(row.product_pk)
        assert product_row is not None
        return ProductCompletionPayload(
            product=product_from_row(product_row), completed=row.completed, completed_at=row.completed_at
        )
