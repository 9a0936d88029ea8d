"""A query document → one SQL statement that builds the whole response, or None (fallback).

The plan is made once per (document text, operation name) and reused: variables become bound
parameters. A document compiles when its operation is a query and every field it selects is
declared (api/compiled/declarations.py) and asked without arguments, except the root fields below
whose arguments are bound. Anything else — directives, fragments on other types, unknown fields,
arguments such as ``userId``, mutations, subscriptions, introspection — falls back to the resolver
path, which answers it exactly as before. The decision is per document: a plan never mixes paths.

The statement's first parameter is the caller's user id; access is the caller's own data
(``me``) or the catalog any key may read (``course``), with progress fields showing the
subject's records exactly as the resolvers choose the subject.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    specified_rules,
    validate,
)

from gql_progress.api.compiled.declarations import TYPES, Nested, Scope, Value
from gql_progress.api.compiled.sql import json_object, text_literal
from gql_progress.api.document_shape import selected_operation
from gql_progress.api.validation import STRAWBERRY_RULES


class NotCompiled(Exception):
    """The document (or this request's variables) takes the resolver path."""


@dataclass(frozen=True, slots=True)
class Parameter:
    """Where a bound parameter's value comes from: a variable of the request, or a literal."""

    variable: str | None = None
    literal: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    sql: str
    # $2, $3…: the root fields' arguments ($1 is always the caller's user id).
    parameters: tuple[Parameter, ...]
    defaults: Mapping[str, Any]

    def bind(self, viewer_id: int, variables: Mapping[str, Any] | None) -> list[Any]:
        """The statement's arguments; NotCompiled when a variable is not what the plan needs (a
        missing or mistyped variable: the resolver path reports it as GraphQL does)."""
        values: list[Any] = [viewer_id]
        for parameter in self.parameters:
            if parameter.variable is None:
                value: Any = parameter.literal
            elif variables is not None and parameter.variable in variables:
                value = variables[parameter.variable]
            else:
                value = self.defaults.get(parameter.variable)
            if not isinstance(value, str) or "\x00" in value:
                # The resolver answers a slug holding U+0000 with null without asking PostgreSQL.
                raise NotCompiled
            values.append(value)
        return values


class Planner:
    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema

    def plan(self, document: DocumentNode, operation_name: str | None) -> Plan:
        operation = selected_operation(document, operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            raise NotCompiled
        if validate(self.schema, document, (*specified_rules, *STRAWBERRY_RULES), max_errors=1):
            raise NotCompiled  # the resolver path reports the errors
        defaults: dict[str, Any] = {}
        for definition in operation.variable_definitions or ():
            if definition.directives:
                raise NotCompiled
            if definition.default_value is not None:
                if not isinstance(definition.default_value, StringValueNode):
                    raise NotCompiled
                defaults[definition.variable.name.value] = definition.default_value.value
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        builder = _Builder(fragments)
        if operation.directives:
            raise NotCompiled
        data = builder.root(operation.selection_set)
        # The caller's id as a one-row table: every subquery may refer to it, used or not.
        sql = f"SELECT json_build_object('data', {data})::text FROM (VALUES ($1::bigint)) AS caller(id)"
        return Plan(sql=sql, parameters=tuple(builder.parameters), defaults=defaults)


# The caller's user id: the first parameter of every plan, in the statement's one-row FROM.
VIEWER = "caller.id"


class _Builder:
    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.parameters: list[Parameter] = []
        self._aliases = 0

    def root(self, selection_set: SelectionSetNode) -> str:
        pairs = []
        for key, nodes in self._collect(selection_set, "Query").items():
            name = nodes[0].name.value
            if name == "__typename":
                pairs.append((key, text_literal("Query")))
            elif name == "me":
                _no_arguments(nodes)
                scope = Scope(self._alias(), VIEWER)
                pairs.append(
                    (
                        key,
                        self._object(
                            "User",
                            nodes,
                            f"FROM users {scope.alias} WHERE {scope.alias}.id = {VIEWER}",
                            scope,
                        ),
                    )
                )
            elif name == "course":
                pairs.append((key, self._course(nodes)))
            else:
                raise NotCompiled
        return json_object(pairs)

    def _course(self, nodes: list[FieldNode]) -> str:
        # course(slug:) only; course(id:) and userId take the resolver path.
        arguments = nodes[0].arguments or ()
        if len(arguments) != 1 or arguments[0].name.value != "slug":
            raise NotCompiled
        value = arguments[0].value
        if isinstance(value, StringValueNode):
            parameter = Parameter(literal=value.value)
        elif isinstance(value, VariableNode):
            parameter = Parameter(variable=value.name.value)
        else:
            raise NotCompiled
        self.parameters.append(parameter)
        placeholder = f"${len(self.parameters) + 1}::text"
        scope = Scope(self._alias(), VIEWER)
        source = f"FROM courses {scope.alias} WHERE {scope.alias}.slug = {placeholder}"
        return self._object("Course", nodes, source, scope)

    def _object(self, type_name: str, nodes: list[FieldNode], source: str, scope: Scope) -> str:
        """A scalar subquery: the object's JSON, or NULL when ``source`` has no row."""
        return f"(SELECT {self._fields(type_name, nodes, scope)} {source})"

    def _fields(self, type_name: str, nodes: list[FieldNode], scope: Scope) -> str:
        declared = TYPES.get(type_name)
        if declared is None:
            raise NotCompiled
        pairs = []
        for key, children in self._collect_merged(nodes, type_name).items():
            name = children[0].name.value
            if name == "__typename":
                pairs.append((key, text_literal(type_name)))
                continue
            field = declared.get(name)
            if field is None:
                raise NotCompiled
            _no_arguments(children)
            if isinstance(field, Value):
                pairs.append((key, field.sql(scope)))
            else:
                pairs.append((key, self._nested(field, children, scope)))
        return json_object(pairs)

    def _nested(self, field: Nested, nodes: list[FieldNode], parent: Scope) -> str:
        alias = self._alias()
        scope = Scope(alias, field.subject(parent, alias))
        source = field.source(parent, alias)
        body = self._fields(field.type_name, nodes, scope)
        if not field.many:
            return f"(SELECT {body} {source})"
        order = f" ORDER BY {field.order_by(alias)}" if field.order_by else ""
        return f"coalesce((SELECT json_agg({body}{order}) {source}), '[]'::json)"

    def _collect_merged(self, nodes: list[FieldNode], type_name: str) -> dict[str, list[FieldNode]]:
        """The sub-fields of several fields merged under one response key (GraphQL merges
        fields of the same key; validation made sure they are the same field)."""
        merged: dict[str, list[FieldNode]] = {}
        for node in nodes:
            if node.selection_set is None:
                raise NotCompiled
            for key, children in self._collect(node.selection_set, type_name).items():
                merged.setdefault(key, []).extend(children)
        return merged

    def _collect(self, selection_set: SelectionSetNode, type_name: str) -> dict[str, list[FieldNode]]:
        """GraphQL's CollectFields for one concrete type, by response key in first-seen order."""
        collected: dict[str, list[FieldNode]] = {}
        stack = [iter(selection_set.selections)]
        while stack:
            selection = next(stack[-1], None)
            if selection is None:
                stack.pop()
                continue
            if selection.directives:
                raise NotCompiled  # @include/@skip: decided per request, not per plan
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                collected.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if selection.type_condition is not None and selection.type_condition.name.value != type_name:
                    raise NotCompiled
                stack.append(iter(selection.selection_set.selections))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None or fragment.type_condition.name.value != type_name or fragment.directives:
                    raise NotCompiled
                stack.append(iter(fragment.selection_set.selections))
        return collected

    def _alias(self) -> str:
        self._aliases += 1
        return f"t{self._aliases}"


def _no_arguments(nodes: list[FieldNode]) -> None:
    if any(node.arguments for node in nodes):
        raise NotCompiled
