"""Plain leaf fields answered without graphql-core's per-field machinery.

Most fields of a response are plain attributes of a scalar or enum type: ``title``, ``status``,
``completedAt``. For each one graphql-core builds a resolve-info object, calls Strawberry's
default resolver, checks the result for awaitability, then completes it through the non-null
wrapper and the leaf type: about 20 Python calls to read an attribute and serialize it. A course
page of 50 lessons has about 500 such fields, and that machinery was a third of its CPU.

For a field that has no resolver, no arguments and a scalar or enum type (a "plain leaf"), the
execution context below reads the attribute with the field's own default resolver and serializes
it with the type's own ``coerce_output_value``: the same two calls the full path ends in. Any
other outcome (an exception, a null in a non-null field, a value the type cannot serialize) goes
back to graphql-core's ``execute_field``, which produces the error exactly as before. Fields with
resolvers, arguments, object types or lists always take the full path, and so does everything
when a schema extension wraps resolvers (a ``resolve`` hook), since this path would skip it.
"""

from __future__ import annotations

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


def plain_leaves(schema: GraphQLSchema) -> dict[tuple[str, str], PlainLeaf]:
    """Every plain leaf field of the schema's object types."""
    found: dict[tuple[str, str], PlainLeaf] = {}
    for type_name, named_type in schema.type_map.items():
        if not isinstance(named_type, GraphQLObjectType) or type_name.startswith("__"):
            continue
        for field_name, field in named_type.fields.items():
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            # Strawberry marks the resolver of a field without one of its own ("basic") as default.
            plain = isinstance(definition, StrawberryField) and getattr(field.resolve, "_is_default", False)
            if not plain or field.args:
                continue
            assert isinstance(definition, StrawberryField)
            nullable = not isinstance(field.type, GraphQLNonNull)
            leaf_type = field.type if nullable else field.type.of_type
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
    """Make ``schema`` execute with its plain leaves found once, now."""
    leaves = plain_leaves(schema._schema)
    schema.execution_context_class = type(
        "SchemaPlainLeafExecutionContext", (PlainLeafExecutionContext,), {"plain_leaves": leaves}
    )
