"""Lean writes: the heartbeat and bulk completion past graphql-core's executor, same resolvers.

A mutation document of a known shape — one root field among ``LEAN_MUTATIONS``, its arguments
literals or variables, a selection of plain fields (no resolver, no arguments: attributes of the
objects the mutation returns) — is planned once per (document text, operation name), like a
compiled read. At request time the plan coerces the variables and reads the field's arguments
with graphql-core's own ``get_variable_values`` and ``get_argument_values``, and converts them
into the Strawberry input types by a converter derived from their definitions (inputs.py): one
declaration of each input, no second validator. Then it calls the mutation's own resolver (with
``@raises``, so the domain errors become the same union members), which runs the domain write
exactly as on the resolver path: same rules, statements, transaction, live notices, events and
webhooks. The answer is rendered from the returned objects by the fields' own Strawberry
definitions: each plain field read with its default resolver and serialized by its GraphQL type,
as api/execution.py answers plain leaves, fragments resolved at plan time (collect.py).

What it skips is the per-request cost of the executor around one field: Strawberry's view and
schema extensions, graphql-core's operation and field machinery, Info objects, the union's type
resolution, output completion. A field with a resolver (``UpsertProgressSuccess.summary``,
``LessonCompletionResult.progress``: they read through loaders), a directive, an alias of the
root field next to another, an unknown operation: the document takes the resolver path, which
answers it exactly as before. The decision is made before anything is written; after the write,
an unexpected exception is handed to the view's error policy as the executor would hand it.
tests/test_lean_writes.py runs the suite's mutation documents through both paths on fresh data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    OperationType,
    SelectionSetNode,
    VariableDefinitionNode,
    located_error,
    specified_rules,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from gql_progress.api.compiled.arguments import NotCompiled
from gql_progress.api.compiled.collect import collect_fields
from gql_progress.api.compiled.inputs import arguments_converter
from gql_progress.api.compiled.plans import PlanCache
from gql_progress.api.context import Context
from gql_progress.api.document_shape import selected_operation
from gql_progress.api.execution import is_plain
from gql_progress.api.validation import STRAWBERRY_RULES

# The mutations whose documents may take this path: the heartbeat (M1) and bulk completion (M2).
# Their resolvers read nothing of ``info`` but its context (LeanInfo).
LEAN_MUTATIONS = frozenset({"upsertProgress", "bulkSetCompletion"})


@dataclass(frozen=True, slots=True)
class LeanInfo:
    """What a lean mutation's resolver is given as ``info``: the request's context, the only
    part of Strawberry's Info those resolvers read."""

    context: Context


class _Unrenderable(Exception):
    """A value the field's type refuses (a null in a non-null field): a bug, reported as the
    executor reports an unexpected error."""


@dataclass(frozen=True, slots=True)
class _Field:
    """One response key of an object: its value read with the field's default resolver and
    rendered by its type: a leaf serialized, an object by its concrete type's fields."""

    key: str
    attribute: str
    read: Callable[[Any, str], Any]
    nullable: bool
    # None for a field that is not a list; else whether its items may be null.
    items_nullable: bool | None
    serialize: Callable[[Any], Any] | None = None
    # For object-typed fields: the fields to render, by the Python class of the object.
    shapes: Mapping[type, tuple[_Field, ...]] | None = None
    # For `__typename`: the object's type name (a shape is one concrete type's).
    typename: str | None = None


def _render(field: _Field, value: Any) -> Any:
    if field.items_nullable is None or value is None:
        return _render_one(field, value, field.nullable)
    return [_render_one(field, item, field.items_nullable) for item in value]


def _render_one(field: _Field, value: Any, nullable: bool) -> Any:
    if value is None:
        if not nullable:
            raise _Unrenderable(f"Cannot return null for non-nullable field {field.key}")
        return None
    if field.serialize is not None:
        return field.serialize(value)
    assert field.shapes is not None
    shape = field.shapes.get(type(value))
    if shape is None:
        raise _Unrenderable(f"{type(value).__name__} is not a type {field.key} returns")
    return {
        child.key: child.typename
        if child.typename is not None
        else _render(child, child.read(value, child.attribute))
        for child in shape
    }


def _no_read(_source: Any, _attribute: str) -> Any:
    return None


@dataclass(frozen=True, slots=True)
class WritePlan:
    schema: strawberry.Schema
    node: FieldNode
    field: GraphQLField
    definition: StrawberryField
    variable_definitions: tuple[VariableDefinitionNode, ...]
    # The root field's response: its key and how each member of its union is rendered.
    root: _Field
    info_parameter: str
    # graphql-core's argument values into the resolver's (Strawberry's input objects).
    convert: Callable[[dict[str, Any]], dict[str, Any]]

    def arguments(self, variables: Any) -> dict[str, Any] | None:
        """The resolver's arguments as Strawberry would pass them, or None when GraphQL would
        refuse the variables or the arguments (the resolver path reports that)."""
        if variables is None:
            variables = {}
        if not isinstance(variables, dict):
            return None
        coerced = get_variable_values(self.schema._schema, self.variable_definitions, variables, 1)
        if isinstance(coerced, list):
            return None
        try:
            return self.convert(get_argument_values(self.field, self.node, coerced))
        except Exception:
            # A value GraphQL refuses, or one the input types would not build: nothing is
            # written yet, so the executor reports it in its own words.
            return None

    async def run(self, context: Context, arguments: dict[str, Any]) -> bytes | GraphQLError:
        """The response body, or the error graphql-core would have made of an unexpected
        exception (the view's error policy words it: masked, or 503 for a database fault)."""
        resolver = self.definition.base_resolver
        assert resolver is not None
        try:
            call: Callable[..., Awaitable[Any]] = resolver.wrapped_func  # type: ignore[assignment]
            result = await call(None, **{self.info_parameter: LeanInfo(context)}, **arguments)
            data = {self.root.key: _render(self.root, result)}
        except Exception as error:
            return located_error(error, [self.node], [self.root.key])
        return orjson.dumps({"data": data})


class LeanWrites:
    """The plans of this schema's lean mutation documents, cached by text (misses too)."""

    def __init__(self, schema: strawberry.Schema) -> None:
        self.schema = schema
        self.graphql = schema._schema
        # Each object type's Python class: a returned object renders as the type it is.
        self.classes: dict[str, type] = {}
        for name, named in self.graphql.type_map.items():
            definition = (named.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if isinstance(named, GraphQLObjectType) and isinstance(definition, StrawberryObjectDefinition):
                self.classes[name] = definition.origin
        self.plans: PlanCache[WritePlan] = PlanCache(self.plan)
        # Requests answered here: the differential tests check which path ran.
        self.answered = 0

    def plan(self, document: DocumentNode, operation_name: str | None) -> WritePlan:
        mutation = self.graphql.mutation_type
        operation = selected_operation(document, operation_name)
        if mutation is None or operation is None or operation.operation is not OperationType.MUTATION:
            raise NotCompiled
        if operation.directives or any(d.directives for d in operation.variable_definitions or ()):
            raise NotCompiled
        if validate(self.graphql, document, (*specified_rules, *STRAWBERRY_RULES), max_errors=1):
            raise NotCompiled  # the resolver path reports the errors
        planner = _Shapes(self.graphql, self.classes, document)
        collected = planner.collect(operation.selection_set, mutation.name)
        if len(collected) != 1:
            raise NotCompiled
        [(key, nodes)] = collected.items()
        if len(nodes) != 1 or nodes[0].name.value not in LEAN_MUTATIONS:
            raise NotCompiled
        node = nodes[0]
        field = mutation.fields[node.name.value]
        definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if (
            not isinstance(definition, StrawberryField)
            or definition.base_resolver is None
            or definition.base_resolver.info_parameter is None
            or definition.permission_classes
            or definition.extensions
            or definition.directives
        ):
            raise NotCompiled
        return WritePlan(
            schema=self.schema,
            node=node,
            field=field,
            definition=definition,
            variable_definitions=tuple(operation.variable_definitions or ()),
            root=planner.field(key, "", _no_read, field.type, nodes),
            info_parameter=definition.base_resolver.info_parameter.name,
            convert=arguments_converter(
                definition.arguments, self.schema.schema_converter.scalar_registry, self.schema.config
            ),
        )


class _Shapes:
    """How a selection renders the objects a field returns, for each concrete type it may be."""

    def __init__(self, schema: GraphQLSchema, classes: Mapping[str, type], document: DocumentNode) -> None:
        self.schema = schema
        self.classes = classes
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def collect(self, selection_set: SelectionSetNode, type_name: str) -> dict[str, list[FieldNode]]:
        return collect_fields(self.schema, self.fragments, selection_set, type_name)

    def field(
        self,
        key: str,
        attribute: str,
        read: Callable[[Any, str], Any],
        type_: GraphQLOutputType,
        nodes: list[FieldNode],
    ) -> _Field:
        nullable = not isinstance(type_, GraphQLNonNull)
        inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        items_nullable = None
        if isinstance(inner, GraphQLList):
            item = inner.of_type
            items_nullable = not isinstance(item, GraphQLNonNull)
            inner = item.of_type if isinstance(item, GraphQLNonNull) else item
        if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
            return _Field(key, attribute, read, nullable, items_nullable, serialize=inner.coerce_output_value)
        if isinstance(inner, GraphQLInterfaceType | GraphQLUnionType):
            possible: Sequence[GraphQLObjectType] = self.schema.get_possible_types(inner)
        elif isinstance(inner, GraphQLObjectType):
            possible = [inner]
        else:
            raise NotCompiled  # a list of lists
        shapes = {}
        for object_type in possible:
            if object_type.name not in self.classes:
                raise NotCompiled
            shapes[self.classes[object_type.name]] = self.shape(object_type, nodes)
        return _Field(key, attribute, read, nullable, items_nullable, shapes=shapes)

    def shape(self, object_type: GraphQLObjectType, nodes: list[FieldNode]) -> tuple[_Field, ...]:
        merged: dict[str, list[FieldNode]] = {}
        for node in nodes:
            if node.selection_set is None:
                raise NotCompiled
            for key, children in self.collect(node.selection_set, object_type.name).items():
                merged.setdefault(key, []).extend(children)
        fields = []
        for key, children in merged.items():
            name = children[0].name.value
            if name == "__typename":
                fields.append(_Field(key, "", _no_read, False, None, typename=object_type.name))
                continue
            field = object_type.fields.get(name)
            definition = (
                None
                if field is None
                else (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            )
            if (
                field is None
                or field.args
                or any(child.arguments for child in children)
                or not isinstance(definition, StrawberryField)
                or not is_plain(definition)
            ):
                raise NotCompiled  # a resolver (loaders, arguments): the executor runs it
            fields.append(
                self.field(key, definition.python_name, definition.default_resolver, field.type, children)
            )
        return tuple(fields)
