"""The Idempotency-Key header on mutations, over HTTP on SQLite and PostgreSQL: replays of the
first response that apply nothing twice, 422 for a key reused with another request, 409 for a
repeat that arrives while the first runs (PostgreSQL), nothing stored (and nothing written) when a
request fails unexpectedly, expiry, scoping per caller, and the statements it costs.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import bindparam, insert, text
from sqlalchemy.exc import IntegrityError

from bench.operations import BULK_COMPLETION, HEARTBEAT
from gql_progress.db.engine import Database, write_scope
from gql_progress.db.models import User
from gql_progress.db.types import utcnow
from gql_progress.domain import catalog
from gql_progress.domain.completion.upsert import upsert_progress
from gql_progress.domain.errors import NotFound
from gql_progress.edge.app import create_app
from gql_progress.edge.idempotency import purge_expired
from gql_progress.settings import SettingsError, load_settings
from tests.support import Api, SeededCourse, SeededUser

ERROR_FIELDS = "__typename ... on Error { code message }"

UPSERT = f"""
mutation Upsert($input: UpsertProgressInput!) {{
  upsertProgress(input: $input) {{
    {ERROR_FIELDS}
    ... on UpsertProgressSuccess {{ progress {{ id completed videoPositionSeconds }} }}
  }}
}}
"""

TWO_HEARTBEATS = f"""
mutation Two($a: UpsertProgressInput!, $b: UpsertProgressInput!) {{
  first: upsertProgress(input: $a) {{ {ERROR_FIELDS} ... on UpsertProgressSuccess {{ progress {{ id }} }} }}
  second: upsertProgress(input: $b) {{ {ERROR_FIELDS} ... on UpsertProgressSuccess {{ progress {{ id }} }} }}
}}
"""

CREATE_PLAN = f"""
mutation CreatePlan($input: CreateStudyPlanInput!) {{
  createStudyPlan(input: $input) {{
    {ERROR_FIELDS}
    ... on StudyPlanPayload {{
      studyPlan {{ title lessons {{ id title }} instances {{ totalCount }} }}
    }}
  }}
}}
"""

ENROLLMENT_STATUS = "query Status($slug: String!) { course(slug: $slug) { summary { isComplete } } }"


def new_key() -> str:
    return f"key-{uuid.uuid4()}"


async def post(
    api: Api,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    key: str,
    idempotency_key: str | bytes | list[str] | None = None,
    operation_name: str | None = None,
) -> httpx.Response:
    headers = [(b"Authorization", f"Bearer {key}".encode())]
    values = idempotency_key if isinstance(idempotency_key, list) else [idempotency_key]
    for value in values:
        if value is not None:
            headers.append((b"Idempotency-Key", value if isinstance(value, bytes) else value.encode()))
    body: dict[str, Any] = {"query": query, "variables": variables or {}}
    if operation_name is not None:
        body["operationName"] = operation_name
    return await api.client.post("/graphql", json=body, headers=headers)


async def count(api: Api, sql: str, **params: Any) -> int:
    async with api.db.read() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def snapshot(api: Api, user: SeededUser) -> dict[str, Any]:
    """Everything a completion writes for ``user``: records, events, certificates, enrollments."""
    async with api.db.read() as conn:
        records = (
            await conn.execute(
                text(
                    "SELECT lesson_id, completed, video_position_seconds FROM lesson_progress"
                    " WHERE user_id = :u ORDER BY lesson_id"
                ),
                {"u": user.pk},
            )
        ).all()
        events = (
            await conn.execute(
                text("SELECT id, type FROM events WHERE user_id = :u ORDER BY id"), {"u": user.pk}
            )
        ).all()
        certificates = (
            await conn.execute(text("SELECT id FROM certificates WHERE user_id = :u"), {"u": user.pk})
        ).all()
        enrollments = (
            await conn.execute(
                text("SELECT course_id, status FROM enrollments WHERE user_id = :u ORDER BY course_id"),
                {"u": user.pk},
            )
        ).all()
    return {
        "records": [tuple(r) for r in records],
        "events": [tuple(r) for r in events],
        "certificates": [tuple(r) for r in certificates],
        "enrollments": [tuple(r) for r in enrollments],
    }


async def enrolled(api: Api, lessons: int = 2, **course_values: Any) -> tuple[SeededUser, SeededCourse]:
    learner = await api.user()
    course = await api.course(lessons, **course_values)
    await api.enroll(learner, course)
    return learner, course


def code_of(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


# --- replays ----------------------------------------------------------------------------------


async def test_a_repeat_gets_the_first_body_back_and_applies_nothing_again(api: Api) -> None:
    learner, course = await enrolled(api, 2, certificate_enabled=True)
    complete = {"ids": course.lesson_ids, "completed": True}
    idem = new_key()

    first = await post(api, BULK_COMPLETION, complete, key=learner.key, idempotency_key=idem)
    assert first.status_code == 200, first.text
    assert first.json()["data"]["bulkSetCompletion"]["summaries"][0]["isComplete"] is True
    assert "idempotent-replayed" not in first.headers
    completed = await snapshot(api, learner)
    assert len(completed["certificates"]) == 1
    assert [t for _, t in completed["events"]].count("COURSE_COMPLETED") == 1

    # The learner takes a lesson back; a repeat of the first request must not complete it again.
    undo = await post(
        api, BULK_COMPLETION, {"ids": course.lesson_ids[:1], "completed": False}, key=learner.key
    )
    assert undo.json()["data"]["bulkSetCompletion"]["failed"] == 0
    before_repeat = await snapshot(api, learner)

    repeat = await post(api, BULK_COMPLETION, complete, key=learner.key, idempotency_key=idem)

    assert repeat.status_code == 200
    assert repeat.content == first.content
    assert repeat.headers["idempotent-replayed"] == "true"
    assert await snapshot(api, learner) == before_repeat
    status = await api.data(ENROLLMENT_STATUS, {"slug": course.slug}, key=learner.key)
    assert status["course"]["summary"]["isComplete"] is False
    assert await count(api, "SELECT count(*) FROM idempotency_keys WHERE user_id = :u", u=learner.pk) == 1


async def test_errors_as_data_are_stored_and_replayed(api: Api) -> None:
    learner = await api.user()
    course = await api.course(1)
    heartbeat = {"input": {"lessonId": course.lesson_ids[0], "videoPositionSeconds": 30}}
    idem = new_key()

    refused = await post(api, UPSERT, heartbeat, key=learner.key, idempotency_key=idem)
    assert refused.json()["data"]["upsertProgress"]["code"] == "NOT_ENROLLED"
    await api.enroll(learner, course)
    repeat = await post(api, UPSERT, heartbeat, key=learner.key, idempotency_key=idem)

    # The request completed (with a typed error): its answer is the answer, even though the
    # same write would now succeed. A new key is a new request.
    assert repeat.content == refused.content
    assert repeat.headers["idempotent-replayed"] == "true"
    assert (await snapshot(api, learner))["records"] == []
    fresh = await post(api, UPSERT, heartbeat, key=learner.key, idempotency_key=new_key())
    assert fresh.json()["data"]["upsertProgress"]["__typename"] == "UpsertProgressSuccess"


async def test_a_typed_error_in_one_mutation_keeps_the_others_writes(api: Api) -> None:
    learner, course = await enrolled(api, 1)
    stranger_course = await api.course(1)
    variables = {
        "a": {"lessonId": course.lesson_ids[0], "videoPositionSeconds": 10},
        "b": {"lessonId": stranger_course.lesson_ids[0], "videoPositionSeconds": 20},
    }

    response = await post(api, TWO_HEARTBEATS, variables, key=learner.key, idempotency_key=new_key())

    data = response.json()["data"]
    assert data["first"]["__typename"] == "UpsertProgressSuccess"
    assert data["second"]["code"] == "NOT_ENROLLED"
    # As without the header: the first mutation's write stands, the refused one wrote nothing.
    assert (await snapshot(api, learner))["records"] == [(course.lesson_pks[0], False, 10)]


async def test_the_payload_reads_the_requests_own_writes(api: Api) -> None:
    learner, course = await enrolled(api, 3)
    variables = {"input": {"title": "Evenings", "lessonIds": course.lesson_ids[::-1]}}

    plain = await post(api, CREATE_PLAN, variables, key=learner.key)
    keyed = await post(api, CREATE_PLAN, variables, key=learner.key, idempotency_key=new_key())

    # Lessons and instances are read by DataLoaders after the write: inside the request's one
    # transaction they see the plan it created, as they see a committed one without the header.
    assert keyed.json() == plain.json()
    assert [lesson["id"] for lesson in keyed.json()["data"]["createStudyPlan"]["studyPlan"]["lessons"]] == (
        course.lesson_ids[::-1]
    )


# --- refusals ---------------------------------------------------------------------------------


async def test_the_same_key_with_another_request_is_refused_with_422(api: Api) -> None:
    learner, course = await enrolled(api, 2)
    idem = new_key()
    heartbeat = {"input": {"lessonId": course.lesson_ids[0], "videoPositionSeconds": 30}}
    first = await post(api, UPSERT, heartbeat, key=learner.key, idempotency_key=idem)
    assert first.json()["data"]["upsertProgress"]["__typename"] == "UpsertProgressSuccess"
    written = await snapshot(api, learner)

    other_variables = {"input": {"lessonId": course.lesson_ids[0], "videoPositionSeconds": 31}}
    renamed = UPSERT.replace("mutation Upsert(", "mutation Heartbeat(")
    respaced = UPSERT.replace("progress {", "progress  {")
    attempts = [
        await post(api, UPSERT, other_variables, key=learner.key, idempotency_key=idem),
        await post(api, renamed, heartbeat, key=learner.key, idempotency_key=idem),
        await post(api, respaced, heartbeat, key=learner.key, idempotency_key=idem),
        await post(api, UPSERT, heartbeat, key=learner.key, idempotency_key=idem, operation_name="Upsert"),
    ]

    for response in attempts:
        assert response.status_code == 422, response.text
        assert code_of(response) == "IDEMPOTENCY_KEY_REUSED"
        assert response.json()["data"] is None
    assert await snapshot(api, learner) == written
    # The order of the variables' keys is not part of the request.
    reordered = {"input": dict(reversed(list(heartbeat["input"].items())))}
    again = await post(api, UPSERT, reordered, key=learner.key, idempotency_key=idem)
    assert again.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "k" * 256,
        "caf\xe9".encode("latin-1"),
        "tab\there",
        ["one", "two"],
    ],
    ids=["empty", "256-characters", "not-ascii", "control-character", "sent-twice"],
)
async def test_a_bad_key_is_refused_with_400_before_anything_runs(
    api: Api, header: str | bytes | list[str]
) -> None:
    learner, course = await enrolled(api, 1)
    heartbeat = {"input": {"lessonId": course.lesson_ids[0], "videoPositionSeconds": 30}}

    api.db.statements.reset()
    response = await post(api, UPSERT, heartbeat, key=learner.key, idempotency_key=header)

    assert response.status_code == 400, response.text
    assert code_of(response) == "INVALID_IDEMPOTENCY_KEY"
    assert api.db.statements.count == 1  # the API key's lookup, nothing else
    assert (await snapshot(api, learner))["records"] == []


async def test_the_longest_key_and_every_printable_character_are_accepted(api: Api) -> None:
    learner, course = await enrolled(api, 1)
    heartbeat = {"input": {"lessonId": course.lesson_ids[0], "videoPositionSeconds": 30}}
    printable = "".join(chr(c) for c in range(0x21, 0x7F))
    for idem in ("k" * 255, printable):
        first = await post(api, UPSERT, heartbeat, key=learner.key, idempotency_key=idem)
        repeat = await post(api, UPSERT, heartbeat, key=learner.key, idempotency_key=idem)
        assert first.status_code == 200
        assert repeat.headers["idempotent-replayed"] == "true"


async def test_the_header_is_ignored_on_queries(api: Api) -> None:
    learner, course = await enrolled(api, 1)
    variables = {"slug": course.slug}
    plain = await post(api, ENROLLMENT_STATUS, variables, key=learner.key)
    api.db.statements.reset()
    await post(api, ENROLLMENT_STATUS, variables, key=learner.key)
    plain_cost = api.db.statements.count

    api.db.statements.reset()
    keyed = await post(api, ENROLLMENT_STATUS, variables, key=learner.key, idempotency_key="k" * 300)

    assert keyed.status_code == 200
    assert keyed.content == plain.content
    assert "idempotent-replayed" not in keyed.headers
    assert api.db.statements.count == plain_cost
    assert await count(api, "SELECT count(*) FROM idempotency_keys") == 0


# --- failures ---------------------------------------------------------------------------------


async def test_an_unexpected_failure_writes_nothing_stores_nothing_and_can_be_retried(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    learner, course = await enrolled(api, 2)
    variables = {
        "a": {"lessonId": course.lesson_ids[0], "videoPositionSeconds": 10},
        "b": {"lessonId": course.lesson_ids[1], "videoPositionSeconds": 20},
    }
    idem = new_key()
    target = "gql_progress.api.mutations.progress.upsert_progress"
    calls = 0

    async def second_one_breaks(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        written = await upsert_progress(*args, **kwargs)
        if calls == 2:
            raise RuntimeError("a bug after the second write")
        return written

    monkeypatch.setattr(target, second_one_breaks)
    failed = await post(api, TWO_HEARTBEATS, variables, key=learner.key, idempotency_key=idem)

    assert failed.status_code == 200
    body = failed.json()
    # The first mutation's data was computed, but rolled back with the rest: not shown.
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL_SERVER_ERROR"]
    assert body["errors"][0]["extensions"]["requestId"] == failed.headers["x-request-id"]
    assert (await snapshot(api, learner))["records"] == []  # not even the first mutation's
    assert await count(api, "SELECT count(*) FROM idempotency_keys") == 0

    monkeypatch.setattr(target, upsert_progress)
    retried = await post(api, TWO_HEARTBEATS, variables, key=learner.key, idempotency_key=idem)

    assert "idempotent-replayed" not in retried.headers
    data = retried.json()["data"]
    assert data["first"]["__typename"] == data["second"]["__typename"] == "UpsertProgressSuccess"
    assert (await snapshot(api, learner))["records"] == [
        (course.lesson_pks[0], False, 10),
        (course.lesson_pks[1], False, 20),
    ]
    replayed = await post(api, TWO_HEARTBEATS, variables, key=learner.key, idempotency_key=idem)
    assert replayed.content == retried.content


async def test_a_document_that_does_not_validate_stores_nothing(api: Api) -> None:
    learner, course = await enrolled(api, 1)
    idem = new_key()
    broken = "mutation Upsert($input: UpsertProgressInput!) { upsertProgress(input: $input) { nope } }"
    heartbeat = {"input": {"lessonId": course.lesson_ids[0], "videoPositionSeconds": 30}}

    response = await post(api, broken, heartbeat, key=learner.key, idempotency_key=idem)

    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert await count(api, "SELECT count(*) FROM idempotency_keys") == 0


# --- expiry and scope -------------------------------------------------------------------------


async def test_a_key_older_than_24_hours_runs_the_request_again_and_is_purged(api: Api) -> None:
    learner, course = await enrolled(api, 1)
    create = {"input": {"title": "Mornings", "lessonIds": course.lesson_ids}}
    idem = new_key()
    await post(api, CREATE_PLAN, create, key=learner.key, idempotency_key=idem)
    plans = "SELECT count(*) FROM study_plans WHERE user_id = :u"
    assert await count(api, plans, u=learner.pk) == 1

    await _age_keys(api, learner, timedelta(hours=23, minutes=59))
    within = await post(api, CREATE_PLAN, create, key=learner.key, idempotency_key=idem)
    assert within.headers["idempotent-replayed"] == "true"
    assert await count(api, plans, u=learner.pk) == 1

    await _age_keys(api, learner, timedelta(hours=24, seconds=1))
    expired = await post(api, CREATE_PLAN, create, key=learner.key, idempotency_key=idem)

    assert "idempotent-replayed" not in expired.headers
    assert await count(api, plans, u=learner.pk) == 2
    # The expired row was replaced by the new response, which is replayed from now on.
    again = await post(api, CREATE_PLAN, create, key=learner.key, idempotency_key=idem)
    assert again.content == expired.content
    assert await count(api, plans, u=learner.pk) == 2

    other = await api.user()
    await post(
        api, CREATE_PLAN, {"input": {"title": "x", "lessonIds": []}}, key=other.key, idempotency_key=idem
    )
    await _age_keys(api, other, timedelta(hours=25))
    assert await purge_expired(api.db, timedelta(hours=24)) == 1
    assert await count(api, "SELECT count(*) FROM idempotency_keys WHERE user_id = :u", u=learner.pk) == 1
    assert await count(api, "SELECT count(*) FROM idempotency_keys WHERE user_id = :u", u=other.pk) == 0


async def _age_keys(api: Api, user: SeededUser, age: timedelta) -> None:
    when = utcnow() - age
    async with api.db.write() as conn:
        # SQLite stores naive UTC text (see UTCDateTime); PostgreSQL a timestamptz.
        await conn.execute(
            text("UPDATE idempotency_keys SET created_at = :t WHERE user_id = :u"),
            {"t": when.replace(tzinfo=None) if api.db.is_sqlite else when, "u": user.pk},
        )


async def test_keys_are_scoped_per_caller(api: Api) -> None:
    course = await api.course(1)
    alice, bob = await api.user(), await api.user()
    await api.enroll(alice, course)
    await api.enroll(bob, course)
    heartbeat = {"input": {"lessonId": course.lesson_ids[0], "videoPositionSeconds": 42}}
    idem = new_key()

    for_alice = await post(api, UPSERT, heartbeat, key=alice.key, idempotency_key=idem)
    for_bob = await post(api, UPSERT, heartbeat, key=bob.key, idempotency_key=idem)

    assert "idempotent-replayed" not in for_bob.headers
    assert for_bob.content != for_alice.content  # bob's own record, not alice's
    assert (await snapshot(api, bob))["records"] == [(course.lesson_pks[0], False, 42)]
    assert (await snapshot(api, alice))["records"] == [(course.lesson_pks[0], False, 42)]
    assert await count(api, "SELECT count(*) FROM idempotency_keys") == 2


# --- concurrency ------------------------------------------------------------------------------


async def test_a_repeat_while_the_first_runs_gets_409_on_postgresql(pg_api: Api) -> None:
    api = pg_api
    learner, course = await enrolled(api, 2, certificate_enabled=True)
    complete = {"ids": course.lesson_ids, "completed": True}
    idem = new_key()
    barrier = asyncio.Barrier(2)

    async def send() -> httpx.Response:
        await barrier.wait()
        return await post(api, BULK_COMPLETION, complete, key=learner.key, idempotency_key=idem)

    holder = await asyncpg.connect(_plain_url(api))
    try:
        # Hold the learner's enrollment: the request that wins the key's lock waits on it (the
        # completion locks the enrollment) while holding the key.
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT 1 FROM enrollments WHERE user_id = $1 FOR UPDATE", learner.pk)
        tasks = [asyncio.create_task(send()) for _ in range(2)]
        done, pending = await asyncio.wait(tasks, timeout=10, return_when=asyncio.FIRST_COMPLETED)

        # One answered while the other still waits.
        assert len(done) == 1
        assert len(pending) == 1
        refused = done.pop().result()
        assert refused.status_code == 409, refused.text
        assert code_of(refused) == "IDEMPOTENCY_KEY_IN_USE"
        assert refused.headers["retry-after"] == "1"
        await transaction.rollback()
        first = await pending.pop()
    finally:
        await holder.close()

    assert first.status_code == 200
    assert first.json()["data"]["bulkSetCompletion"]["failed"] == 0
    repeat = await post(api, BULK_COMPLETION, complete, key=learner.key, idempotency_key=idem)
    assert repeat.content == first.content
    assert repeat.headers["idempotent-replayed"] == "true"
    written = await snapshot(api, learner)
    assert len(written["certificates"]) == 1
    assert [t for _, t in written["events"]].count("LESSON_COMPLETED") == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_repeat_while_the_first_runs_waits_and_gets_the_replay_on_sqlite(api: Api) -> None:
    learner, course = await enrolled(api, 2, certificate_enabled=True)
    complete = {"ids": course.lesson_ids, "completed": True}
    idem = new_key()
    barrier = asyncio.Barrier(2)

    async def send() -> httpx.Response:
        await barrier.wait()
        return await post(api, BULK_COMPLETION, complete, key=learner.key, idempotency_key=idem)

    # Another writer holds the write lock: both requests queue behind it, then one after the other.
    holder = sqlite3.connect(api.db.url.split(":///", 1)[1], isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        tasks = [asyncio.create_task(send()) for _ in range(2)]
        await asyncio.sleep(0.3)
        assert not any(task.done() for task in tasks)
        holder.execute("ROLLBACK")
        responses = await asyncio.gather(*tasks)
    finally:
        holder.close()

    assert [r.status_code for r in responses] == [200, 200]
    assert responses[0].content == responses[1].content
    assert sorted(r.headers.get("idempotent-replayed", "") for r in responses) == ["", "true"]
    written = await snapshot(api, learner)
    assert len(written["certificates"]) == 1
    assert [t for _, t in written["events"]].count("LESSON_COMPLETED") == 2


def _plain_url(api: Api) -> str:
    return api.db.url.replace("postgresql+asyncpg://", "postgresql://")


# --- cost ---------------------------------------------------------------------------------------


async def test_a_keyed_mutation_costs_a_constant_number_of_extra_statements(api: Api) -> None:
    learner, course = await enrolled(api, 50)
    heartbeat = {"lessonId": course.lesson_ids[-1], "video": 95, "last": 95, "minutes": 3}
    plain = await api.statements(HEARTBEAT, heartbeat, key=learner.key)

    api.db.statements.reset()
    response = await post(api, HEARTBEAT, heartbeat, key=learner.key, idempotency_key=new_key())
    keyed = api.db.statements.count
    assert response.json()["data"]["upsertProgress"]["__typename"] == "UpsertProgressSuccess"

    # The lookup, the SAVEPOINT and RELEASE around the write, the stored response; on
    # PostgreSQL the key's advisory lock too.
    assert keyed == plain + (5 if api.db.dialect == "postgresql" else 4)

    bulk = {"ids": course.lesson_ids, "completed": True}
    plain_bulk_ids = {"ids": course.lesson_ids, "completed": False}
    await api.data(BULK_COMPLETION, plain_bulk_ids, key=learner.key)
    api.db.statements.reset()
    await api.data(BULK_COMPLETION, bulk, key=learner.key)
    plain_bulk = api.db.statements.count
    await api.data(BULK_COMPLETION, plain_bulk_ids, key=learner.key)
    api.db.statements.reset()
    await post(api, BULK_COMPLETION, bulk, key=learner.key, idempotency_key=new_key())
    assert api.db.statements.count == plain_bulk + (5 if api.db.dialect == "postgresql" else 4)

    api.db.statements.reset()
    idem = new_key()
    await post(api, HEARTBEAT, heartbeat, key=learner.key, idempotency_key=idem)
    api.db.statements.reset()
    replay = await post(api, HEARTBEAT, heartbeat, key=learner.key, idempotency_key=idem)
    assert replay.headers["idempotent-replayed"] == "true"
    # The API key, the lookup (and the advisory lock): the mutation does not run.
    assert api.db.statements.count == (3 if api.db.dialect == "postgresql" else 2)


# --- the ambient transaction (gql_progress.db.engine), focused ---------------------------------


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


def _user(n: str) -> dict[str, Any]:
    return {"external_id": f"ambient-{n}", "email": f"ambient-{n}@example.com", "name": n}


async def _users_named(db: Database, *names: str) -> list[str]:
    async with db.read() as conn:
        rows = await conn.execute(
            text("SELECT name FROM users WHERE name IN :names ORDER BY name").bindparams(
                bindparam("names", expanding=True)
            ),
            {"names": list(names)},
        )
        return [r.name for r in rows]


async def _insert_user_then(
    db: Database, name: str, error: Exception, pause: asyncio.Event | None = None
) -> None:
    """A write block that inserts a user, then (after ``pause`` is set and a moment passed) fails."""
    async with db.write() as conn:
        await conn.execute(insert(User).values(**_user(name), role="LEARNER", created_at=utcnow()))
        if pause is not None:
            pause.set()
            await asyncio.sleep(0.1)
        raise error


async def _insert_duplicate(db: Database, name: str) -> None:
    async with db.write() as conn:
        await conn.execute(insert(User).values(**_user(name), role="LEARNER", created_at=utcnow()))


async def _announce(db: Database, notice: str, error: Exception | None = None) -> None:
    async with db.write() as conn:
        scope = write_scope(conn)
        assert scope is not None
        scope.committed.append(notice)
        if error is not None:
            raise error


async def _transaction_that_raises(db: Database) -> None:
    async with db.transaction() as transaction:
        await catalog.create_user(transaction.db, _user("raised"))
        raise RuntimeError("a bug")


async def _nested_transaction(db: Database) -> None:
    async with db.transaction():
        pass


async def test_writes_inside_a_transaction_are_savepoints_of_it(db: Database) -> None:
    async with db.transaction() as transaction:
        inside = transaction.db
        await catalog.create_user(inside, _user("kept"))
        # A typed error: its write goes, the transaction stays.
        with pytest.raises(NotFound):
            await _insert_user_then(inside, "undone", NotFound("anything"))
        # PostgreSQL refuses every later statement of a transaction after an error, unless the
        # error was inside a savepoint that was rolled back.
        with pytest.raises(IntegrityError):
            await _insert_duplicate(inside, "kept")
        await catalog.create_user(inside, _user("after"))
        # Reads inside see the transaction's writes.
        assert await _users_named(inside, "after", "kept", "undone") == ["after", "kept"]

    assert await _users_named(db, "after", "kept", "undone") == ["after", "kept"]


async def test_a_transaction_marked_rollback_only_leaves_nothing(db: Database) -> None:
    async with db.transaction() as transaction:
        await catalog.create_user(transaction.db, _user("gone"))
        transaction.rollback_only = True
    with pytest.raises(RuntimeError):
        await _transaction_that_raises(db)

    assert await _users_named(db, "gone", "raised") == []


async def test_other_tasks_read_around_a_savepoint_never_inside_it(db: Database) -> None:
    inside = asyncio.Event()

    async def write_then_undo(joined: Database) -> None:
        with pytest.raises(NotFound):
            await _insert_user_then(joined, "phantom", NotFound("anything"), inside)

    async def read_meanwhile(joined: Database) -> list[str]:
        await inside.wait()
        return await _users_named(joined, "phantom")

    async with db.transaction() as transaction:
        joined = transaction.db
        # Separate tasks, as DataLoader batches are: a read waits for the write block that holds
        # the connection, so it never sees a write that is then undone.
        _, seen = await asyncio.gather(
            asyncio.create_task(write_then_undo(joined)), asyncio.create_task(read_meanwhile(joined))
        )
        assert seen == []
        reads = [asyncio.create_task(_users_named(joined, "phantom")) for _ in range(20)]
        assert await asyncio.gather(*reads) == [[]] * 20
        with pytest.raises(RuntimeError):
            await _nested_transaction(joined)


async def test_notices_of_a_transaction_go_out_after_its_commit_without_the_undone_parts(
    db: Database,
) -> None:
    seen: list[str] = []
    db.on_committed = seen.extend
    async with db.transaction() as transaction:
        await _announce(transaction.db, "kept")
        with pytest.raises(NotFound):
            await _announce(transaction.db, "undone", NotFound("anything"))
        assert seen == []
    assert seen == ["kept"]

    async with db.transaction() as transaction:
        await _announce(transaction.db, "rolled back")
        transaction.rollback_only = True
    assert seen == ["kept"]


# --- settings ---------------------------------------------------------------------------------


@pytest.fixture
async def short_ttl_api(database_url: str) -> AsyncIterator[Api]:
    settings = load_settings(
        database_url=database_url,
        webhooks_enabled=False,
        rate_limit_enabled=False,
        idempotency_ttl_seconds=60,
        cors_origins="https://platform.example",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client=client, db=app.state.db, app=app)


async def test_the_ttl_comes_from_the_settings(short_ttl_api: Api) -> None:
    api = short_ttl_api
    learner, course = await enrolled(api, 1)
    create = {"input": {"title": "Short", "lessonIds": course.lesson_ids}}
    idem = new_key()
    await post(api, CREATE_PLAN, create, key=learner.key, idempotency_key=idem)
    await _age_keys(api, learner, timedelta(seconds=50))
    assert (await post(api, CREATE_PLAN, create, key=learner.key, idempotency_key=idem)).headers[
        "idempotent-replayed"
    ] == "true"

    await _age_keys(api, learner, timedelta(seconds=61))
    again = await post(api, CREATE_PLAN, create, key=learner.key, idempotency_key=idem)

    assert "idempotent-replayed" not in again.headers
    assert await count(api, "SELECT count(*) FROM study_plans WHERE user_id = :u", u=learner.pk) == 2


async def test_browsers_may_send_the_key_and_read_the_replay_header(short_ttl_api: Api) -> None:
    api = short_ttl_api
    preflight = await api.client.options(
        "/graphql",
        headers={
            "Origin": "https://platform.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert preflight.status_code == 200
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()

    learner, course = await enrolled(api, 1)
    heartbeat = {"input": {"lessonId": course.lesson_ids[0], "videoPositionSeconds": 5}}
    idem = new_key()
    for _ in range(2):
        response = await api.client.post(
            "/graphql",
            json={"query": UPSERT, "variables": heartbeat},
            headers={
                "Origin": "https://platform.example",
                "Authorization": f"Bearer {learner.key}",
                "Idempotency-Key": idem,
            },
        )
    assert response.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" in response.headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize("value", ["59", "2592001", "a day"])
def test_a_bad_ttl_stops_the_process_naming_the_variable(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GQL_PROGRESS_IDEMPOTENCY_TTL_SECONDS", value)
    with pytest.raises(SettingsError, match="GQL_PROGRESS_IDEMPOTENCY_TTL_SECONDS"):
        load_settings()
