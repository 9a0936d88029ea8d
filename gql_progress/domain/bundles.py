"""Admin writes for what platforms sell: products, bundles and their items, bundle enrollments;
and the learner's "consumed it" mark on a product."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.dialect import insert_for
from gql_progress.db.engine import Database
from gql_progress.db.models import (
    Bundle,
    BundleEnrollment,
    BundleItem,
    Course,
    Enrollment,
    EnrollmentStatus,
    Product,
    ProductCompletion,
    ProductKind,
)
from gql_progress.db.rows import (
    BundleEnrollmentRow,
    BundleRow,
    ProductCompletionRow,
    ProductRow,
    columns,
    first,
    one,
)
from gql_progress.db.types import utcnow
from gql_progress.domain.catalog import (
    check_slug,
    check_text,
    insert_returning,
    refuse_nul,
    refuse_null,
    unique_or_conflict,
    update_returning,
)
from gql_progress.domain.errors import NotEnrolled, NotFound, ProblemList
from gql_progress.domain.refs import (
    BundleRef,
    Identity,
    ProductRef,
    UserRef,
    resolve_bundle,
    resolve_product,
    resolve_subject,
    users_by_ref,
)
from gql_progress.domain.viewer import Viewer

MAX_BUNDLE_ITEMS = 200


@dataclass(frozen=True)
class ItemRef:
    """One requested bundle item: exactly one of a course or a product (primary keys)."""

    course_id: int | None = None
    product_pk: int | None = None
    # The kind the client's id named; it must be the product's (ids never name another kind).
    product_kind: ProductKind | None = None


# --- products --------------------------------------------------------------------------------


def _validate_product(values: Mapping[str, Any]) -> dict[str, Any]:
    problems = ProblemList()
    check_text(problems, values, "title", 500)
    check_text(problems, values, "product_id", 255)
    refuse_null(problems, values, ("kind", "description"))
    refuse_nul(problems, values)
    problems.raise_if_any()
    return dict(values)


async def create_product(db: Database, values: Mapping[str, Any]) -> ProductRow:
    cleaned = _validate_product(values)
    now = utcnow()
    async with db.write() as conn:
        await unique_or_conflict(conn, Product.product_id, cleaned["product_id"], None, "productId")
        return await insert_returning(
            conn, ProductRow, {"description": "", **cleaned, "created_at": now, "updated_at": now}
        )


async def update_product(
    db: Database, product_pk: int, values: Mapping[str, Any], *, kind: ProductKind
) -> ProductRow:
    """``kind`` is the kind the client's id named: a product of another kind is not found."""
    cleaned = _validate_product(values)
    async with db.write() as conn:
        found = await conn.scalar(select(Product.kind).where(Product.id == product_pk))
        if found != kind:
            raise NotFound("product")
        if "product_id" in cleaned:
            await unique_or_conflict(conn, Product.product_id, cleaned["product_id"], product_pk, "productId")
        return await update_returning(
            conn, ProductRow, product_pk, {**cleaned, "updated_at": utcnow()}, "product"
        )


# --- bundles ---------------------------------------------------------------------------------


def bundle_problems(values: Mapping[str, Any]) -> ProblemList:
    """Every problem with a bundle's own fields, under their column names."""
    problems = ProblemList()
    check_text(problems, values, "title", 500)
    check_text(problems, values, "product_id", 255)
    check_slug(problems, values, "data-science-track")
    refuse_null(problems, values, ("description",))
    refuse_nul(problems, values)
    return problems


# Items arrive as a list aligned with the client's: None marks an entry the API layer could not
# read (a malformed id), already among the ``reported`` problems. Everything wrong with a request
# is reported at once, so the checks below add to those problems rather than raise first.
Items = Sequence[ItemRef | None]


async def create_bundle(
    db: Database, values: Mapping[str, Any], items: Items | None = None, reported: ProblemList | None = None
) -> BundleRow:
    problems = reported or ProblemList()
    problems.problems += bundle_problems(values).problems
    now = utcnow()
    async with db.write() as conn:
        if items is not None:
            await _check_items(conn, problems, items)
        problems.raise_if_any()
        await unique_or_conflict(conn, Bundle.product_id, values["product_id"], None, "productId")
        await unique_or_conflict(conn, Bundle.slug, values["slug"], None, "slug")
        row = await insert_returning(
            conn, BundleRow, {"description": "", **values, "created_at": now, "updated_at": now}
        )
        if items:
            await _replace_items(conn, row.id, items, now)
        return row


async def update_bundle(db: Database, bundle_id: int, values: Mapping[str, Any]) -> BundleRow:
    bundle_problems(values).raise_if_any()
    async with db.write() as conn:
        if "product_id" in values:
            await unique_or_conflict(conn, Bundle.product_id, values["product_id"], bundle_id, "productId")
        if "slug" in values:
            await unique_or_conflict(conn, Bundle.slug, values["slug"], bundle_id, "slug")
        return await update_returning(
            conn, BundleRow, bundle_id, {**values, "updated_at": utcnow()}, "bundle"
        )


async def set_bundle_items(
    db: Database, bundle_id: int, items: Items, reported: ProblemList | None = None
) -> BundleRow:
    """Replace the bundle's items with ``items``, in that order."""
    problems = reported or ProblemList()
    now = utcnow()
    async with db.write() as conn:
        await _check_items(conn, problems, items)
        problems.raise_if_any()
        # Locking the bundle row serialises concurrent edits of one bundle's items.
        bundle = (
            await conn.execute(select(*Bundle.__table__.c).where(Bundle.id == bundle_id).with_for_update())
        ).first()
        if bundle is None:
            raise NotFound("bundle")
        await _replace_items(conn, bundle_id, items, now)
        return one(
            BundleRow,
            await conn.execute(
                update(Bundle)
                .where(Bundle.id == bundle_id)
                .values(updated_at=now)
                .returning(*columns(BundleRow))
            ),
        )


async def _check_items(conn: AsyncConnection, problems: ProblemList, items: Items) -> None:
    """Add every problem with ``items``: too many, not exactly one of course/product, repeated,
    naming no course or no product of the kind the id said."""
    if len(items) > MAX_BUNDLE_ITEMS:
        problems.add(("items",), f"at most {MAX_BUNDLE_ITEMS} items")
        return  # the list as a whole is refused: looking up each of its entries is wasted work
    course_ids = [i.course_id for i in items if i is not None and i.course_id is not None]
    product_pks = [i.product_pk for i in items if i is not None and i.product_pk is not None]
    found_courses = set((await conn.execute(select(Course.id).where(Course.id.in_(course_ids)))).scalars())
    products = await conn.execute(select(Product.id, Product.kind).where(Product.id.in_(product_pks)))
    found_products = dict(products.all())
    seen: set[ItemRef] = set()
    for index, item in enumerate(items):
        path = ("items", str(index))
        if item is None:
            continue
        if (item.course_id is None) == (item.product_pk is None):
            problems.add(path, "give exactly one of course, product")
        elif item.course_id is not None and item.course_id not in found_courses:
            problems.add(path, "names no course")
        elif item.product_pk is not None and found_products.get(item.product_pk) != item.product_kind:
            problems.add(path, "names no product")
        elif item in seen:
            problems.add(path, "is already in the bundle")
        seen.add(item)


async def _replace_items(conn: AsyncConnection, bundle_id: int, items: Items, now: datetime) -> None:
    """Write checked items (see _check_items) in place of the bundle's."""
    await conn.execute(delete(BundleItem).where(BundleItem.bundle_id == bundle_id))
    if items:
        await conn.execute(
            insert(BundleItem),
            [
                {
                    "bundle_id": bundle_id,
                    "position": position,
                    "course_id": item.course_id,
                    "product_pk": item.product_pk,
                }
                for position, item in enumerate(items)
                if item is not None  # unreachable after _check_items; keeps the types honest
            ],
        )
    # Learners already in the bundle get its new courses too, as if they had enrolled today.
    await _enroll_bundle_learners(conn, bundle_id, now)


async def _enroll_bundle_learners(
    conn: AsyncConnection, bundle_id: int, now: datetime, user_id: int | None = None
) -> None:
    """Enroll the bundle's learners (or just ``user_id``) in each of its courses, set-based;
    an existing course enrollment is kept as it is."""
    learners = select(BundleEnrollment.user_id, BundleItem.course_id).join(
        BundleItem, BundleItem.bundle_id == BundleEnrollment.bundle_id
    )
    learners = learners.where(BundleEnrollment.bundle_id == bundle_id, BundleItem.course_id.is_not(None))
    if user_id is not None:
        learners = learners.where(BundleEnrollment.user_id == user_id)
    rows = learners.add_columns(literal(now).label("enrolled_at"), literal(EnrollmentStatus.ACTIVE.value))
    statement = (
        insert_for(conn, Enrollment.__table__)
        .from_select(["user_id", "course_id", "enrolled_at", "status"], rows)
        .on_conflict_do_nothing(index_elements=["user_id", "course_id"])
    )
    await conn.execute(statement)


async def enroll_in_bundle(
    db: Database, bundle: BundleRef, user: UserRef
) -> tuple[BundleEnrollmentRow, bool]:
    """Enroll the user in the bundle and each of its courses. Returns (bundle enrollment, created);
    enrolling again keeps the first enrollment, and course enrollments that exist are kept."""
    now = utcnow()
    async with db.write() as conn:
        bundle_id = (await resolve_bundle(conn, bundle)).id
        user_id = (await users_by_ref(conn, [user])).get(user)
        if user_id is None:
            raise NotFound("user")
        created = first(
            BundleEnrollmentRow,
            await conn.execute(
                insert_for(conn, BundleEnrollment.__table__)
                .values(user_id=user_id, bundle_id=bundle_id, enrolled_at=now)
                .on_conflict_do_nothing(index_elements=["user_id", "bundle_id"])
                .returning(*columns(BundleEnrollmentRow))
            ),
        )
        await _enroll_bundle_learners(conn, bundle_id, now, user_id=user_id)
        if created is not None:
            return created, True
        existing = await conn.execute(
            select(*columns(BundleEnrollmentRow)).where(
                BundleEnrollment.user_id == user_id, BundleEnrollment.bundle_id == bundle_id
            )
        )
        return one(BundleEnrollmentRow, existing), False


# --- product completion ----------------------------------------------------------------------


async def set_product_completion(
    db: Database,
    viewer: Viewer,
    identity: Identity,
    product: ProductRef,
    user: UserRef | None,
    completed: bool,
) -> ProductCompletionRow:
    """Mark a product consumed (or not) for a learner enrolled in a bundle that holds it.

    completedAt follows the progress rules: set when it turns true, kept while true, cleared.
    """
    now = utcnow()
    async with db.write() as conn:
        user_id = await resolve_subject(conn, viewer, identity, user)
        product_pk = (await resolve_product(conn, product)).id
        holder = (
            await conn.execute(
                select(BundleEnrollment.id)
                .join(BundleItem, BundleItem.bundle_id == BundleEnrollment.bundle_id)
                .where(BundleEnrollment.user_id == user_id, BundleItem.product_pk == product_pk)
                .limit(1)
            )
        ).first()
        if holder is None:
            raise NotEnrolled("The user is not enrolled in a bundle that holds this product")
        table = ProductCompletion.__table__
        statement = insert_for(conn, table).values(
            user_id=user_id,
            product_pk=product_pk,
            completed=completed,
            completed_at=now if completed else None,
            updated_at=now,
        )
        old = table.c  # in ON CONFLICT … DO UPDATE, the table's columns are the existing row
        statement = statement.on_conflict_do_update(
            index_elements=["user_id", "product_pk"],
            set_={
                "completed": statement.excluded.completed,
                "completed_at": case(
                    (statement.excluded.completed.is_(False), None),
                    (old.completed.is_(True), old.completed_at),
                    else_=statement.excluded.completed_at,
                ),
                "updated_at": now,
            },
        ).returning(*columns(ProductCompletionRow))
        return one(ProductCompletionRow, await conn.execute(statement))
