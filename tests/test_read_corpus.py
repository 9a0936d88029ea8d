"""Every query document the test suite sends, answered alike by the compiled path and the resolvers.

How the corpus is collected and kept current (tests/read_corpus.py): the in-process client every
API test goes through (tests/apps.client_for) records each query operation it sends — its text,
operation name and variables; mutations, subscriptions and unparsable documents are left out, and
so are generated ones (hypothesis). At the end of every pytest session the documents sent are
compared with tests/read_corpus.jsonl: one that is missing fails the run, and
``pytest --update-read-corpus`` adds it (existing lines stay as they are; the file is sorted, one
document per line). A new test's read documents therefore reach this replay without anyone
remembering to list them. Documents no test sends any more stay until removed by hand; they are
still valid documents to compare on.

The replay: tests/read_paths.py's two apps on one PostgreSQL database seeded with the demo data,
one with compiled reads and one without. Each corpus document, with each of its recorded variable
sets, is sent with the learner's, the instructor's and the admin's keys to both; the status codes
and the parsed bodies must be equal (data, and errors with their messages, paths, locations and
extensions, masked internal errors included). The ids the tests sent named rows of their own
databases: ``Rewrite`` maps each global id, seeded slug, email and external id onto a row of the
same kind in the demo data (by its position), so most documents find something; those whose
values map to nothing still run, since errors and nulls must agree as well.

A silent fallback (the runner answers through the resolvers when a compiled statement fails)
would look like agreement: whenever the document has a plan and this request's variables bind,
the compiled app must have answered from it (``CompiledReads.answered``), and enough of the
corpus must compile for that check to mean something.

Then hypothesis-graphql generates documents over the whole schema (any root field, with
arguments drawn partly from the demo data's ids and slugs, and a share restricted to the compiled
roots), sent with the three keys to both apps; again the answers must be equal.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries
from sqlalchemy import text

from gql_progress import demo
from gql_progress.api.compiled.planner import NotCompiled
from gql_progress.db.models import UserRole
from gql_progress.domain.ids import decode_any_id, encode_id
from gql_progress.domain.viewer import Viewer
from tests import read_corpus
from tests.read_paths import ROLES, Pair, comparable, paired_apps

pytestmark = pytest.mark.postgres_only

ENTRIES = read_corpus.load()
SCHEMA = graphql.build_schema((Path(__file__).resolve().parent.parent / "schema.graphql").read_text())


@pytest.fixture(scope="module")
async def pair(pg_template: str | None) -> AsyncIterator[Pair]:
    async with paired_apps(pg_template) as both:
        yield both


# --- the corpus stays current ------------------------------------------------------------------------


def test_the_recorder_keeps_query_operations_with_their_variables() -> None:
    recorder = read_corpus.Recorder()
    recorder.add("query Q($n: Int) { courses(first: $n) { totalCount } }", None, {"n": 1})
    recorder.add("query Q($n: Int) { courses(first: $n) { totalCount } }", None, {"n": 1})
    recorder.add("query Q($n: Int) { courses(first: $n) { totalCount } }", None, {"n": 2})
    recorder.add("mutation { revokeApiKey(id: 1) { __typename } }", None, None)
    recorder.add("subscription { progressUpdated { id } }", None, None)
    recorder.add("query A { me { id } } mutation B { x }", "B", None)
    recorder.add("{ me { id }", None, None)  # unparsable
    recorder.add("query A { me { id } } query B { me { name } }", None, None)  # which one?

    assert list(recorder.seen) == [("query Q($n: Int) { courses(first: $n) { totalCount } }", None)]
    assert next(iter(recorder.seen.values())) == {'{"n": 1}': {"n": 1}, '{"n": 2}': {"n": 2}}


async def test_the_recorder_reads_posts_and_gets_to_graphql_only() -> None:
    recorder = read_corpus.Recorder()
    document = "{ courses { totalCount } }"
    await recorder.on_request(httpx.Request("POST", "http://t/graphql", json={"query": document}))
    await recorder.on_request(httpx.Request("GET", "http://t/graphql", params={"query": "{ me { id } }"}))
    await recorder.on_request(httpx.Request("POST", "http://t/elsewhere", json={"query": "{ a }"}))
    with read_corpus.not_recorded():
        await recorder.on_request(httpx.Request("POST", "http://t/graphql", json={"query": "{ b }"}))

    assert set(recorder.seen) == {(document, None), ("{ me { id } }", None)}


def test_a_document_the_corpus_lacks_is_reported_and_added_in_order() -> None:
    recorder = read_corpus.Recorder()
    known = ENTRIES[0]
    recorder.add(known.document, known.operation_name, {})
    recorder.add("{ zz: courses { totalCount } }", None, {"x": 2})
    recorder.add("{ zz: courses { totalCount } }", None, {"x": 1})

    assert read_corpus.missing(recorder, ENTRIES) == [("{ zz: courses { totalCount } }", None)]
    updated = read_corpus.updated(recorder, ENTRIES)
    assert [entry.key for entry in updated] == sorted(
        [entry.key for entry in ENTRIES] + [("{ zz: courses { totalCount } }", None)],
        key=lambda k: (k[0], k[1] or ""),
    )
    assert next(e for e in updated if e.document.startswith("{ zz")).variables == [{"x": 1}, {"x": 2}]
    assert read_corpus.missing(recorder, updated) == []


def test_the_corpus_file_is_sorted_and_has_each_document_once() -> None:
    keys = [entry.key for entry in ENTRIES]
    assert keys == sorted(set(keys), key=lambda k: (k[0], k[1] or ""))
    assert all(read_corpus.is_query(document, name) for document, name in keys)


# --- ids of the tests' databases, mapped onto the demo data ----------------------------------------

TABLES = {
    "User": "users",
    "Course": "courses",
    "Lesson": "lessons",
    "Enrollment": "enrollments",
    "Progress": "lesson_progress",
    "Certificate": "certificates",
    "Bundle": "bundles",
    "StudyPlan": "study_plans",
    "StudyPlanInstance": "study_plan_instances",
    "ApiKey": "api_keys",
    "Event": "events",
    "WebhookEndpoint": "webhook_endpoints",
    "WebhookDelivery": "webhook_deliveries",
}
# What tests/support.py and tests/seeded_world.py seed with a counter: course-7, user7@…, ext-7.
COUNTED = {
    re.compile(r"course-(\d+)"): ("courses", "slug"),
    re.compile(r"user(\d+)@example\.com"): ("users", "email"),
    re.compile(r"ext-(\d+)"): ("users", "external_id"),
}


@dataclass
class Rewrite:
    """Values of the tests' databases → values of the demo data, the n-th row for the n-th."""

    ids: dict[str, list[int]]
    counted: dict[tuple[str, str], list[str]]

    @classmethod
    async def of(cls, pair: Pair) -> Rewrite:
        ids: dict[str, list[int]] = {}
        counted: dict[tuple[str, str], list[str]] = {}
        async with pair.compiled.db.read() as conn:
            for type_name, table in TABLES.items():
                ids[type_name] = list((await conn.scalars(text(f"SELECT id FROM {table} ORDER BY id"))).all())
            for table, column in COUNTED.values():
                rows = await conn.scalars(text(f"SELECT {column} FROM {table} ORDER BY id"))
                counted[(table, column)] = [str(value) for value in rows.all()]
        return cls(ids, counted)

    def string(self, value: str) -> str:
        decoded = decode_any_id(value)
        if decoded is not None and self.ids.get(decoded[0]):
            rows = self.ids[decoded[0]]
            return encode_id(decoded[0], rows[(decoded[1] - 1) % len(rows)])
        for pattern, where in COUNTED.items():
            match = pattern.fullmatch(value)
            if match and self.counted[where]:
                values = self.counted[where]
                return values[(int(match.group(1)) - 1) % len(values)]
        return value

    def variables(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.string(value)
        if isinstance(value, list):
            return [self.variables(item) for item in value]
        if isinstance(value, dict):
            return {name: self.variables(item) for name, item in value.items()}
        return value

    def document(self, document: str) -> str:
        """The document with its string literals rewritten; the text itself when none changes."""
        rewrite = self

        class Literals(graphql.Visitor):
            changed = False

            def enter_string_value(self, node: graphql.StringValueNode, *_: Any) -> Any:
                new = rewrite.string(node.value)
                if new == node.value:
                    return None
                Literals.changed = True
                return graphql.StringValueNode(value=new)

        tree = graphql.visit(graphql.parse(document), Literals())
        return graphql.print_ast(tree) if Literals.changed else document


@pytest.fixture(scope="module")
async def rewrite(pair: Pair) -> Rewrite:
    return await Rewrite.of(pair)


def test_ids_and_seeded_values_map_onto_demo_rows_of_the_same_kind() -> None:
    rewrite = Rewrite(
        ids={"Course": [10, 11], "User": [4]},
        counted={("courses", "slug"): ["intro-to-sql"], ("users", "email"): [], ("users", "external_id"): []},
    )
    assert rewrite.string(encode_id("Course", 3)) == encode_id("Course", 10)
    assert rewrite.string(encode_id("Course", 2)) == encode_id("Course", 11)
    assert rewrite.string(encode_id("Contest", 2)) == encode_id("Contest", 2)  # no such rows: kept
    assert rewrite.string("course-7") == "intro-to-sql"
    assert rewrite.string("user7@example.com") == "user7@example.com"
    assert rewrite.variables({"a": [encode_id("User", 9)], "n": 3}) == {"a": [encode_id("User", 4)], "n": 3}
    document = f'{{ course(id: "{encode_id("Course", 1)}") {{ title }} }}'
    assert (
        rewrite.document(document) == f'{{\n  course(id: "{encode_id("Course", 10)}") {{\n    title\n  }}\n}}'
    )
    assert rewrite.document("{ me { id } }") == "{ me { id } }"


# --- the replay --------------------------------------------------------------------------------------


def _cases() -> list[Any]:
    cases = []
    for entry in ENTRIES:
        digest = hashlib.sha1(f"{entry.document}\x00{entry.operation_name}".encode()).hexdigest()[:10]
        for index, variables in enumerate(entry.variables or [{}]):
            cases.append(pytest.param(entry, variables, id=f"{digest}-{index}"))
    return cases


CASES = _cases()


def _compiles(pair: Pair, document: str, operation_name: str | None, variables: Any, who: str) -> bool:
    """Whether the compiled app must answer this request from a plan: the document has one and
    the variables bind (else the resolvers answer by design: a bad cursor, a page too large…)."""
    plan = pair.plans.plans.plan_for(document, graphql.parse(document), operation_name)
    if plan is None:
        return False
    try:
        plan.bind(Viewer(getattr(pair.keys, who).row.user_id, UserRole[who.upper()]), variables)
    except NotCompiled:
        return False
    return True


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize(("entry", "variables"), CASES)
async def test_every_corpus_document_answers_alike_on_both_paths(
    pair: Pair, rewrite: Rewrite, entry: read_corpus.Entry, variables: dict[str, Any], who: str
) -> None:
    document = rewrite.document(entry.document)
    values = rewrite.variables(variables)
    body = {"query": document, "variables": values}
    if entry.operation_name is not None:
        body["operationName"] = entry.operation_name
    headers = {"Authorization": f"Bearer {pair.key(who)}"}
    before = pair.plans.answered + pair.plans.refused

    fast = await pair.compiled.client.post("/graphql", json=body, headers=headers)
    slow = await pair.resolvers.client.post("/graphql", json=body, headers=headers)

    assert (fast.status_code, comparable(fast.json())) == (slow.status_code, comparable(slow.json())), (
        document
    )
    # Asked only of documents past the gate: the planner validates, and the attack-shaped
    # documents of the corpus are what the gate keeps from reaching such work.
    compiles = not _refused_before_answering(fast.json()) and _compiles(
        pair, document, entry.operation_name, values, who
    )
    # A plan whose guard refuses (declarations.Root) hands the request to the resolvers: counted.
    handled = pair.plans.answered + pair.plans.refused
    assert handled == before + (1 if compiles else 0), "compiled app: a plan, yet no answer"


# The request gate's refusals of a document's size (tests/apps.py's limits are roomy, not off):
# such a request never reaches the answer step, whichever path would have answered it.
REFUSALS = {"QUERY_TOO_COSTLY", "QUERY_TOO_DEEP", "TOO_MANY_ALIASES", "QUERY_TOO_LARGE", "QUERY_TOO_COMPLEX"}


def _refused_before_answering(body: Any) -> bool:
    if not isinstance(body, dict) or not body.get("errors") or body.get("data") is not None:
        return False
    return all((error.get("extensions") or {}).get("code") in REFUSALS for error in body["errors"])


# Documents of the corpus the compiled path answers (with the learner's key and the first
# variables): 29 of 320 when the corpus was first recorded (most of the suite's reads name
# roots or arguments not compiled), 42 of 333 once user(), completionStatus, learnerProgress and
# Course.learners compiled, 60 of 351 before and 63 after bundle progress compiled (the corpus's
# other bundle documents name errors, `enrollment` or another learner). The replay's count check
# is only as strong as this is large.
COMPILED_AT_LEAST = 60


async def test_enough_of_the_corpus_compiles_for_the_replay_to_prove_something(
    pair: Pair, rewrite: Rewrite
) -> None:
    before = pair.plans.answered
    for entry in ENTRIES:
        body = {"query": rewrite.document(entry.document), "variables": rewrite.variables(entry.variables[0])}
        if entry.operation_name is not None:
            body["operationName"] = entry.operation_name
        await pair.compiled.client.post(
            "/graphql", json=body, headers={"Authorization": f"Bearer {pair.key('learner')}"}
        )
    assert pair.plans.answered - before >= COMPILED_AT_LEAST, pair.plans.answered - before


# --- generated documents over the whole schema --------------------------------------------------------

EXAMPLES = int(os.environ.get("GQL_PROGRESS_DIFFERENTIAL_EXAMPLES", "80"))
COMPILED_ROOTS = ["course", "courses", "me"]

# Argument values that name rows of the demo data (a fresh database numbers its rows from 1), so
# generated arguments often find something, and a few that name nothing or are malformed.
KNOWN = [
    *(encode_id(type_name, pk) for type_name in TABLES for pk in (1, 2, 3)),
    *(course["course"]["slug"] for course in demo.COURSES),
    *(user["email"] for user in demo.USERS),
    *(user["external_id"] for user in demo.USERS),
    str(demo.BUNDLE["slug"]),
    encode_id("Course", 0),
    "Y3Vyc29yOjE=",  # cursor:1
    "nope",
    "",
]
_SCALARS = {
    "ID": st.one_of(st.sampled_from(KNOWN), st.text(max_size=8)).map(nodes.String),
    "String": st.one_of(st.sampled_from(KNOWN), st.text(max_size=8)).map(nodes.String),
    "DateTime": st.sampled_from(["2026-01-01T00:00:00+00:00", "2020-01-01T00:00:00Z"]).map(nodes.String),
    "JSON": st.just(nodes.Null),
}
GENERATED = st.one_of(
    queries(SCHEMA, custom_scalars=_SCALARS),
    # A share over the compiled roots alone, so that most comparisons are between two paths.
    queries(SCHEMA, fields=COMPILED_ROOTS, custom_scalars=_SCALARS),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same documents on every run: CI does not find new ones by chance
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=GENERATED, who=st.sampled_from(ROLES))
async def test_generated_documents_over_the_whole_schema_answer_alike(
    pair: Pair, document: str, who: str
) -> None:
    fast, slow = await pair.both(document, None, pair.key(who))
    assert fast == slow, document
