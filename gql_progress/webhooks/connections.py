"""The worker's HTTP connections: each goes to an address checked when it is made.

A check before the request would leave the connection to resolve the name again, and DNS may
answer differently the second time (rebinding). So the check sits in httpcore's network
backend, where connections are opened: the name is resolved once, every address is checked,
and the socket connects to a checked address. TLS still verifies the certificate for the URL's
host name, and connections are pooled per host name.

httpcore is used directly, not through an httpx client: the client logs every request's full
URL (query string included) at INFO, reads proxies from the environment (a proxy would make
its own connections, unchecked), and follows redirects when asked to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from types import TracebackType

import httpcore
import httpx

from gql_progress.webhooks.addresses import AddressNotAllowed, AllowList, Unresolvable, checked_addresses


class ConnectionFailed(Exception):
    """No answer: refused, reset, unresolvable, a TLS or protocol failure. The message is the
    kind of failure only, never the system's text (which would describe the network)."""


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections to checked addresses only (see the module docstring)."""

    def __init__(self, allow: AllowList, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._allow = allow
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await checked_addresses(host, port, self._allow)
        except TimeoutError:
            raise httpcore.ConnectTimeout("no address in time") from None
        except Unresolvable:
            raise httpcore.ConnectError("could not resolve the host") from None
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None  # checked_addresses returns at least one address
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressNotAllowed("address not allowed")  # never asked: the pool has no uds

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# Everything httpcore raises when a request gets no answer, except its timeouts.
_NO_ANSWER = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
    httpx.InvalidURL,
    OSError,
    ValueError,
)


class Connections:
    """A pool of guarded connections for one worker; ``send`` POSTs and returns the status."""

    def __init__(self, allow: AllowList, max_connections: int) -> None:
        self._allow = allow
        self._pool = httpcore.AsyncConnectionPool(
            # httpx's context: the certificates (certifi) deliveries were verified against before.
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            keepalive_expiry=5.0,  # httpx's default: an idle connection is not kept for ever
            network_backend=GuardedBackend(allow),
        )

    async def __aenter__(self) -> Connections:
        await self._pool.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self._pool.__aexit__(exc_type, exc_value, traceback)

    async def send(self, url: str, body: bytes, headers: Mapping[str, str], deadline: float) -> int:
        """POST ``body``; the response's status. Raises AddressNotAllowed, TimeoutError or
        ConnectionFailed. The response body is never read: only the status matters, and a
        receiver's body (of any size) is not ours to buffer. Redirects are not followed."""
        try:
            # httpx's parser, as before: IDNA host names and percent-encoding done the same way.
            target = httpx.URL(url)
            host = target.raw_host.decode("ascii")
            if target.scheme == "http" and not self._allow.permits_plain_http(host):
                raise AddressNotAllowed("plain http not allowed")
            request_url = httpcore.URL(
                scheme=target.raw_scheme, host=target.raw_host, port=target.port, target=target.raw_path
            )
            timeouts = dict.fromkeys(("connect", "read", "write", "pool"), deadline)
            async with self._pool.stream(
                "POST",
                request_url,
                headers=list(headers.items()),
                content=body,
                extensions={"timeout": timeouts},
            ) as response:
                return response.status
        except httpcore.TimeoutException:
            raise TimeoutError from None
        except _NO_ANSWER as exc:
            raise ConnectionFailed(type(exc).__name__) from None
