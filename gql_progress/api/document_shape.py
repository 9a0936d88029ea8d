"""How a parsed document nests, measured without recursion and without the schema.

graphql-core's validation and execution recurse once (or several times) per level of nesting:
a document whose fragments spread one another two hundred levels deep raises RecursionError
there, before any limit of ours has had a say. So before anything recursive touches a document,
this module measures, with explicit stacks and in work linear in the document's size:

- ``nesting``: the deepest chain of selection sets once fragments are expanded, counting fields,
  inline fragments and fragment spreads as one level each; argument values (lists and input
  objects) count their own nesting too;
- ``cycle``: a fragment that spreads itself, directly or through others (the document would be
  invalid; refused here because expanding it would never end).

Each fragment is measured once, whatever the number of places that spread it: a chain of
fragments that each spread the next one twice doubles the work of a naive walk per level.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
)


def selected_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation that would run: the one named ``operation_name``, or the only one; None when
    there is no single such operation (GraphQL's own checks then say what is wrong)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    return operations[0] if len(operations) == 1 else None


@dataclass(frozen=True, slots=True)
class DocumentShape:
    """What the gate needs to know about a document before anything recursive runs on it."""

    nesting: int
    cycle: str | None
    # Nodes visited to measure it: a test checks this stays linear in the document's size.
    work: int


@dataclass(slots=True)
class _Local:
    """One definition measured on its own: its deepest local level and where it spreads what."""

    depth: int
    spreads: list[tuple[str, int]]  # (fragment name, level at which it is spread)


def measure_shape(document: DocumentNode) -> DocumentShape:
    work = 0
    fragments: dict[str, _Local] = {}
    operations: list[_Local] = []
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode | OperationDefinitionNode):
            local, visited = _measure_local(definition.selection_set)
            work += visited
            if isinstance(definition, FragmentDefinitionNode):
                fragments.setdefault(definition.name.value, local)
            else:
                operations.append(local)
    expanded, cycle, visited = _expand(fragments)
    work += visited
    if cycle is not None:
        return DocumentShape(nesting=0, cycle=cycle, work=work)
    nesting = max((expanded[name] for name in expanded), default=0)
    for local in operations:
        nesting = max(nesting, _total(local, expanded))
    return DocumentShape(nesting=nesting, cycle=None, work=work)


def _measure_local(root: SelectionSetNode) -> tuple[_Local, int]:
    """The definition's own nesting (spreads not followed), by an explicit depth-first stack."""
    local = _Local(depth=0, spreads=[])
    visited = 0
    stack: list[tuple[SelectionSetNode, int]] = [(root, 1)]
    while stack:
        selection_set, level = stack.pop()
        local.depth = max(local.depth, level)
        for selection in selection_set.selections:
            visited += 1
            if isinstance(selection, FieldNode):
                for argument in selection.arguments or ():
                    depth, seen = _value_nesting(argument.value)
                    visited += seen
                    local.depth = max(local.depth, level + depth)
                if selection.selection_set is not None:
                    stack.append((selection.selection_set, level + 1))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, level + 1))
            elif isinstance(selection, FragmentSpreadNode):
                local.spreads.append((selection.name.value, level))
    return local, visited


def _value_nesting(value: ValueNode) -> tuple[int, int]:
    """How deep a literal nests (lists, input objects), and how many nodes it has."""
    deepest = visited = 0
    stack: list[tuple[ValueNode, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        visited += 1
        deepest = max(deepest, level)
        if isinstance(node, ListValueNode):
            stack.extend((item, level + 1) for item in node.values)
        elif isinstance(node, ObjectValueNode):
            stack.extend((field.value, level + 1) for field in node.fields)
    return deepest, visited


def _expand(fragments: dict[str, _Local]) -> tuple[dict[str, int], str | None, int]:
    """Each fragment's nesting with its spreads expanded, in one post-order pass over the spread
    graph (each fragment finished once); the first fragment found on a cycle, if any. A spread
    of an unknown fragment counts as one level (validation reports it)."""
    expanded: dict[str, int] = {}
    on_path: set[str] = set()
    visited = 0
    for start in fragments:
        if start in expanded:
            continue
        # Frames: (fragment name, index of the next spread to look at).
        stack: list[tuple[str, int]] = [(start, 0)]
        on_path.add(start)
        while stack:
            name, index = stack[-1]
            spreads = fragments[name].spreads
            if index < len(spreads):
                stack[-1] = (name, index + 1)
                visited += 1
                target = spreads[index][0]
                if target in on_path:
                    return expanded, target, visited
                if target in fragments and target not in expanded:
                    on_path.add(target)
                    stack.append((target, 0))
                continue
            stack.pop()
            on_path.discard(name)
            expanded[name] = _total(fragments[name], expanded)
    return expanded, None, visited


def _total(local: _Local, expanded: dict[str, int]) -> int:
    deepest = local.depth
    for name, level in local.spreads:
        deepest = max(deepest, level + expanded.get(name, 1))
    return deepest
