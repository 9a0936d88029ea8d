"""Webhook receivers must be public (issue 13, finding 5): no endpoint on loopback, private,
link-local, metadata or other special addresses, at registration or when a delivery connects
(DNS may answer differently then); plain http only to hosts the operator allows; a refused
address reads the same as any other failure; logs never show a URL's query string.

DNS is played by replacing socket.getaddrinfo (asyncio calls it for every lookup), so a name
can answer a public address at registration and loopback at delivery. The receivers are TCP
listeners on loopback that count connections: a delivery that should not happen must not even
connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import ip_address
from typing import Any

import pytest

from gql_progress.db.engine import Database
from gql_progress.db.models import EventType
from gql_progress.db.types import utcnow
from gql_progress.domain.events import NewEvent, record_events
from gql_progress.settings import SettingsError, load_settings
from gql_progress.webhooks.addresses import AllowList, is_public
from gql_progress.webhooks.endpoints import ADDRESS_REFUSED, PLAIN_HTTP_REFUSED
from gql_progress.webhooks.worker import WebhookWorker, WorkerConfig, loggable_url
from tests.apps import GENEROUS_LIMITS, api_with
from tests.support import Api, SeededUser

SECRET = "test-secret-0123456789abcdef"
PUBLIC = "93.184.215.14"  # a global unicast address; nothing here ever connects to it

CREATE = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    __typename
    ... on WebhookEndpointPayload { endpoint { id url } }
    ... on Error { code message }
    ... on ValidationError { fields { path message } }
  }
}"""
UPDATE = """
mutation($input: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(input: $input) {
    __typename
    ... on WebhookEndpointPayload { endpoint { id url } }
    ... on ValidationError { fields { path message } }
  }
}"""
DELIVERIES = """
{ webhookDeliveries(first: 50) { nodes { status attempts lastStatusCode lastError endpoint { url } } } }
"""


# --- helpers -----------------------------------------------------------------------------------


class FakeDns:
    """socket.getaddrinfo for the names given answers; every other name resolves for real.

    Each lookup of a name takes its next answer; the last one repeats.
    """

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.answers: dict[str, list[list[str]]] = {}
        self.asked: list[str] = []

    def answer(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = list(answers)

    def __call__(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in self.answers:
            return self.real(host, port, family, type, proto, flags)
        self.asked.append(name)
        queue = self.answers[name]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        number = int(port or 0)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, number, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, number))
            for a in addresses
        ]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    fake = FakeDns(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@dataclass
class Listener:
    """A TCP server on one address: counts connections, answers HTTP requests 200 (500 on
    paths holding "fail"), and keeps each request's head."""

    host: str
    port: int = 0
    connections: int = 0
    heads: list[bytes] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            first = await reader.readexactly(1)
            if first == b"\x16":  # a TLS handshake: this is no TLS server
                return
            head = first + await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            self.heads.append(head)
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            status = b"500 Oops" if b"fail" in head.split(b"\r\n")[0] else b"200 OK"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, TimeoutError):
            pass  # not HTTP (a TLS hello) or gone: the connection is what counts
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def listening(host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[Listener]:
    listener = Listener(host)
    server = await asyncio.start_server(listener.serve, host, port)
    listener.port = server.sockets[0].getsockname()[1]
    try:
        yield listener
    finally:
        server.close()
        await server.wait_closed()


def worker(
    db: Database, *allowed: str, clock: Callable[[], datetime] = utcnow, **config: Any
) -> WebhookWorker:
    settings: dict[str, Any] = {"retry_base_seconds": 60, "request_timeout_seconds": 2, **config}
    return WebhookWorker(db, WorkerConfig(allow_list=AllowList.parse(allowed), **settings), clock=clock)


async def create(api: Api, admin: SeededUser, url: str) -> dict[str, Any]:
    variables = {"input": {"url": url, "eventTypes": ["LESSON_COMPLETED"], "secret": SECRET}}
    result: dict[str, Any] = (await api.data(CREATE, variables, key=admin.key))["createWebhookEndpoint"]
    return result


async def register(api: Api, admin: SeededUser, url: str) -> dict[str, Any]:
    result = await create(api, admin, url)
    assert result["__typename"] == "WebhookEndpointPayload", result
    endpoint: dict[str, Any] = result["endpoint"]
    return endpoint


async def an_event(api: Api) -> None:
    learner = await api.user()
    async with api.db.write() as conn:
        await record_events(conn, [NewEvent(EventType.LESSON_COMPLETED, learner.pk)], utcnow())


async def deliveries(api: Api, admin: SeededUser) -> dict[str, dict[str, Any]]:
    nodes = (await api.data(DELIVERIES, key=admin.key))["webhookDeliveries"]["nodes"]
    return {node["endpoint"]["url"]: node for node in nodes}


def refused(result: dict[str, Any], message: str = ADDRESS_REFUSED) -> bool:
    expected = [{"path": ["input", "url"], "message": message}]
    return bool(result["__typename"] == "ValidationError" and result["fields"] == expected)


# --- the rule, address by address ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        (PUBLIC, True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),  # IPv4-mapped: the IPv4 address it maps
        ("127.0.0.1", False),
        ("127.255.0.9", False),
        ("0.0.0.0", False),
        ("0.1.2.3", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("172.31.255.255", False),
        ("192.168.0.1", False),
        ("100.64.0.1", False),  # CGNAT
        ("169.254.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("169.254.170.2", False),
        ("100.100.100.200", False),
        ("192.0.0.192", False),  # Oracle Cloud metadata, "global" to Python 3.11
        ("192.0.2.1", False),
        ("198.18.0.1", False),
        ("224.0.0.1", False),  # multicast, "global" to Python 3.11
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::127.0.0.1", False),  # IPv4-compatible (deprecated)
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("fd00:ec2::254", False),  # AWS metadata over IPv6
        ("fe80::1", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("2001:db8::1", False),
    ],
)
def test_only_global_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ip_address(address)) is public


def test_the_allow_list_admits_its_ranges_and_names_but_never_metadata() -> None:
    allow = AllowList.parse(["10.0.0.0/8", "169.254.0.0/16", "fd00::/8", "Hooks.Corp.Internal.", "127.0.0.1"])

    assert allow.permits(ip_address("10.1.2.3"))
    assert allow.permits(ip_address("::ffff:10.1.2.3"))
    assert allow.permits(ip_address("169.254.1.1"))
    assert allow.permits(ip_address("127.0.0.1"))
    assert not allow.permits(ip_address("127.0.0.2"))
    assert not allow.permits(ip_address("192.168.1.1"))
    assert not allow.permits(ip_address("169.254.169.254"))
    assert not allow.permits(ip_address("fd00:ec2::254"))
    assert allow.permits(ip_address(PUBLIC))
    assert allow.permits_plain_http("hooks.corp.internal")
    assert allow.permits_plain_http("10.9.9.9")
    assert allow.permits_plain_http("[::ffff:10.9.9.9]")
    assert not allow.permits_plain_http("169.254.169.254")
    assert not allow.permits_plain_http("example.com")
    assert not allow.permits_plain_http(PUBLIC)


# --- registration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://127.0.0.1:8443/hook",
        "https://localhost/hook",
        "https://LOCALHOST:9200/_search",
        "https://10.1.2.3/hook",
        "https://172.20.0.5/hook",
        "https://192.168.1.10/hook",
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://100.64.0.1/hook",
        "https://0.0.0.0/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::ffff:7f00:1]/hook",
        "https://[fe80::1]/hook",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://[2002:7f00:1::1]/hook",
        "https://224.0.0.1/hook",
        "https://2130706433/hook",  # 127.0.0.1 as one decimal number
        "https://no-such-host.invalid/hook",  # unresolvable reads the same as internal
    ],
)
async def test_an_endpoint_on_an_internal_address_is_refused_and_not_saved(api: Api, url: str) -> None:
    admin = await api.admin()

    result = await create(api, admin, url)

    assert refused(result), result
    assert result["code"] == "VALIDATION_FAILED"
    listing = await api.data("{ webhookEndpoints { totalCount } }", key=admin.key)
    assert listing["webhookEndpoints"]["totalCount"] == 0


async def test_a_name_resolving_to_any_internal_address_is_refused_and_the_answer_names_none(
    api: Api, dns: FakeDns
) -> None:
    admin = await api.admin()
    dns.answer("split.example.net", [PUBLIC, "10.0.0.7"])
    dns.answer("metadata.example.net", ["169.254.169.254"])
    dns.answer("public.example.net", [PUBLIC, "2606:4700:4700::1111"])

    split = await create(api, admin, "https://split.example.net/hook")
    metadata = await create(api, admin, "https://metadata.example.net/hook")
    public = await create(api, admin, "https://public.example.net/hook")

    assert refused(split), split
    assert refused(metadata), metadata
    for result in (split, metadata):
        assert "10.0.0.7" not in str(result)
        assert "169.254" not in str(result)
    assert public["__typename"] == "WebhookEndpointPayload", public


async def test_an_update_to_an_internal_address_is_refused_and_the_url_kept(api: Api, dns: FakeDns) -> None:
    admin = await api.admin()
    dns.answer("hooks.example.net", [PUBLIC])
    endpoint = await register(api, admin, "https://hooks.example.net/hook")

    for url in ("https://192.168.0.10/hook", "https://[::ffff:127.0.0.1]/hook", "https://localhost/x"):
        result = (await api.data(UPDATE, {"input": {"id": endpoint["id"], "url": url}}, key=admin.key))[
            "updateWebhookEndpoint"
        ]
        assert refused(result), (url, result)

    listing = await api.data("{ webhookEndpoints { nodes { url } } }", key=admin.key)
    assert listing["webhookEndpoints"]["nodes"] == [{"url": "https://hooks.example.net/hook"}]


async def test_plain_http_to_a_public_host_is_refused_without_the_allow_list(api: Api, dns: FakeDns) -> None:
    admin = await api.admin()
    dns.answer("hooks.example.net", [PUBLIC])

    plain = await create(api, admin, "http://hooks.example.net/hook")
    literal = await create(api, admin, f"http://{PUBLIC}/hook")
    secure = await create(api, admin, "https://hooks.example.net/hook")

    assert refused(plain, PLAIN_HTTP_REFUSED), plain
    assert refused(literal, PLAIN_HTTP_REFUSED), literal
    assert secure["__typename"] == "WebhookEndpointPayload", secure


async def test_the_allow_list_admits_listed_names_and_ranges_and_http_to_them(
    database_url: str, dns: FakeDns
) -> None:
    dns.answer("db.corp.example", ["10.9.9.9"])
    allowed = "hooks.corp.internal, 10.0.0.0/8, 169.254.0.0/16"
    async with api_with(database_url, **GENEROUS_LIMITS, webhooks_allowed_hosts=allowed) as api:
        admin = await api.admin()

        # A listed name is the operator's word: it need not even resolve from here.
        assert (await create(api, admin, "http://hooks.corp.internal:8080/hook"))["__typename"] == (
            "WebhookEndpointPayload"
        )
        assert (await create(api, admin, "https://10.1.2.3/hook"))["__typename"] == "WebhookEndpointPayload"
        assert (await create(api, admin, "http://10.1.2.3/hook"))["__typename"] == "WebhookEndpointPayload"
        assert (await create(api, admin, "https://169.254.10.10/hook"))[
            "__typename"
        ] == "WebhookEndpointPayload"
        # A name resolving into a listed range: https only (plain http is for listed hosts).
        assert (await create(api, admin, "https://db.corp.example/hook"))["__typename"] == (
            "WebhookEndpointPayload"
        )
        assert refused(await create(api, admin, "http://db.corp.example/hook"), PLAIN_HTTP_REFUSED)
        # What is not listed stays refused, and metadata whatever the list says.
        assert refused(await create(api, admin, "https://192.168.1.1/hook"))
        assert refused(await create(api, admin, "https://169.254.169.254/latest/meta-data/"))
        assert refused(
            await create(api, admin, "http://169.254.169.254/latest/meta-data/"), PLAIN_HTTP_REFUSED
        )


@pytest.mark.usefixtures("clean_env")
def test_the_allow_list_setting_is_checked_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().webhooks_allowed_hosts == []

    monkeypatch.setenv(
        "GQL_PROGRESS_WEBHOOKS_ALLOWED_HOSTS", " hooks.corp.internal, 10.0.0.0/8 ,fd00::/8,127.0.0.1"
    )
    assert load_settings().webhooks_allowed_hosts == [
        "hooks.corp.internal",
        "10.0.0.0/8",
        "fd00::/8",
        "127.0.0.1",
    ]
    for bad in ("10.0.0.1/8", "http://hooks.corp", "*.corp.internal", "hooks.corp:8080", "10.0.0.0/33"):
        monkeypatch.setenv("GQL_PROGRESS_WEBHOOKS_ALLOWED_HOSTS", bad)
        with pytest.raises(SettingsError, match="GQL_PROGRESS_WEBHOOKS_ALLOWED_HOSTS"):
            load_settings()


# --- delivery ------------------------------------------------------------------------------------


async def test_a_name_rebound_to_loopback_after_registration_is_never_connected_to(
    api: Api, dns: FakeDns
) -> None:
    admin = await api.admin()
    async with listening("127.0.0.1") as local:
        # Public when it is registered; loopback, where something listens, when it is delivered.
        dns.answer("rebind.example.net", [PUBLIC])
        url = f"https://rebind.example.net:{local.port}/hook"
        await register(api, admin, url)
        dns.answer("rebind.example.net", ["127.0.0.1"])
        await an_event(api)

        report = await worker(api.db).drain()

    assert report.retrying == 1
    assert local.connections == 0
    delivery = (await deliveries(api, admin))[url]
    assert delivery["status"] == "PENDING"
    assert delivery["lastStatusCode"] is None
    assert delivery["lastError"] == "delivery failed: address not allowed"


async def test_a_delivery_connects_to_the_address_it_checked_never_to_a_second_answer(
    api: Api, dns: FakeDns
) -> None:
    admin = await api.admin()
    async with listening("127.0.0.1") as local, listening("127.0.0.2", local.port) as checked:
        dns.answer("pinned.example.net", [PUBLIC])
        url = f"https://pinned.example.net:{local.port}/hook"
        await register(api, admin, url)
        # At delivery: an allowed address first, loopback to whoever asks again.
        dns.answer("pinned.example.net", ["127.0.0.2"], ["127.0.0.1"])
        dns.asked.clear()
        await an_event(api)

        await worker(api.db, "127.0.0.2").drain()

    assert dns.asked == ["pinned.example.net"]
    assert checked.connections == 1  # the checked address (its TLS handshake fails: not a TLS server)
    assert local.connections == 0
    delivery = (await deliveries(api, admin))[url]
    assert delivery["lastError"] == "connection failed: ConnectError"


async def test_endpoints_no_longer_allowed_are_refused_at_delivery_all_alike(
    database_url: str, dns: FakeDns
) -> None:
    # Registered while the operator allowed them (or before these rules): a worker without the
    # allow-list connects to none of them, and an open port, a closed port, an address that
    # would time out and a name read the same, so lastError maps nothing.
    dns.answer("old.corp.internal", ["127.0.0.1"])
    allowed = "127.0.0.1,10.0.0.0/8,old.corp.internal"
    async with (
        api_with(database_url, **GENEROUS_LIMITS, webhooks_allowed_hosts=allowed) as api,
        listening("127.0.0.1") as local,
    ):
        admin = await api.admin()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        internal = [
            f"https://127.0.0.1:{local.port}/open",
            f"https://127.0.0.1:{closed_port}/closed",
            "https://10.255.255.1:8443/filtered",
            f"https://old.corp.internal:{local.port}/named",
        ]
        plain = f"http://127.0.0.1:{local.port}/plain"
        for url in [*internal, plain]:
            await register(api, admin, url)
        await an_event(api)

        report = await worker(api.db, request_timeout_seconds=5).drain()

        assert report.retrying == len(internal) + 1
        assert local.connections == 0
        found = await deliveries(api, admin)
    outcomes = {(found[url]["lastStatusCode"], found[url]["lastError"]) for url in internal}
    assert outcomes == {(None, "delivery failed: address not allowed")}
    assert (found[plain]["lastStatusCode"], found[plain]["lastError"]) == (
        None,
        "delivery failed: plain http not allowed",
    )


async def test_a_receiver_on_loopback_is_delivered_to_only_once_the_operator_allows_it(
    database_url: str,
) -> None:
    async with (
        api_with(database_url, **GENEROUS_LIMITS, webhooks_allowed_hosts="127.0.0.1") as api,
        listening("127.0.0.1") as local,
    ):
        admin = await api.admin()
        url = f"http://127.0.0.1:{local.port}/hook"
        await register(api, admin, url)
        await an_event(api)

        refused_report = await worker(api.db).drain()

        assert refused_report.retrying == 1
        assert local.connections == 0

        # The retry, when it is due, with the operator's allow-list.
        report = await worker(api.db, "127.0.0.1", clock=lambda: utcnow() + timedelta(minutes=5)).drain()

        assert report.delivered == 1
        assert local.connections == 1
        assert local.heads[0].startswith(b"POST /hook HTTP/1.1\r\n")
        assert f"host: 127.0.0.1:{local.port}".encode() in local.heads[0].lower()


# --- logs ----------------------------------------------------------------------------------------


async def test_logs_show_scheme_host_and_path_never_the_query_string(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    token = "tok-3f9a7c51e2"
    async with (
        api_with(database_url, **GENEROUS_LIMITS, webhooks_allowed_hosts="127.0.0.1") as api,
        listening("127.0.0.1") as local,
    ):
        admin = await api.admin()
        ok_url = f"http://127.0.0.1:{local.port}/hook?token={token}"
        failing_url = f"http://127.0.0.1:{local.port}/fail/hook?token={token}&x=1"
        await register(api, admin, ok_url)
        await register(api, admin, failing_url)
        await an_event(api)
        caplog.set_level(logging.DEBUG)

        report = await worker(api.db, "127.0.0.1").drain()

    assert (report.delivered, report.retrying) == (1, 1)
    messages = [record.getMessage() for record in caplog.records]
    assert not [m for m in messages if token in m]
    [failure] = [m for m in messages if "failed (attempt" in m]
    assert f"to http://127.0.0.1:{local.port}/fail/hook failed" in failure
    assert "HTTP 500" in failure


def test_a_loggable_url_has_no_user_info_query_or_fragment() -> None:
    assert (
        loggable_url("https://user:pw@Hooks.Example.com:8443/a/b?token=x#frag")
        == "https://hooks.example.com:8443/a/b"
    )
    assert loggable_url("http://[::1]:8080/p?q") == "http://[::1]:8080/p"
    assert loggable_url("https://example.com:99999/p?token=x") == "<unparsable URL>"
