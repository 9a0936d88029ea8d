"""Request variables of a compiled read, coerced without graphql-core when that is plain.

graphql-core's ``get_variable_values`` is the general path: it walks each variable's type,
builds error objects, handles defaults, lists and input objects. Most compiled documents declare
a few built-in scalars (``$slug: String!``, ``$first: Int``), and running the general path for
them was about a tenth of a compiled request's CPU (bench.cpu profile of Q0). The fast path here
accepts only values whose coercion is the identity in graphql-core (a ``str`` for a String, an
``int`` within 32 bits for an Int…) and says ``None`` for anything else, which then takes the
general path: so both always agree. tests/test_compiled_variables.py checks that on generated
values against graphql-core itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import NamedTypeNode, NonNullTypeNode, VariableDefinitionNode

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _string(value: Any) -> bool:
    return type(value) is str


def _int(value: Any) -> bool:
    return type(value) is int and _INT_MIN <= value <= _INT_MAX


def _boolean(value: Any) -> bool:
    return type(value) is bool


# The built-in scalars whose accepted values pass through graphql-core unchanged. (An ID sent as
# a number becomes a string there: left to the general path, as are Float and custom scalars.)
_IDENTITY = {"String": _string, "ID": _string, "Int": _int, "Boolean": _boolean}


@dataclass(frozen=True, slots=True)
class PlainVariable:
    name: str
    accepts: Callable[[Any], bool]
    nullable: bool


def plain_variables(definitions: Sequence[VariableDefinitionNode]) -> tuple[PlainVariable, ...] | None:
    """The variables as plain scalars, or None when any is a list, an input object, an enum, a
    custom or Float scalar, or has a default value (the general path handles those)."""
    plain = []
    for definition in definitions:
        if definition.default_value is not None:
            return None
        type_node = definition.type
        nullable = not isinstance(type_node, NonNullTypeNode)
        named = type_node.type if isinstance(type_node, NonNullTypeNode) else type_node
        if not isinstance(named, NamedTypeNode) or named.name.value not in _IDENTITY:
            return None
        plain.append(PlainVariable(definition.variable.name.value, _IDENTITY[named.name.value], nullable))
    return tuple(plain)


def coerce_plain(variables: tuple[PlainVariable, ...], given: Mapping[str, Any]) -> dict[str, Any] | None:
    """What graphql-core would coerce ``given`` to, or None to ask graphql-core (an error to
    report, or a conversion this path does not make)."""
    coerced: dict[str, Any] = {}
    for variable in variables:
        if variable.name not in given:
            if not variable.nullable:
                return None
            continue  # absent and nullable: absent for graphql-core too (no default)
        value = given[variable.name]
        if value is None:
            if not variable.nullable:
                return None
            coerced[variable.name] = None
        elif variable.accepts(value):
            coerced[variable.name] = value
        else:
            return None
    return coerced
