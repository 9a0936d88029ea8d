"""Apollo Federation v2 subgraph, when GQL_PROGRESS_FEDERATION_ENABLED is set.

A supergraph (Apollo Router, Cosmo, …) can then compose our schema with the platform's own
subgraphs and, for instance, extend the platform's ``User`` with our progress. Two pieces:

* ``FederationQueries``, a mixin merged into ``Query`` only when the setting is on:
  ``_service { sdl }`` and ``_entities(representations:)``, with the ``_Any``, ``_Service`` and
  ``_Entity`` types of the subgraph spec.
* ``subgraph_sdl()``: our SDL with ``extend schema @link(…federation/v2.3…)`` and the ``@key``
  directives of ``ENTITY_KEYS`` injected into the printed document.

Why not ``strawberry.federation``: it takes ``@key`` from the type definitions themselves
(``federation.type(keys=…)``), so our shared types would carry the directives into the
non-federated schema too, and schema.graphql (the public contract) would change. Here the
types stay as they are; the keys are stated once, below, and only this module's SDL shows them.

Entities follow the access rules of ``node``/``nodes`` (api/queries/nodes.py): a key the caller
may not see and a key that matches nothing both answer null, so a learner's ``_entities`` shows
no other user. Lookups go through the request's loaders, one statement per type and key
however many representations arrive.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NewType

import strawberry
from graphql import (
    ConstArgumentNode,
    ConstDirectiveNode,
    DocumentNode,
    ListValueNode,
    NameNode,
    ObjectTypeDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
    parse,
    print_ast,
)
from sqlalchemy.sql.elements import KeyedColumnElement
from strawberry.types.scalar import ScalarDefinition

from gql_progress.api.context import Info
from gql_progress.api.queries.nodes import MAX_NODES, resolve_node
from gql_progress.api.types.bundle import Bundle
from gql_progress.api.types.course import Course
from gql_progress.api.types.lesson import Lesson
from gql_progress.api.types.user import User
from gql_progress.db.models import Bundle as BundleModel
from gql_progress.db.models import Course as CourseModel
from gql_progress.db.models import User as UserModel
from gql_progress.db.rows import BundleRow, CourseRow, UserRow
from gql_progress.domain.catalog import normalize_email
from gql_progress.domain.errors import FieldProblem, InvalidInput
from gql_progress.domain.text import contains_nul

FEDERATION_SPEC = "https://specs.apollo.dev/federation/v2.3"
# Each entity type's keys, in the order a representation's fields are tried. ``id`` is our
# global id; the others are the identifiers outside systems hold (all unique columns).
ENTITY_KEYS: dict[str, tuple[str, ...]] = {
    "User": ("id", "email", "externalId"),
    "Course": ("id", "slug", "productId"),
    "Lesson": ("id",),
    "Bundle": ("id", "slug", "productId"),
}
# The column each non-id key is looked up by (the id goes through resolve_node).
_KEY_COLUMNS: dict[tuple[str, str], KeyedColumnElement[Any]] = {
    ("User", "email"): UserModel.__table__.c.email,
    ("User", "externalId"): UserModel.__table__.c.external_id,
    ("Course", "slug"): CourseModel.__table__.c.slug,
    ("Course", "productId"): CourseModel.__table__.c.product_id,
    ("Bundle", "slug"): BundleModel.__table__.c.slug,
    ("Bundle", "productId"): BundleModel.__table__.c.product_id,
}
_ENTITY_TYPES: dict[str, type] = {"User": User, "Course": Course, "Lesson": Lesson, "Bundle": Bundle}
# The fields and types the subgraph spec adds: not part of the SDL a subgraph publishes.
_SPEC_FIELDS = frozenset({"_service", "_entities"})
_SPEC_TYPES = frozenset({"_Any", "_Service", "_Entity"})

# A representation as the router sends it: any JSON, checked by _lookup. The schema maps the
# type to the _Any scalar through its config (SCALARS), strawberry's way for custom scalars.
Representation = NewType("Representation", object)
SCALARS: dict[object, ScalarDefinition] = {
    Representation: strawberry.scalar(
        name="_Any",
        description="An entity representation: __typename and the fields of one of the type's @key.",
        serialize=lambda value: value,
        parse_value=lambda value: value,
    )
}

Entity = Annotated[
    User | Course | Lesson | Bundle,
    strawberry.union("_Entity", description="The types other subgraphs may resolve through us."),
]


@strawberry.type(name="_Service", description="This subgraph, for a federation gateway or router.")
class Service:
    sdl: str = strawberry.field(
        description="The Federation 2 subgraph SDL: @link to the federation spec, @key on entities."
    )


@strawberry.type
class FederationQueries:
    @strawberry.field(name="_service", description="The subgraph's SDL, for composing a supergraph.")
    def service(self, info: Info) -> Service:
        return Service(sdl=_sdl_of(info.schema))

    @strawberry.field(
        name="_entities",
        description=(
            "Entities by key, one entry per representation in order (up to 100); null when none "
            "matches or the caller may not see it, as in nodes."
        ),
    )
    async def entities(
        self,
        info: Info,
        representations: Annotated[
            list[Representation],
            strawberry.argument(description="__typename and one @key's fields each."),
        ],
    ) -> list[Entity | None]:
        if len(representations) > MAX_NODES:
            raise InvalidInput([FieldProblem(("representations",), f"at most {MAX_NODES} representations")])
        lookups = [_lookup(info, rep, index) for index, rep in enumerate(representations)]
        problems = [lookup for lookup in lookups if isinstance(lookup, FieldProblem)]
        if problems:
            raise InvalidInput(problems)
        # Gathered so the loaders batch: one statement per type and key.
        return list(
            await asyncio.gather(*(lookup() for lookup in lookups if not isinstance(lookup, FieldProblem)))
        )


def _lookup(info: Info, representation: Any, index: int) -> Callable[[], Awaitable[Any]] | FieldProblem:
    """How to resolve one representation, or what is wrong with it."""
    path = ("representations", str(index))
    type_name = representation.get("__typename") if isinstance(representation, dict) else None
    keys = ENTITY_KEYS.get(type_name) if isinstance(type_name, str) else None
    if type_name is None or keys is None:
        return FieldProblem(path, f"__typename must be one of {', '.join(ENTITY_KEYS)}")
    key = next((k for k in keys if isinstance(representation.get(k), str)), None)
    if key is None:
        return FieldProblem(path, f"a {type_name} needs one of {', '.join(keys)} (a string)")
    value: str = representation[key]
    if key == "id":
        return functools.partial(_by_id, info, type_name, value)
    return functools.partial(_by_key, info, type_name, key, value)


async def _by_id(info: Info, type_name: str, global_id: str) -> Any:
    # node(id)'s own lookup and access rules; an id of another type names no such entity.
    found = await resolve_node(info, global_id)
    return found if isinstance(found, _ENTITY_TYPES[type_name]) else None


async def _by_key(info: Info, type_name: str, key: str, value: str) -> Any:
    if key == "email":
        value = normalize_email(value)
    if contains_nul(value):
        return None  # no identifier holds U+0000, and PostgreSQL would refuse to compare it
    loaders, viewer, column = info.context.loaders, info.context.viewer, _KEY_COLUMNS[type_name, key]
    if type_name == "User":
        user = await loaders.row_by_key(UserRow, column).load(value)
        # As node(id) for a User: the user themself or an admin.
        return None if user is None or not viewer.can_access(user.id) else User.from_row(user)
    if type_name == "Course":
        course = await loaders.row_by_key(CourseRow, column).load(value)
        return None if course is None else Course.from_row(course, subject_user_id=viewer.user_id)
    bundle = await loaders.row_by_key(BundleRow, column).load(value)
    return None if bundle is None else Bundle.from_row(bundle)


@functools.lru_cache(maxsize=4)
def _sdl_of(schema: Any) -> str:
    # Printed once per schema (a process holds one or two): the router asks at start-up.
    return subgraph_sdl(schema.as_str())


def subgraph_sdl(schema_sdl: str) -> str:
    """``schema_sdl`` (ours, printed) as a Federation 2 subgraph: without the spec's own fields
    and types, with the @link to the spec and each entity's @key."""
    document = parse(schema_sdl)
    definitions: list[Any] = [_link()]
    for definition in document.definitions:
        name = getattr(definition, "name", None)
        if name is not None and name.value in _SPEC_TYPES:
            continue
        if isinstance(definition, ObjectTypeDefinitionNode):
            if name is not None and name.value == "Query":
                fields = tuple(f for f in definition.fields or () if f.name.value not in _SPEC_FIELDS)
                definition = ObjectTypeDefinitionNode(**{**_node_fields(definition), "fields": fields})
            elif name is not None and name.value in ENTITY_KEYS:
                keys = tuple(
                    _directive("key", fields=StringValueNode(value=k)) for k in ENTITY_KEYS[name.value]
                )
                directives = (*(definition.directives or ()), *keys)
                definition = ObjectTypeDefinitionNode(
                    **{**_node_fields(definition), "directives": directives}
                )
        definitions.append(definition)
    return print_ast(DocumentNode(definitions=tuple(definitions))) + "\n"


def _node_fields(node: ObjectTypeDefinitionNode) -> dict[str, Any]:
    return {key: getattr(node, key) for key in node.keys if key != "loc"}


def _directive(name: str, **arguments: Any) -> ConstDirectiveNode:
    return ConstDirectiveNode(
        name=NameNode(value=name),
        arguments=tuple(
            ConstArgumentNode(name=NameNode(value=arg), value=value) for arg, value in arguments.items()
        ),
    )


def _link() -> SchemaExtensionNode:
    return SchemaExtensionNode(
        directives=(
            _directive(
                "link",
                url=StringValueNode(value=FEDERATION_SPEC),
                **{"import": ListValueNode(values=(StringValueNode(value="@key"),))},
            ),
        ),
        operation_types=(),
    )
