"""Webhooks: admins register endpoints; workers post each event to them, signed, retried, once.

Deliveries go over real HTTP to a receiver served by uvicorn on 127.0.0.1 (in its own thread,
so the CLI's own event loop can reach it too), which the apps and workers here allow
(tests.apps.LOCAL_WEBHOOKS; tests/test_webhook_addresses.py shows that without it, nothing
reaches it). Time is driven by a fake clock where back-off matters, so nothing here sleeps for
a retry.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from sqlalchemy import select, text
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gql_progress.cli import main
from gql_progress.db.engine import Database
from gql_progress.db.models import EventType, WebhookEndpoint
from gql_progress.db.types import utcnow
from gql_progress.domain.events import GAP_SETTLE, NewEvent, record_events
from gql_progress.edge.app import create_app
from gql_progress.settings import SettingsError, load_settings
from gql_progress.webhooks.addresses import AllowList
from gql_progress.webhooks.delivery import LEASE_MARGIN, claim_due
from gql_progress.webhooks.fanout import fan_out
from gql_progress.webhooks.signing import signature_header
from gql_progress.webhooks.worker import DrainReport, WebhookWorker, WorkerConfig
from tests.apps import GENEROUS_LIMITS, LOCAL_WEBHOOKS, running_app
from tests.support import Api, SeededCourse, SeededUser

README = Path(__file__).resolve().parent.parent / "README.md"
SECRET = "test-secret-0123456789abcdef"
ALL_TYPES = [t.value for t in EventType]


# --- a real HTTP receiver ----------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = orjson.loads(self.body)
        return document


@dataclass
class Script:
    """How one path answers: these statuses in turn, then ``then``; after ``delay`` seconds."""

    statuses: list[int] = field(default_factory=list)
    then: int = 200
    delay: float = 0.0


class Receiver:
    """Records every request; each test takes its own paths, so tests never see each other's."""

    def __init__(self) -> None:
        self.port = 0
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._scripts: dict[str, Script] = {}
        self._paths = itertools.count(1)
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        with self._lock:
            self._requests.append(Received(path, dict(request.headers), body))
            script = self._scripts.get(path, Script())
            status = script.statuses.pop(0) if script.statuses else script.then
        if script.delay:
            await asyncio.sleep(script.delay)
        return Response(b"ok" if status < 300 else b"nope", status_code=status)

    def url(self, script: Script | None = None) -> str:
        """A fresh endpoint URL, answering as ``script`` says (200 by default)."""
        path = f"/hook-{next(self._paths)}"
        self._scripts[path] = script or Script()
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, url: str) -> list[Received]:
        path = url.split(str(self.port), 1)[1]
        with self._lock:
            return [r for r in self._requests if r.path == path]


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    receiver.port = sock.getsockname()[1]
    config = uvicorn.Config(receiver.app, lifespan="off", ws="none", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    # Its own thread and loop: uvicorn leaves signals alone off the main thread, and the CLI
    # test's asyncio.run (in another thread) reaches it like any other receiver.
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the receiver did not start"
        time.sleep(0.01)
    yield receiver
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/nobody-listens"


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[Starlette]:
    async with running_app(database_url, **GENEROUS_LIMITS, **LOCAL_WEBHOOKS) as running:
        yield running


@pytest.fixture
async def pg_app(pg_database_url: str) -> AsyncIterator[Starlette]:
    async with running_app(pg_database_url, **GENEROUS_LIMITS, **LOCAL_WEBHOOKS) as running:
        yield running


# --- the README's verification snippet ---------------------------------------------------------


def readme_function(name: str) -> Callable[..., Any]:
    """A function of the README's Webhooks section's Python snippets, run as a receiver would
    paste it: ``verify_delivery`` (Standard Webhooks) or ``verify_signature`` (our header)."""
    readme = README.read_text()
    section = readme[readme.index("### Webhooks") : readme.index("### Subscriptions")]
    for snippet in re.findall(r"```python\n(.*?)```", section, flags=re.S):
        if f"def {name}(" in snippet:
            namespace: dict[str, Any] = {}
            exec(snippet, namespace)
            function: Callable[..., Any] = namespace[name]
            return function
    raise AssertionError(f"the Webhooks section has no Python snippet defining {name}")


def readme_verifier() -> Callable[..., bool]:
    """``verify_signature`` from the README, for the X-GQL-Progress-Signature header."""
    return readme_function("verify_signature")


# --- helpers -----------------------------------------------------------------------------------


class Clock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def worker(db: Database, clock: Callable[[], datetime] = utcnow, **config: Any) -> WebhookWorker:
    settings: dict[str, Any] = {
        "retry_base_seconds": 0,
        "request_timeout_seconds": 5,
        "allow_list": AllowList.parse(LOCAL_WEBHOOKS["webhooks_allowed_hosts"].split(",")),
        **config,
    }
    return WebhookWorker(db, WorkerConfig(**settings), clock=clock)


async def record(db: Database, *events: NewEvent, now: datetime | None = None) -> None:
    async with db.write() as conn:
        await record_events(conn, list(events), now or utcnow())


def completed(user: SeededUser, course: SeededCourse | None = None, lesson: int = 0) -> NewEvent:
    if course is None:
        return NewEvent(EventType.LESSON_COMPLETED, user.pk)
    return NewEvent(
        EventType.LESSON_COMPLETED, user.pk, course.pk, course.lesson_pks[lesson], actor_user_id=user.pk
    )


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


ENDPOINT_FIELDS = "id url description eventTypes enabled createdAt updatedAt"
CREATE = f"""
mutation($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{
    __typename
    ... on WebhookEndpointPayload {{ endpoint {{ {ENDPOINT_FIELDS} }} }}
    ... on Error {{ code message }}
    ... on ValidationError {{ fields {{ path message }} }}
  }}
}}"""
UPDATE = f"""
mutation($input: UpdateWebhookEndpointInput!) {{
  updateWebhookEndpoint(input: $input) {{
    __typename
    ... on WebhookEndpointPayload {{ endpoint {{ {ENDPOINT_FIELDS} }} }}
    ... on Error {{ code message }}
    ... on ValidationError {{ fields {{ path message }} }}
  }}
}}"""
DELETE = """
mutation($id: ID!) {
  deleteWebhookEndpoint(id: $id) {
    __typename
    ... on DeleteWebhookEndpointPayload { deletedId }
    ... on Error { code message }
    ... on ValidationError { fields { path message } }
  }
}"""
DELIVERIES = """
query($endpointId: ID, $status: WebhookDeliveryStatus, $first: Int, $after: String) {
  webhookDeliveries(endpointId: $endpointId, status: $status, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id eventId eventType status attempts lastStatusCode lastError
      lastAttemptAt nextAttemptAt deliveredAt createdAt
      endpoint { id url }
    }
  }
}"""


async def register(
    api: Api, admin: SeededUser, url: str, types: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    payload = {"url": url, "eventTypes": types or ALL_TYPES, "secret": SECRET, **extra}
    result = (await api.data(CREATE, {"input": payload}, key=admin.key))["createWebhookEndpoint"]
    assert result["__typename"] == "WebhookEndpointPayload", result
    endpoint: dict[str, Any] = result["endpoint"]
    return endpoint


async def deliveries(api: Api, admin: SeededUser, **variables: Any) -> list[dict[str, Any]]:
    data = await api.data(DELIVERIES, {"first": 100, **variables}, key=admin.key)
    nodes: list[dict[str, Any]] = data["webhookDeliveries"]["nodes"]
    return nodes


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- delivery and signature --------------------------------------------------------------------


async def test_an_event_is_posted_with_its_ids_and_a_signature_the_readme_snippet_accepts(
    api: Api, receiver: Receiver
) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await api.course(2, product_id="prod-webhooks-1")
    url = receiver.url()
    endpoint = await register(api, admin, url, ["LESSON_COMPLETED"])
    await record(
        api.db,
        NewEvent(
            EventType.LESSON_COMPLETED,
            learner.pk,
            course.pk,
            course.lesson_pks[1],
            actor_user_id=admin.pk,
            data={"reason": "imported"},
        ),
    )

    report = await worker(api.db).drain()

    assert report.delivered == 1
    [request] = receiver.at(url)
    body = request.json
    assert body["type"] == "LESSON_COMPLETED"
    assert body["user"] == {"id": learner.id, "externalId": learner.external_id}
    assert body["course"] == {"id": course.id, "productId": "prod-webhooks-1"}
    assert body["lesson"] == {"id": course.lesson_ids[1]}
    assert body["actor"] == {"id": admin.id, "externalId": admin.external_id}
    assert body["data"] == {"reason": "imported"}
    assert abs(parse_time(body["occurredAt"]) - utcnow()) < timedelta(minutes=1)
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["x-gql-progress-event-id"] == body["id"]
    assert base64.b64decode(body["id"]).decode().startswith("Event:")
    assert headers["x-gql-progress-event-type"] == "LESSON_COMPLETED"
    assert headers["x-gql-progress-delivery-attempt"] == "1"
    timestamp = headers["x-gql-progress-timestamp"]
    assert headers["x-gql-progress-signature"].startswith(f"t={timestamp},v1=")

    verify = readme_verifier()
    signature = headers["x-gql-progress-signature"]
    assert verify(SECRET, request.body, signature)
    assert not verify(SECRET, request.body.replace(b"imported", b"imp0rted"), signature)
    assert not verify(SECRET + "x", request.body, signature)
    assert not verify(SECRET, request.body, "t=1,v1=" + "0" * 64)
    assert not verify(SECRET, request.body, "garbage")
    stale = int(time.time()) - 600
    assert not verify(SECRET, request.body, signature_header(SECRET, stale, request.body))
    assert verify(SECRET, request.body, signature_header(SECRET, int(time.time()) - 60, request.body))

    [delivery] = await deliveries(api, admin, endpointId=endpoint["id"])
    assert delivery["status"] == "DELIVERED"
    assert delivery["attempts"] == 1
    assert delivery["lastStatusCode"] == 200
    assert delivery["lastError"] is None
    assert delivery["nextAttemptAt"] is None
    assert delivery["deliveredAt"] is not None
    assert delivery["eventId"] == body["id"]
    assert delivery["eventType"] == "LESSON_COMPLETED"
    assert delivery["endpoint"] == {"id": endpoint["id"], "url": url}


# A secret in the Standard Webhooks form (whsec_ + base64 of 32 random bytes), as the README
# recommends; SECRET is the other kind, a plain string.
WHSEC = "whsec_" + base64.b64encode(bytes(range(32))).decode()


@pytest.mark.parametrize("secret", [WHSEC, SECRET], ids=["whsec", "plain"])
async def test_every_attempt_verifies_with_the_standard_webhooks_package_and_the_readme_snippet(
    api: Api, receiver: Receiver, secret: str
) -> None:
    admin = await api.admin()
    learner = await api.user()
    clock = Clock()
    url = receiver.url(Script(statuses=[500]))  # two attempts: a retry is signed anew
    await register(api, admin, url, ["LESSON_COMPLETED"], secret=secret)
    await record(api.db, completed(learner, await api.course(1)), now=clock())

    await worker(api.db, clock, retry_base_seconds=10).drain()
    clock.advance(10)
    await worker(api.db, clock, retry_base_seconds=10).drain()

    requests = receiver.at(url)
    assert len(requests) == 2
    verify_delivery = readme_function("verify_delivery")
    whsec = secret if secret.startswith("whsec_") else "whsec_" + base64.b64encode(secret.encode()).decode()
    for request in requests:
        headers = request.headers
        # The official verifier, as a receiver in Python uses it, on the bytes as received.
        assert Webhook(whsec).verify(request.body, headers) == request.json
        assert verify_delivery(secret, request.body, headers) == request.json
        # webhook-id is the event's id on every attempt (receivers deduplicate on it), and the
        # timestamp is the one our own header signs.
        assert headers["webhook-id"] == headers["x-gql-progress-event-id"] == request.json["id"]
        assert headers["webhook-timestamp"] == headers["x-gql-progress-timestamp"]
        assert headers["webhook-signature"].startswith("v1,")
        # Our own header is unchanged beside it: keyed with the secret's text, whsec_ or not.
        assert readme_verifier()(secret, request.body, headers["x-gql-progress-signature"])

        tampered = request.body.replace(b"LESSON_COMPLETED", b"LESSON_UNCOMPLETED")
        other_id = {**headers, "webhook-id": "RXZlbnQ6OTk5"}
        stale = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 600)}
        other_secret = "whsec_" + base64.b64encode(bytes(32)).decode()
        for body, sent, key in [
            (tampered, headers, whsec),
            (request.body, other_id, whsec),
            (request.body, stale, whsec),
            (request.body, headers, other_secret),
        ]:
            with pytest.raises(WebhookVerificationError):
                Webhook(key).verify(body, sent)
        if secret == WHSEC:
            # Keyed with the decoded bytes, as every verifier decodes a whsec_ secret, not its
            # text: given the text as raw bytes, the verifier refuses.
            with pytest.raises(WebhookVerificationError):
                Webhook(secret.encode()).verify(request.body, headers)
    assert {r.headers["webhook-id"] for r in requests} == {requests[0].headers["webhook-id"]}
    # Each attempt signs its own timestamp, so a captured one cannot be replayed past its time.
    assert int(requests[1].headers["webhook-timestamp"]) == int(requests[0].headers["webhook-timestamp"]) + 10
    assert requests[0].headers["webhook-signature"] != requests[1].headers["webhook-signature"]


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_not base64 at all!!",
        "whsec_" + base64.b64encode(b"fifteen bytes!!").decode(),  # too short a key
        "whsec_",
    ],
)
async def test_a_whsec_secret_must_be_base64_of_enough_bytes(api: Api, secret: str) -> None:
    admin = await api.admin()
    payload = {"url": "https://example.com/hook", "eventTypes": ["LESSON_COMPLETED"], "secret": secret}

    result = (await api.data(CREATE, {"input": payload}, key=admin.key))["createWebhookEndpoint"]

    assert result["__typename"] == "ValidationError", result
    [problem] = result["fields"]
    assert problem["path"] == ["input", "secret"]
    # Without padding, as the verifiers accept it, the same key is fine.
    unpadded = {**payload, "secret": WHSEC.rstrip("=")}
    created = (await api.data(CREATE, {"input": unpadded}, key=admin.key))["createWebhookEndpoint"]
    assert created["__typename"] == "WebhookEndpointPayload"


async def test_an_event_without_course_lesson_or_actor_sends_nulls(api: Api, receiver: Receiver) -> None:
    admin = await api.admin()
    learner = await api.user()
    url = receiver.url()
    await register(api, admin, url)
    await record(api.db, NewEvent(EventType.PROGRESS_RESET, learner.pk))

    await worker(api.db).drain()

    [request] = receiver.at(url)
    body = request.json
    assert body["type"] == "PROGRESS_RESET"
    assert (body["course"], body["lesson"], body["actor"], body["data"]) == (None, None, None, None)


async def test_only_subscribed_event_types_are_delivered(api: Api, receiver: Receiver) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await api.course(1)
    lessons_url, courses_url, both_url = receiver.url(), receiver.url(), receiver.url()
    await register(api, admin, lessons_url, ["LESSON_COMPLETED"])
    await register(api, admin, courses_url, ["COURSE_COMPLETED"])
    await register(api, admin, both_url, ["LESSON_COMPLETED", "COURSE_COMPLETED"])
    await record(
        api.db,
        completed(learner, course),
        NewEvent(EventType.LESSON_UNCOMPLETED, learner.pk, course.pk, course.lesson_pks[0]),
        NewEvent(EventType.COURSE_COMPLETED, learner.pk, course.pk),
    )

    await worker(api.db).drain()

    assert [r.json["type"] for r in receiver.at(lessons_url)] == ["LESSON_COMPLETED"]
    assert [r.json["type"] for r in receiver.at(courses_url)] == ["COURSE_COMPLETED"]
    assert sorted(r.json["type"] for r in receiver.at(both_url)) == ["COURSE_COMPLETED", "LESSON_COMPLETED"]


async def test_a_disabled_endpoint_gets_nothing_and_after_re_enabling_only_newer_events(
    api: Api, receiver: Receiver
) -> None:
    admin = await api.admin()
    learner = await api.user()
    url = receiver.url()
    endpoint = await register(api, admin, url)
    # Not scheduled yet when the endpoint is disabled: skipped like what happens meanwhile.
    await record(api.db, completed(learner))
    result = await api.data(UPDATE, {"input": {"id": endpoint["id"], "enabled": False}}, key=admin.key)
    assert result["updateWebhookEndpoint"]["endpoint"]["enabled"] is False
    await record(api.db, NewEvent(EventType.COURSE_COMPLETED, learner.pk))

    await worker(api.db).drain()

    assert receiver.at(url) == []
    await api.data(UPDATE, {"input": {"id": endpoint["id"], "enabled": True}}, key=admin.key)
    await record(api.db, NewEvent(EventType.CERTIFICATE_ISSUED, learner.pk))

    await worker(api.db).drain()

    assert [r.json["type"] for r in receiver.at(url)] == ["CERTIFICATE_ISSUED"]


async def test_pending_deliveries_wait_while_disabled_and_resume_when_re_enabled(
    api: Api, receiver: Receiver
) -> None:
    admin = await api.admin()
    learner = await api.user()
    clock = Clock()
    url = receiver.url(Script(statuses=[500]))
    endpoint = await register(api, admin, url)
    await record(api.db, completed(learner), now=clock())
    await worker(api.db, clock, retry_base_seconds=10).drain()
    assert len(receiver.at(url)) == 1
    await api.data(UPDATE, {"input": {"id": endpoint["id"], "enabled": False}}, key=admin.key)
    clock.advance(60)

    await worker(api.db, clock, retry_base_seconds=10).drain()

    assert len(receiver.at(url)) == 1
    await api.data(UPDATE, {"input": {"id": endpoint["id"], "enabled": True}}, key=admin.key)

    await worker(api.db, clock, retry_base_seconds=10).drain()

    assert [r.headers["x-gql-progress-delivery-attempt"] for r in receiver.at(url)] == ["1", "2"]


async def test_an_endpoint_registered_later_does_not_receive_earlier_events(
    api: Api, receiver: Receiver
) -> None:
    admin = await api.admin()
    learner = await api.user()
    early_url = receiver.url()
    await register(api, admin, early_url)
    await record(api.db, NewEvent(EventType.PROGRESS_RESET, learner.pk))
    await worker(api.db).drain()
    late_url = receiver.url()
    await register(api, admin, late_url)
    await record(api.db, NewEvent(EventType.COURSE_COMPLETED, learner.pk))

    await worker(api.db).drain()

    assert [r.json["type"] for r in receiver.at(early_url)] == ["PROGRESS_RESET", "COURSE_COMPLETED"]
    assert [r.json["type"] for r in receiver.at(late_url)] == ["COURSE_COMPLETED"]


async def test_a_deleted_endpoint_gets_nothing_more_and_loses_its_records(
    api: Api, receiver: Receiver
) -> None:
    admin = await api.admin()
    learner = await api.user()
    url = receiver.url()
    endpoint = await register(api, admin, url)
    await record(api.db, completed(learner))
    await worker(api.db).drain()

    result = (await api.data(DELETE, {"id": endpoint["id"]}, key=admin.key))["deleteWebhookEndpoint"]

    assert result == {"__typename": "DeleteWebhookEndpointPayload", "deletedId": endpoint["id"]}
    await record(api.db, completed(learner))
    await worker(api.db).drain()
    assert len(receiver.at(url)) == 1
    assert await deliveries(api, admin) == []
    again = (await api.data(DELETE, {"id": endpoint["id"]}, key=admin.key))["deleteWebhookEndpoint"]
    assert again["code"] == "NOT_FOUND"


# --- retries -----------------------------------------------------------------------------------


async def test_a_receiver_failing_twice_gets_three_attempts_with_growing_back_off(
    api: Api, receiver: Receiver
) -> None:
    admin = await api.admin()
    learner = await api.user()
    clock = Clock()
    url = receiver.url(Script(statuses=[500, 503]))
    await register(api, admin, url)
    await record(api.db, completed(learner), now=clock())
    start = clock()

    def delivering() -> WebhookWorker:
        return worker(api.db, clock, retry_base_seconds=10)

    first = await delivering().drain()

    assert (first.delivered, first.retrying) == (0, 1)
    [delivery] = await deliveries(api, admin)
    assert delivery["status"] == "PENDING"
    assert delivery["attempts"] == 1
    assert delivery["lastStatusCode"] == 500
    assert delivery["lastError"] == "HTTP 500"
    assert parse_time(delivery["nextAttemptAt"]) == start + timedelta(seconds=10)

    # Not due before its time, however often a worker looks.
    clock.advance(9.9)
    await delivering().drain()
    assert len(receiver.at(url)) == 1

    clock.advance(0.1)
    await delivering().drain()
    assert len(receiver.at(url)) == 2
    [delivery] = await deliveries(api, admin)
    assert delivery["lastStatusCode"] == 503
    # Twice the first wait.
    assert parse_time(delivery["nextAttemptAt"]) == clock() + timedelta(seconds=20)

    clock.advance(19.9)
    await delivering().drain()
    assert len(receiver.at(url)) == 2

    clock.advance(0.1)
    last = await delivering().drain()

    assert last.delivered == 1
    requests = receiver.at(url)
    assert [r.headers["x-gql-progress-delivery-attempt"] for r in requests] == ["1", "2", "3"]
    assert len({r.body for r in requests}) == 1
    assert len({r.headers["x-gql-progress-event-id"] for r in requests}) == 1
    [delivery] = await deliveries(api, admin)
    assert delivery["status"] == "DELIVERED"
    assert delivery["attempts"] == 3
    assert delivery["lastStatusCode"] == 200
    assert delivery["lastError"] is None
    assert delivery["nextAttemptAt"] is None
    assert parse_time(delivery["deliveredAt"]) == clock()

    # Delivered is final: no later pass sends it again.
    clock.advance(86_400)
    await delivering().drain()
    assert len(receiver.at(url)) == 3


async def test_after_max_attempts_the_delivery_is_failed_and_never_retried(
    api: Api, receiver: Receiver
) -> None:
    admin = await api.admin()
    learner = await api.user()
    url = receiver.url(Script(then=500))
    await register(api, admin, url)
    await record(api.db, completed(learner))

    report = await worker(api.db, max_attempts=3).drain()

    assert (report.delivered, report.retrying, report.failed) == (0, 2, 1)
    assert len(receiver.at(url)) == 3
    [delivery] = await deliveries(api, admin)
    assert delivery["status"] == "FAILED"
    assert delivery["attempts"] == 3
    assert delivery["lastStatusCode"] == 500
    assert delivery["lastError"] == "HTTP 500"
    assert delivery["nextAttemptAt"] is None
    assert delivery["deliveredAt"] is None
    failed = await deliveries(api, admin, status="FAILED")
    assert [d["id"] for d in failed] == [delivery["id"]]

    await worker(api.db, max_attempts=3).drain()
    assert len(receiver.at(url)) == 3


async def test_timeouts_and_refused_connections_are_failed_attempts_that_are_retried(
    api: Api, receiver: Receiver
) -> None:
    admin = await api.admin()
    learner = await api.user()
    slow_url = receiver.url(Script(delay=2))
    refused_url = closed_port_url()
    slow = await register(api, admin, slow_url)
    refused = await register(api, admin, refused_url)
    await record(api.db, completed(learner))

    report = await worker(api.db, request_timeout_seconds=0.3, retry_base_seconds=60).drain()

    assert report.retrying == 2
    [timed_out] = await deliveries(api, admin, endpointId=slow["id"])
    assert timed_out["status"] == "PENDING"
    assert timed_out["lastStatusCode"] is None
    assert timed_out["lastError"] == "no response within 0.3 s"
    [unreachable] = await deliveries(api, admin, endpointId=refused["id"])
    assert unreachable["status"] == "PENDING"
    assert unreachable["lastStatusCode"] is None
    assert "Connect" in unreachable["lastError"]


async def test_a_receiver_trickling_its_headers_is_cut_off_at_the_request_timeout(api: Api) -> None:
    # httpx's timeouts bound each read; a receiver sending a byte at a time would outlive them,
    # and the claim's lease with them. The worker's own deadline bounds the whole request.
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(50):
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()
                await asyncio.sleep(0.05)
        writer.close()

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    admin = await api.admin()
    learner = await api.user()
    await register(api, admin, f"http://127.0.0.1:{port}/slow")
    await record(api.db, completed(learner))
    try:
        started = time.monotonic()
        report = await worker(api.db, request_timeout_seconds=0.5, retry_base_seconds=60).drain()
        elapsed = time.monotonic() - started
    finally:
        server.close()
        await server.wait_closed()

    assert report.retrying == 1
    assert elapsed < 2
    [delivery] = await deliveries(api, admin)
    assert delivery["lastError"] == "no response within 0.5 s"


async def test_a_redirect_is_a_failure_not_followed(api: Api, receiver: Receiver) -> None:
    admin = await api.admin()
    learner = await api.user()
    url = receiver.url(Script(statuses=[307]))
    await register(api, admin, url)
    await record(api.db, completed(learner))

    report = await worker(api.db, retry_base_seconds=60).drain()

    assert report.retrying == 1
    [delivery] = await deliveries(api, admin)
    assert delivery["lastStatusCode"] == 307


async def test_repeated_drains_never_deliver_an_event_twice(api: Api, receiver: Receiver) -> None:
    admin = await api.admin()
    learner = await api.user()
    url = receiver.url()
    await register(api, admin, url)
    await record(api.db, *(completed(learner) for _ in range(5)))
    reports: list[DrainReport] = []

    for _ in range(3):
        reports.append(await worker(api.db).drain())
    await record(api.db, completed(learner))
    for _ in range(2):
        reports.append(await worker(api.db).drain())

    assert [r.delivered for r in reports] == [5, 0, 0, 1, 0]
    ids = [r.headers["x-gql-progress-event-id"] for r in receiver.at(url)]
    assert len(ids) == len(set(ids)) == 6


async def test_a_claimed_delivery_whose_worker_died_is_sent_again_after_its_lease(
    api: Api, receiver: Receiver
) -> None:
    admin = await api.admin()
    learner = await api.user()
    clock = Clock()
    url = receiver.url()
    await register(api, admin, url)
    await record(api.db, completed(learner), now=clock())
    await fan_out(api.db, clock())
    lease = timedelta(seconds=5) + LEASE_MARGIN
    # A worker claims it and dies before sending: nobody else may take it during the lease...
    assert len(await claim_due(api.db, clock(), 10, lease)) == 1
    clock.advance(lease.total_seconds() - 1)
    await worker(api.db, clock, request_timeout_seconds=5).drain()
    assert receiver.at(url) == []

    # ...and after it, the next worker does.
    clock.advance(1)
    report = await worker(api.db, clock).drain()

    assert report.delivered == 1
    [delivery] = await deliveries(api, admin)
    assert (delivery["status"], delivery["attempts"]) == ("DELIVERED", 2)


async def test_completing_a_lesson_through_the_api_is_delivered(api: Api, receiver: Receiver) -> None:
    admin = await api.admin()
    learner = await api.user()
    course = await api.course(1, product_id="prod-e2e-1")
    await api.enroll(learner, course)
    url = receiver.url()
    await register(api, admin, url, ["LESSON_COMPLETED", "COURSE_COMPLETED"])

    result = await api.data(
        """mutation($input: UpsertProgressInput!) {
          upsertProgress(input: $input) { __typename ... on Error { code message } }
        }""",
        {"input": {"lessonId": course.lesson_ids[0], "completed": True}},
        key=learner.key,
    )
    assert result["upsertProgress"]["__typename"] == "UpsertProgressSuccess", result

    await worker(api.db).drain()

    bodies = {r.json["type"]: r.json for r in receiver.at(url)}
    assert set(bodies) == {"LESSON_COMPLETED", "COURSE_COMPLETED"}
    lesson = bodies["LESSON_COMPLETED"]
    assert lesson["user"] == {"id": learner.id, "externalId": learner.external_id}
    assert lesson["course"] == {"id": course.id, "productId": "prod-e2e-1"}
    assert lesson["lesson"] == {"id": course.lesson_ids[0]}
    assert lesson["actor"] == {"id": learner.id, "externalId": learner.external_id}
    assert bodies["COURSE_COMPLETED"]["lesson"] is None


# --- event ids that commit out of order (PostgreSQL) -------------------------------------------


@pytest.mark.postgres_only
async def test_an_event_committed_after_a_newer_one_is_still_delivered(
    pg_api: Api, receiver: Receiver
) -> None:
    api = pg_api
    admin = await api.admin()
    learner = await api.user()
    url = receiver.url()
    endpoint = await register(api, admin, url)

    # The older id commits last: a writer still in its transaction while a later one commits.
    async with api.db.write() as slow:
        await record_events(slow, [NewEvent(EventType.PROGRESS_RESET, learner.pk)], utcnow())
        await record(api.db, NewEvent(EventType.COURSE_COMPLETED, learner.pk))
        await worker(api.db).drain()
        assert [r.json["type"] for r in receiver.at(url)] == ["COURSE_COMPLETED"]

    await worker(api.db).drain()

    assert [r.json["type"] for r in receiver.at(url)] == ["COURSE_COMPLETED", "PROGRESS_RESET"]
    assert await _cursor(api, endpoint["id"]) == await _newest_event(api)


@pytest.mark.postgres_only
async def test_the_cursor_passes_a_rolled_back_event_only_once_the_gap_is_old(
    pg_api: Api, receiver: Receiver
) -> None:
    api = pg_api
    admin = await api.admin()
    learner = await api.user()
    clock = Clock()
    url = receiver.url()
    endpoint = await register(api, admin, url)
    before = await _cursor(api, endpoint["id"])

    async def rolled_back() -> None:
        async with api.db.write() as conn:
            await record_events(conn, [NewEvent(EventType.PROGRESS_RESET, learner.pk)], clock())
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await rolled_back()
    await record(api.db, NewEvent(EventType.COURSE_COMPLETED, learner.pk), now=clock())

    await worker(api.db, clock).drain()

    # Delivered at once, but the cursor waits below the gap: the missing id might still commit.
    assert [r.json["type"] for r in receiver.at(url)] == ["COURSE_COMPLETED"]
    assert await _cursor(api, endpoint["id"]) == before
    clock.advance(GAP_SETTLE.total_seconds())

    await worker(api.db, clock).drain()

    assert await _cursor(api, endpoint["id"]) == await _newest_event(api)
    assert len(receiver.at(url)) == 1


async def _cursor(api: Api, endpoint_id: str) -> int:
    pk = int(base64.b64decode(endpoint_id).decode().split(":")[1])
    async with api.db.read() as conn:
        value = await conn.scalar(select(WebhookEndpoint.cursor_event_id).where(WebhookEndpoint.id == pk))
    assert value is not None
    return int(value)


async def _newest_event(api: Api) -> int:
    async with api.db.read() as conn:
        return int(await conn.scalar(text("SELECT max(id) FROM events")) or 0)


# --- several workers at once (PostgreSQL) ------------------------------------------------------


@pytest.mark.postgres_only
async def test_two_workers_in_parallel_deliver_each_event_exactly_once_per_endpoint(
    pg_api: Api, receiver: Receiver
) -> None:
    api = pg_api
    admin = await api.admin()
    learner = await api.user()
    urls = [receiver.url(Script(delay=0.002)), receiver.url(Script(delay=0.002))]
    for url in urls:
        await register(api, admin, url)
    events = 120
    await record(api.db, *(completed(learner) for _ in range(events)))
    # Two database handles: two processes' worth of connections, as two servers would have.
    other = Database(api.db.url)
    fanning_out = asyncio.Barrier(2)
    delivering = asyncio.Barrier(2)

    async def run(db: Database) -> DrainReport:
        # Both schedule at once first (each skips the endpoints the other has locked), then both
        # claim and send: a worker that found nothing due yet would stop before the other's
        # schedule commits, and the claims would not race.
        await fanning_out.wait()
        await fan_out(db, utcnow())
        await delivering.wait()
        return await worker(db, concurrency=4).drain()

    try:
        reports = await asyncio.gather(run(api.db), run(other))
    finally:
        await other.dispose()

    assert sum(r.delivered for r in reports) == 2 * events
    # Both took part: the rows were shared out, not taken by whoever came first.
    assert all(r.delivered > 0 for r in reports)
    for url in urls:
        ids = [r.headers["x-gql-progress-event-id"] for r in receiver.at(url)]
        assert len(ids) == events
        assert len(set(ids)) == events
    async with api.db.read() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT status, attempts, count(*) AS n FROM webhook_deliveries GROUP BY status, attempts"
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [("DELIVERED", 1, 2 * events)]


# --- the worker in the server, and alone from the command line --------------------------------


async def test_the_server_delivers_in_the_background_while_it_runs(
    database_url: str, receiver: Receiver
) -> None:
    settings = load_settings(
        database_url=database_url,
        webhooks_enabled=True,
        webhooks_poll_interval_seconds=0.05,
        **LOCAL_WEBHOOKS,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        api = _client_api(app)
        async with api.client:
            admin = await api.admin()
            learner = await api.user()
            url = receiver.url()
            await register(api, admin, url)
            await record(api.db, completed(learner))

            deadline = time.monotonic() + 10
            while not receiver.at(url):
                assert time.monotonic() < deadline, "the server's worker delivered nothing"
                await asyncio.sleep(0.02)

    assert [r.json["type"] for r in receiver.at(url)] == ["LESSON_COMPLETED"]


def _client_api(app: Starlette) -> Api:
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    return Api(client=client, db=app.state.db, app=app)


@pytest.mark.usefixtures("clean_env")
async def test_deliver_once_from_the_command_line_delivers_what_is_due_and_exits(
    api: Api,
    receiver: Receiver,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin = await api.admin()
    learner = await api.user()
    url, failing_url = receiver.url(), receiver.url(Script(then=500))
    await register(api, admin, url)
    await register(api, admin, failing_url)
    await record(api.db, completed(learner), completed(learner))
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", database_url)
    monkeypatch.setenv("GQL_PROGRESS_WEBHOOKS_RETRY_BASE_SECONDS", "3600")
    monkeypatch.setenv("GQL_PROGRESS_WEBHOOKS_ALLOWED_HOSTS", LOCAL_WEBHOOKS["webhooks_allowed_hosts"])

    # cli.main runs its own event loop (asyncio.run): off this test's loop, in a thread.
    assert await asyncio.to_thread(main, ["deliver", "--once"]) == 0

    assert capsys.readouterr().out.strip() == "delivered 2, retrying later 2, failed 0"
    assert len(receiver.at(url)) == 2
    assert len(receiver.at(failing_url)) == 2

    assert await asyncio.to_thread(main, ["deliver", "--once"]) == 0

    assert capsys.readouterr().out.strip() == "delivered 0, retrying later 0, failed 0"
    assert len(receiver.at(url)) == 2
    assert len(receiver.at(failing_url)) == 2


@pytest.mark.usefixtures("clean_env")
def test_webhook_settings_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.webhooks_enabled is True
    assert settings.webhooks_max_attempts == 10

    monkeypatch.setenv("GQL_PROGRESS_WEBHOOKS_MAX_ATTEMPTS", "0")
    with pytest.raises(SettingsError, match="GQL_PROGRESS_WEBHOOKS_MAX_ATTEMPTS"):
        load_settings()
    monkeypatch.setenv("GQL_PROGRESS_WEBHOOKS_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("GQL_PROGRESS_WEBHOOKS_ENABLED", "false")
    assert load_settings().webhooks_enabled is False


# --- the admin API -----------------------------------------------------------------------------


async def test_creating_an_endpoint_never_returns_its_secret(api: Api) -> None:
    admin = await api.admin()

    response = await api.post(
        CREATE,
        {
            "input": {
                "url": "https://example.com/hook",
                "eventTypes": ["COURSE_COMPLETED", "LESSON_COMPLETED", "COURSE_COMPLETED"],
                "secret": SECRET,
                "description": "Platform",
            }
        },
        key=admin.key,
    )

    assert SECRET not in response.text
    endpoint = response.json()["data"]["createWebhookEndpoint"]["endpoint"]
    # Stored once each, in the enum's order.
    assert endpoint["eventTypes"] == ["LESSON_COMPLETED", "COURSE_COMPLETED"]
    assert endpoint["enabled"] is True
    assert endpoint["description"] == "Platform"
    fields = await api.data('{ __type(name: "WebhookEndpoint") { fields { name } } }', key=admin.key)
    names = {f["name"] for f in fields["__type"]["fields"]}
    assert not {name for name in names if "secret" in name.lower()}


async def test_invalid_endpoints_are_refused_with_every_bad_field_and_nothing_written(api: Api) -> None:
    admin = await api.admin()

    result = (
        await api.data(
            CREATE,
            {"input": {"url": "ftp://example.com/x", "eventTypes": [], "secret": "short"}},
            key=admin.key,
        )
    )["createWebhookEndpoint"]

    assert result["__typename"] == "ValidationError"
    assert result["code"] == "VALIDATION_FAILED"
    assert sorted(tuple(f["path"]) for f in result["fields"]) == [
        ("input", "eventTypes"),
        ("input", "secret"),
        ("input", "url"),
    ]
    listing = await api.data("{ webhookEndpoints { totalCount } }", key=admin.key)
    assert listing["webhookEndpoints"]["totalCount"] == 0


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "example.com/hook",
        "javascript:alert(1)",
        "http://",
        "https://user:pass@example.com/hook",
        "https://example.com/hook#part",
        "https://example.com:99999/hook",
        "https://exa mple.com/hook",
        "https://example.com/" + "x" * 2000,
    ],
)
async def test_only_plain_http_and_https_urls_are_accepted(api: Api, url: str) -> None:
    admin = await api.admin()

    result = (
        await api.data(
            CREATE,
            {"input": {"url": url, "eventTypes": ["LESSON_COMPLETED"], "secret": SECRET}},
            key=admin.key,
        )
    )["createWebhookEndpoint"]

    assert result["__typename"] == "ValidationError", result
    assert [f["path"] for f in result["fields"]] == [["input", "url"]]


async def test_an_unknown_event_type_is_refused_by_the_schema(api: Api) -> None:
    admin = await api.admin()

    body = await api.gql(
        CREATE,
        {"input": {"url": "https://example.com/h", "eventTypes": ["LESSON_STARTED"], "secret": SECRET}},
        key=admin.key,
    )

    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_updating_an_endpoint_changes_only_what_is_sent_and_validates_it(api: Api) -> None:
    admin = await api.admin()
    endpoint = await register(api, admin, "https://example.com/a", ["LESSON_COMPLETED"], description="A")

    changed = (
        await api.data(
            UPDATE,
            {
                "input": {
                    "id": endpoint["id"],
                    "url": "http://example.org/b",
                    "eventTypes": ["COURSE_COMPLETED"],
                }
            },
            key=admin.key,
        )
    )["updateWebhookEndpoint"]["endpoint"]

    assert changed["url"] == "http://example.org/b"
    assert changed["eventTypes"] == ["COURSE_COMPLETED"]
    assert (changed["description"], changed["enabled"]) == ("A", True)
    bad = (
        await api.data(
            UPDATE,
            {"input": {"id": endpoint["id"], "secret": "x" * 15, "url": None, "enabled": None}},
            key=admin.key,
        )
    )["updateWebhookEndpoint"]
    assert bad["__typename"] == "ValidationError"
    assert sorted(f["path"][-1] for f in bad["fields"]) == ["enabled", "secret", "url"]
    missing = (
        await api.data(UPDATE, {"input": {"id": global_id("WebhookEndpoint", 999_999)}}, key=admin.key)
    )["updateWebhookEndpoint"]
    assert missing["code"] == "NOT_FOUND"
    wrong_kind = (await api.data(UPDATE, {"input": {"id": global_id("Course", 1)}}, key=admin.key))[
        "updateWebhookEndpoint"
    ]
    assert wrong_kind["fields"] == [{"path": ["input", "id"], "message": "is not a WebhookEndpoint id"}]


async def test_a_rotated_secret_signs_the_next_attempts(api: Api, receiver: Receiver) -> None:
    admin = await api.admin()
    learner = await api.user()
    url = receiver.url()
    endpoint = await register(api, admin, url)
    new_secret = "rotated-secret-abcdefghijklmnop"
    await api.data(UPDATE, {"input": {"id": endpoint["id"], "secret": new_secret}}, key=admin.key)
    await record(api.db, completed(learner))

    await worker(api.db).drain()

    [request] = receiver.at(url)
    verify = readme_verifier()
    assert verify(new_secret, request.body, request.headers["x-gql-progress-signature"])
    assert not verify(SECRET, request.body, request.headers["x-gql-progress-signature"])


async def test_endpoints_and_deliveries_page_and_filter(api: Api, receiver: Receiver) -> None:
    admin = await api.admin()
    learner = await api.user()
    ok_url, failing_url = receiver.url(), receiver.url(Script(then=500))
    ok = await register(api, admin, ok_url)
    failing = await register(api, admin, failing_url)
    await record(api.db, *(completed(learner) for _ in range(3)))
    await worker(api.db, retry_base_seconds=3600).drain()

    first_page = await api.data(
        "{ webhookEndpoints(first: 1) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }",
        key=admin.key,
    )
    page = first_page["webhookEndpoints"]
    assert page["totalCount"] == 2
    assert page["pageInfo"]["hasNextPage"] is True
    assert [n["id"] for n in page["nodes"]] == [ok["id"]]
    second = await api.data(
        "query($after: String) { webhookEndpoints(first: 1, after: $after) { nodes { id } } }",
        {"after": page["pageInfo"]["endCursor"]},
        key=admin.key,
    )
    assert [n["id"] for n in second["webhookEndpoints"]["nodes"]] == [failing["id"]]

    assert {d["status"] for d in await deliveries(api, admin, endpointId=ok["id"])} == {"DELIVERED"}
    pending = await deliveries(api, admin, status="PENDING")
    assert len(pending) == 3
    assert {d["endpoint"]["id"] for d in pending} == {failing["id"]}
    data = await api.data(DELIVERIES, {"first": 2}, key=admin.key)
    assert data["webhookDeliveries"]["totalCount"] == 6
    assert data["webhookDeliveries"]["pageInfo"]["hasNextPage"] is True
    rest = await api.data(
        DELIVERIES, {"first": 10, "after": data["webhookDeliveries"]["pageInfo"]["endCursor"]}, key=admin.key
    )
    assert len(rest["webhookDeliveries"]["nodes"]) == 4


async def test_every_webhook_field_is_for_admins_only(api: Api, receiver: Receiver) -> None:
    admin = await api.admin()
    learner = await api.user()
    url = receiver.url()
    endpoint = await register(api, admin, url)
    await record(api.db, completed(learner))
    await worker(api.db).drain()
    [delivery] = await deliveries(api, admin)

    for query in (
        "{ webhookEndpoints { totalCount } }",
        "{ webhookDeliveries { totalCount } }",
        f'{{ webhookDeliveries(endpointId: "{endpoint["id"]}") {{ nodes {{ id }} }} }}',
    ):
        body = await api.gql(query, key=learner.key)
        assert body["data"] is None, query
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", query

    mutations = [
        (
            CREATE,
            {"input": {"url": "https://example.com/h", "eventTypes": ["LESSON_COMPLETED"], "secret": SECRET}},
        ),
        (UPDATE, {"input": {"id": endpoint["id"], "enabled": False}}),
        (DELETE, {"id": endpoint["id"]}),
    ]
    for document, variables in mutations:
        data = await api.data(document, variables, key=learner.key)
        [result] = data.values()
        assert result["__typename"] == "ForbiddenError", result
        assert result["code"] == "FORBIDDEN"

    node_query = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
    ids = [endpoint["id"], delivery["id"]]
    assert (await api.data(node_query, {"ids": ids}, key=learner.key))["nodes"] == [None, None]
    as_admin = (await api.data(node_query, {"ids": ids}, key=admin.key))["nodes"]
    assert as_admin == [
        {"__typename": "WebhookEndpoint", "id": endpoint["id"]},
        {"__typename": "WebhookDelivery", "id": delivery["id"]},
    ]
    # Nothing the learner sent changed anything.
    [still] = (await api.data("{ webhookEndpoints { nodes { id enabled } } }", key=admin.key))[
        "webhookEndpoints"
    ]["nodes"]
    assert still == {"id": endpoint["id"], "enabled": True}
