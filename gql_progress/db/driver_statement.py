"""A SQLAlchemy statement compiled once into what asyncpg runs: SQL text and its parameter order.

A write that is one statement can skip SQLAlchemy's execution layer (its checkout, BEGIN and
COMMIT round trips, events, result wrapping) and run on asyncpg directly (``Database.write_alone``).
The statement is still declared once, in SQLAlchemy: compiled here with the engine's own dialect,
so the SQL PostgreSQL receives is byte for byte the one SQLAlchemy sends, its values bound by the
same type processors (a UTC datetime checked, JSON serialized), and the returned values decoded as
SQLAlchemy decodes them.

Decoding is where asyncpg and SQLAlchemy could part: SQLAlchemy's asyncpg dialect decodes JSON
in a codec it installs on its own connections (not on the direct pool's, whose compiled reads
want text), and picks some processors by the column's type oid, which a plain fetch does not
report. So a returned column must be of a type this module decodes exactly as SQLAlchemy does:
one asyncpg returns as SQLAlchemy would, JSON, or a TypeDecorator over those; any other type is
refused when the statement is compiled, never decoded differently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Dialect, Enum, Float, Integer, String
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeDecorator, TypeEngine

Decode = Callable[[Any], Any]

# Types whose values asyncpg returns exactly as SQLAlchemy's asyncpg dialect hands them on
# (no result processor for them there): integers, booleans, float8, text, timestamptz.
_NATIVE: tuple[type[TypeEngine[Any]], ...] = (Integer, BigInteger, Boolean, String, DateTime)


@dataclass(frozen=True, slots=True)
class DriverStatement:
    sql: str
    # Bound parameter names in $1, $2… order, each with SQLAlchemy's bind processor (or None).
    names: tuple[str, ...]
    binders: tuple[Callable[[Any], Any] | None, ...]
    # Literal values SQLAlchemy bound itself (constants in the statement), by name.
    constants: Mapping[str, Any]
    # Per returned column, how its value becomes what SQLAlchemy would return (None: as is).
    decoders: tuple[Decode | None, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, bind in zip(self.names, self.binders, strict=True):
            value = params[name] if name in params else self.constants[name]
            values.append(value if bind is None else bind(value))
        return values

    def row(self, record: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            value if decode is None else decode(value)
            for value, decode in zip(record, self.decoders, strict=True)
        )


@lru_cache(maxsize=256)
def driver_statement(statement: ClauseElement, dialect: Dialect) -> DriverStatement:
    """``statement`` (cached by identity: statements built once per shape) for asyncpg."""
    compiled = statement.compile(dialect=dialect)
    if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
        raise ValueError("not a statement with positional parameters")
    if "POSTCOMPILE" in compiled.string:
        # Expanding IN lists and literal_execute values are rendered per call: not one text.
        raise ValueError("not a statement of one text")
    names = tuple(compiled.positiontup)
    binds = [compiled.binds[name] for name in names]
    returned = getattr(statement, "exported_columns", ())
    return DriverStatement(
        sql=compiled.string,
        names=names,
        binders=tuple(bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds),
        constants={
            name: bind.effective_value for name, bind in zip(names, binds, strict=True) if not bind.required
        },
        decoders=tuple(_decoder(column.type, dialect) for column in returned),
    )


def _decoder(type_: TypeEngine[Any], dialect: Dialect) -> Decode | None:
    impl = type_.dialect_impl(dialect)
    if isinstance(impl, TypeDecorator):
        inner = _decoder(impl.impl_instance, dialect)
        decorate = impl.process_result_value

        def decorated(value: Any) -> Any:
            return decorate(value if inner is None else inner(value), dialect)

        return decorated
    if isinstance(impl, JSON):
        # As the codec SQLAlchemy installs decodes (the engine sets no json_deserializer); a
        # codec never sees NULL.
        return _json_value if dialect.supports_native_json_deserialization else None
    if isinstance(impl, Enum):
        # Before String, which Enum extends: decoded as a String it would stay a plain str.
        # models._enum stores each member's value, so the member is its class called with it.
        members = impl.enum_class
        if members is None or list(impl.enums) != [member.value for member in members]:
            raise ValueError(f"{type_!r} does not store its members' values")
        return members
    if isinstance(impl, Float) and not impl.asdecimal:
        return None  # float8 comes back a float either way
    if isinstance(impl, _NATIVE):
        return None
    raise ValueError(f"returned values of type {type_!r} are not decoded as SQLAlchemy decodes them")


def _json_value(value: str | None) -> Any:
    return None if value is None else json.loads(value)
