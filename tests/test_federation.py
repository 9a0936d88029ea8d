"""Apollo Federation 2 (GQL_PROGRESS_FEDERATION_ENABLED, api/federation.py): the subgraph SDL,
_entities by each key with node's access rules and batched lookups, off by default, and our SDL
composed with a second subgraph by @apollo/composition (tests/federation, from npm)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from gql_progress.domain.bundles import create_bundle
from gql_progress.domain.ids import encode_id
from tests.apps import api_with
from tests.npm import npm_installed
from tests.servers import REPO
from tests.support import Api

COMPOSITION = REPO / "tests" / "federation"

SDL = "{ _service { sdl } }"
ENTITIES = """query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on User { id email externalId }
    ... on Course { id slug productId }
    ... on Lesson { id title }
    ... on Bundle { id slug bundleProductId: productId }
  }
}"""
NODE = "query Node($id: ID!) { node(id: $id) { id } }"


async def entities(api: Api, representations: list[dict[str, Any]], key: str) -> list[Any]:
    result: list[Any] = (await api.data(ENTITIES, {"representations": representations}, key=key))["_entities"]
    return result


async def seed_bundle(api: Api, n: int) -> dict[str, str]:
    """A bundle's id, slug and productId, as _entities answers them."""
    row = await create_bundle(
        api.db, {"product_id": f"bundle-product-{n}", "slug": f"bundle-{n}", "title": f"Bundle {n}"}
    )
    return {
        "__typename": "Bundle",
        "id": encode_id("Bundle", row.id),
        "slug": row.slug,
        "productId": row.product_id,
    }


async def test_off_by_default_the_schema_has_no_federation_fields(api: Api) -> None:
    admin = await api.admin()
    body = await api.gql(SDL, key=admin.key)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    body = await api.gql(ENTITIES, {"representations": []}, key=admin.key)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_service_sdl_is_a_federation_2_subgraph_with_our_keys(database_url: str) -> None:
    async with api_with(database_url, federation_enabled=True) as api:
        learner = await api.user()
        sdl = (await api.data(SDL, key=learner.key))["_service"]["sdl"]
    assert sdl.startswith(
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])'
    )
    declared = {line.split(" ")[1]: line for line in sdl.splitlines() if line.startswith("type ")}
    assert declared["User"] == (
        'type User implements Node @key(fields: "id") @key(fields: "email") @key(fields: "externalId") {'
    )
    assert declared["Course"] == (
        'type Course implements Node @key(fields: "id") @key(fields: "slug") @key(fields: "productId") {'
    )
    assert declared["Lesson"] == 'type Lesson implements Node @key(fields: "id") {'
    assert declared["Bundle"] == (
        'type Bundle implements Node @key(fields: "id") @key(fields: "slug") @key(fields: "productId") {'
    )
    # The spec's own fields and types are the router's business, not part of the subgraph SDL.
    for name in ("_service", "_entities", "_Any", "_Entity", "_Service"):
        assert name not in sdl
    assert "@key" not in (REPO / "schema.graphql").read_text()


async def test_service_answers_in_production_where_introspection_is_refused(database_url: str) -> None:
    async with api_with(database_url, federation_enabled=True, mode="production") as api:
        learner = await api.user()
        introspection = await api.gql("{ __schema { queryType { name } } }", key=learner.key)
        sdl = (await api.data(SDL, key=learner.key))["_service"]["sdl"]
    assert introspection["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert '@key(fields: "externalId")' in sdl


async def test_entities_resolve_each_type_by_each_key_in_order(database_url: str) -> None:
    async with api_with(database_url, federation_enabled=True) as api:
        admin = await api.admin()
        learner = await api.user()
        course = await api.course(lessons=1, product_id="course-product-1")
        bundle = await seed_bundle(api, 1)
        user = {
            "__typename": "User",
            "id": learner.id,
            "email": learner.email,
            "externalId": learner.external_id,
        }
        course_entity = {
            "__typename": "Course",
            "id": course.id,
            "slug": course.slug,
            "productId": "course-product-1",
        }
        representations = [
            {"__typename": "Bundle", "productId": bundle["productId"]},
            {"__typename": "User", "email": learner.email.upper()},  # any case, as user(email:)
            {"__typename": "Course", "slug": course.slug},
            {"__typename": "User", "externalId": learner.external_id},
            {"__typename": "Lesson", "id": course.lesson_ids[0]},
            {"__typename": "Course", "productId": "course-product-1"},
            {"__typename": "User", "id": learner.id},
            {"__typename": "Bundle", "slug": bundle["slug"]},
            {"__typename": "Course", "id": course.id},
            {"__typename": "Bundle", "id": bundle["id"]},
            # Nothing matches, or an id of another type: null in place.
            {"__typename": "User", "email": "nobody@example.com"},
            {"__typename": "Course", "id": learner.id},
            {"__typename": "Bundle", "slug": "no-such\u0000slug"},
        ]
        found = await entities(api, representations, admin.key)
    # (Aliased: Course's productId may be null, Bundle's may not.)
    bundle = {
        "__typename": "Bundle",
        "id": bundle["id"],
        "slug": bundle["slug"],
        "bundleProductId": bundle["productId"],
    }
    assert found == [
        bundle,
        user,
        course_entity,
        user,
        {"__typename": "Lesson", "id": course.lesson_ids[0], "title": "Lesson 0"},
        course_entity,
        user,
        bundle,
        course_entity,
        bundle,
        None,
        None,
        None,
    ]


async def test_entities_cost_the_same_statements_for_2_and_10_of_each_key(database_url: str) -> None:
    async with api_with(database_url, federation_enabled=True) as api:
        admin = await api.admin()
        users = [await api.user() for _ in range(10)]
        courses = [await api.course(lessons=1, product_id=f"cost-product-{n}") for n in range(10)]
        bundles = [await seed_bundle(api, 100 + n) for n in range(10)]

        def representations(count: int) -> list[dict[str, Any]]:
            reps: list[dict[str, Any]] = []
            for user, course, bundle in zip(users[:count], courses[:count], bundles[:count], strict=True):
                reps += [
                    {"__typename": "User", "id": user.id},
                    {"__typename": "User", "email": user.email},
                    {"__typename": "User", "externalId": user.external_id},
                    {"__typename": "Course", "id": course.id},
                    {"__typename": "Course", "slug": course.slug},
                    {"__typename": "Lesson", "id": course.lesson_ids[0]},
                    {"__typename": "Bundle", "id": bundle["id"]},
                    {"__typename": "Bundle", "productId": bundle["productId"]},
                ]
            return reps

        few = representations(2)
        many = representations(10)
        assert None not in await entities(api, many, admin.key)
        assert await api.statements(
            ENTITIES, {"representations": few}, key=admin.key
        ) == await api.statements(ENTITIES, {"representations": many}, key=admin.key)


async def test_a_learner_resolves_only_themself_as_node_and_user_show(database_url: str) -> None:
    async with api_with(database_url, federation_enabled=True) as api:
        admin = await api.admin()
        learner = await api.user()
        other = await api.user()

        def keys_of(user: Any) -> list[dict[str, Any]]:
            return [
                {"__typename": "User", "id": user.id},
                {"__typename": "User", "email": user.email},
                {"__typename": "User", "externalId": user.external_id},
            ]

        own = await entities(api, keys_of(learner), learner.key)
        assert [entity["id"] for entity in own] == [learner.id] * 3
        # Another user answers null by every key, as for a key that matches no one.
        assert await entities(api, keys_of(other), learner.key) == [None, None, None]
        assert await entities(api, [{"__typename": "User", "email": "nobody@example.com"}], learner.key) == [
            None
        ]
        assert (await api.data(NODE, {"id": other.id}, key=learner.key))["node"] is None
        # An admin sees them, as node(id) shows them to an admin.
        assert [entity["id"] for entity in await entities(api, keys_of(other), admin.key)] == [other.id] * 3
        assert (await api.data(NODE, {"id": other.id}, key=admin.key))["node"] == {"id": other.id}


async def test_a_representation_without_a_known_type_or_key_is_refused(database_url: str) -> None:
    async with api_with(database_url, federation_enabled=True) as api:
        admin = await api.admin()
        bad = [
            {"__typename": "User", "id": admin.id},
            {"__typename": "Progress", "id": "x"},
            {"__typename": "Lesson", "slug": "a-lesson"},
            {"id": admin.id},
        ]
        body = await api.gql(ENTITIES, {"representations": bad}, key=admin.key)
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    assert "representations.1" in error["message"]
    assert "representations.2" in error["message"]
    assert "representations.3" in error["message"]
    assert "representations.0" not in error["message"]


async def test_our_sdl_composes_with_a_second_subgraph(database_url: str, tmp_path: Path) -> None:
    node = npm_installed(COMPOSITION, "composing the federation subgraph with @apollo/composition")
    async with api_with(database_url, federation_enabled=True) as api:
        learner = await api.user()
        sdl = (await api.data(SDL, key=learner.key))["_service"]["sdl"]
    (tmp_path / "progress.graphql").write_text(sdl)
    process = await asyncio.create_subprocess_exec(
        node,
        "compose.mjs",
        str(tmp_path / "progress.graphql"),
        cwd=COMPOSITION,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()
    result = json.loads(stdout)
    assert result["errors"] == []
    assert result["hints"] == []
    supergraph = result["supergraphSdl"]
    # The platform's field joined our User, and our fields stay ours.
    assert "platformPlan: String @join__field(graph: PLATFORM)" in supergraph
    assert '@join__type(graph: PROGRESS, key: "externalId")' in supergraph
    assert "progress(" in supergraph
