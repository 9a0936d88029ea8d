from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy import select

from gql_progress.api.context import Info
from gql_progress.api.error_data import error_from, validation_error
from gql_progress.api.inputs.bundles import (
    BundleProgressRequestInput,
    BundleRefInput,
    UserRefInput,
    bundle_ref,
    user_ref,
)
from gql_progress.api.inputs.one_of import require_one_argument
from gql_progress.api.pagination import (
    AfterArgument,
    BeforeArgument,
    Connection,
    FirstArgument,
    LastArgument,
    page_request,
    paginate,
)
from gql_progress.api.raises import raises
from gql_progress.api.subjects import caller_identity
from gql_progress.api.types.bundle import Bundle
from gql_progress.api.types.bundle_progress import BundleProgress, BundleProgressResult
from gql_progress.api.types.enums import ProductKind
from gql_progress.api.types.errors import ForbiddenError, NotEnrolledError, NotFoundError, ValidationError
from gql_progress.api.types.product import Product, product_from_row, try_decode_product_id
from gql_progress.db.models import Bundle as BundleModel
from gql_progress.db.models import Product as ProductModel
from gql_progress.db.rows import BundleRow, ProductRow, columns, first
from gql_progress.domain.bundle_progress import (
    MAX_BATCH,
    BundleProgressOutcome,
    Request,
    bundle_progress_batch,
)
from gql_progress.domain.errors import (
    DomainError,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotEnrolled,
    NotFound,
    ProblemList,
)
from gql_progress.domain.ids import decode_id
from gql_progress.domain.text import contains_nul


@strawberry.type
class BundleQueries:
    @strawberry.field(
        description="A bundle by exactly one of id, productId or slug; null when there is none."
    )
    async def bundle(
        self,
        info: Info,
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        product_id: Annotated[
            str | None, strawberry.argument(description="The platform's product id.")
        ] = None,
        slug: Annotated[str | None, strawberry.argument(description="The bundle's slug.")] = None,
    ) -> Bundle | None:
        require_one_argument({"id": id, "productId": product_id, "slug": slug})
        if id is not None:
            row = await info.context.loaders.bundle_by_id.load(decode_id(id, "Bundle", ("id",)))
        elif contains_nul(product_id) or contains_nul(slug):
            row = None  # none holds U+0000, and PostgreSQL would refuse to compare it
        else:
            condition = (
                BundleModel.product_id == product_id if product_id is not None else BundleModel.slug == slug
            )
            async with info.context.db.read() as conn:
                row = first(BundleRow, await conn.execute(select(*columns(BundleRow)).where(condition)))
        return None if row is None else Bundle.from_row(row)

    @strawberry.field(description="All bundles, in creation order, a page at a time.")
    async def bundles(
        self,
        info: Info,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[Bundle]:
        page = page_request(info, first, after, last, before)
        return await paginate(
            info, select(*columns(BundleRow)), BundleRow, BundleModel.id, page, Bundle.from_row
        )

    @strawberry.field(description="A product by exactly one of id or productId; null when there is none.")
    async def product(
        self,
        info: Info,
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        product_id: Annotated[
            str | None, strawberry.argument(description="The platform's product id.")
        ] = None,
    ) -> Product | None:
        require_one_argument({"id": id, "productId": product_id})
        if id is not None:
            decoded = try_decode_product_id(id)
            if decoded is None:
                raise InvalidInput([FieldProblem(("id",), "is not a product id")])
            row = await info.context.loaders.product_by_id.load(decoded[1])
            if row is not None and row.kind != decoded[0]:
                row = None
        elif contains_nul(product_id):
            row = None  # none holds U+0000, and PostgreSQL would refuse to compare it
        else:
            async with info.context.db.read() as conn:
                row = first(
                    ProductRow,
                    await conn.execute(
                        select(*columns(ProductRow)).where(ProductModel.product_id == product_id)
                    ),
                )
        return None if row is None else product_from_row(row)

    @strawberry.field(description="All products (not courses), in creation order, a page at a time.")
    async def products(
        self,
        info: Info,
        kind: Annotated[
            ProductKind | None, strawberry.argument(description="Only products of this kind.")
        ] = None,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> Connection[Product]:
        page = page_request(info, first, after, last, before)
        query = select(*columns(ProductRow))
        if kind is not None:
            query = query.where(ProductModel.kind == kind.value)
        return await paginate(info, query, ProductRow, ProductModel.id, page, product_from_row)

    @strawberry.field(
        description=(
            "Where a learner stands in a bundle, asked with the platform's own identifiers. "
            "Learners may ask only about themselves; admins about anyone."
        )
    )
    @raises(InvalidInput, NotFound, NotEnrolled, Forbidden)
    async def bundle_progress(
        self,
        info: Info,
        bundle: Annotated[BundleRefInput, strawberry.argument(description="The bundle.")],
        user: Annotated[
            UserRefInput | None, strawberry.argument(description="The learner; null means the caller.")
        ] = None,
    ) -> BundleProgressResult:
        problems = ProblemList()
        bundle_key = bundle_ref(problems, bundle, ("bundle",))
        user_key = None if user is None else user_ref(problems, user, ("user",))
        bundle_key = problems.read_or_raise(bundle_key)
        (outcome,) = await bundle_progress_batch(
            info.context.db, info.context.viewer, await caller_identity(info), [(bundle_key, user_key)]
        )
        if isinstance(outcome, DomainError):
            raise outcome
        return BundleProgress.from_domain(outcome)

    @strawberry.field(
        description=(
            f"bundleProgress for up to {MAX_BATCH} (bundle, user) pairs at once: one result per "
            "request, in order, each the progress or the error of that pair alone. Costs a constant "
            "number of SQL statements whatever the number of pairs."
        )
    )
    async def bundle_progress_batch(
        self,
        info: Info,
        requests: Annotated[
            list[BundleProgressRequestInput], strawberry.argument(description=f"Up to {MAX_BATCH} pairs.")
        ],
    ) -> list[BundleProgressResult]:
        if len(requests) > MAX_BATCH:
            raise InvalidInput([FieldProblem(("requests",), f"at most {MAX_BATCH} requests")])
        refused: dict[int, BundleProgressResult] = {}
        valid: list[tuple[int, Request]] = []
        for index, request in enumerate(requests):
            problems = ProblemList()
            path = ("requests", str(index))
            bundle = bundle_ref(problems, request.bundle, (*path, "bundle"))
            user = None if request.user is None else user_ref(problems, request.user, (*path, "user"))
            if problems.problems or bundle is None:
                refused[index] = validation_error(InvalidInput(problems.problems), ())
            else:
                valid.append((index, (bundle, user)))
        outcomes = await bundle_progress_batch(
            info.context.db,
            info.context.viewer,
            await caller_identity(info),
            [request for _, request in valid],
        )
        answered = {index: _result(outcome) for (index, _), outcome in zip(valid, outcomes, strict=True)}
        return [refused[index] if index in refused else answered[index] for index in range(len(requests))]


def _result(outcome: BundleProgressOutcome) -> BundleProgressResult:
    """One pair's answer: its progress, or its error as the union's member for it."""
    if not isinstance(outcome, DomainError):
        return BundleProgress.from_domain(outcome)
    error = error_from(outcome, input_path=())
    if isinstance(error, ValidationError | NotFoundError | NotEnrolledError | ForbiddenError):
        return error
    raise outcome  # not a member of the union: the error policy reports it
