"""Objects named by the identifiers outside systems use: bundle product id or slug, user email
or external id, product id, lesson external id. Each ref names exactly one identifier (the API
layer checks that)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.models import Bundle, Lesson, Product, ProductKind, User
from gql_progress.db.rows import BundleRow, ProductRow, columns, every, first
from gql_progress.domain.catalog import normalize_email
from gql_progress.domain.errors import Forbidden, NotFound
from gql_progress.domain.text import contains_nul
from gql_progress.domain.viewer import Viewer


@dataclass(frozen=True)
class BundleRef:
    """Exactly one of these is set (the API layer checks that)."""

    id: int | None = None
    product_id: str | None = None
    slug: str | None = None


@dataclass(frozen=True)
class UserRef:
    """Exactly one of these is set (the API layer checks that)."""

    id: int | None = None
    email: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class LessonRef:
    """Exactly one of these is set (the API layer checks that)."""

    id: int | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class Identity:
    """The caller's own identifiers, to recognise a learner asking about themselves."""

    id: int
    email: str
    external_id: str


def is_self(user: UserRef, identity: Identity) -> bool:
    if user.id is not None:
        return user.id == identity.id
    if user.email is not None:
        return normalize_email(user.email) == identity.email
    return user.external_id == identity.external_id


def is_self_sql(caller: str, user: Sequence[str]) -> str:
    """is_self in SQL: the ref ``user`` (SQL of its id, normalised email and external id, null but
    the one given) names the row of ``caller``'s id; false when all three are null."""
    return f"EXISTS (SELECT 1 FROM users rs WHERE rs.id = {caller}.id AND {user_named_sql('rs', user)})"


def user_named_sql(alias: str, user: Sequence[str]) -> str:
    """users_by_ref's match in SQL: the users row ``alias`` is the one the ref ``user`` names."""
    user_pk, email, external_id = user
    return f"({alias}.id = {user_pk} OR {alias}.email = {email} OR {alias}.external_id = {external_id})"


def names(column: Any, value: Any) -> ColumnElement[bool]:
    """``column = value`` for an identifier a caller sent; a value holding U+0000 names nothing.

    No identifier can hold it (PostgreSQL's text cannot store it) and PostgreSQL refuses to
    even compare it, which would turn a lookup of nothing into an internal error.
    """
    return false() if contains_nul(value) else column == value


def _any_of(*conditions: tuple[Any, list[Any]]) -> ColumnElement[bool]:
    usable = [(column, [v for v in values if not contains_nul(v)]) for column, values in conditions]
    matches = [column.in_(values) for column, values in usable if values]
    return or_(*matches) if matches else false()


async def bundles_by_ref(conn: AsyncConnection, refs: Sequence[BundleRef]) -> dict[BundleRef, BundleRow]:
    ids = [r.id for r in refs if r.id is not None]
    product_ids = [r.product_id for r in refs if r.product_id is not None]
    slugs = [r.slug for r in refs if r.slug is not None]
    rows = every(
        BundleRow,
        await conn.execute(
            select(*columns(BundleRow)).where(
                _any_of((Bundle.id, ids), (Bundle.product_id, product_ids), (Bundle.slug, slugs))
            )
        ),
    )
    found: dict[BundleRef, BundleRow] = {}
    for row in rows:
        found[BundleRef(id=row.id)] = row
        found[BundleRef(product_id=row.product_id)] = row
        found[BundleRef(slug=row.slug)] = row
    return found


async def users_by_ref(conn: AsyncConnection, refs: Sequence[UserRef]) -> dict[UserRef, int]:
    if not refs:
        return {}
    ids = [r.id for r in refs if r.id is not None]
    emails = [normalize_email(r.email) for r in refs if r.email is not None]
    external_ids = [r.external_id for r in refs if r.external_id is not None]
    rows = await conn.execute(
        select(User.id, User.email, User.external_id).where(
            _any_of((User.id, ids), (User.email, emails), (User.external_id, external_ids))
        )
    )
    by_id = {}
    by_email = {}
    by_external_id = {}
    for row in rows:
        by_id[row.id] = row.id
        by_email[row.email] = row.id
        by_external_id[row.external_id] = row.id
    found: dict[UserRef, int] = {}
    for ref in refs:
        if ref.id is not None:
            user_id = by_id.get(ref.id)
        elif ref.email is not None:
            user_id = by_email.get(normalize_email(ref.email))
        else:
            user_id = by_external_id.get(ref.external_id)
        if user_id is not None:
            found[ref] = user_id
    return found


async def lessons_by_ref(conn: AsyncConnection, refs: Sequence[LessonRef]) -> dict[LessonRef, int]:
    """The lesson id each ref names, in one statement; refs that name no lesson are left out.

    Removed lessons are found too: callers decide what a removed lesson means to them, exactly
    as they do for a lesson named by its id.
    """
    external_ids = sorted({r.external_id for r in refs if r.external_id is not None})
    found: dict[LessonRef, int] = {r: r.id for r in refs if r.id is not None}
    if external_ids:
        rows = await conn.execute(
            select(Lesson.id, Lesson.external_id).where(_any_of((Lesson.external_id, list(external_ids))))
        )
        for row in rows:
            found[LessonRef(external_id=row.external_id)] = row.id
    return found


@dataclass(frozen=True)
class ProductRef:
    id: int | None = None
    product_id: str | None = None
    kind: ProductKind | None = None  # with an id: the kind the id named, which must match


async def resolve_bundle(conn: AsyncConnection, ref: BundleRef) -> BundleRow:
    found = (await bundles_by_ref(conn, [ref])).get(ref)
    if found is None:
        raise NotFound("bundle")
    return found


async def resolve_product(conn: AsyncConnection, ref: ProductRef) -> ProductRow:
    condition = Product.id == ref.id if ref.id is not None else names(Product.product_id, ref.product_id)
    found = first(ProductRow, await conn.execute(select(*columns(ProductRow)).where(condition)))
    if found is None or (ref.kind is not None and found.kind != ref.kind):
        raise NotFound("product")
    return found


async def resolve_subject(
    conn: AsyncConnection, viewer: Viewer, identity: Identity, ref: UserRef | None
) -> int:
    """The user a request is about: the caller (no ref, or a ref naming them), or for an admin
    whoever the ref names. A learner naming anyone else is refused before any lookup."""
    if ref is None or is_self(ref, identity):
        return identity.id
    if not viewer.is_admin:
        raise Forbidden()
    found = (await users_by_ref(conn, [ref])).get(ref)
    if found is None:
        raise NotFound("user")
    return found
