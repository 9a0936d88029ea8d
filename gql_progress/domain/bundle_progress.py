"""Bundle progress: where each learner stands in everything a bundle sold them.

Platforms ask with their own identifiers (bundle product id or slug; user email or external id),
many pairs at once. A batch costs a constant number of statements whatever its size, and every
pair gets its own answer: one unknown bundle never fails the others.

How a bundle's items roll up (an item's fraction done and whether it is complete, the two means)
is written twice side by side: in Python for the resolvers and as SQL twins (``…_sql``) for the
compiled reads (api/compiled/declarations.py); tests/test_bundle_progress_twins.py holds them to
the same answers on PostgreSQL.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gql_progress.db.engine import Database
from gql_progress.db.models import (
    BundleEnrollment,
    BundleItem,
    Course,
    Lesson,
    LessonProgress,
    Product,
    ProductCompletion,
    ProductKind,
)
from gql_progress.db.rows import BundleRow, check_reads, every
from gql_progress.domain.completion.summary import CourseCounts, counted_lessons, is_complete_sql, summarize
from gql_progress.domain.errors import DomainError, Forbidden, NotEnrolled, NotFound
from gql_progress.domain.refs import (
    BundleRef,
    Identity,
    UserRef,
    bundles_by_ref,
    is_self,
    is_self_sql,
    user_named_sql,
    users_by_ref,
)
from gql_progress.domain.text import contains_nul
from gql_progress.domain.viewer import Viewer

MAX_BATCH = 100


@dataclass(frozen=True)
class CourseItemProgress:
    position: int
    course_id: int
    product_id: str | None
    expected_completion_days: int | None
    completion_percentage: float
    completed: bool
    # done / needed lessons, unrounded: the bundle's means round once, not twice.
    fraction_done: float


@dataclass(frozen=True)
class ProductItemProgress:
    position: int
    product_pk: int
    product_id: str
    kind: ProductKind
    completed: bool
    completed_at: datetime | None


ItemProgress = CourseItemProgress | ProductItemProgress


@dataclass(frozen=True)
class BundleProgress:
    bundle: BundleRow
    user_id: int
    enrolled_at: datetime
    items: list[ItemProgress]

    @property
    def completion_percentage(self) -> float:
        """The mean of the course items' percentages; 0 for a bundle without courses."""
        courses = [i for i in self.items if isinstance(i, CourseItemProgress)]
        return _mean_percentage(
            [i.fraction_done for i in courses], all_done=all(i.completed for i in courses)
        )

    @property
    def weighted_completion_percentage(self) -> float:
        """The mean over every item, a consumed product counting 100 and another 0."""
        return _mean_percentage(
            [item_fraction(i) for i in self.items], all_done=all(i.completed for i in self.items)
        )


def course_item(
    position: int, counts: CourseCounts, product_id: str | None, expected_completion_days: int | None
) -> CourseItemProgress:
    """A course item from the learner's counts in the course (the summary's rules)."""
    summary = summarize(counts)
    return CourseItemProgress(
        position=position,
        course_id=counts.course_id,
        product_id=product_id,
        expected_completion_days=expected_completion_days,
        completion_percentage=summary.completion_percentage,
        completed=summary.is_complete,
        fraction_done=fraction_done(*counted_lessons(counts)),
    )


def fraction_done(done: int, needed: int) -> float:
    """A course item's share done: done / needed counted lessons, unrounded; 0 when none count."""
    return done / needed if needed else 0.0


def fraction_done_sql(done: str, needed: str) -> str:
    """fraction_done in SQL over two integer expressions: the same IEEE division, as a float8."""
    return f"(CASE WHEN {needed} <> 0 THEN ({done})::float8 / ({needed})::float8 ELSE 0::float8 END)"


def item_fraction(item: ItemProgress) -> float:
    """What an item adds to the weighted mean: a course its fraction done, a product 1 if consumed."""
    return item.fraction_done if isinstance(item, CourseItemProgress) else float(item.completed)


def item_fraction_sql(is_course: str, done: str, needed: str, consumed: str) -> str:
    """item_fraction in SQL: ``is_course`` chooses; a course's counted lessons (``done``,
    ``needed``), a product's ``consumed`` (a boolean)."""
    return (
        f"(CASE WHEN {is_course} THEN {fraction_done_sql(done, needed)} ELSE ({consumed})::int::float8 END)"
    )


def item_completed_sql(is_course: str, done: str, needed: str, consumed: str) -> str:
    """An item's ``completed`` in SQL: a course's summary is complete, a product was consumed."""
    return f"(CASE WHEN {is_course} THEN {is_complete_sql(done, needed)} ELSE {consumed} END)"


def _mean_percentage(fractions: Sequence[float], *, all_done: bool) -> float:
    if not fractions:
        return 0.0
    if all_done:
        return 100.0
    # As for courses, 100 means done: rounding must not turn 99.996 into 100.
    return min(99.99, round(sum(fractions) * 100.0 / len(fractions), 2))


def mean_percentage_sql(rows: str, fraction: str, completed: str, position: str) -> str:
    """_mean_percentage in SQL over the item rows ``rows`` (a FROM … WHERE): each row's
    ``fraction`` and ``completed``, summed in ``position`` order as Python's sum() adds the list
    (float8 addition, left to right: another order may differ in the last bit), then Python's
    round(…, 2)."""
    return (
        f"(SELECT CASE WHEN m.n = 0 THEN 0::float8 WHEN m.all_done THEN 100::float8 "
        f"ELSE least(99.99::float8, {_round_2_as_python('m.total * 100::float8 / m.n::float8')}) END "
        f"FROM (SELECT sum({fraction} ORDER BY {position}) AS total, count(*) AS n, "
        f"bool_and({completed}) AS all_done {rows}) m)"
    )


# 2^62: a float8 of at least 2^-10 times it is a whole number (its last bit is worth 2^-62 or more).
_SCALE = 2**62
_HALF_SCALE = 2**31


def _round_2_as_python(value: str) -> str:
    """Python's round(x, 2) of a float8 in [0, 128) in SQL: the exact binary value rounded to
    hundredths, ties to even, then read back as the nearest float8 (as Python's strtod does).

    PostgreSQL's float8 → numeric cast keeps 15 digits, not the exact value (2.675 is really
    2.67499999…, which Python rounds down), so the value is made exact first: x × 2^62 is a whole
    number below 2^69, split into two exact bigint halves and rejoined as numeric. Below 2^-10
    (under 0.005) the answer is 0."""
    return (
        f"(SELECT CASE WHEN r.x < {2.0**-10!r}::float8 THEN 0::float8 ELSE ((d.q + CASE "
        f"WHEN 2 * d.rest > {_SCALE} THEN 1 WHEN 2 * d.rest = {_SCALE} THEN mod(d.q, 2) ELSE 0 END)"
        "::numeric / 100)::float8 END "
        f"FROM (SELECT ({value})::float8 AS x) r "
        f"CROSS JOIN LATERAL (SELECT r.x * {_SCALE}::float8 AS a) s "
        f"CROSS JOIN LATERAL (SELECT floor(s.a / {_HALF_SCALE}::float8) AS hi) h "
        "CROSS JOIN LATERAL (SELECT (h.hi::bigint::numeric * "
        f"{_HALF_SCALE} + (s.a - h.hi * {_HALF_SCALE}::float8)::bigint) * 100 AS exact) e "
        f"CROSS JOIN LATERAL (SELECT div(e.exact, {_SCALE}) AS q, mod(e.exact, {_SCALE}) AS rest) d)"
    )


def product_consumed_at_sql(user_id: str, product_pk: str) -> str:
    """When the user consumed the product, NULL if not (_product_completions, one pair)."""
    return (
        f"(SELECT pc.completed_at FROM product_completions pc WHERE pc.user_id = {user_id} "
        f"AND pc.product_pk = {product_pk} AND pc.completed AND pc.completed_at IS NOT NULL)"
    )


BundleProgressOutcome = BundleProgress | DomainError
Request = tuple[BundleRef, UserRef | None]  # a None user means the caller


class Refusal(enum.IntEnum):
    """Why a pair has no progress, in the order bundle_progress_batch checks; its SQL twin
    ``pair_outcome_sql`` answers with the same numbers, and the compiled reads word each with
    ``error()``, so both paths say exactly the same."""

    OTHER_LEARNER = 0
    NO_BUNDLE = 1
    NO_USER = 2
    NOT_ENROLLED = 3

    def error(self) -> DomainError:
        if self is Refusal.OTHER_LEARNER:
            return Forbidden("You may ask only about your own progress")
        if self is Refusal.NO_BUNDLE:
            return NotFound("bundle")
        if self is Refusal.NO_USER:
            return NotFound("user")
        return NotEnrolled("The user is not enrolled in this bundle")


async def bundle_progress_batch(
    db: Database, viewer: Viewer, identity: Identity, requests: Sequence[Request]
) -> list[BundleProgressOutcome]:
    """One outcome per request, in order: the progress, or why there is none (a Refusal, its
    checks in the order of the members; pair_outcome_sql is the twin)."""
    outcomes: list[BundleProgressOutcome | None] = [None] * len(requests)
    async with db.read() as conn:
        bundles = await bundles_by_ref(conn, [bundle for bundle, _ in requests if _may_name_a_row(bundle)])
        # A learner may ask only about themselves, decided on the identity asked for and not on
        # whether it exists, so the answer reveals nothing about other users.
        users_asked = [None if user is None or is_self(user, identity) else user for _, user in requests]
        if not viewer.is_admin:
            for index, user in enumerate(users_asked):
                if user is not None:
                    outcomes[index] = Refusal.OTHER_LEARNER.error()
        users = await users_by_ref(
            conn, [u for u in users_asked if u is not None and viewer.is_admin and _may_name_a_row(u)]
        )

        pairs: dict[int, tuple[int, int]] = {}  # request index -> (user id, bundle id)
        for index, (bundle_ref, _) in enumerate(requests):
            if outcomes[index] is not None:
                continue
            bundle = bundles.get(bundle_ref)
            user_ref = users_asked[index]
            user_id = identity.id if user_ref is None else users.get(user_ref)
            if bundle is None:
                outcomes[index] = Refusal.NO_BUNDLE.error()
            elif user_id is None:
                outcomes[index] = Refusal.NO_USER.error()
            else:
                pairs[index] = (user_id, bundle.id)

        if pairs:
            progress = await _progress_of_pairs(conn, set(pairs.values()), bundles)
            for index, pair in pairs.items():
                outcomes[index] = progress.get(pair) or Refusal.NOT_ENROLLED.error()
    filled = [outcome for outcome in outcomes if outcome is not None]
    assert len(filled) == len(outcomes)  # every entry was filled above
    return filled


def pair_outcome_sql(caller: str, bundle: Sequence[str], user: Sequence[str]) -> str:
    """bundle_progress_batch's outcome of one request in SQL: one row of ``refusal`` (a
    Refusal's number; NULL when the pair has progress), ``bundle_id``, ``learner_id`` and
    ``enrolled_at``. ``bundle`` is the request's (id, product id, slug), ``user`` its (id,
    normalised email, external id), each null but the one given, all of ``user`` null for the
    caller; ``caller`` the row of the caller's id and is_admin. The CASE checks in the Python's
    order; a ref holding U+0000 never gets here (the compiled reads leave it to the resolvers)."""
    bundle_pk, product_id, slug = bundle
    user_pk, email, external_id = user
    asks_other = (
        f"(({user_pk} IS NOT NULL OR {email} IS NOT NULL OR {external_id} IS NOT NULL) "
        f"AND NOT {is_self_sql(caller, user)})"
    )
    return (
        f"SELECT CASE WHEN po.asks_other AND NOT {caller}.is_admin THEN {Refusal.OTHER_LEARNER.value} "
        f"WHEN po.bundle_id IS NULL THEN {Refusal.NO_BUNDLE.value} "
        f"WHEN po.learner_id IS NULL THEN {Refusal.NO_USER.value} "
        f"WHEN po_e.user_id IS NULL THEN {Refusal.NOT_ENROLLED.value} END AS refusal, "
        "po.bundle_id, po.learner_id, po_e.enrolled_at "
        "FROM (SELECT pa.asks_other, "
        f"(SELECT po_b.id FROM bundles po_b WHERE po_b.id = {bundle_pk} OR po_b.product_id = {product_id} "
        f"OR po_b.slug = {slug}) AS bundle_id, "
        f"CASE WHEN pa.asks_other THEN (SELECT po_u.id FROM users po_u WHERE {user_named_sql('po_u', user)}) "
        f"ELSE {caller}.id END AS learner_id "
        f"FROM (SELECT {asks_other} AS asks_other) pa) po "
        "LEFT JOIN bundle_enrollments po_e ON po_e.bundle_id = po.bundle_id AND po_e.user_id = po.learner_id"
    )


def _may_name_a_row(ref: BundleRef | UserRef) -> bool:
    """False for a ref holding U+0000: no stored identifier does (PostgreSQL cannot store it, and
    refuses to compare with it), so it names nothing, on both databases, and is left out of the
    lookups: one such ref in a batch must not fail the others."""
    return not any(contains_nul(value) for value in astuple(ref))


async def _progress_of_pairs(
    conn: AsyncConnection, pairs: set[tuple[int, int]], bundles: dict[BundleRef, BundleRow]
) -> dict[tuple[int, int], BundleProgress]:
    """The progress of each enrolled (user, bundle) pair; unenrolled pairs are left out."""
    user_ids = {u for u, _ in pairs}
    bundle_ids = {b for _, b in pairs}
    enrolled = {
        (row.user_id, row.bundle_id): row.enrolled_at
        for row in await conn.execute(
            select(BundleEnrollment.user_id, BundleEnrollment.bundle_id, BundleEnrollment.enrolled_at).where(
                BundleEnrollment.user_id.in_(user_ids), BundleEnrollment.bundle_id.in_(bundle_ids)
            )
        )
    }
    enrolled = {pair: at for pair, at in enrolled.items() if pair in pairs}
    if not enrolled:
        return {}
    items = await _items_of(conn, {b for _, b in enrolled})
    course_ids = {i.course_id for rows in items.values() for i in rows if i.course_id is not None}
    product_pks = {i.product_pk for rows in items.values() for i in rows if i.product_pk is not None}
    learners = {u for u, _ in enrolled}
    lesson_counts = await _lesson_counts(conn, course_ids)
    completed_counts = await _completed_counts(conn, learners, course_ids)
    consumed = await _product_completions(conn, learners, product_pks)

    bundle_rows = {row.id: row for row in bundles.values()}
    result = {}
    for (user_id, bundle_id), enrolled_at in enrolled.items():
        entries: list[ItemProgress] = []
        for item in items.get(bundle_id, []):
            if item.course_id is not None:
                total, required = lesson_counts.get(item.course_id, (0, 0))
                done, done_required = completed_counts.get((user_id, item.course_id), (0, 0))
                counts = CourseCounts(
                    user_id=user_id,
                    course_id=item.course_id,
                    total_lessons=total,
                    required_lessons=required,
                    completed_lessons=done,
                    completed_required_lessons=done_required,
                )
                entries.append(
                    course_item(item.position, counts, item.course_product_id, item.expected_completion_days)
                )
            else:
                # An item holds exactly one of a course or a product, so a product's columns are set.
                assert item.product_pk is not None
                assert item.product_product_id is not None
                assert item.kind is not None
                completed_at = consumed.get((user_id, item.product_pk))
                entries.append(
                    ProductItemProgress(
                        position=item.position,
                        product_pk=item.product_pk,
                        product_id=item.product_product_id,
                        kind=ProductKind(item.kind),
                        completed=completed_at is not None,
                        completed_at=completed_at,
                    )
                )
        result[(user_id, bundle_id)] = BundleProgress(
            bundle=bundle_rows[bundle_id], user_id=user_id, enrolled_at=enrolled_at, items=entries
        )
    return result


class _ItemSource(NamedTuple):
    """A bundle item with the identifiers its progress entry carries: a course's, or (course_id
    null) a product's. Not a row_of class: the outer joins make the other kind's columns null
    where the models' are not."""

    bundle_id: int
    position: int
    course_id: int | None
    product_pk: int | None
    course_product_id: str | None
    expected_completion_days: int | None
    product_product_id: str | None
    kind: ProductKind | None


_ITEM_SOURCE = (
    select(
        BundleItem.bundle_id,
        BundleItem.position,
        BundleItem.course_id,
        BundleItem.product_pk,
        Course.product_id.label("course_product_id"),
        Course.expected_completion_days,
        Product.product_id.label("product_product_id"),
        Product.kind,
    )
    .outerjoin(Course, Course.id == BundleItem.course_id)
    .outerjoin(Product, Product.id == BundleItem.product_pk)
)
check_reads(_ITEM_SOURCE, _ItemSource)


async def _items_of(conn: AsyncConnection, bundle_ids: set[int]) -> dict[int, list[_ItemSource]]:
    """Each bundle's items in order."""
    rows = await conn.execute(
        _ITEM_SOURCE.where(BundleItem.bundle_id.in_(bundle_ids)).order_by(
            BundleItem.bundle_id, BundleItem.position
        )
    )
    by_bundle: dict[int, list[_ItemSource]] = {}
    for item in every(_ItemSource, rows):
        by_bundle.setdefault(item.bundle_id, []).append(item)
    return by_bundle


def _count_if(condition: Any) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def _lesson_counts(conn: AsyncConnection, course_ids: set[int]) -> dict[int, tuple[int, int]]:
    """(current lessons, required ones) of each course."""
    if not course_ids:
        return {}
    rows = await conn.execute(
        select(Lesson.course_id, func.count(), _count_if(Lesson.is_required))
        .where(Lesson.course_id.in_(course_ids), Lesson.removed_at.is_(None))
        .group_by(Lesson.course_id)
    )
    return {course_id: (total, required) for course_id, total, required in rows}


async def _completed_counts(
    conn: AsyncConnection, user_ids: set[int], course_ids: set[int]
) -> dict[tuple[int, int], tuple[int, int]]:
    """(completed current lessons, completed required ones) of each (user, course)."""
    if not course_ids:
        return {}
    rows = await conn.execute(
        select(LessonProgress.user_id, Lesson.course_id, func.count(), _count_if(Lesson.is_required))
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(
            LessonProgress.user_id.in_(user_ids),
            LessonProgress.completed.is_(True),
            Lesson.course_id.in_(course_ids),
            Lesson.removed_at.is_(None),
        )
        .group_by(LessonProgress.user_id, Lesson.course_id)
    )
    return {(user_id, course_id): (done, required) for user_id, course_id, done, required in rows}


async def _product_completions(
    conn: AsyncConnection, user_ids: set[int], product_pks: set[int]
) -> dict[tuple[int, int], datetime]:
    """When each (user, product) was consumed, for those that are."""
    if not product_pks:
        return {}
    rows = await conn.execute(
        select(ProductCompletion.user_id, ProductCompletion.product_pk, ProductCompletion.completed_at).where(
            ProductCompletion.user_id.in_(user_ids),
            ProductCompletion.product_pk.in_(product_pks),
            ProductCompletion.completed.is_(True),
        )
    )
    return {(user_id, product_pk): at for user_id, product_pk, at in rows if at is not None}
