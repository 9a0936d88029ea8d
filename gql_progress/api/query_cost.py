"""What a GraphQL document would cost, measured on the document before anything runs.

- depth: the deepest field nesting (fragments followed);
- aliases: how many fields carry an alias (aliases multiply work without growing depth);
- cost: every field counts 1, times the size of each list it sits in. A list's size is the
  `first` of the connection above it, the length of a list argument (`ids`, `lessonIds`,
  `requests`), or DEFAULT_LIST_SIZE for lists without either (a course's lessons, a bundle's
  items): an estimate, which is what a limit needs.

The walk uses the schema's types, so it knows which fields return lists, and the request's
variables, so `first: $n` counts as what the client sent. It runs on documents whose nesting
api/document_shape.py has bounded and found free of fragment cycles. Each fragment is walked once
per page size it is spread under and its result reused: a fragment spread twice by a fragment
spread twice… costs one walk, not 2^n (its cost still counts every use). ``work`` counts the
selections visited, so a test can check the walk stays linear in the document's size.
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
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
)

from gql_progress.api.document_shape import selected_operation

DEFAULT_LIST_SIZE = 20
# Arguments whose list length is the number of items a field returns.
_LIST_ARGUMENTS = ("ids", "lessonIds", "requests")


class TooMuchWork(Exception):
    """The walk would visit more selections than the document's size justifies."""


@dataclass(frozen=True)
class DocumentCost:
    depth: int
    aliases: int
    cost: int
    work: int
    # Whether a variable's value (a page size, a list's length) entered the measure: when not,
    # the document's cost is the same for every request that sends it, and may be reused.
    read_variables: bool = False


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    default_page_size: int,
    max_work: int,
) -> DocumentCost | None:
    """The cost of the operation that would run; None when there is no single such operation
    (GraphQL's own validation then says what is wrong). Raises TooMuchWork past ``max_work``
    selections visited: only a document built to make the walk slow gets there."""
    operation = selected_operation(document, operation_name)
    if operation is None:
        return None
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    if root is None:
        return None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    walker = _Walker(schema, fragments, variables or {}, default_page_size, max_work)
    measured = walker.selection_set(operation.selection_set, root, page=None)
    return DocumentCost(
        depth=measured.depth,
        aliases=measured.aliases,
        cost=measured.cost,
        work=walker.work,
        read_variables=walker.read_variables,
    )


@dataclass(frozen=True, slots=True)
class _Measured:
    cost: int
    depth: int
    aliases: int


_NOTHING = _Measured(0, 0, 0)


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        default_page: int,
        max_work: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_page = default_page
        self.max_work = max_work
        self.work = 0
        self.read_variables = False
        # A fragment's measure depends only on the page size waiting for its lists.
        self._fragment_measures: dict[tuple[str, int | None], _Measured] = {}

    def selection_set(self, selections: SelectionSetNode, parent: Any, page: int | None) -> _Measured:
        """Cost, depth and aliases of the selections on ``parent``; ``page`` is a connection's
        `first` waiting for the list (edges, nodes) it applies to."""
        cost = depth = aliases = 0
        for selection in selections.selections:
            self.work += 1
            if self.work > self.max_work:
                raise TooMuchWork
            if isinstance(selection, FieldNode):
                measured = self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                on = self._type_named(selection.type_condition, parent)
                measured = self.selection_set(selection.selection_set, on, page)
            elif isinstance(selection, FragmentSpreadNode):
                measured = self.fragment(selection.name.value, parent, page)
            else:  # pragma: no cover - the AST has no other selection kinds
                continue
            cost += measured.cost
            aliases += measured.aliases
            depth = max(depth, measured.depth)
        return _Measured(cost, depth, aliases)

    def fragment(self, name: str, parent: Any, page: int | None) -> _Measured:
        fragment = self.fragments.get(name)
        if fragment is None:  # validation reports the unknown fragment
            return _NOTHING
        key = (name, page)
        measured = self._fragment_measures.get(key)
        if measured is None:
            on = self._type_named(fragment.type_condition, parent)
            measured = self.selection_set(fragment.selection_set, on, page)
            self._fragment_measures[key] = measured
        return measured

    def field(self, node: FieldNode, parent: Any, page: int | None) -> _Measured:
        aliases = 0 if node.alias is None else 1
        definition = None
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            definition = parent.fields.get(node.name.value)
        if definition is None:  # __typename, an unknown field (validation reports it), a union
            return _Measured(1, 1, aliases)
        returned = definition.type
        if isinstance(returned, GraphQLNonNull):
            returned = returned.of_type
        multiplier = 1
        first = self._int_argument(node, "first")
        child_page = (
            first if first is not None else (self.default_page if "first" in definition.args else None)
        )
        if isinstance(returned, GraphQLList):
            multiplier = page if page is not None else self._list_argument_length(node) or DEFAULT_LIST_SIZE
            child_page = None
            returned = returned.of_type
            if isinstance(returned, GraphQLNonNull):
                returned = returned.of_type
        elif child_page is None:
            child_page = page if node.selection_set is not None and _is_connection_part(returned) else None
        if node.selection_set is None:
            return _Measured(multiplier, 1, aliases)
        child = self.selection_set(node.selection_set, returned, child_page)
        return _Measured(multiplier * (1 + child.cost), 1 + child.depth, aliases + child.aliases)

    def _type_named(self, condition: Any, default: Any) -> Any:
        if condition is None:
            return default
        return self.schema.get_type(condition.name.value) or default

    def _value(self, value: Any) -> Any:
        if isinstance(value, VariableNode):
            self.read_variables = True
            return self.variables.get(value.name.value)
        return value

    def _int_argument(self, node: FieldNode, name: str) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value = self._value(argument.value)
            if isinstance(value, IntValueNode):
                return max(0, int(value.value))
            if isinstance(value, int) and not isinstance(value, bool):
                return max(0, value)
        return None

    def _list_argument_length(self, node: FieldNode) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value not in _LIST_ARGUMENTS:
                continue
            value = self._value(argument.value)
            if isinstance(value, ListValueNode):
                return len(value.values)
            if isinstance(value, list):
                return len(value)
        return None


def _is_connection_part(type_: Any) -> bool:
    # A connection's page size passes through the connection object to its edges/nodes lists.
    return isinstance(type_, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType) and (
        type_.name.endswith("Connection")
    )
