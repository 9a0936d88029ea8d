"""Apollo Client's ``possibleTypes``: for each interface and union, the object types it stands for.

A client cache that normalises results must know that a ``NotFoundError`` is an ``Error`` to
apply ``... on Error { code message }`` to it; without the map, Apollo's InMemoryCache drops
those fields (docs/clients.md). The map is written from the schema's SDL, the same text as
schema.graphql, so the two cannot disagree.
"""

from __future__ import annotations

import json

from graphql import GraphQLInterfaceType, GraphQLUnionType, build_schema


def possible_types(sdl: str) -> dict[str, list[str]]:
    """``{"Error": ["ConflictError", …], "Node": […], "BundleItem": […], …}``, in name order.

    Object types only, as introspection's ``possibleTypes`` lists them (and Apollo's own
    generator copies): an interface implemented by an interface (``Product implements Node``)
    contributes its object types to both.
    """
    schema = build_schema(sdl)
    return {
        name: sorted(member.name for member in schema.get_possible_types(abstract))
        for name, abstract in sorted(schema.type_map.items())
        if isinstance(abstract, GraphQLInterfaceType | GraphQLUnionType) and not name.startswith("__")
    }


def possible_types_json(sdl: str) -> str:
    return json.dumps(possible_types(sdl), indent=2) + "\n"
