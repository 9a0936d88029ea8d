"""Documents built to hurt the server before it knows who is calling (issue 13, findings 1–4).

The gate's work is counted, not timed: a document whose fragments double at each level must
cost the gate work linear in its size; fragment nesting up to the token limit must be a typed
refusal, never a 500; a caller without a key must learn nothing about the schema; and no message
in production may suggest a name.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import graphql
import graphql.validation.rules
import httpx
import pytest

from gql_progress.api.document_shape import measure_shape
from gql_progress.api.query_cost import measure
from gql_progress.api.schema import shared_graphql_schema
from gql_progress.edge.request_gate import WORK_PER_NODE, RequestGate
from gql_progress.settings import load_settings
from tests.apps import api_with
from tests.support import Api


def _doubling(levels: int, leaf: str = "__typename") -> str:
    """F(i) spreads F(i-1) twice: a naive walk expands the leaf 2^levels times."""
    fragments = [f"fragment F0 on Query {{ {leaf} }}"]
    fragments += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels)]
    return f"query {{ ...F{levels - 1} }}\n" + "\n".join(fragments)


def _chain(levels: int, leaf: str = "__typename") -> str:
    """F(i) spreads F(i-1): fragments nested ``levels`` deep."""
    fragments = [f"fragment F0 on Query {{ {leaf} }}"]
    fragments += [f"fragment F{i} on Query {{ ...F{i - 1} }}" for i in range(1, levels)]
    return f"query {{ ...F{levels - 1} }}\n" + "\n".join(fragments)


def _gate() -> RequestGate:
    return RequestGate(shared_graphql_schema(True)._schema, load_settings())


def _codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


# --- finding 1: exponential fragment expansion -----------------------------------------------------


@pytest.mark.parametrize("levels", [10, 20, 40, 60])
def test_fragments_doubling_at_each_level_cost_the_gate_work_linear_in_the_document(levels: int) -> None:
    gate = _gate()
    document = _doubling(levels)
    parsed = graphql_parse(document)
    selections = 1 + 2 * (levels - 1) + 1  # the operation's spread, two per fragment, the leaf

    shape = measure_shape(parsed)
    cost = measure(gate.schema, parsed, None, None, 20, max_work=WORK_PER_NODE * 5000)

    assert shape.work <= 2 * selections
    assert cost is not None
    assert cost.work <= selections  # each fragment walked once
    assert cost.cost == 2 ** (levels - 1)  # …while its cost still counts every use


@pytest.mark.parametrize("leaf", ["__typename", "me { id }"])
async def test_a_doubling_document_is_refused_at_once_with_and_without_a_key(api: Api, leaf: str) -> None:
    learner = await api.user()
    document = _doubling(40, leaf)
    api.db.statements.reset()

    keyless = await api.client.post("/graphql", json={"query": document})
    keyed = await api.post(document, key=learner.key)

    assert keyless.status_code == 401
    assert _codes(keyless) == ["UNAUTHENTICATED"]
    assert keyed.status_code == 200
    assert _codes(keyed) == ["QUERY_TOO_COSTLY"]
    # Only the key lookup: the gate runs no SQL.
    assert api.db.statements.count <= 1


def test_a_document_reusing_its_fragments_under_many_page_sizes_stops_at_a_work_budget() -> None:
    # One fragment spread under a thousand different page sizes is walked once per size.
    gate = _gate()
    spreads = " ".join(f"c{i}: courses(first: {i}) {{ ...P }}" for i in range(1, 300))
    fragment = "fragment P on CourseConnection { nodes { " + " ".join(["title"] * 200) + " } }"
    document = f"{{ {spreads} }} {fragment}"

    refused = gate.check_limits(document, None, None)

    assert refused is not None
    assert refused.code in {"QUERY_TOO_COMPLEX", "TOO_MANY_ALIASES", "QUERY_TOO_COSTLY"}


# --- finding 2: deep nesting -------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [65, 200, 600])
@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
@pytest.mark.parametrize("keyed", [True, False], ids=["keyed", "keyless"])
async def test_fragment_nesting_up_to_the_token_limit_is_a_typed_refusal_never_a_500(
    api: Api, levels: int, accept: str, keyed: bool
) -> None:
    learner = await api.user()
    headers = {"Accept": accept}
    if keyed:
        headers["Authorization"] = f"Bearer {learner.key}"
    document = _chain(levels)

    response = await api.client.post("/graphql", json={"query": document}, headers=headers)

    assert response.status_code < 500
    assert response.headers["content-type"].startswith(("application/json", "application/graphql-response"))
    # Past the token limit (600 levels need ~5,400 tokens) the document is too large; below, too deep.
    assert _codes(response) in (["QUERY_TOO_DEEP"], ["QUERY_TOO_LARGE"])
    if accept == "application/graphql-response+json":
        assert 400 <= response.status_code < 500


async def test_fragment_nesting_within_the_limit_still_runs(api: Api) -> None:
    learner = await api.user()
    body = await api.gql(_chain(50, "me { id }"), key=learner.key)
    assert "errors" not in body, body
    assert body["data"]["me"]["id"]


@pytest.mark.parametrize(
    "document",
    [
        "{" + "a{" * 1500 + "a" + "}" * 1501,
        "{" + "... on Query {" * 1000 + "__typename" + "}" * 1001,
        "{ courses(first: " + "[" * 1500 + "]" * 1500 + ") { totalCount } }",
        "{ courses(first: " + "{a:" * 600 + "1" + "}" * 600 + ") { totalCount } }",
    ],
    ids=["fields", "inline-fragments", "lists", "objects"],
)
async def test_any_deep_nesting_is_query_too_deep_with_and_without_a_key(api: Api, document: str) -> None:
    learner = await api.user()
    for headers in ({}, {"Authorization": f"Bearer {learner.key}"}):
        response = await api.client.post("/graphql", json={"query": document}, headers=headers)
        assert response.status_code == 200
        assert _codes(response) == ["QUERY_TOO_DEEP"]


# --- finding 3: a caller without a key learns nothing about the schema -------------------------------

_PUBLIC = "query($c: String!) { verifyCertificate(code: $c) { learnerName courseTitle issuedAt } }"
_PROBES = {
    "unused-fragment": "{ __typename } fragment X on User { email }",
    "unused-fragment-unknown-field": "{ __typename } fragment X on User { emial }",
    "unused-fragment-unknown-type": "{ __typename } fragment X on Usr { id }",
    "variable-type": "query($x: UserRefInput) { __typename }",
    "variable-unknown-type": "query($x: UserRefInpt) { __typename }",
    "empty-default": "query($x: UserRefInput = {}) { __typename }",
    "inline-fragment": "{ __typename ... on Query { me { id } } }",
    "introspection": "{ __schema { types { name } } }",
    "type-introspection": '{ __type(name: "User") { fields { name } } }',
    "public-with-unknown-subfield": '{ verifyCertificate(code: "x") { learnerName user { id } } }',
    "public-with-unknown-argument": '{ verifyCertificate(code: "x", userId: 1) { learnerName } }',
    "mixed": "{ __typename me { id } }",
    "directive-argument": "{ __typename @include(iff: true) }",
    "mutation": "mutation { __typename }",
}


@pytest.mark.parametrize("probe", sorted(_PROBES))
async def test_a_keyless_document_other_than_a_public_one_gets_the_same_401_and_no_sql(
    api: Api, probe: str
) -> None:
    api.db.statements.reset()
    response = await api.client.post("/graphql", json={"query": _PROBES[probe]})
    baseline = await api.client.post("/graphql", json={"query": "{ nothingAtAll }"})

    assert response.status_code == 401
    assert response.json() == baseline.json()
    assert _codes(response) == ["UNAUTHENTICATED"]
    assert api.db.statements.count == 0


async def test_public_documents_still_run_without_a_key(api: Api) -> None:
    for document, variables in [
        (_PUBLIC, {"c": "no-such-code"}),
        ('{ verifyCertificate(code: "x") { __typename learnerName } __typename }', {}),
        (
            'query Check { v: verifyCertificate(code: "x") { ...V } } fragment V on CertificateVerification '
            "{ courseTitle }",
            {},
        ),
    ]:
        response = await api.client.post("/graphql", json={"query": document, "variables": variables})
        assert response.status_code == 200, response.text
        assert "errors" not in response.json(), response.text


# --- finding 4: no suggestion in any message in production --------------------------------------------


@pytest.fixture
async def production_api(database_url: str) -> AsyncIterator[Api]:
    async with api_with(database_url, mode="production") as api:
        yield api


# Each case misspells one name where graphql-core would suggest the right one: every validation
# rule that can suggest, and variable coercion at execution.
_SUGGESTING = {
    "FieldsOnCorrectTypeRule": ("{ me { emial } }", None),
    "KnownArgumentNamesRule": ('{ course(slg: "x") { id } }', None),
    "KnownArgumentNamesOnDirectivesRule": ("{ me { id @include(iff: true) } }", None),
    "KnownTypeNamesRule": ("query($x: UserRefInpt) { me { id } }", None),
    "ValuesOfCorrectTypeRule/enum": ("{ events(types: [LESON_COMPLETED]) { totalCount } }", None),
    "ValuesOfCorrectTypeRule/input-field": ('{ bundleProgress(bundle: {slg: "x"}) { __typename } }', None),
    "ValuesOfCorrectTypeRule/one-of": (
        '{ bundleProgress(bundle: {slg: "x"}, user: {emial: "y"}) { __typename } }',
        None,
    ),
    "variables/input-field": (
        "query($b: BundleRefInput!) { bundleProgress(bundle: $b) { __typename } }",
        {"b": {"slg": "x"}},
    ),
    "variables/enum": (
        "query($t: [EventType!]) { events(types: $t) { totalCount } }",
        {"t": ["LESON_COMPLETED"]},
    ),
}
_SUGGESTION = re.compile(r"did you mean", re.IGNORECASE)


def _rules_that_suggest() -> set[str]:
    """graphql-core's validation rules whose source builds a suggestion."""
    package = Path(graphql.validation.rules.__file__).parent
    found = set()
    for path in package.rglob("*.py"):
        source = path.read_text()
        if "did_you_mean" in source or "suggestion_list" in source:
            found.update(re.findall(r"class (\w+Rule)\(", source))
    return found


def test_the_cases_cover_every_rule_that_can_suggest() -> None:
    covered = {name.split("/")[0] for name in _SUGGESTING}
    # Rules about schema definitions (SDL) never see an executable document.
    sdl_only = {"PossibleTypeExtensionsRule"}
    assert _rules_that_suggest() - sdl_only <= covered


@pytest.mark.parametrize("case", sorted(_SUGGESTING))
async def test_no_message_suggests_a_name_in_production(production_api: Api, api: Api, case: str) -> None:
    document, variables = _SUGGESTING[case]
    hidden = await production_api.gql(document, variables, key=(await production_api.user()).key)
    shown = await api.gql(document, variables, key=(await api.user()).key)

    assert hidden["errors"], hidden
    assert not any(_SUGGESTION.search(error["message"]) for error in hidden["errors"]), hidden["errors"]
    # The same document does suggest in development: the production answer is not a coincidence.
    assert any(_SUGGESTION.search(error["message"]) for error in shown["errors"]), shown["errors"]


def graphql_parse(document: str) -> graphql.DocumentNode:
    return graphql.parse(document, max_tokens=100_000)
