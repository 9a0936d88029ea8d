"""The identity provider's signing keys, fetched from its JWKS URL and kept in memory.

Identity providers rotate their keys: a new key is published in the JWK set, tokens start to be
signed with it (a new ``kid``), the old key is withdrawn later. So the set is fetched again when
it is older than ``max_age`` (in the background: the request in hand goes on with the keys it
has) and when a token names a ``kid`` the set does not hold (the request waits for that fetch).

Anyone can send a token with a made-up ``kid``, so refetches are bounded: at most one fetch,
successful or not, starts per ``min_interval``; tokens naming an unknown ``kid`` in between are
refused without asking the provider. Concurrent requests share the fetch in flight. A failed
fetch (provider down, bad answer) keeps the keys from the last good one, so tokens signed with
known keys are still accepted while the provider is away.

The fetch uses httpx's async client (already a dependency for webhooks), never blocking I/O in
the event loop the way PyJWT's PyJWKClient (urllib) would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from gql_progress.formats.jwt_keys import SigningKey, signing_keys

logger = logging.getLogger("gql_progress.auth")

# Far above any provider's set (a few keys of a few hundred bytes); a bigger answer is refused
# rather than parsed.
MAX_JWKS_BYTES = 512 * 1024


def pick(keys: Iterable[SigningKey], kid: str | None) -> SigningKey | None:
    """The key a token's ``kid`` names; without a kid, the only key, if there is just one."""
    keys = list(keys)
    if kid is None:
        return keys[0] if len(keys) == 1 else None  # several keys and no kid: refuse, never guess
    matching = [key for key in keys if key.kid == kid]
    return matching[0] if len(matching) == 1 else None


class RemoteKeySet:
    """The keys published at a JWKS URL; ``key(kid)`` never raises and never blocks the loop."""

    def __init__(
        self,
        url: str,
        *,
        max_age_seconds: float,
        min_interval_seconds: float,
        timeout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._max_age = max_age_seconds
        self._min_interval = min_interval_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._keys: list[SigningKey] = []
        self._fetched_at: float | None = None  # of the last good fetch
        self._attempted_at: float | None = None  # of the last fetch started, good or not
        self._fetching: asyncio.Task[None] | None = None
        self.fetches = 0  # started, for the logs and the tests

    async def key(self, kid: str | None) -> SigningKey | None:
        now = self._clock()
        known = pick(self._keys, kid)
        if known is not None:
            if self._fetched_at is not None and now - self._fetched_at >= self._max_age:
                # Stale but known: answer now and refresh behind the request.
                self._start_fetch(now)
            return known
        if kid is None and self._keys:
            return None  # another fetch would not say which key was meant
        fetch = self._fetching or self._start_fetch(now)
        if fetch is None:
            return None  # fetched too recently: the flood of unknown kids stops here
        # Shielded: a request that goes away (client disconnect) does not cancel the fetch
        # the others are waiting for.
        with contextlib.suppress(Exception):
            await asyncio.shield(fetch)
        return pick(self._keys, kid)

    def _start_fetch(self, now: float) -> asyncio.Task[None] | None:
        if self._fetching is not None:
            return self._fetching
        if self._attempted_at is not None and now - self._attempted_at < self._min_interval:
            return None
        self._attempted_at = now
        self.fetches += 1
        task = asyncio.get_running_loop().create_task(self._fetch())
        self._fetching = task
        task.add_done_callback(self._fetched)
        return task

    def _fetched(self, task: asyncio.Task[None]) -> None:
        self._fetching = None
        if not task.cancelled():
            task.exception()  # retrieved: _fetch logs its failures itself

    async def _fetch(self) -> None:
        try:
            keys = await self._download()
        except Exception as exc:
            # Keep the keys we have: known tokens still verify while the provider is away.
            logger.warning(
                "could not fetch the JWKS from %s (%s); keeping the %d keys fetched before",
                self.url,
                exc,
                len(self._keys),
            )
            return
        added = {key.kid for key in keys} - {key.kid for key in self._keys}
        self._keys = keys
        self._fetched_at = self._clock()
        new = sorted(map(str, added))
        logger.info("fetched the JWKS from %s: %d keys, new kids %s", self.url, len(keys), new)

    async def _download(self) -> list[SigningKey]:
        # A client per fetch: fetches are rare (bounded above), and there is nothing to close
        # at shutdown. No redirects: the URL the operator set is the one trusted.
        async with (
            httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client,
            asyncio.timeout(self._timeout),
            client.stream("GET", self.url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
        try:
            document: Any = json.loads(body)
        except ValueError:
            raise ValueError("not JSON") from None
        return signing_keys(document, skip_unusable=True)
