"""The compiled reads' fast coercion of plain variables (api/compiled/variables.py) agrees with
graphql-core's get_variable_values wherever it answers, on generated definitions and values."""

from __future__ import annotations

from typing import Any

from graphql import OperationDefinitionNode, parse
from graphql.execution.values import get_variable_values
from hypothesis import example, given
from hypothesis import strategies as st

from gql_progress.api.compiled.variables import coerce_plain, plain_variables
from gql_progress.api.schema import shared_graphql_schema

SCHEMA = shared_graphql_schema(False)._schema
TYPES = ["String", "String!", "ID", "ID!", "Int", "Int!", "Boolean", "Boolean!", "Float", "[String!]"]


def _absent(value: Any) -> bool:
    return isinstance(value, str) and value == "absent"


values = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**31) - 2, max_value=-(2**31) + 2),
    st.integers(min_value=2**31 - 2, max_value=2**31 + 2),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=2), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


@given(
    types=st.lists(st.sampled_from(TYPES), min_size=1, max_size=3),
    sent=st.lists(st.one_of(st.just("absent"), values), min_size=3, max_size=3),
)
@example(types=["Int!"], sent=[True, "absent", "absent"])  # a bool is not an Int
@example(types=["ID"], sent=[7, "absent", "absent"])  # an Int ID becomes "7": the general path
@example(types=["Int"], sent=[2**31, "absent", "absent"])
@example(types=["String!"], sent=[None, "absent", "absent"])
@example(types=["Int"], sent=[0.0, "absent", "absent"])  # graphql-core makes it 0: the general path
def test_the_fast_path_answers_only_as_graphql_core_does(types: list[str], sent: list[Any]) -> None:
    names = [f"v{i}" for i in range(len(types))]
    document = parse(
        "query(" + ", ".join(f"${n}: {t}" for n, t in zip(names, types, strict=True)) + ") { __typename }"
    )
    [operation] = document.definitions
    assert isinstance(operation, OperationDefinitionNode)
    definitions = operation.variable_definitions or ()
    variables = {n: v for n, v in zip(names, sent, strict=False) if not _absent(v)}

    general = get_variable_values(SCHEMA, definitions, dict(variables), 1)
    plain = plain_variables(definitions)
    fast = None if plain is None else coerce_plain(plain, variables)

    if fast is not None:
        assert not isinstance(general, list), general  # graphql-core accepted them too
        assert fast == general.coerced
        assert all(type(fast[k]) is type(general.coerced[k]) for k in fast)
    converted = any(t.startswith("ID") for t in types) or any(type(v) is float for v in variables.values())
    if plain is not None and not isinstance(general, list) and not converted:
        # Plain definitions and values graphql-core takes: the fast path takes them too, except
        # the conversions it leaves to graphql-core (an ID sent as a number, an Int as 2.0).
        assert fast is not None


def test_lists_defaults_enums_and_input_objects_are_not_plain() -> None:
    for declaration in ("$a: [String!]", '$a: String = "x"', "$a: WebhookDeliveryStatus", "$a: UserRefInput"):
        [operation] = parse(f"query({declaration}) {{ __typename }}").definitions
        assert isinstance(operation, OperationDefinitionNode)
        assert plain_variables(operation.variable_definitions or ()) is None
