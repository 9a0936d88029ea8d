"""Lean writes (api/compiled/writes.py) against the executor: same documents, same JSON, on PostgreSQL.

Two apps, each on a database of its own seeded with the same demo data (same ids): one answers
heartbeat and bulk-completion documents on the lean path, its heartbeats' writes sent alone on
asyncpg (Database.write_alone), the other (``compiled_reads=False``) through Strawberry's
executor, every write in a SQLAlchemy transaction. Every case is sent to both, in the same
order, so both databases go through the same writes; the responses must be equal once the
values that depend on the moment are masked (timestamps, measured active time). Documents meant
for the lean path must have been answered there (counted), and writes meant to go alone must
have (counted too), so a silent fallback cannot pass for agreement; documents outside its shape
must not have been. The whole suite runs with the lean path on as well, so
every test that sends these mutations checks it a second time, on SQLite too.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import GraphQLInputObjectType, GraphQLInputType, GraphQLList, GraphQLNonNull
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_arguments

from bench.operations import BULK_COMPLETION, HEARTBEAT
from gql_progress.api.compiled.inputs import arguments_converter
from gql_progress.api.compiled.writes import LEAN_MUTATIONS, LeanWrites
from gql_progress.api.schema import shared_graphql_schema
from gql_progress.auth.keys import issue_api_key
from gql_progress.demo import DemoKeys, seed_demo
from gql_progress.domain.ids import decode_id, encode_id
from gql_progress.domain.scopes import Scope
from tests.apps import GENEROUS_LIMITS, client_for, running_app
from tests.conftest import pg_database
from tests.support import Api

pytestmark = pytest.mark.postgres_only

_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")
_MEASURED = {"activeSeconds", "totalActiveSeconds"}


def masked(body: Any) -> Any:
    """``body`` with the values that depend on when the write ran replaced by markers."""
    if isinstance(body, dict):
        return {k: "<measured>" if k in _MEASURED else masked(v) for k, v in body.items()}
    if isinstance(body, list):
        return [masked(item) for item in body]
    if isinstance(body, str) and _ISO.match(body):
        return "<time>"
    return body


@dataclass
class World:
    """Ids both databases share (seeded the same way), by name."""

    lessons: dict[str, list[str]]  # course slug -> lesson global ids in position order
    users: dict[str, str]  # demo external id -> global id
    courses: dict[str, str]  # course slug -> global id


@dataclass
class Pair:
    lean: Api
    executor: Api
    lean_keys: DemoKeys
    executor_keys: DemoKeys
    world: World

    @property
    def writes(self) -> LeanWrites:
        writes = self.lean.app.state.writes
        assert isinstance(writes, LeanWrites)
        return writes

    async def both(self, document: str, variables: dict[str, Any], who: str) -> tuple[Any, Any]:
        fast = await self.lean.post(document, variables, key=getattr(self.lean_keys, who).secret)
        slow = await self.executor.post(document, variables, key=getattr(self.executor_keys, who).secret)
        assert fast.status_code == slow.status_code, (fast.text, slow.text)
        return masked(fast.json()), masked(slow.json())


async def _world(api: Api) -> World:
    async with api.db.read() as conn:
        lessons = (
            await conn.execute(
                text(
                    "SELECT c.slug, l.id FROM lessons l JOIN courses c ON c.id = l.course_id "
                    "ORDER BY c.slug, l.position"
                )
            )
        ).all()
        users = (await conn.execute(text("SELECT external_id, id FROM users"))).all()
        courses = (await conn.execute(text("SELECT slug, id FROM courses"))).all()
    by_course: dict[str, list[str]] = {}
    for slug, pk in lessons:
        by_course.setdefault(slug, []).append(encode_id("Lesson", pk))
    return World(
        by_course,
        {external: encode_id("User", pk) for external, pk in users},
        {slug: encode_id("Course", pk) for slug, pk in courses},
    )


@pytest.fixture(scope="module")
async def pair(pg_template: str | None) -> AsyncIterator[Pair]:
    async with (
        pg_database(pg_template) as lean_url,
        pg_database(pg_template) as executor_url,
        running_app(lean_url, **GENEROUS_LIMITS) as lean_app,
        running_app(executor_url, compiled_reads=False, **GENEROUS_LIMITS) as executor_app,
        client_for(lean_app, record=False) as lean,
        client_for(executor_app, record=False) as executor,
    ):
        lean_keys = await seed_demo(lean.db)
        executor_keys = await seed_demo(executor.db)
        world = await _world(lean)
        assert world == await _world(executor), "the two databases must share their ids"
        yield Pair(lean, executor, lean_keys, executor_keys, world)


ERRORS = "... on Error { __typename code message } ... on ValidationError { fields { path message } }"
PROGRESS_FIELDS = (
    "id status completed progressPercentage videoPositionSeconds lastPositionSeconds quizScore "
    "quizAttempts quizPassed timeSpentMinutes activeSeconds notes isBookmarked metadata completedAt "
    "lastAccessedAt createdAt updatedAt grantReason"
)
UPSERT = (
    "mutation Upsert($input: UpsertProgressInput!) { upsertProgress(input: $input) { __typename "
    f"... on UpsertProgressSuccess {{ progress {{ {PROGRESS_FIELDS} }} }} "
    f"... on SequenceError {{ missingLessonId }} {ERRORS} }} }}"
)
SUMMARY_FIELDS = (
    "courseId userId totalLessons completedLessons inProgressLessons requiredLessons "
    "completedRequiredLessons completionPercentage totalTimeSpentMinutes totalActiveSeconds "
    "lastAccessedAt isComplete"
)
BULK = (
    "mutation Bulk($input: BulkSetCompletionInput!) { bulkSetCompletion(input: $input) { __typename "
    "... on BulkSetCompletionSuccess { succeeded failed results { lessonId externalId success "
    f"error {{ code message }} }} summaries {{ {SUMMARY_FIELDS} }} }} {ERRORS} }} }}"
)
# Fragments, aliases, literals with variables inside them, a repeated field merged.
FRAGMENTS = (
    "fragment P on Progress { id videoPositionSeconds }\n"
    "fragment Ok on UpsertProgressSuccess { progress { ...P notes } progress { isBookmarked } }\n"
    "mutation Beat($lesson: ID!, $notes: String) { beat: upsertProgress(input: "
    "{lesson: {id: $lesson}, videoPositionSeconds: 30, notes: $notes, isBookmarked: true, "
    'metadata: {a: [1, "x"]}}) '
    "{ kind: __typename ...Ok ... on Error { code } } }"
)
# Selections the lean path leaves to the executor: a field with a resolver, a directive.
WITH_SUMMARY = (
    "mutation S($input: UpsertProgressInput!) { upsertProgress(input: $input) { "
    "... on UpsertProgressSuccess { progress { id } summary { completedLessons } } } }"
)
WITH_DIRECTIVE = (
    "mutation D($input: UpsertProgressInput!, $yes: Boolean!) { upsertProgress(input: $input) { "
    "__typename @include(if: $yes) } }"
)
WITH_ITEM_PROGRESS = (
    "mutation B($input: BulkSetCompletionInput!) { bulkSetCompletion(input: $input) { "
    "... on BulkSetCompletionSuccess { results { progress { id completed } } } } }"
)

UPDATE_COURSE = (
    "mutation U($input: UpdateCourseInput!) { updateCourse(input: $input) { __typename "
    "... on CoursePayload { course { videoCompletionThreshold } } } }"
)

Variables = Callable[[World], dict[str, Any]]


def _lesson(slug: str, index: int) -> Callable[[World], str]:
    return lambda w: w.lessons[slug][index]


# (name, document, variables, key, whether the lean path answers it), run in this order.
CASES: list[tuple[str, str, Variables, str, bool]] = [
    (
        "bench heartbeat",
        HEARTBEAT,
        lambda w: {"lessonId": w.lessons["intro-to-sql"][1], "video": 40, "last": 41, "minutes": 3},
        "learner",
        True,
    ),
    (
        "bench heartbeat, a new record",
        HEARTBEAT,
        lambda w: {"lessonId": w.lessons["data-viz"][0], "video": 5, "last": 5, "minutes": 1},
        "learner",
        True,
    ),
    (
        "every field, by externalId",
        UPSERT,
        lambda w: {
            "input": {
                "lesson": {"externalId": "intro-to-sql-l2"},
                "videoPositionSeconds": 90,
                "lastPositionSeconds": 80,
                "progressPercentage": 42.5,
                "quizScore": 77,
                "quizAttempts": 2,
                "quizPassed": False,
                "timeSpentMinutes": 12,
                "notes": 'née "quoted" \\ back',
                "isBookmarked": True,
                "metadata": {"b": 1, "a": [1, 2.5, None]},
            }
        },
        "learner",
        True,
    ),
    (
        "completed (completion events, summary recomputed)",
        UPSERT,
        lambda w: {"input": {"lessonId": w.lessons["intro-to-sql"][2], "completed": True}},
        "learner",
        True,
    ),
    (
        "nullable fields cleared",
        UPSERT,
        lambda w: {"input": {"lessonId": w.lessons["intro-to-sql"][2], "notes": None, "quizScore": None}},
        "learner",
        True,
    ),
    (
        "VALIDATION: every bad field with its path",
        UPSERT,
        lambda w: {
            "input": {
                "lessonId": "not-an-id",
                "videoPositionSeconds": -1,
                "progressPercentage": 101,
                "notes": "x" * 10_001,
                "completed": None,
                "userId": "nope",
            }
        },
        "learner",
        True,
    ),
    (
        "VALIDATION: lesson and lessonId both",
        UPSERT,
        lambda w: {
            "input": {
                "lessonId": w.lessons["intro-to-sql"][0],
                "lesson": {"id": w.lessons["intro-to-sql"][0]},
            }
        },
        "learner",
        True,
    ),
    (
        "NOT_FOUND: no such lesson",
        UPSERT,
        lambda w: {"input": {"lessonId": encode_id("Lesson", 999_999), "videoPositionSeconds": 1}},
        "learner",
        True,
    ),
    (
        "NOT_FOUND: no such externalId",
        UPSERT,
        lambda w: {"input": {"lesson": {"externalId": "no-such-lesson"}, "videoPositionSeconds": 1}},
        "learner",
        True,
    ),
    (
        "FORBIDDEN: a learner naming another user",
        UPSERT,
        lambda w: {
            "input": {"lessonId": w.lessons["intro-to-sql"][0], "userId": w.users["demo-admin"], "notes": "x"}
        },
        "learner",
        True,
    ),
    (
        "NOT_ENROLLED",
        UPSERT,
        lambda w: {"input": {"lessonId": w.lessons["intro-to-sql"][0], "videoPositionSeconds": 3}},
        "instructor",
        True,
    ),
    (
        "OUT_OF_SEQUENCE: a sequential course's third lesson",
        UPSERT,
        lambda w: {"input": {"lessonId": w.lessons["python-basics"][2], "completed": True}},
        "learner",
        True,
    ),
    (
        "an admin writing for a learner",
        UPSERT,
        lambda w: {
            "input": {
                "lessonId": w.lessons["python-basics"][0],
                "userId": w.users["demo-learner"],
                "completed": True,
            }
        },
        "admin",
        True,
    ),
    (
        "fragments, aliases and literals",
        FRAGMENTS,
        lambda w: {"lesson": w.lessons["intro-to-sql"][0], "notes": "hello"},
        "learner",
        True,
    ),
    (
        "bench bulk completion",
        BULK_COMPLETION,
        lambda w: {"ids": w.lessons["intro-to-sql"], "completed": True},
        "learner",
        True,
    ),
    (
        "bench bulk un-completion",
        BULK_COMPLETION,
        lambda w: {"ids": w.lessons["intro-to-sql"], "completed": False},
        "learner",
        True,
    ),
    (
        "bulk: per-item errors (sequence, unknown, malformed, not enrolled)",
        BULK,
        lambda w: {
            "input": {
                "lessons": [
                    {"externalId": "python-basics-l3"},
                    {"id": w.lessons["python-basics"][1]},
                    {"id": "garbage"},
                    {"externalId": "no-such-lesson"},
                    {"id": w.lessons["data-viz"][2]},
                    {"id": encode_id("Lesson", 999_999)},
                ],
                "completed": True,
            }
        },
        "learner",
        True,
    ),
    (
        "bulk: an admin for a learner, lessonIds",
        BULK,
        lambda w: {
            "input": {
                "lessonIds": w.lessons["data-viz"],
                "completed": True,
                "userId": w.users["demo-learner"],
            }
        },
        "admin",
        True,
    ),
    (
        "bulk VALIDATION: lessons and lessonIds both",
        BULK,
        lambda w: {"input": {"lessonIds": [], "lessons": [], "completed": True}},
        "learner",
        True,
    ),
    (
        "bulk FORBIDDEN: a learner naming another user",
        BULK,
        lambda w: {
            "input": {"lessonIds": w.lessons["data-viz"], "completed": False, "userId": w.users["demo-admin"]}
        },
        "learner",
        True,
    ),
    (
        "bulk NOT_FOUND: no such user",
        BULK,
        lambda w: {"input": {"lessonIds": [], "completed": False, "userId": encode_id("User", 999_999)}},
        "admin",
        True,
    ),
    (
        "a variable GraphQL refuses: the executor reports it",
        UPSERT,
        lambda w: {"input": {"lessonId": w.lessons["intro-to-sql"][0], "videoPositionSeconds": "ten"}},
        "learner",
        False,
    ),
    (
        "summary has a resolver: the executor answers",
        WITH_SUMMARY,
        lambda w: {"input": {"lessonId": w.lessons["intro-to-sql"][0], "timeSpentMinutes": 9}},
        "learner",
        False,
    ),
    (
        "a directive: the executor answers",
        WITH_DIRECTIVE,
        lambda w: {"input": {"lessonId": w.lessons["intro-to-sql"][0], "timeSpentMinutes": 10}, "yes": True},
        "learner",
        False,
    ),
    (
        "an item's progress has a resolver: the executor answers",
        WITH_ITEM_PROGRESS,
        lambda w: {"input": {"lessonIds": w.lessons["data-viz"][:1], "completed": True}},
        "learner",
        False,
    ),
    # Last: a statement refused alone has drawn an id from the records' sequence (as every
    # upsert does, inserting or not), so a record created after it would get another id than
    # on the executor's database.
    (
        "an admin sets a video threshold (not a lean mutation)",
        UPDATE_COURSE,
        lambda w: {"input": {"id": w.courses["intro-to-sql"], "videoCompletionThreshold": 50.0}},
        "admin",
        False,
    ),
    (
        "a heartbeat crossing the threshold completes the lesson (in a transaction)",
        UPSERT,
        lambda w: {"input": {"lessonId": w.lessons["intro-to-sql"][3], "videoPositionSeconds": 500}},
        "learner",
        True,
    ),
    (
        "a heartbeat on the lesson it completed",
        UPSERT,
        lambda w: {"input": {"lessonId": w.lessons["intro-to-sql"][3], "videoPositionSeconds": 20}},
        "learner",
        True,
    ),
]


# The cases whose write is one statement sent alone on the lean app's database
# (Database.write_alone, one round trip), as (committed alone, refused for a transaction),
# whichever path answered; every other case writes in a transaction, as the executor app always
# does (it has no direct pool).
ALONE = {
    "bench heartbeat": (1, 0),
    "bench heartbeat, a new record": (1, 0),
    "a heartbeat crossing the threshold completes the lesson (in a transaction)": (0, 1),
    "a heartbeat on the lesson it completed": (1, 0),
    "every field, by externalId": (1, 0),
    "nullable fields cleared": (1, 0),
    "NOT_FOUND: no such lesson": (1, 0),  # the statement wrote nothing; the reads say why
    "NOT_ENROLLED": (1, 0),
    "fragments, aliases and literals": (1, 0),
    # The executor answers these, and the domain's write is the same one statement.
    "summary has a resolver: the executor answers": (1, 0),
    "a directive: the executor answers": (1, 0),
}


@pytest.mark.parametrize(("name", "document", "variables", "who", "lean"), CASES, ids=[c[0] for c in CASES])
async def test_both_paths_answer_alike(
    pair: Pair, name: str, document: str, variables: Variables, who: str, lean: bool
) -> None:
    before = pair.writes.answered
    db = pair.lean.db
    alone_before = (db.alone_committed, db.alone_refused)
    fast, slow = await pair.both(document, variables(pair.world), who)
    assert fast == slow
    assert "data" in fast, fast
    assert pair.writes.answered == before + (1 if lean else 0), name
    committed, refused = ALONE.get(name, (0, 0))
    assert (db.alone_committed, db.alone_refused) == (alone_before[0] + committed, alone_before[1] + refused)
    assert not pair.executor.db.writes_alone


async def test_the_databases_end_alike(pair: Pair) -> None:
    """After the cases, both databases hold the same progress, events and enrollments."""
    tables = {
        "lesson_progress": "user_id, lesson_id, completed, progress_percentage, video_position_seconds, "
        "notes, quiz_score, is_bookmarked, metadata::text, completed_at IS NULL",
        "events": "user_id, type, course_id, lesson_id",
        "enrollments": "user_id, course_id, status, completed_at IS NULL",
    }
    for table, columns in tables.items():
        query = text(f"SELECT {columns} FROM {table} ORDER BY {columns}")
        async with pair.lean.db.read() as conn:
            lean = (await conn.execute(query)).all()
        async with pair.executor.db.read() as conn:
            executor = (await conn.execute(query)).all()
        assert lean == executor, table


async def test_a_key_without_the_write_scope_is_refused_by_the_executor(pair: Pair) -> None:
    learner = decode_id(pair.world.users["demo-learner"], "User", ("userId",))
    bodies = []
    for api in (pair.lean, pair.executor):
        key = await issue_api_key(api.db, learner, "read only", scopes=frozenset({Scope.PROGRESS_READ}))
        before = pair.writes.answered
        variables = {"lessonId": pair.world.lessons["intro-to-sql"][0], "video": 1, "last": 1, "minutes": 1}
        response = await api.post(HEARTBEAT, variables, key=key.secret)
        assert pair.writes.answered == before
        bodies.append(response.json())
    assert bodies[0] == bodies[1]
    assert bodies[0]["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def _values(type_: GraphQLInputType) -> st.SearchStrategy[Any]:
    """Values of ``type_`` as graphql-core hands them to a resolver (names as in the schema)."""
    nullable = not isinstance(type_, GraphQLNonNull)
    named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    strategy: st.SearchStrategy[Any]
    if isinstance(named, GraphQLList):
        strategy = st.lists(_values(named.of_type), max_size=3)
    elif isinstance(named, GraphQLInputObjectType):
        strategy = st.fixed_dictionaries(
            {},
            optional={name: _values(field.type) for name, field in named.fields.items()},
        )
    else:
        strategy = {
            "Int": st.integers(-(2**31), 2**31 - 1),
            "Float": st.floats(allow_nan=False),
            "Boolean": st.booleans(),
            "JSON": st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        }.get(named.name, st.text(max_size=5))
    return st.none() | strategy if nullable else strategy


_SCHEMA = shared_graphql_schema(production=False)
_MUTATIONS = _SCHEMA._schema.mutation_type


@pytest.mark.parametrize("name", sorted(LEAN_MUTATIONS))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_the_input_converter_builds_what_strawberry_builds(name: str, data: st.DataObject) -> None:
    assert _MUTATIONS is not None
    field = _MUTATIONS.fields[name]
    definition = field.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
    values = data.draw(st.fixed_dictionaries({arg: _values(a.type) for arg, a in field.args.items()}))
    registry = _SCHEMA.schema_converter.scalar_registry
    ours = arguments_converter(definition.arguments, registry, _SCHEMA.config)(values)
    theirs = convert_arguments(values, definition.arguments, scalar_registry=registry, config=_SCHEMA.config)
    assert ours == theirs
    assert type(ours["input"]) is type(theirs["input"])
