"""Bundles and products: the admin writes that build them, enrollInBundle, setProductCompletion,
and the platform-facing reads (bundleProgress, bundleProgressBatch, node/nodes).

Users and courses are seeded with tests.support; everything about bundles and products goes
through GraphQL, as a platform would call it. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from gql_progress.domain.ids import decode_any_id, encode_id
from tests.support import Api, SeededCourse, SeededUser

# --- GraphQL documents -------------------------------------------------------------------------

ERROR_FIELDS = """
    __typename
    ... on Error { code message }
    ... on ValidationError { fields { path message } }
"""
# Only product and bundle writes can conflict.
WRITE_ERROR_FIELDS = f"{ERROR_FIELDS} ... on ConflictError {{ path }}"

# Course.productId is nullable and Product.productId is not: GraphQL refuses one selection of
# both in a union, so the course's is aliased.
ITEM_FIELDS = """
    __typename
    ... on Course { id slug courseProductId: productId title expectedCompletionDays }
    ... on Product { id productId kind title description }
"""

BUNDLE_FIELDS = f"id productId slug title description updatedAt items {{ {ITEM_FIELDS} }}"

CREATE_PRODUCT = f"""
mutation CreateProduct($input: CreateProductInput!) {{
  createProduct(input: $input) {{
    {WRITE_ERROR_FIELDS}
    ... on ProductPayload {{ product {{ id productId kind title description }} }}
  }}
}}
"""

UPDATE_PRODUCT = f"""
mutation UpdateProduct($input: UpdateProductInput!) {{
  updateProduct(input: $input) {{
    {WRITE_ERROR_FIELDS}
    ... on ProductPayload {{ product {{ id productId kind title description }} }}
  }}
}}
"""

CREATE_BUNDLE = f"""
mutation CreateBundle($input: CreateBundleInput!) {{
  createBundle(input: $input) {{
    {WRITE_ERROR_FIELDS}
    ... on BundlePayload {{ bundle {{ {BUNDLE_FIELDS} }} }}
  }}
}}
"""

UPDATE_BUNDLE = f"""
mutation UpdateBundle($input: UpdateBundleInput!) {{
  updateBundle(input: $input) {{
    {WRITE_ERROR_FIELDS}
    ... on BundlePayload {{ bundle {{ {BUNDLE_FIELDS} }} }}
  }}
}}
"""

SET_ITEMS = f"""
mutation SetItems($bundleId: ID!, $items: [BundleItemInput!]!) {{
  setBundleItems(bundleId: $bundleId, items: $items) {{
    {WRITE_ERROR_FIELDS}
    ... on BundlePayload {{ bundle {{ {BUNDLE_FIELDS} }} }}
  }}
}}
"""

ENROLL_IN_BUNDLE = f"""
mutation EnrollInBundle($bundle: BundleRefInput!, $user: UserRefInput!) {{
  enrollInBundle(bundle: $bundle, user: $user) {{
    {ERROR_FIELDS}
    ... on EnrollInBundlePayload {{ created enrolledAt bundle {{ id slug }} }}
  }}
}}
"""

SET_COMPLETION = f"""
mutation SetCompletion($input: SetProductCompletionInput!) {{
  setProductCompletion(input: $input) {{
    {ERROR_FIELDS}
    ... on ProductCompletionPayload {{ completed completedAt product {{ id productId }} }}
  }}
}}
"""

BUNDLE_BY = f"""
query Bundle($id: ID, $productId: String, $slug: String) {{
  bundle(id: $id, productId: $productId, slug: $slug) {{ {BUNDLE_FIELDS} }}
}}
"""

COURSE_ENROLLMENT = """
query CourseEnrollment($id: ID!, $userId: ID) {
  course(id: $id) { enrollment(userId: $userId) { enrolledAt status } }
}
"""

PROGRESS_FIELDS = """
    title completionPercentage weightedCompletionPercentage enrolledAt
    bundle { slug }
    user { email }
    items {
      __typename
      ... on CourseItemProgress {
        position productId completionPercentage completed expectedCompletionDays course { slug }
      }
      ... on ProductItemProgress { position productId kind completed completedAt product { title } }
    }
"""

PROGRESS = f"""
query Progress($bundle: BundleRefInput!, $user: UserRefInput) {{
  bundleProgress(bundle: $bundle, user: $user) {{
    {ERROR_FIELDS}
    ... on BundleProgress {{ {PROGRESS_FIELDS} }}
  }}
}}
"""

BATCH = f"""
query Batch($requests: [BundleProgressRequestInput!]!) {{
  bundleProgressBatch(requests: $requests) {{
    {ERROR_FIELDS}
    ... on BundleProgress {{ {PROGRESS_FIELDS} }}
  }}
}}
"""

UPSERT = """
mutation Upsert($lesson: ID!) {
  upsertProgress(input: {lessonId: $lesson, completed: true}) { __typename }
}
"""

KINDS = ["CONTEST", "LIVE_EVENT", "EBOOK", "DOWNLOADABLE_PRODUCT"]
TYPE_OF_KIND = {
    "CONTEST": "Contest",
    "LIVE_EVENT": "LiveEvent",
    "EBOOK": "Ebook",
    "DOWNLOADABLE_PRODUCT": "DownloadableProduct",
}
MISSING_PK = 999_999
ROUNDS = 10  # races are repeated: one lucky interleaving proves little

# --- helpers -----------------------------------------------------------------------------------

_names = iter(range(1, 1_000_000))


def _next() -> int:
    return next(_names)


async def create_product(
    api: Api, admin: SeededUser, kind: str, *, product_id: str | None = None, title: str | None = None
) -> dict[str, Any]:
    n = _next()
    values = {"productId": product_id or f"prd-{n}", "kind": kind, "title": title or f"Product {n}"}
    data = await api.data(CREATE_PRODUCT, {"input": values}, key=admin.key)
    result: dict[str, Any] = data["createProduct"]
    assert result["__typename"] == "ProductPayload", result
    product: dict[str, Any] = result["product"]
    return product


async def create_bundle(
    api: Api, admin: SeededUser, items: list[dict[str, str]], *, title: str | None = None
) -> dict[str, Any]:
    n = _next()
    values = {"productId": f"bdl-{n}", "slug": f"bundle-{n}", "title": title or f"Bundle {n}", "items": items}
    data = await api.data(CREATE_BUNDLE, {"input": values}, key=admin.key)
    result: dict[str, Any] = data["createBundle"]
    assert result["__typename"] == "BundlePayload", result
    bundle: dict[str, Any] = result["bundle"]
    return bundle


def course_item(course: SeededCourse) -> dict[str, str]:
    return {"course": course.id}


def product_item(product: dict[str, Any]) -> dict[str, str]:
    return {"product": product["id"]}


def pk_of(global_id: str) -> int:
    decoded = decode_any_id(global_id)
    assert decoded is not None
    return decoded[1]


async def enroll_in_bundle(
    api: Api, admin: SeededUser, bundle: dict[str, str], user: dict[str, str]
) -> dict[str, Any]:
    data = await api.data(ENROLL_IN_BUNDLE, {"bundle": bundle, "user": user}, key=admin.key)
    result: dict[str, Any] = data["enrollInBundle"]
    return result


async def set_completion(
    api: Api, key: str, product: dict[str, str], completed: bool, user: dict[str, str] | None = None
) -> dict[str, Any]:
    values: dict[str, Any] = {"product": product, "completed": completed}
    if user is not None:
        values["user"] = user
    data = await api.data(SET_COMPLETION, {"input": values}, key=key)
    result: dict[str, Any] = data["setProductCompletion"]
    return result


async def progress(
    api: Api, key: str, bundle: dict[str, str], user: dict[str, str] | None = None
) -> dict[str, Any]:
    data = await api.data(PROGRESS, {"bundle": bundle, "user": user}, key=key)
    result: dict[str, Any] = data["bundleProgress"]
    return result


async def items_of(api: Api, key: str, slug: str) -> list[dict[str, Any]]:
    data = await api.data(BUNDLE_BY, {"slug": slug}, key=key)
    items: list[dict[str, Any]] = data["bundle"]["items"]
    return items


async def complete(api: Api, learner: SeededUser, *lesson_ids: str) -> None:
    for lesson in lesson_ids:
        data = await api.data(UPSERT, {"lesson": lesson}, key=learner.key)
        assert data["upsertProgress"]["__typename"] == "UpsertProgressSuccess"


async def course_enrollment(api: Api, admin: SeededUser, course: SeededCourse, user: SeededUser) -> Any:
    data = await api.data(COURSE_ENROLLMENT, {"id": course.id, "userId": user.id}, key=admin.key)
    return data["course"]["enrollment"]


def expected_course(course: SeededCourse, product_id: str | None, days: int | None) -> dict[str, Any]:
    return {
        "__typename": "Course",
        "id": course.id,
        "slug": course.slug,
        "courseProductId": product_id,
        "title": course.slug.replace("course-", "Course "),  # tests.support names them so
        "expectedCompletionDays": days,
    }


def expected_product(product: dict[str, Any]) -> dict[str, Any]:
    return {"__typename": TYPE_OF_KIND[product["kind"]], **product}


def paths(result: dict[str, Any]) -> list[list[str]]:
    assert result["__typename"] == "ValidationError", result
    assert result["code"] == "VALIDATION_FAILED"
    return sorted(field["path"] for field in result["fields"])


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


# --- bundles and their items -------------------------------------------------------------------


async def test_a_bundle_holds_every_kind_of_item_in_order(api: Api) -> None:
    admin = await api.admin()
    first = await api.course(2, product_id="crs-first", expected_completion_days=7)
    second = await api.course(1)
    contest, live, ebook, download = [await create_product(api, admin, kind) for kind in KINDS]
    items = [
        course_item(first),
        product_item(contest),
        product_item(live),
        course_item(second),
        product_item(ebook),
        product_item(download),
    ]

    created = await create_bundle(api, admin, items, title="Everything")

    expected = [
        expected_course(first, "crs-first", 7),
        expected_product(contest),
        expected_product(live),
        expected_course(second, None, None),
        expected_product(ebook),
        expected_product(download),
    ]
    assert [item["__typename"] for item in created["items"]] == [
        "Course",
        "Contest",
        "LiveEvent",
        "Course",
        "Ebook",
        "DownloadableProduct",
    ]
    assert created["items"] == expected
    assert created["title"] == "Everything"
    # The same bundle, read back by each of its identifiers.
    for ref in ({"id": created["id"]}, {"productId": created["productId"]}, {"slug": created["slug"]}):
        data = await api.data(BUNDLE_BY, ref, key=admin.key)
        assert data["bundle"] == created


async def test_set_bundle_items_reorders_removes_and_adds(api: Api) -> None:
    admin = await api.admin()
    first, second, third = [await api.course(1) for _ in range(3)]
    contest = await create_product(api, admin, "CONTEST")
    ebook = await create_product(api, admin, "EBOOK")
    bundle = await create_bundle(api, admin, [course_item(first), product_item(contest), course_item(second)])

    # Reorder (second before first), drop the contest, add an ebook and a third course.
    data = await api.data(
        SET_ITEMS,
        {
            "bundleId": bundle["id"],
            "items": [course_item(second), product_item(ebook), course_item(first), course_item(third)],
        },
        key=admin.key,
    )

    saved = data["setBundleItems"]
    assert saved["__typename"] == "BundlePayload", saved
    expected = [
        expected_course(second, None, None),
        expected_product(ebook),
        expected_course(first, None, None),
        expected_course(third, None, None),
    ]
    assert saved["bundle"]["items"] == expected
    assert at(saved["bundle"]["updatedAt"]) > at(bundle["updatedAt"])
    assert await items_of(api, admin.key, bundle["slug"]) == expected

    # An empty list empties the bundle.
    data = await api.data(SET_ITEMS, {"bundleId": bundle["id"], "items": []}, key=admin.key)
    assert data["setBundleItems"]["bundle"]["items"] == []
    assert await items_of(api, admin.key, bundle["slug"]) == []


async def test_bad_items_are_refused_with_their_paths_and_nothing_is_written(api: Api) -> None:
    admin = await api.admin()
    first, second = await api.course(1), await api.course(1)
    contest = await create_product(api, admin, "CONTEST")
    ebook = await create_product(api, admin, "EBOOK")
    bundle = await create_bundle(api, admin, [course_item(first), product_item(contest)])
    before = await items_of(api, admin.key, bundle["slug"])
    valid = [course_item(first), product_item(contest), course_item(second)]
    # The contest's row named as an Ebook: ids name their kind, so this names no product.
    wrong_kind = encode_id("Ebook", pk_of(contest["id"]))

    cases: list[tuple[dict[str, str], list[list[str]]]] = [
        (course_item(first), [["items", "3"]]),  # the same course twice
        (product_item(contest), [["items", "3"]]),  # the same product twice
        ({"product": wrong_kind}, [["items", "3"]]),
        ({"course": encode_id("Course", MISSING_PK)}, [["items", "3"]]),
        ({"product": encode_id("Ebook", MISSING_PK)}, [["items", "3"]]),
        ({"course": "not-an-id"}, [["items", "3", "course"]]),
        ({"course": ebook["id"]}, [["items", "3", "course"]]),  # a product id where a course goes
        ({"product": first.id}, [["items", "3", "product"]]),  # and a course id where a product goes
    ]
    for bad, expected_paths in cases:
        data = await api.data(SET_ITEMS, {"bundleId": bundle["id"], "items": [*valid, bad]}, key=admin.key)
        assert paths(data["setBundleItems"]) == expected_paths, bad
        assert await items_of(api, admin.key, bundle["slug"]) == before

    too_many = [{"course": encode_id("Course", MISSING_PK + n)} for n in range(201)]
    data = await api.data(SET_ITEMS, {"bundleId": bundle["id"], "items": too_many}, key=admin.key)
    assert paths(data["setBundleItems"]) == [["items"]]
    data = await api.data(SET_ITEMS, {"bundleId": first.id, "items": valid}, key=admin.key)
    assert paths(data["setBundleItems"]) == [["bundleId"]]
    data = await api.data(
        SET_ITEMS, {"bundleId": encode_id("Bundle", MISSING_PK), "items": valid}, key=admin.key
    )
    assert data["setBundleItems"]["code"] == "NOT_FOUND"
    assert await items_of(api, admin.key, bundle["slug"]) == before

    # createBundle reports the same, under its input argument, and creates no bundle.
    n = _next()
    values = {"productId": f"bdl-{n}", "slug": f"bundle-{n}", "title": "T"}
    data = await api.data(
        CREATE_BUNDLE,
        {"input": {**values, "items": [*valid, {"product": wrong_kind}]}},
        key=admin.key,
    )
    assert paths(data["createBundle"]) == [["input", "items", "3"]]
    assert (await api.data(BUNDLE_BY, {"slug": values["slug"]}, key=admin.key))["bundle"] is None


async def test_several_bad_items_are_all_listed_in_one_answer(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(1)
    contest = await create_product(api, admin, "CONTEST")
    bundle = await create_bundle(api, admin, [])
    items = [
        course_item(course),
        {"course": encode_id("Course", MISSING_PK)},  # names no course
        course_item(course),  # already in the bundle
        product_item(contest),
        {"product": encode_id("Ebook", pk_of(contest["id"]))},  # wrong kind
    ]

    data = await api.data(SET_ITEMS, {"bundleId": bundle["id"], "items": items}, key=admin.key)

    assert paths(data["setBundleItems"]) == [["items", "1"], ["items", "2"], ["items", "4"]]
    assert await items_of(api, admin.key, bundle["slug"]) == []


# --- product and bundle validation, conflicts, admin only --------------------------------------


async def test_create_product_lists_every_bad_field(api: Api) -> None:
    admin = await api.admin()

    data = await api.data(
        CREATE_PRODUCT,
        {"input": {"productId": " ", "kind": "EBOOK", "title": "", "description": "a\x00b"}},
        key=admin.key,
    )

    assert paths(data["createProduct"]) == [
        ["input", "description"],
        ["input", "productId"],
        ["input", "title"],
    ]
    listing = await api.data("{ products { totalCount } }", key=admin.key)
    assert listing["products"]["totalCount"] == 0


async def test_create_bundle_lists_every_bad_field(api: Api) -> None:
    admin = await api.admin()
    bad_values: list[tuple[dict[str, str], list[list[str]]]] = [
        (
            {"productId": "", "slug": "Not A Slug", "title": "  ", "description": "x"},
            [["input", "productId"], ["input", "slug"], ["input", "title"]],
        ),
        (
            {"productId": "p\x00", "slug": "ok-slug", "title": "T\x00", "description": "\x00"},
            [["input", "description"], ["input", "productId"], ["input", "title"]],
        ),
        ({"productId": "p", "slug": "a" * 201, "title": "T"}, [["input", "slug"]]),
        ({"productId": "p", "slug": "trailing-", "title": "T"}, [["input", "slug"]]),
    ]
    for values, expected_paths in bad_values:
        data = await api.data(CREATE_BUNDLE, {"input": values}, key=admin.key)
        assert paths(data["createBundle"]) == expected_paths, values
    listing = await api.data("{ bundles { totalCount } }", key=admin.key)
    assert listing["bundles"]["totalCount"] == 0


async def test_create_bundle_lists_bad_fields_and_bad_items_together(api: Api) -> None:
    admin = await api.admin()

    data = await api.data(
        CREATE_BUNDLE,
        {"input": {"productId": "p", "slug": "Bad Slug", "title": "", "items": [{"course": "nope"}]}},
        key=admin.key,
    )

    assert paths(data["createBundle"]) == [
        ["input", "items", "0", "course"],
        ["input", "slug"],
        ["input", "title"],
    ]


async def test_taken_product_ids_and_slugs_are_conflicts(api: Api) -> None:
    admin = await api.admin()
    product = await create_product(api, admin, "EBOOK", product_id="taken-product")
    other_product = await create_product(api, admin, "CONTEST")
    bundle = await create_bundle(api, admin, [])
    other_bundle = await create_bundle(api, admin, [])

    data = await api.data(
        CREATE_PRODUCT,
        {"input": {"productId": "taken-product", "kind": "CONTEST", "title": "T"}},
        key=admin.key,
    )
    assert data["createProduct"]["code"] == "CONFLICT"
    assert data["createProduct"]["path"] == ["input", "productId"]

    data = await api.data(
        UPDATE_PRODUCT, {"input": {"id": other_product["id"], "productId": "taken-product"}}, key=admin.key
    )
    assert data["updateProduct"]["code"] == "CONFLICT"
    assert data["updateProduct"]["path"] == ["input", "productId"]

    data = await api.data(
        CREATE_BUNDLE,
        {"input": {"productId": bundle["productId"], "slug": "fresh-slug", "title": "T"}},
        key=admin.key,
    )
    assert data["createBundle"]["code"] == "CONFLICT"
    assert data["createBundle"]["path"] == ["input", "productId"]

    data = await api.data(
        CREATE_BUNDLE,
        {"input": {"productId": "fresh-product", "slug": bundle["slug"], "title": "T"}},
        key=admin.key,
    )
    assert data["createBundle"]["code"] == "CONFLICT"
    assert data["createBundle"]["path"] == ["input", "slug"]

    data = await api.data(
        UPDATE_BUNDLE, {"input": {"id": other_bundle["id"], "slug": bundle["slug"]}}, key=admin.key
    )
    assert data["updateBundle"]["code"] == "CONFLICT"
    assert data["updateBundle"]["path"] == ["input", "slug"]

    # Nothing was written by the refused calls; an object may keep its own values.
    listing = await api.data("{ bundles { totalCount } products { totalCount } }", key=admin.key)
    assert listing["bundles"]["totalCount"] == 2
    assert listing["products"]["totalCount"] == 2
    data = await api.data(
        UPDATE_BUNDLE,
        {"input": {"id": bundle["id"], "slug": bundle["slug"], "title": "Renamed"}},
        key=admin.key,
    )
    assert data["updateBundle"]["bundle"]["title"] == "Renamed"
    data = await api.data(
        UPDATE_PRODUCT, {"input": {"id": product["id"], "productId": "taken-product"}}, key=admin.key
    )
    assert data["updateProduct"]["__typename"] == "ProductPayload"


async def test_every_admin_mutation_is_forbidden_to_a_learner(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await api.course(1)
    product = await create_product(api, admin, "EBOOK")
    bundle = await create_bundle(api, admin, [product_item(product)])
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("createProduct", CREATE_PRODUCT, {"input": {"productId": "new", "kind": "EBOOK", "title": "T"}}),
        ("updateProduct", UPDATE_PRODUCT, {"input": {"id": product["id"], "title": "Changed"}}),
        ("createBundle", CREATE_BUNDLE, {"input": {"productId": "new", "slug": "new", "title": "T"}}),
        ("updateBundle", UPDATE_BUNDLE, {"input": {"id": bundle["id"], "title": "Changed"}}),
        ("setBundleItems", SET_ITEMS, {"bundleId": bundle["id"], "items": [course_item(course)]}),
        ("enrollInBundle", ENROLL_IN_BUNDLE, {"bundle": {"id": bundle["id"]}, "user": {"id": learner.id}}),
    ]
    before = await api.data(BUNDLE_BY, {"id": bundle["id"]}, key=admin.key)

    for field, document, variables in calls:
        data = await api.data(document, variables, key=learner.key)
        assert data[field]["__typename"] == "ForbiddenError", field
        assert data[field]["code"] == "FORBIDDEN", field

    assert await api.data(BUNDLE_BY, {"id": bundle["id"]}, key=admin.key) == before
    listing = await api.data("{ bundles { totalCount } products { totalCount } }", key=admin.key)
    assert listing == {"bundles": {"totalCount": 1}, "products": {"totalCount": 1}}
    refused = await progress(api, admin.key, {"id": bundle["id"]}, {"id": learner.id})
    assert refused["code"] == "NOT_ENROLLED"


# --- enrollInBundle ----------------------------------------------------------------------------


async def test_enroll_in_bundle_enrolls_in_every_course_and_keeps_existing_enrollments(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    existing, fresh = await api.course(1), await api.course(1)
    ebook = await create_product(api, admin, "EBOOK")
    bundle = await create_bundle(api, admin, [course_item(existing), product_item(ebook), course_item(fresh)])
    await api.enroll(learner, existing)
    kept = await course_enrollment(api, admin, existing, learner)
    assert kept is not None
    assert await course_enrollment(api, admin, fresh, learner) is None

    # The email in another case names the same user.
    first = await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"email": learner.email.upper()})

    assert first["__typename"] == "EnrollInBundlePayload", first
    assert first["created"] is True
    assert first["bundle"] == {"id": bundle["id"], "slug": bundle["slug"]}
    assert await course_enrollment(api, admin, existing, learner) == kept  # enrolledAt unchanged
    new = await course_enrollment(api, admin, fresh, learner)
    assert new["status"] == "ACTIVE"
    assert at(new["enrolledAt"]) >= at(first["enrolledAt"])

    # Again, by the other identifiers: nothing new, the first enrollment is returned.
    for bundle_ref, user_ref in [
        ({"productId": bundle["productId"]}, {"externalId": learner.external_id}),
        ({"id": bundle["id"]}, {"id": learner.id}),
    ]:
        again = await enroll_in_bundle(api, admin, bundle_ref, user_ref)
        assert again == {**first, "created": False}
    assert await course_enrollment(api, admin, fresh, learner) == new

    state = await progress(api, learner.key, {"slug": bundle["slug"]})
    assert state["enrolledAt"] == first["enrolledAt"]


async def test_enroll_in_bundle_with_unknown_bundle_or_user_is_not_found(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await api.course(1)
    bundle = await create_bundle(api, admin, [course_item(course)])
    cases = [
        ({"slug": "no-such-bundle"}, {"id": learner.id}),
        ({"productId": "no-such-product"}, {"id": learner.id}),
        ({"id": encode_id("Bundle", MISSING_PK)}, {"id": learner.id}),
        ({"slug": bundle["slug"]}, {"email": "nobody@example.com"}),
        ({"slug": bundle["slug"]}, {"externalId": "no-such-user"}),
        ({"slug": bundle["slug"]}, {"id": encode_id("User", MISSING_PK)}),
    ]
    for bundle_ref, user_ref in cases:
        result = await enroll_in_bundle(api, admin, bundle_ref, user_ref)
        assert result["__typename"] == "NotFoundError", (bundle_ref, user_ref)
        assert result["code"] == "NOT_FOUND"

    assert await course_enrollment(api, admin, course, learner) is None
    state = await progress(api, admin.key, {"slug": bundle["slug"]}, {"id": learner.id})
    assert state["code"] == "NOT_ENROLLED"


async def test_malformed_ids_in_one_of_refs_are_each_named_with_their_path(api: Api) -> None:
    admin = await api.admin()
    course = await api.course(1)

    result = await enroll_in_bundle(api, admin, {"id": "not-an-id"}, {"id": course.id})
    assert result["__typename"] == "ValidationError", result
    assert result["fields"] == [
        {"path": ["bundle", "id"], "message": "is not a Bundle id"},
        {"path": ["user", "id"], "message": "is not a User id"},
    ]
    result = await set_completion(api, admin.key, {"id": course.id}, True, {"id": "not-an-id"})
    assert result["__typename"] == "ValidationError", result
    assert result["fields"] == [
        {"path": ["input", "product", "id"], "message": "is not a product id"},
        {"path": ["input", "user", "id"], "message": "is not a User id"},
    ]


async def test_courses_added_to_a_bundle_enroll_its_learners_only(api: Api) -> None:
    admin = await api.admin()
    member, outsider = await api.user(), await api.user()
    first, added = await api.course(1), await api.course(1)
    bundle = await create_bundle(api, admin, [course_item(first)])
    await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": member.id})

    data = await api.data(
        SET_ITEMS,
        {"bundleId": bundle["id"], "items": [course_item(first), course_item(added)]},
        key=admin.key,
    )

    assert data["setBundleItems"]["__typename"] == "BundlePayload"
    enrollment = await course_enrollment(api, admin, added, member)
    assert enrollment is not None
    assert enrollment["status"] == "ACTIVE"
    assert await course_enrollment(api, admin, added, outsider) is None
    state = await progress(api, member.key, {"slug": bundle["slug"]})
    assert [item["course"]["slug"] for item in state["items"]] == [first.slug, added.slug]


# --- setProductCompletion ----------------------------------------------------------------------


async def test_product_completion_sets_keeps_and_clears_completed_at(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    ebook = await create_product(api, admin, "EBOOK")
    bundle = await create_bundle(api, admin, [product_item(ebook)])
    await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": learner.id})
    by_product_id = {"productId": ebook["productId"]}
    by_id = {"id": ebook["id"]}

    turned_on = await set_completion(api, learner.key, by_product_id, True)
    assert turned_on["__typename"] == "ProductCompletionPayload", turned_on
    assert turned_on["completed"] is True
    assert turned_on["product"] == {"id": ebook["id"], "productId": ebook["productId"]}
    first_at = at(turned_on["completedAt"])

    kept = await set_completion(api, learner.key, by_id, True)  # true → true keeps the time
    assert kept["completedAt"] == turned_on["completedAt"]
    state = await progress(api, learner.key, {"slug": bundle["slug"]})
    assert state["items"][0]["completed"] is True
    assert state["items"][0]["completedAt"] == turned_on["completedAt"]

    cleared = await set_completion(api, learner.key, by_id, False)
    assert cleared["completed"] is False
    assert cleared["completedAt"] is None
    state = await progress(api, learner.key, {"slug": bundle["slug"]})
    assert state["items"][0]["completed"] is False
    assert state["items"][0]["completedAt"] is None
    still_cleared = await set_completion(api, learner.key, by_id, False)
    assert still_cleared["completedAt"] is None

    again = await set_completion(api, learner.key, by_id, True)  # false → true: a new time
    assert at(again["completedAt"]) > first_at


async def test_admins_mark_products_for_anyone_and_learners_for_themselves(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    contest = await create_product(api, admin, "CONTEST")
    live = await create_product(api, admin, "LIVE_EVENT")
    bundle = await create_bundle(api, admin, [product_item(contest), product_item(live)])
    await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": learner.id})

    for_learner = await set_completion(
        api, admin.key, {"id": contest["id"]}, True, {"email": learner.email.upper()}
    )
    assert for_learner["__typename"] == "ProductCompletionPayload", for_learner
    by_self_ref = await set_completion(
        api, learner.key, {"productId": live["productId"]}, True, {"externalId": learner.external_id}
    )
    assert by_self_ref["__typename"] == "ProductCompletionPayload", by_self_ref

    state = await progress(api, learner.key, {"slug": bundle["slug"]})
    assert [item["completed"] for item in state["items"]] == [True, True]
    assert state["weightedCompletionPercentage"] == 100


async def test_product_completion_needs_a_bundle_holding_the_product(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    held = await create_product(api, admin, "EBOOK")
    elsewhere = await create_product(api, admin, "CONTEST")
    loose = await create_product(api, admin, "LIVE_EVENT")  # in no bundle at all
    mine = await create_bundle(api, admin, [product_item(held)])
    other = await create_bundle(api, admin, [product_item(elsewhere)])
    await enroll_in_bundle(api, admin, {"slug": mine["slug"]}, {"id": learner.id})

    for product in (elsewhere, loose):
        for key, user in ((learner.key, None), (admin.key, {"id": learner.id})):
            refused = await set_completion(api, key, {"id": product["id"]}, True, user)
            assert refused["__typename"] == "NotEnrolledError", refused
            assert refused["code"] == "NOT_ENROLLED"

    # Nothing was written: once enrolled, the product is still not consumed.
    await enroll_in_bundle(api, admin, {"slug": other["slug"]}, {"id": learner.id})
    state = await progress(api, learner.key, {"slug": other["slug"]})
    assert state["items"][0]["completed"] is False
    assert state["items"][0]["completedAt"] is None


async def test_product_completion_for_someone_else_is_forbidden_to_a_learner(api: Api) -> None:
    admin = await api.admin()
    learner, other = await api.user(), await api.user()
    ebook = await create_product(api, admin, "EBOOK")
    bundle = await create_bundle(api, admin, [product_item(ebook)])
    for user in (learner, other):
        await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": user.id})

    answers = []
    for user_ref in (
        {"id": other.id},
        {"email": other.email},
        {"externalId": other.external_id},
        {"email": "nobody@example.com"},
        {"id": encode_id("User", MISSING_PK)},
    ):
        refused = await set_completion(api, learner.key, {"id": ebook["id"]}, True, user_ref)
        assert refused["__typename"] == "ForbiddenError", user_ref
        assert refused["code"] == "FORBIDDEN"
        answers.append(refused)
    assert all(answer == answers[0] for answer in answers)  # existing or not: the same answer

    state = await progress(api, admin.key, {"slug": bundle["slug"]}, {"id": other.id})
    assert state["items"][0]["completed"] is False


async def test_product_completion_of_unknown_products_or_users_is_not_found(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    contest = await create_product(api, admin, "CONTEST")
    bundle = await create_bundle(api, admin, [product_item(contest)])
    await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": learner.id})

    for product_ref in (
        {"productId": "no-such-product"},
        {"id": encode_id("Contest", MISSING_PK)},
        {"id": encode_id("Ebook", pk_of(contest["id"]))},  # the contest's row, named as an ebook
    ):
        result = await set_completion(api, learner.key, product_ref, True)
        assert result["code"] == "NOT_FOUND", product_ref
    unknown_user = await set_completion(
        api, admin.key, {"id": contest["id"]}, True, {"email": "nobody@example.com"}
    )
    assert unknown_user["code"] == "NOT_FOUND"
    not_a_product = await set_completion(api, learner.key, {"id": encode_id("Course", 1)}, True)
    assert paths(not_a_product) == [["input", "product", "id"]]

    state = await progress(api, learner.key, {"slug": bundle["slug"]})
    assert state["items"][0]["completed"] is False


# --- bundleProgress ----------------------------------------------------------------------------


async def _mixed_bundle(
    api: Api, admin: SeededUser
) -> tuple[dict[str, Any], SeededCourse, SeededCourse, list[dict[str, Any]]]:
    """Course A (2 required lessons, 1 optional; 14 days), an ebook, course B (1 lesson), a contest."""
    course_a = await api.course(
        3, required=[True, True, False], product_id="crs-a", expected_completion_days=14
    )
    course_b = await api.course(1)
    ebook = await create_product(api, admin, "EBOOK", title="The Book")
    contest = await create_product(api, admin, "CONTEST", title="The Contest")
    bundle = await create_bundle(
        api, admin, [course_item(course_a), product_item(ebook), course_item(course_b), product_item(contest)]
    )
    return bundle, course_a, course_b, [ebook, contest]


async def test_bundle_progress_numbers(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    bundle, course_a, course_b, (ebook, contest) = await _mixed_bundle(api, admin)
    enrolled = await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": learner.id})

    fresh = await progress(api, learner.key, {"slug": bundle["slug"]})
    assert fresh["completionPercentage"] == 0
    assert fresh["weightedCompletionPercentage"] == 0

    # A: 1 of 2 required (and the optional one, which does not count) = 50; B: complete = 100.
    await complete(api, learner, course_a.lesson_ids[0], course_a.lesson_ids[2], course_b.lesson_ids[0])
    consumed = await set_completion(api, learner.key, {"id": ebook["id"]}, True)

    state = await progress(api, learner.key, {"slug": bundle["slug"]})

    assert state == {
        "__typename": "BundleProgress",
        "title": bundle["title"],
        "completionPercentage": 75.0,  # (50 + 100) / 2
        "weightedCompletionPercentage": 62.5,  # (50 + 100 + 100 + 0) / 4
        "enrolledAt": enrolled["enrolledAt"],
        "bundle": {"slug": bundle["slug"]},
        "user": {"email": learner.email},
        "items": [
            {
                "__typename": "CourseItemProgress",
                "position": 0,
                "productId": "crs-a",
                "completionPercentage": 50.0,
                "completed": False,
                "expectedCompletionDays": 14,
                "course": {"slug": course_a.slug},
            },
            {
                "__typename": "ProductItemProgress",
                "position": 1,
                "productId": ebook["productId"],
                "kind": "EBOOK",
                "completed": True,
                "completedAt": consumed["completedAt"],
                "product": {"title": "The Book"},
            },
            {
                "__typename": "CourseItemProgress",
                "position": 2,
                "productId": None,
                "completionPercentage": 100.0,
                "completed": True,
                "expectedCompletionDays": None,
                "course": {"slug": course_b.slug},
            },
            {
                "__typename": "ProductItemProgress",
                "position": 3,
                "productId": contest["productId"],
                "kind": "CONTEST",
                "completed": False,
                "completedAt": None,
                "product": {"title": "The Contest"},
            },
        ],
    }

    # Everything done: 100 and 100.
    await complete(api, learner, course_a.lesson_ids[1])
    await set_completion(api, learner.key, {"id": contest["id"]}, True)
    done = await progress(api, learner.key, {"slug": bundle["slug"]})
    assert (done["completionPercentage"], done["weightedCompletionPercentage"]) == (100, 100)
    assert [item["completed"] for item in done["items"]] == [True, True, True, True]


async def test_nested_course_fields_are_the_learners_when_an_admin_asks(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await api.course(2)
    bundle = await create_bundle(api, admin, [course_item(course)])
    await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": learner.id})
    await complete(api, learner, course.lesson_ids[1])
    query = """
    query($bundle: BundleRefInput!, $user: UserRefInput) {
      bundleProgress(bundle: $bundle, user: $user) {
        ... on BundleProgress {
          items { ... on CourseItemProgress {
            course { summary { completionPercentage } lessons { progressStatus } enrollment { status } }
          } }
        }
      }
    }
    """

    data = await api.data(
        query, {"bundle": {"slug": bundle["slug"]}, "user": {"id": learner.id}}, key=admin.key
    )

    assert data["bundleProgress"]["items"] == [
        {
            "course": {
                "summary": {"completionPercentage": 50.0},
                "lessons": [{"progressStatus": "NOT_STARTED"}, {"progressStatus": "COMPLETED"}],
                "enrollment": {"status": "ACTIVE"},
            }
        }
    ]


async def test_a_course_without_required_lessons_counts_every_lesson(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    optional_only = await api.course(3, required=[False, False, False])
    ebook = await create_product(api, admin, "EBOOK")
    bundle = await create_bundle(api, admin, [course_item(optional_only), product_item(ebook)])
    await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": learner.id})

    await complete(api, learner, optional_only.lesson_ids[0])
    state = await progress(api, learner.key, {"slug": bundle["slug"]})
    assert state["items"][0]["completionPercentage"] == 33.33
    assert state["completionPercentage"] == 33.33

    await complete(api, learner, optional_only.lesson_ids[1])
    await set_completion(api, learner.key, {"id": ebook["id"]}, True)
    state = await progress(api, learner.key, {"slug": bundle["slug"]})
    assert state["items"][0]["completionPercentage"] == 66.67
    assert state["items"][0]["completed"] is False
    assert state["completionPercentage"] == 66.67

    await complete(api, learner, optional_only.lesson_ids[2])
    state = await progress(api, learner.key, {"slug": bundle["slug"]})
    assert state["items"][0]["completed"] is True
    assert (state["completionPercentage"], state["weightedCompletionPercentage"]) == (100, 100)


async def test_bundle_percentages_round_the_exact_mean_once(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    third, untouched = await api.course(3), await api.course(1)
    ebook = await create_product(api, admin, "EBOOK")
    courses_only = await create_bundle(api, admin, [course_item(third), course_item(untouched)])
    with_product = await create_bundle(api, admin, [course_item(third), product_item(ebook)])
    for bundle in (courses_only, with_product):
        await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": learner.id})

    async def percentages() -> tuple[float, float]:
        courses = await progress(api, learner.key, {"slug": courses_only["slug"]})
        mixed = await progress(api, learner.key, {"slug": with_product["slug"]})
        return courses["completionPercentage"], mixed["weightedCompletionPercentage"]

    await complete(api, learner, third.lesson_ids[0])
    one_third = await percentages()
    await complete(api, learner, third.lesson_ids[1])
    await set_completion(api, learner.key, {"id": ebook["id"]}, True)
    two_thirds = await percentages()

    assert (one_third, two_thirds) == (
        (16.67, 16.67),  # (1/3 + 0) / 2
        (33.33, 83.33),  # (2/3 + 0) / 2 and (2/3 + 1) / 2
    )


async def test_a_bundle_of_products_only_is_weighted_by_its_products(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    products = [await create_product(api, admin, kind) for kind in ("CONTEST", "EBOOK", "LIVE_EVENT")]
    bundle = await create_bundle(api, admin, [product_item(p) for p in products])
    await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": learner.id})

    await set_completion(api, learner.key, {"id": products[1]["id"]}, True)
    state = await progress(api, learner.key, {"slug": bundle["slug"]})
    assert state["completionPercentage"] == 0
    assert state["weightedCompletionPercentage"] == 33.33

    for product in products:
        await set_completion(api, learner.key, {"id": product["id"]}, True)
    state = await progress(api, learner.key, {"slug": bundle["slug"]})
    assert state["completionPercentage"] == 0
    assert state["weightedCompletionPercentage"] == 100

    empty = await create_bundle(api, admin, [])
    await enroll_in_bundle(api, admin, {"slug": empty["slug"]}, {"id": learner.id})
    state = await progress(api, learner.key, {"slug": empty["slug"]})
    assert (state["completionPercentage"], state["weightedCompletionPercentage"], state["items"]) == (
        0,
        0,
        [],
    )


async def test_bundle_progress_names_the_user_by_any_identifier(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    bundle, course_a, _, _ = await _mixed_bundle(api, admin)
    await enroll_in_bundle(api, admin, {"productId": bundle["productId"]}, {"id": learner.id})
    await complete(api, learner, course_a.lesson_ids[0])
    expected = await progress(api, learner.key, {"slug": bundle["slug"]})
    assert expected["__typename"] == "BundleProgress"
    assert expected["completionPercentage"] == 25

    refs = [
        {"id": learner.id},
        {"email": learner.email},
        {"email": learner.email.upper()},
        {"externalId": learner.external_id},
    ]
    bundle_refs = [{"id": bundle["id"]}, {"productId": bundle["productId"]}, {"slug": bundle["slug"]}]
    for key in (learner.key, admin.key):
        for user_ref in refs:
            for bundle_ref in bundle_refs:
                assert await progress(api, key, bundle_ref, user_ref) == expected, (user_ref, bundle_ref)


async def test_a_learner_asking_about_anyone_else_gets_the_same_forbidden_answer(api: Api) -> None:
    admin = await api.admin()
    learner, other = await api.user(), await api.user()
    bundle, _, _, _ = await _mixed_bundle(api, admin)
    for user in (learner, other):
        await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": user.id})

    bodies = []
    for user_ref in (
        {"id": other.id},
        {"email": other.email},
        {"externalId": other.external_id},
        {"id": encode_id("User", MISSING_PK)},
        {"email": "nobody@example.com"},
        {"externalId": "no-such-user"},
    ):
        body = await api.gql(
            PROGRESS, {"bundle": {"slug": bundle["slug"]}, "user": user_ref}, key=learner.key
        )
        assert body["data"]["bundleProgress"]["code"] == "FORBIDDEN", user_ref
        bodies.append(body)
    assert all(body == bodies[0] for body in bodies)
    # Even about a bundle that does not exist: nothing is revealed.
    body = await api.gql(
        PROGRESS, {"bundle": {"slug": "no-such-bundle"}, "user": {"id": other.id}}, key=learner.key
    )
    assert body == bodies[0]


async def test_bundle_progress_not_enrolled_and_not_found(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    bundle, _, _, _ = await _mixed_bundle(api, admin)

    for key, user_ref in ((learner.key, None), (admin.key, {"email": learner.email})):
        state = await progress(api, key, {"slug": bundle["slug"]}, user_ref)
        assert state["__typename"] == "NotEnrolledError"
        assert state["code"] == "NOT_ENROLLED"

    for key, bundle_ref, user_ref in (
        (learner.key, {"slug": "no-such-bundle"}, None),
        (learner.key, {"id": encode_id("Bundle", MISSING_PK)}, None),
        (admin.key, {"productId": "no-such-product"}, {"id": learner.id}),
        (admin.key, {"slug": bundle["slug"]}, {"email": "nobody@example.com"}),
        (admin.key, {"slug": bundle["slug"]}, {"id": encode_id("User", MISSING_PK)}),
    ):
        state = await progress(api, key, bundle_ref, user_ref)
        assert state["__typename"] == "NotFoundError", (bundle_ref, user_ref)
        assert state["code"] == "NOT_FOUND"

    # Ids that are not ids of the right type are bad input, each reported with its path.
    state = await progress(api, admin.key, {"id": learner.id}, {"id": bundle["id"]})
    assert paths(state) == [["bundle", "id"], ["user", "id"]]


ONE_OF_LITERALS: list[Any] = [
    'bundle: {}, user: {id: "x"}',
    'bundle: {slug: "a", productId: "b"}',
    'bundle: {slug: "a"}, user: {}',
    'bundle: {slug: "a"}, user: {email: "a@example.com", externalId: "b"}',
    'bundle: {slug: "a", id: null}',
]


# A one-of field given as null leaves zero fields: the same violation as an empty ref.
ONE_OF_NULL_LITERALS = [
    pytest.param("bundle: {slug: null}"),
    pytest.param('bundle: {slug: "a"}, user: {email: null}'),
]


@pytest.mark.parametrize("arguments", ONE_OF_LITERALS + ONE_OF_NULL_LITERALS)
async def test_one_of_violations_in_the_document_are_refused(api: Api, arguments: str) -> None:
    learner = await api.user()

    body = await api.gql(f"{{ bundleProgress({arguments}) {{ __typename }} }}", key=learner.key)

    assert body.get("data") is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["VALIDATION_FAILED"]
    message = body["errors"][0]["message"]
    assert "exactly one" in message or "non-null" in message, message


ONE_OF_VARIABLES: list[Any] = [
    {"bundle": {}},
    {"bundle": {"slug": "a", "productId": "b"}},
    {"bundle": {"id": "x", "productId": "b", "slug": "c"}},
    {"bundle": {"slug": "a"}, "user": {}},
    {"bundle": {"slug": "a"}, "user": {"id": "x", "email": "a@example.com"}},
    {"bundle": {"slug": "a", "id": None}},
    pytest.param({"bundle": {"slug": None}}),
    pytest.param({"bundle": {"slug": "a"}, "user": {"externalId": None}}),
]


@pytest.mark.parametrize("variables", ONE_OF_VARIABLES)
async def test_one_of_violations_in_variables_are_refused(api: Api, variables: dict[str, Any]) -> None:
    learner = await api.user()

    body = await api.gql(PROGRESS, variables, key=learner.key)

    assert body.get("data") is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["VALIDATION_FAILED"]
    message = body["errors"][0]["message"]
    assert "exactly one" in message or "non-null" in message, message


# --- bundleProgressBatch -----------------------------------------------------------------------


async def test_a_batch_answers_each_request_in_order(api: Api) -> None:
    admin = await api.admin()
    alice, bob, carol = await api.user(), await api.user(), await api.user()
    bundle, course_a, _, _ = await _mixed_bundle(api, admin)
    other = await create_bundle(api, admin, [course_item(course_a)])
    await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": alice.id})
    await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": bob.id})
    await enroll_in_bundle(api, admin, {"slug": other["slug"]}, {"id": bob.id})
    await complete(api, alice, course_a.lesson_ids[0])

    requests: list[dict[str, Any]] = [
        {"bundle": {"slug": bundle["slug"]}, "user": {"email": alice.email.upper()}},
        {"bundle": {"slug": "no-such-bundle"}, "user": {"id": alice.id}},
        {"bundle": {"slug": bundle["slug"]}, "user": {"externalId": "no-such-user"}},
        {"bundle": {"slug": other["slug"]}, "user": {"id": alice.id}},  # not enrolled
        {"bundle": {"productId": other["productId"]}, "user": {"externalId": bob.external_id}},
        {"bundle": {"slug": bundle["slug"]}, "user": {"id": carol.id}},  # not enrolled
        {"bundle": {"id": bundle["id"]}, "user": {"id": alice.id}},  # the first pair again
        {"bundle": {"id": bundle["id"]}},  # the caller (the admin) is not enrolled
        {"bundle": {"id": alice.id}, "user": {"id": alice.id}},  # a user id where a bundle id goes
    ]
    data = await api.data(BATCH, {"requests": requests}, key=admin.key)
    results = data["bundleProgressBatch"]

    assert [(r["__typename"], r.get("code")) for r in results] == [
        ("BundleProgress", None),
        ("NotFoundError", "NOT_FOUND"),
        ("NotFoundError", "NOT_FOUND"),
        ("NotEnrolledError", "NOT_ENROLLED"),
        ("BundleProgress", None),
        ("NotEnrolledError", "NOT_ENROLLED"),
        ("BundleProgress", None),
        ("NotEnrolledError", "NOT_ENROLLED"),
        ("ValidationError", "VALIDATION_FAILED"),
    ]
    assert paths(results[8]) == [["requests", "8", "bundle", "id"]]
    single = await progress(api, admin.key, {"slug": bundle["slug"]}, {"id": alice.id})
    assert results[0] == results[6] == single
    assert results[0]["user"] == {"email": alice.email}
    assert results[0]["completionPercentage"] == 25
    assert results[4]["user"] == {"email": bob.email}
    assert results[4]["bundle"] == {"slug": other["slug"]}
    assert results[4]["completionPercentage"] == 0


async def test_a_learner_batch_answers_only_about_themselves(api: Api) -> None:
    admin = await api.admin()
    learner, other = await api.user(), await api.user()
    bundle, _, _, _ = await _mixed_bundle(api, admin)
    elsewhere = await create_bundle(api, admin, [])
    for user in (learner, other):
        await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": user.id})

    requests: list[dict[str, Any]] = [
        {"bundle": {"slug": bundle["slug"]}},
        {"bundle": {"slug": bundle["slug"]}, "user": {"email": learner.email.upper()}},
        {"bundle": {"slug": bundle["slug"]}, "user": {"id": other.id}},
        {"bundle": {"slug": bundle["slug"]}, "user": {"email": "nobody@example.com"}},
        {"bundle": {"slug": "no-such-bundle"}},
        {"bundle": {"slug": elsewhere["slug"]}, "user": {"externalId": learner.external_id}},
        {"bundle": {"slug": "no-such-bundle"}, "user": {"externalId": other.external_id}},
    ]
    data = await api.data(BATCH, {"requests": requests}, key=learner.key)
    results = data["bundleProgressBatch"]

    assert [(r["__typename"], r.get("code")) for r in results] == [
        ("BundleProgress", None),
        ("BundleProgress", None),
        ("ForbiddenError", "FORBIDDEN"),
        ("ForbiddenError", "FORBIDDEN"),
        ("NotFoundError", "NOT_FOUND"),
        ("NotEnrolledError", "NOT_ENROLLED"),
        ("ForbiddenError", "FORBIDDEN"),
    ]
    assert results[2] == results[3] == results[6]
    assert results[0]["user"] == results[1]["user"] == {"email": learner.email}


async def test_a_batch_of_more_than_100_requests_is_refused(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    bundle = await create_bundle(api, admin, [])
    await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": learner.id})
    request = {"bundle": {"slug": bundle["slug"]}, "user": {"id": learner.id}}

    hundred = await api.data(BATCH, {"requests": [request] * 100}, key=admin.key)
    assert len(hundred["bundleProgressBatch"]) == 100
    empty = await api.data(BATCH, {"requests": []}, key=admin.key)
    assert empty["bundleProgressBatch"] == []

    body = await api.gql(BATCH, {"requests": [request] * 101}, key=admin.key)
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["VALIDATION_FAILED"]


# Every level a platform may read per pair: the learner, the bundle, each item with its course's
# lessons, enrollment and summary (the learner's), or its product.
BATCH_DEEP = """
query BatchDeep($requests: [BundleProgressRequestInput!]!) {
  bundleProgressBatch(requests: $requests) {
    __typename
    ... on Error { code }
    ... on BundleProgress {
      completionPercentage weightedCompletionPercentage enrolledAt
      user { email externalId }
      bundle { slug items { __typename ... on Course { title } ... on Product { title } } }
      items {
        __typename
        ... on CourseItemProgress {
          completionPercentage
          course {
            title
            enrollment { status enrolledAt }
            summary { completionPercentage }
            lessons { title progressStatus progress { status } }
          }
        }
        ... on ProductItemProgress { completed completedAt product { title kind } }
      }
    }
  }
}
"""


async def test_a_batch_costs_the_same_statements_for_1_and_50_pairs(api: Api) -> None:
    admin = await api.admin()
    bundles = []
    for _ in range(2):
        course = await api.course(3, required=[True, True, False])
        other_course = await api.course(2)
        ebook = await create_product(api, admin, "EBOOK")
        live = await create_product(api, admin, "LIVE_EVENT")
        bundles.append(
            (
                await create_bundle(
                    api,
                    admin,
                    [course_item(course), product_item(ebook), course_item(other_course), product_item(live)],
                ),
                course,
                ebook,
            )
        )
    requests = []
    for n in range(50):
        learner = await api.user()
        bundle, course, ebook = bundles[n % 2]
        await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": learner.id})
        if n % 3 == 0:
            await complete(api, learner, course.lesson_ids[0])
            await set_completion(api, learner.key, {"id": ebook["id"]}, True)
        ref = [{"id": learner.id}, {"email": learner.email}, {"externalId": learner.external_id}][n % 3]
        bundle_ref = [{"slug": bundle["slug"]}, {"productId": bundle["productId"]}][n % 2]
        requests.append({"bundle": bundle_ref, "user": ref})

    one = await api.statements(BATCH_DEEP, {"requests": requests[:1]}, key=admin.key)
    fifty = await api.statements(BATCH_DEEP, {"requests": requests}, key=admin.key)

    assert one == fifty
    results = (await api.data(BATCH_DEEP, {"requests": requests}, key=admin.key))["bundleProgressBatch"]
    assert [r["__typename"] for r in results] == ["BundleProgress"] * 50
    assert [r["completionPercentage"] > 0 for r in results] == [n % 3 == 0 for n in range(50)]
    # Each learner's own lesson progress, not the admin's, is what the nested course shows.
    first_lessons = [r["items"][0]["course"]["lessons"][0]["progressStatus"] for r in results]
    assert first_lessons == ["COMPLETED" if n % 3 == 0 else "NOT_STARTED" for n in range(50)]


# --- concurrent writers ------------------------------------------------------------------------


async def test_concurrent_enrollments_in_a_bundle_create_one(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await api.course(1)
    bundle = await create_bundle(api, admin, [course_item(course)])

    results = await asyncio.gather(
        *(enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": learner.id}) for _ in range(6))
    )

    assert sorted(result["created"] for result in results) == [False] * 5 + [True]
    assert len({result["enrolledAt"] for result in results}) == 1
    enrollment = await course_enrollment(api, admin, course, learner)
    assert enrollment["status"] == "ACTIVE"


async def test_concurrent_marks_keep_the_first_completed_at(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    ebook = await create_product(api, admin, "EBOOK")
    bundle = await create_bundle(api, admin, [product_item(ebook)])
    await enroll_in_bundle(api, admin, {"slug": bundle["slug"]}, {"id": learner.id})

    results = await asyncio.gather(
        *(set_completion(api, learner.key, {"id": ebook["id"]}, True) for _ in range(6))
    )

    assert {result["completedAt"] for result in results} == {min(r["completedAt"] for r in results)}
    state = await progress(api, learner.key, {"slug": bundle["slug"]})
    assert state["items"][0]["completedAt"] == results[0]["completedAt"]


@pytest.mark.postgres_only
async def test_a_course_added_while_a_learner_enrolls_in_the_bundle_enrolls_them(pg_api: Api) -> None:
    admin = await pg_api.admin()
    for round_ in range(ROUNDS):
        learner = await pg_api.user()
        first, added = await pg_api.course(1), await pg_api.course(1)
        bundle = await create_bundle(pg_api, admin, [course_item(first)])

        await asyncio.gather(
            enroll_in_bundle(pg_api, admin, {"slug": bundle["slug"]}, {"id": learner.id}),
            pg_api.data(
                SET_ITEMS,
                {"bundleId": bundle["id"], "items": [course_item(first), course_item(added)]},
                key=admin.key,
            ),
        )

        for course in (first, added):
            assert await course_enrollment(pg_api, admin, course, learner) is not None, f"round {round_}"


# --- statement counts of bundle reads ----------------------------------------------------------

BUNDLE_PAGE = """
query BundlePage($slug: String!) {
  bundle(slug: $slug) {
    title
    items {
      __typename
      ... on Course { title lessons { title progress { status } } }
      ... on Product { title kind }
    }
  }
}
"""

BUNDLE_LIST = """
query BundleList($first: Int!) {
  bundles(first: $first) {
    totalCount
    nodes {
      slug
      items {
        __typename
        ... on Course { title lessons { title progress { status } } }
        ... on Product { title kind }
      }
    }
  }
}
"""


async def _bundle_of(api: Api, admin: SeededUser, learner: SeededUser, size: int) -> dict[str, Any]:
    """A bundle of ``size`` items, two courses for each product, of every product kind."""
    items = []
    for n in range(size):
        if n % 3 == 2:
            items.append(product_item(await create_product(api, admin, KINDS[n % 4])))
        else:
            course = await api.course(2)
            await api.enroll(learner, course)
            await complete(api, learner, course.lesson_ids[0])
            items.append(course_item(course))
    return await create_bundle(api, admin, items)


async def test_a_bundle_page_costs_the_same_for_3_and_30_items(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    small = await _bundle_of(api, admin, learner, 3)
    large = await _bundle_of(api, admin, learner, 30)

    small_count = await api.statements(BUNDLE_PAGE, {"slug": small["slug"]}, key=learner.key)
    large_count = await api.statements(BUNDLE_PAGE, {"slug": large["slug"]}, key=learner.key)

    assert small_count == large_count
    page = await api.data(BUNDLE_PAGE, {"slug": large["slug"]}, key=learner.key)
    assert len(page["bundle"]["items"]) == 30
    statuses = [
        lesson["progress"]["status"]
        for item in page["bundle"]["items"]
        for lesson in item.get("lessons", [])[:1]
    ]
    assert statuses == ["COMPLETED"] * 20


async def test_a_bundle_listing_costs_the_same_for_2_and_10_bundles(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    for size in range(3, 13):
        await _bundle_of(api, admin, learner, size)

    two = await api.statements(BUNDLE_LIST, {"first": 2}, key=learner.key)
    ten = await api.statements(BUNDLE_LIST, {"first": 10}, key=learner.key)

    assert two == ten
    listing = await api.data(BUNDLE_LIST, {"first": 10}, key=learner.key)
    assert listing["bundles"]["totalCount"] == 10
    assert [len(bundle["items"]) for bundle in listing["bundles"]["nodes"]] == list(range(3, 13))


# --- node / nodes ------------------------------------------------------------------------------

NODE = """
query Node($id: ID!) {
  node(id: $id) { __typename id ... on Bundle { slug } ... on Product { productId kind } }
}
"""
NODES = "query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


async def test_bundles_and_products_by_global_id(api: Api) -> None:
    admin = await api.admin()
    learner = await api.user()
    products = [await create_product(api, admin, kind) for kind in KINDS]
    bundle = await create_bundle(api, admin, [product_item(p) for p in products])

    data = await api.data(NODE, {"id": bundle["id"]}, key=learner.key)
    assert data["node"] == {"__typename": "Bundle", "id": bundle["id"], "slug": bundle["slug"]}
    for product in products:
        data = await api.data(NODE, {"id": product["id"]}, key=learner.key)
        assert data["node"] == {
            "__typename": TYPE_OF_KIND[product["kind"]],
            "id": product["id"],
            "productId": product["productId"],
            "kind": product["kind"],
        }

    contest_pk = pk_of(products[0]["id"])
    wrong_kind = encode_id("Ebook", contest_pk)
    missing = [wrong_kind, encode_id("Bundle", MISSING_PK), encode_id("Contest", MISSING_PK)]
    for global_id in missing:
        assert (await api.data(NODE, {"id": global_id}, key=learner.key))["node"] is None

    ids = [bundle["id"], wrong_kind, products[0]["id"], encode_id("Bundle", MISSING_PK), products[2]["id"]]
    data = await api.data(NODES, {"ids": ids}, key=learner.key)
    assert data["nodes"] == [
        {"__typename": "Bundle", "id": bundle["id"]},
        None,
        {"__typename": "Contest", "id": products[0]["id"]},
        None,
        {"__typename": "Ebook", "id": products[2]["id"]},
    ]


async def test_product_by_id_or_product_id_and_products_by_kind(api: Api) -> None:
    admin = await api.admin()
    contest = await create_product(api, admin, "CONTEST")
    ebooks = [await create_product(api, admin, "EBOOK") for _ in range(2)]
    query = "query($id: ID, $productId: String) { product(id: $id, productId: $productId) { __typename id } }"

    for ref in ({"id": contest["id"]}, {"productId": contest["productId"]}):
        data = await api.data(query, ref, key=admin.key)
        assert data["product"] == {"__typename": "Contest", "id": contest["id"]}
    wrong_kind = encode_id("Ebook", pk_of(contest["id"]))
    assert (await api.data(query, {"id": wrong_kind}, key=admin.key))["product"] is None
    assert (await api.data(query, {"productId": "no-such-product"}, key=admin.key))["product"] is None

    data = await api.data("{ products(kind: EBOOK) { totalCount nodes { id } } }", key=admin.key)
    assert data["products"] == {"totalCount": 2, "nodes": [{"id": e["id"]} for e in ebooks]}
