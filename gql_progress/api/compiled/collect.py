"""GraphQL's CollectFields for one concrete type, at plan time: shared by the compiled reads
(planner.py) and the lean writes (writes.py), which both resolve fragments before a request."""

from __future__ import annotations

from collections.abc import Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    SelectionSetNode,
)

from gql_progress.api.compiled.arguments import NotCompiled


def collect_fields(
    schema: GraphQLSchema,
    fragments: Mapping[str, FragmentDefinitionNode],
    selection_set: SelectionSetNode,
    type_name: str,
) -> dict[str, list[FieldNode]]:
    """The fields ``selection_set`` selects on ``type_name``, by response key in first-seen
    order; NotCompiled for a directive (@include/@skip: decided per request, not per plan)."""
    collected: dict[str, list[FieldNode]] = {}
    # A fragment spread again adds nothing new (its fields merge with the first), and walking
    # it again would make fragments that spread each other twice cost 2^depth: skipped, as
    # graphql-core's collect_fields skips them.
    visited: set[str] = set()
    stack = [iter(selection_set.selections)]
    while stack:
        selection = next(stack[-1], None)
        if selection is None:
            stack.pop()
            continue
        if selection.directives:
            raise NotCompiled
        if isinstance(selection, FieldNode):
            key = (selection.alias or selection.name).value
            collected.setdefault(key, []).append(selection)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            if condition is None or applies(schema, condition.name.value, type_name):
                stack.append(iter(selection.selection_set.selections))
        elif isinstance(selection, FragmentSpreadNode):
            if selection.name.value in visited:
                continue
            visited.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is None or fragment.directives:
                raise NotCompiled
            if applies(schema, fragment.type_condition.name.value, type_name):
                stack.append(iter(fragment.selection_set.selections))
    return collected


def applies(schema: GraphQLSchema, condition: str, type_name: str) -> bool:
    """GraphQL's DoesFragmentTypeApply: the fragment's type is the object's, or an interface
    or union it belongs to (``... on Error`` below a union's success member does not)."""
    if condition == type_name:
        return True
    abstract = schema.get_type(condition)
    concrete = schema.get_type(type_name)
    if not isinstance(abstract, GraphQLInterfaceType | GraphQLUnionType):
        return False
    return isinstance(concrete, GraphQLObjectType) and schema.is_sub_type(abstract, concrete)
