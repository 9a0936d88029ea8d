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
    EnumValueNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLObjectType,
    GraphQLSchema,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    Undefined,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    specified_rules,
    validate,
)
from graphql.execution.values import get_variable_values

from gql_progress.api.compiled.arguments import Kind, NotCompiled, Paging, Parameter, Variable
from gql_progress.api.compiled.collect import collect_fields
from gql_progress.api.compiled.declarations import (
    CALLER,
    ROOTS,
    TYPES,
    Choice,
    Member,
    Nested,
    Paged,
    Parameterized,
    Root,
    Scope,
    Value,
)
from gql_progress.api.compiled.sql import cursor_sql, json_object, text_literal
from gql_progress.api.compiled.variables import PlainVariable, coerce_plain, plain_variables
from gql_progress.api.document_shape import selected_operation
from gql_progress.api.validation import STRAWBERRY_RULES
from gql_progress.domain.viewer import Viewer

__all__ = ["NotCompiled", "Paging", "Plan", "Planner"]

# The caller's id, is_admin and role: the first parameters of every plan, as a one-row table
# every subquery may refer to (the access rules' SQL twins are written against it).
CALLER_PARAMETERS = 3
CALLER_ROW = f"(VALUES ($1::bigint, $2::boolean, $3::text)) AS {CALLER}(id, is_admin, role)"
VIEWER = f"{CALLER}.id"
PAGE_ARGUMENTS = frozenset({"first", "after", "last", "before"})


@dataclass(frozen=True, slots=True)
class Plan:
    sql: str
    # $4, $5…: the fields' arguments ($1 to $3 are always the caller: id, is_admin, role).
    parameters: tuple[Parameter, ...]
    schema: GraphQLSchema
    variable_definitions: tuple[VariableDefinitionNode, ...]
    paging: Paging
    # The variables when all are plain built-in scalars (api/compiled/variables.py), else None.
    plain: tuple[PlainVariable, ...] | None = None

    def bind(self, viewer: Viewer, variables: Mapping[str, Any] | None) -> list[Any]:
        """The statement's arguments; NotCompiled when a value is not what the plan needs (a
        variable GraphQL would refuse, a page size out of range, a bad cursor: the resolver
        path reports it exactly as it always has)."""
        coerced: dict[str, Any] = {}
        if self.variable_definitions:
            given = variables or {}
            plain = None if self.plain is None else coerce_plain(self.plain, given)
            if plain is not None:
                coerced = plain
            else:
                # GraphQL's own coercion: missing non-null variables, wrong types, defaults.
                result = get_variable_values(self.schema, self.variable_definitions, dict(given), 1)
                if isinstance(result, list):
                    raise NotCompiled
                coerced = result.coerced
        values: list[Any] = [viewer.user_id, viewer.is_admin, viewer.role.value]
        values.extend(parameter.value(coerced, self.paging) for parameter in self.parameters)
        return values


class Planner:
    def __init__(self, schema: GraphQLSchema, paging: Paging) -> None:
        self.schema = schema
        self.paging = paging

    def plan(self, document: DocumentNode, operation_name: str | None) -> Plan:
        operation = selected_operation(document, operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            raise NotCompiled
        if validate(self.schema, document, (*specified_rules, *STRAWBERRY_RULES), max_errors=1):
            raise NotCompiled  # the resolver path reports the errors
        if any(definition.directives for definition in operation.variable_definitions or ()):
            raise NotCompiled
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        builder = _Builder(self.schema, fragments)
        if operation.directives:
            raise NotCompiled
        data = builder.root(operation.selection_set)
        if not builder.reads_beyond_the_caller:
            # `me { id name … }` alone: the key lookup already read the caller's row and the
            # resolvers answer from it with no statement; a compiled one would add one.
            raise NotCompiled
        body = f"json_build_object('data', {data})::text"
        if builder.guards:
            # A refusal is the resolvers' to word: no body, and the runner hands the request over.
            body = f"CASE WHEN {' AND '.join(builder.guards)} THEN {body} END"
        sql = f"SELECT {body} FROM {CALLER_ROW}"
        return Plan(
            sql=sql,
            parameters=tuple(builder.parameters),
            schema=self.schema,
            variable_definitions=tuple(operation.variable_definitions or ()),
            paging=self.paging,
            plain=plain_variables(operation.variable_definitions or ()),
        )


@dataclass(frozen=True, slots=True)
class _Page:
    """SQL of one connection page's rows: the key, which rows are on the page (not the
    look-ahead), and whether more follow after it and before it."""

    key: str
    on_page: str
    has_next: str
    has_previous: str


class _Builder:
    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.parameters: list[Parameter] = []
        # Conditions under which the resolvers would answer rather than refuse (Root.guard).
        self.guards: list[str] = []
        self._aliases = 0
        # Whether any field needs more than the caller's own user row.
        self.reads_beyond_the_caller = False

    def root(self, selection_set: SelectionSetNode) -> str:
        pairs = []
        for key, nodes in self._collect(selection_set, "Query").items():
            name = nodes[0].name.value
            if name == "__typename":
                pairs.append((key, text_literal("Query")))
            elif name == "me":
                pairs.append((key, self._me(nodes)))
            elif name in ROOTS:
                pairs.append((key, self._root(ROOTS[name], nodes)))
            else:
                raise NotCompiled
        return json_object(pairs)

    def _me(self, nodes: list[FieldNode]) -> str:
        _no_arguments(nodes)
        scope = Scope(self._alias(), VIEWER)
        source = f"FROM users {scope.alias} WHERE {scope.alias}.id = {VIEWER}"
        return self._object("User", nodes, source, scope)

    def _root(self, root: Root, nodes: list[FieldNode]) -> str:
        given = {argument.name.value: argument.value for argument in nodes[0].arguments or ()}
        if root.page_key is not None:
            given = {name: value for name, value in given.items() if name not in PAGE_ARGUMENTS}
        if set(given) - set(root.arguments) or (root.one_of and len(given) != 1):
            raise NotCompiled
        self.reads_beyond_the_caller = True
        bound = {
            name: tuple(self._bound(kind, value) for kind in root.arguments[name])
            for name, value in given.items()
        }
        if root.guard is not None:
            self.guards.append(root.guard(bound))
        if root.page_key is not None:
            page = Paged(
                root.type_name,
                lambda _p, a: root.source(bound, a),
                lambda _p, a: root.subject(bound, a),
                root.page_key,
                root.upper,
            )
            return self._paged(
                "Query", nodes[0].name.value, page, nodes, Scope(CALLER, VIEWER), set(root.arguments)
            )
        alias = self._alias()
        scope = Scope(alias, root.subject(bound, alias))
        order = root.order_by(alias) if root.order_by else None
        if root.members:
            # A union's root: each row is the member its condition picks (an error included).
            body = self._members(root.members, nodes, scope)
            return _listed(body, root.many, root.source(bound, alias), order)
        return self._rows(root.type_name, root.many, nodes, root.source(bound, alias), scope, order)

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
            if isinstance(field, Paged):
                pairs.append((key, self._paged(type_name, name, field, children, scope)))
                continue
            if isinstance(field, Parameterized):
                pairs.append((key, self._parameterized(type_name, name, field, children, scope)))
                continue
            _no_arguments(children)
            if isinstance(field, Value):
                pairs.append((key, field.sql(scope)))
            elif isinstance(field, Choice):
                pairs.append((key, self._choice(field, children, scope)))
            else:
                pairs.append((key, self._nested(field, children, scope)))
        return json_object(pairs)

    def _paged(
        self,
        parent_type: str,
        name: str,
        field: Paged,
        nodes: list[FieldNode],
        parent: Scope,
        filters: set[str] | frozenset[str] = frozenset(),
    ) -> str:
        """A connection page (api/pagination.py): keyset rows between the cursors in key order,
        or, for ``last``, in descending order up to ``before`` and shown ascending, with one
        look-ahead row that tells whether more follow; counted only when totalCount is asked."""
        self.reads_beyond_the_caller = True
        arguments = {
            argument.name.value: argument.value
            for argument in nodes[0].arguments or ()
            if argument.name.value not in filters  # bound by the root (Root.arguments)
        }
        if set(arguments) - PAGE_ARGUMENTS or {"first", "last"} <= set(arguments):
            raise NotCompiled
        backward = "last" in arguments
        size = (
            self._bound(Kind.LAST, arguments["last"])
            if backward
            else self._bound(Kind.FIRST, arguments.get("first"))
        )
        after = self._bound(Kind.AFTER, arguments.get("after"))
        before = self._bound(Kind.BEFORE, arguments.get("before"))
        connection_type = _named(self.schema, parent_type, name)
        edge_type = _named(self.schema, connection_type, "edges")
        alias = self._alias()
        key = f"{alias}.{field.key}"
        scope = Scope(alias, field.subject(parent, alias))
        on_page = f"{alias}.rn__ <= {size}"
        more = f"count(*) > {size}"
        if field.upper is not None:
            if backward:
                raise NotCompiled  # such a connection pages forward only
            on_page = f"{on_page} AND ({alias}.upper__ IS NULL OR {key} <= {alias}.upper__)"
            more = f"({more} OR coalesce(bool_or({alias}.upper__ IS NOT NULL), false))"
        page = _Page(
            key=key,
            on_page=on_page,
            has_next=f"{before} IS NOT NULL" if backward else more,
            has_previous=more if backward else f"{after} IS NOT NULL",
        )
        pairs = []
        for response_key, children in self._collect_merged(nodes, connection_type).items():
            child = children[0].name.value
            _no_arguments(children)
            if child == "__typename":
                pairs.append((response_key, text_literal(connection_type)))
            elif child == "totalCount":
                pairs.append((response_key, f"(SELECT count(*) {field.source(parent, self._alias())})"))
            elif child == "nodes":
                node = self._fields(field.node_type, children, scope)
                pairs.append((response_key, _page_list(node, key, on_page)))
            elif child == "edges":
                edge = self._edge(edge_type, field.node_type, children, scope, key)
                pairs.append((response_key, _page_list(edge, key, on_page)))
            elif child == "pageInfo":
                pairs.append((response_key, self._page_info(children, page)))
            else:
                raise NotCompiled
        order = f"{key} DESC" if backward else key
        fetched = (
            f"SELECT {alias}.*, row_number() OVER (ORDER BY {order}) AS rn__ {field.source(parent, alias)} "
            f"AND ({after} IS NULL OR {key} > {after}) AND ({before} IS NULL OR {key} < {before}) "
            f"ORDER BY {order} LIMIT {size} + 1"
        )
        rows = f"({fetched}) {alias}"
        if field.upper is not None:
            # The bound is computed from the rows fetched, up to the page's last one: with
            # `first: 0` the resolvers take the look-ahead row as that last one, hence at least 1.
            f = f"{alias}f"
            last = f"(SELECT max({f}.{field.key}) FROM {f} WHERE {f}.rn__ <= greatest({size}, 1))"
            upper = field.upper(f"coalesce({after}, 0)", last)
            rows = f"(WITH {f} AS ({fetched}) SELECT {f}.*, {upper} AS upper__ FROM {f}) {alias}"
        # GROUP BY (): one row whatever the page holds, even when no field aggregates.
        return f"(SELECT {json_object(pairs)} FROM {rows} GROUP BY ())"

    def _edge(self, edge_type: str, node_type: str, nodes: list[FieldNode], scope: Scope, key: str) -> str:
        pairs = []
        for response_key, children in self._collect_merged(nodes, edge_type).items():
            child = children[0].name.value
            if child == "__typename":
                pairs.append((response_key, text_literal(edge_type)))
            elif child == "cursor":
                pairs.append((response_key, cursor_sql(key)))
            elif child == "node":
                pairs.append((response_key, self._fields(node_type, children, scope)))
            else:
                raise NotCompiled
        return json_object(pairs)

    def _page_info(self, nodes: list[FieldNode], page: _Page) -> str:
        values = {
            "__typename": text_literal("PageInfo"),
            "hasNextPage": page.has_next,
            "hasPreviousPage": page.has_previous,
            "startCursor": cursor_sql(f"min({page.key}) FILTER (WHERE {page.on_page})"),
            "endCursor": cursor_sql(f"max({page.key}) FILTER (WHERE {page.on_page})"),
        }
        pairs = []
        for response_key, children in self._collect_merged(nodes, "PageInfo").items():
            child = children[0].name.value
            if child not in values:
                raise NotCompiled
            pairs.append((response_key, values[child]))
        return json_object(pairs)

    def _bound(self, kind: Kind, value: ValueNode | None) -> str:
        """A placeholder for an argument: a variable's value or a literal, checked at bind."""
        if isinstance(value, VariableNode):
            return self._placeholder(Parameter(kind, variable=value.name.value))
        return self._placeholder(Parameter(kind, literal=None if value is None else _literal(value)))

    def _placeholder(self, parameter: Parameter) -> str:
        self.parameters.append(parameter)
        return f"${len(self.parameters) + CALLER_PARAMETERS}::{parameter.kind.sql_type}"

    def _parameterized(
        self, parent_type: str, name: str, field: Parameterized, nodes: list[FieldNode], parent: Scope
    ) -> str:
        """A list read with its field's arguments: each bound, an omitted one as the schema's
        default (fields merged under one key have the same arguments: validation saw to it)."""
        self.reads_beyond_the_caller = True
        given = {argument.name.value: argument.value for argument in nodes[0].arguments or ()}
        if set(given) - set(field.arguments):
            raise NotCompiled
        parent_object = self.schema.get_type(parent_type)
        assert isinstance(parent_object, GraphQLObjectType)
        definitions = parent_object.fields[name].args
        bound: dict[str, tuple[str, ...]] = {}
        for argument, kinds in field.arguments.items():
            if argument in given:
                bound[argument] = tuple(self._bound(kind, given[argument]) for kind in kinds)
            else:
                default = definitions[argument].default_value
                literal = None if default is Undefined else default
                bound[argument] = tuple(self._placeholder(Parameter(kind, literal=literal)) for kind in kinds)
        alias = self._alias()
        scope = Scope(alias, field.subject(parent, alias))
        return self._rows(
            field.type_name, True, nodes, field.source(parent, alias, bound), scope, field.order_by(alias)
        )

    def _nested(self, field: Nested, nodes: list[FieldNode], parent: Scope) -> str:
        self.reads_beyond_the_caller = True
        alias = self._alias()
        scope = Scope(alias, field.subject(parent, alias))
        order = field.order_by(alias) if field.order_by else None
        return self._rows(field.type_name, field.many, nodes, field.source(parent, alias), scope, order)

    def _choice(self, field: Choice, nodes: list[FieldNode], parent: Scope) -> str:
        """A union-typed list (or object): per item, the member its row belongs to, rendered as that type
        (fragments apply per member: ``... on Course`` to courses, ``... on Product`` to the rest)."""
        self.reads_beyond_the_caller = True
        item = self._alias()
        rendered = self._members(field.members, nodes, Scope(item, parent.subject))
        order = field.order_by(item) if field.order_by else None
        return _listed(rendered, field.many, field.source(parent, item), order)

    def _members(self, members: tuple[Member, ...], nodes: list[FieldNode], item: Scope) -> str:
        """The item row rendered as the first member whose condition it meets."""
        cases = []
        for member in members:
            alias = self._alias()
            body = self._fields(member.type_name, nodes, Scope(alias, item.subject))
            cases.append(f"WHEN {member.when(item.alias)} THEN (SELECT {body} {member.source(item, alias)})")
        return f"CASE {' '.join(cases)} END"

    def _rows(
        self, type_name: str, many: bool, nodes: list[FieldNode], source: str, scope: Scope, order: str | None
    ) -> str:
        """An object (NULL when ``source`` has no row) or a list (``[]`` when none) of the rows of
        ``source``, each rendered as the selection asks."""
        return _listed(self._fields(type_name, nodes, scope), many, source, order)

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
        return collect_fields(self.schema, self.fragments, selection_set, type_name)

    def _alias(self) -> str:
        self._aliases += 1
        return f"t{self._aliases}"


def _listed(body: str, many: bool, source: str, order: str | None) -> str:
    """``body`` for the row of ``source`` (NULL when none) or a list of it for each row (``[]``
    when none), in ``order``."""
    if not many:
        return f"(SELECT {body} {source})"
    order_by = f" ORDER BY {order}" if order else ""
    return f"coalesce((SELECT json_agg({body}{order_by}) {source}), '[]'::json)"


def _literal(value: ValueNode) -> Any:
    """An argument's value as a variable would carry it (checked at bind like one); a variable
    in a list or an input object is a ``Variable``, filled in at bind."""
    if isinstance(value, StringValueNode):
        return value.value
    if isinstance(value, IntValueNode):
        return int(value.value)
    if isinstance(value, NullValueNode):
        return None
    if isinstance(value, ListValueNode):
        return [_literal(item) for item in value.values]
    if isinstance(value, EnumValueNode):
        return value.value
    if isinstance(value, VariableNode):
        return Variable(value.name.value)
    if isinstance(value, ObjectValueNode):
        return {field.name.value: _literal(field.value) for field in value.fields}
    raise NotCompiled


def _named(schema: GraphQLSchema, type_name: str, field_name: str) -> str:
    """The name of the type a field returns (lists and non-null unwrapped)."""
    parent = schema.get_type(type_name)
    if not isinstance(parent, GraphQLObjectType) or field_name not in parent.fields:
        raise NotCompiled
    named: str = get_named_type(parent.fields[field_name].type).name
    return named


def _page_list(item: str, key: str, on_page: str) -> str:
    """The page's items in key order, the look-ahead row left out."""
    return f"coalesce(json_agg({item} ORDER BY {key}) FILTER (WHERE {on_page}), '[]'::json)"


def _no_arguments(nodes: list[FieldNode]) -> None:
    if any(node.arguments for node in nodes):
        raise NotCompiled
