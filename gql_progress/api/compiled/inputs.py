"""Arguments into Strawberry input objects, by a converter derived once from their definitions.

Strawberry's ``convert_arguments`` walks each argument's declared type on every request:
it resolves annotations, asks the scalar registry whether a type is a leaf, looks up the name
converter per field. For the heartbeat's input that was about a quarter of the lean path's own
CPU (bench.cpu profile of M1). The converter here makes those decisions once, from the same
Strawberry definitions (the one declaration of each input type), and at request time only
builds the objects, exactly as ``convert_argument`` builds them: fields not sent keep their
defaults (UNSET), fields without a default get None, lists of leaves are copied (graphql-core
may hand the same default list to every request), leaves and enum values pass through.

A type it does not handle the same way (``Maybe``, ``GlobalID``, an input with its own
``from_input``, a union) raises NotCompiled when the plan is made, and that document takes the
executor. tests/test_lean_writes.py holds the two together on generated inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import MISSING
from typing import Any

from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryOptional,
    StrawberryType,
    get_object_definition,
    has_object_definition,
)
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

from gql_progress.api.compiled.arguments import NotCompiled

Convert = Callable[[Any], Any]
Registry = Any  # Strawberry's scalar registry (a mapping of its scalar definitions)


def arguments_converter(
    arguments: Sequence[StrawberryArgument], registry: Registry, config: StrawberryConfig
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """What ``convert_arguments(values, arguments, …)`` returns, as one prepared function."""
    converters = [
        (
            config.name_converter.from_argument(argument),
            argument.python_name,
            _converter(argument.type, registry, config),
        )
        for argument in arguments
    ]

    def convert(values: dict[str, Any]) -> dict[str, Any]:
        return {python: each(values[name]) for name, python, each in converters if name in values}

    return convert


def _same(value: Any) -> Any:
    return value


def _leaf(type_: StrawberryType | type, registry: Registry) -> bool:
    if isinstance(type_, LazyType):
        return _leaf(type_.resolve_type(), registry)
    return type_ is not GlobalID and (
        is_scalar(type_, registry) or isinstance(type_, StrawberryEnumDefinition)
    )


def _converter(type_: StrawberryType | type, registry: Registry, config: StrawberryConfig) -> Convert:
    if isinstance(type_, StrawberryMaybe) or type_ is GlobalID:
        raise NotCompiled
    if isinstance(type_, StrawberryOptional):
        return _converter(type_.of_type, registry, config)  # None and UNSET pass in each below
    if isinstance(type_, LazyType):
        return _converter(type_.resolve_type(), registry, config)
    if isinstance(type_, StrawberryList):
        item = type_.of_type
        plain = item.of_type if isinstance(item, StrawberryOptional) else item
        if _leaf(plain, registry):
            return _copied_list
        each = _converter(item, registry, config)
        return lambda value: value if value is None or value is UNSET else [each(v) for v in value]
    if _leaf(type_, registry) or has_enum_definition(type_):
        return _same
    if has_object_definition(type_) and isinstance(type_, type):
        return _object_converter(type_, registry, config)
    raise NotCompiled


def _copied_list(value: Any) -> Any:
    return value if value is None or value is UNSET else list(value)


def _object_converter(cls: type, registry: Registry, config: StrawberryConfig) -> Convert:
    definition = get_object_definition(cls, strict=True)
    if definition.from_input is not None:
        raise NotCompiled
    # As convert_argument: an input's fields without a default are None unless sent.
    defaults = (
        {
            field.python_name: None
            for field in definition.fields
            if field.default_value is MISSING and field.default_factory is MISSING
        }
        if definition.is_input
        else {}
    )
    fields = [
        (
            config.name_converter.from_field(field),
            field.python_name,
            _converter(field.resolve_type(type_definition=definition), registry, config),
        )
        for field in definition.fields
    ]

    def convert(value: Any) -> Any:
        if value is None or value is UNSET:
            return value
        kwargs = dict(defaults)
        for name, python, each in fields:
            if name in value:
                kwargs[python] = each(value[name])
        return cls(**kwargs)

    return convert
