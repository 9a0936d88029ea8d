"""Plain leaf fields answered without graphql-core's per-field machinery.

Most fields of a response are plain attributes of a scalar or enum type: ``title``, ``status``,
``completedAt``. For each one graphql-core builds a resolve-info object, calls Strawberry's
default resolver, checks the result for awaitability, then completes it through the non-null
wrapper and the leaf type: about 20 Python calls to read an attribute and serialize it. A course
page of 50 lessons has about 500 such fields, and that machinery was a third of its CPU.

A "plain leaf" is a field whose Strawberry definition declares nothing that runs when it is
resolved: no resolver, no arguments, no permission classes, no field extensions, no schema
directives, and whose type is a scalar or enum. For those the execution context below reads the
attribute with the field's own default resolver and serializes it with the type's own
``coerce_output_value``: the same two calls the full path ends in. Any other outcome (an
exception, a null in a non-null field, a value the type cannot serialize) goes back to
graphql-core's ``execute_field``, which produces the error exactly as before. Every other field
takes the full path, and so does everything when a schema extension wraps resolvers (a
``resolve`` hook), since this path would skip it.

This is the one place that reaches into the libraries: it overrides graphql-core's
``execute_field`` (documented as private; its parameters changed between 3.2 and 3.3 and
between 3.3 pre-releases) in a subclass of Strawberry's execution context, and reads Strawberry's
GraphQL schema (``Schema._schema``). pyproject.toml pins both libraries to the series this was
tested with, tests/test_execution.py checks the assumptions, and should they not hold at start-up
(a version outside the pins), the schema keeps Strawberry's own execution context, with a warning.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
)
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

logger = logging.getLogger("gql_progress.execution")

# graphql-core 3.3's ExecutionContext (``Executor``) method that PlainLeafExecutionContext overrides.
EXECUTE_FIELD_PARAMETERS = ("self", "parent_type", "source", "field_details_list", "path", "position_context")


@dataclass(frozen=True, slots=True)
class PlainLeaf:
    """How to answer one plain leaf field: read ``attribute`` with ``read``, serialize it with
    ``serialize``; ``nullable`` says whether null is a valid answer."""

    read: Callable[[Any, str], Any]
    attribute: str
    serialize: Callable[[Any], Any]
    nullable: bool


PlainLeaves = Mapping[tuple[str, str], PlainLeaf]  # by (object type name, field name)


class PlainLeafExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with plain leaves answered directly (see module doc)."""

    plain_leaves: PlainLeaves = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        wrapped = manager is not None and bool(manager.middlewares)
        self._leaves: PlainLeaves = {} if wrapped else self.plain_leaves

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        leaf = self._leaves.get((parent_type.name, field_details_list[0].node.name.value))
        if leaf is not None:
            try:
                value = leaf.read(source, leaf.attribute)
                if value is None:
                    if leaf.nullable:
                        return None
                else:
                    serialized = leaf.serialize(value)
                    if serialized is not None and serialized is not Undefined:
                        return serialized
            except Exception:  # the full path below raises it again, as a field error
                pass
        return super().execute_field(parent_type, source, field_details_list, path, position_context)


def execute_field_is_as_expected(base: type = StrawberryGraphQLCoreExecutionContext) -> bool:
    """Whether the ``execute_field`` that PlainLeafExecutionContext overrides on top of ``base`` is
    graphql-core's own (Strawberry adds nothing per field that the fast path would skip) and takes
    exactly the parameters the override passes on."""
    owner = next((cls for cls in base.__mro__ if "execute_field" in vars(cls)), None)
    if owner is None or not owner.__module__.startswith("graphql."):
        return False
    parameters = tuple(inspect.signature(vars(owner)["execute_field"]).parameters)
    return parameters == EXECUTE_FIELD_PARAMETERS


def is_plain(definition: StrawberryField) -> bool:
    """Whether resolving the field runs nothing but reading its attribute (see module doc)."""
    return (
        definition.base_resolver is None
        and not definition.arguments
        and not definition.permission_classes
        and not definition.extensions
        and not definition.directives
    )


def plain_leaves(schema: GraphQLSchema) -> dict[tuple[str, str], PlainLeaf]:
    """Every plain leaf field of the schema's object types."""
    found: dict[tuple[str, str], PlainLeaf] = {}
    for type_name, named_type in schema.type_map.items():
        if not isinstance(named_type, GraphQLObjectType) or type_name.startswith("__"):
            continue
        for field_name, field in named_type.fields.items():
            # Strawberry links each GraphQL field it builds to its definition (a documented backref).
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if not isinstance(definition, StrawberryField) or not is_plain(definition) or field.args:
                continue
            nullable = not isinstance(field.type, GraphQLNonNull)
            leaf_type = field.type if nullable else field.type.of_type
            # Strawberry's exception handlers turn errors into union members: never a leaf's type.
            if not isinstance(leaf_type, GraphQLScalarType | GraphQLEnumType):
                continue
            found[(type_name, field_name)] = PlainLeaf(
                read=definition.default_resolver,
                attribute=definition.python_name,
                serialize=leaf_type.coerce_output_value,
                nullable=nullable,
            )
    return found


def answer_plain_leaves_directly(schema: strawberry.Schema) -> None:
    """Make ``schema`` execute with its plain leaves found once, now; or, when the installed
    libraries are not those this module was written for, leave it as it is and say so."""
    if not execute_field_is_as_expected():
        logger.warning(
            "graphql-core's execute_field is not the one gql_progress.api.execution overrides "
            "(expected parameters %s): every field takes the full, slower path. Install the "
            "graphql-core and strawberry-graphql versions that pyproject.toml names.",
            EXECUTE_FIELD_PARAMETERS,
        )
        return
    leaves = plain_leaves(schema._schema)
    schema.execution_context_class = type(
        "SchemaPlainLeafExecutionContext", (PlainLeafExecutionContext,), {"plain_leaves": leaves}
    )
