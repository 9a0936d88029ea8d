"""JWT keys from the identity provider's JWKS URL (auth/jwks.py), against a real HTTP server on
127.0.0.1 that publishes, rotates and withdraws keys, counts its fetches, and goes down.

The JWKS behaviour does not depend on the database, so these run on SQLite only; intervals are
real seconds, kept short (a refetch interval of 1 s, a cache age of 1 s), so the tests sleep a
little instead of reaching into the key set's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gql_progress.settings import SettingsError, load_settings
from tests.conftest import fresh_database
from tests.support import Api
from tests.test_jwt import AUDIENCE, ISSUER, ME, SECRET, assert_refused, claims, public_pem, running

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def public_jwk(key: PrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    else:
        data = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {**data, "kid": kid, "use": "sig"}


class IdentityProvider:
    """A JWKS endpoint on a real socket, in a thread of its own (so a slow answer never holds
    the test's event loop, as it would not hold a real provider's)."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self.status = 200
        self.body: bytes | None = None  # instead of the key set, when set
        self.delay = 0.0
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with provider._lock:
                    provider.fetches += 1
                    status, delay = provider.status, provider.delay
                    body = provider.body or json.dumps({"keys": provider.keys}).encode()
                time.sleep(delay)
                # A client that gave up (the server's fetch timeout) has closed its end.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._running = False

    def publish(self, *keys: tuple[PrivateKey, str]) -> None:
        with self._lock:
            self.keys = [public_jwk(key, kid) for key, kid in keys]

    def start(self) -> None:
        self._thread.start()
        self._running = True

    def stop(self) -> None:
        """Down for good: the port stops listening, so connections are refused."""
        if self._running:
            self._running = False
            self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def key_a() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def key_b() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def sqlite_url(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("sqlite", None, sqlite_template, tmp_path) as url:
        yield url


@asynccontextmanager
async def idp_api(database_url: str, idp: IdentityProvider, **settings: Any) -> AsyncIterator[Api]:
    values = {
        "jwt_algorithms": "ES256,RS256",
        "jwt_jwks_url": idp.url,
        "jwt_jwks_cache_seconds": 300,
        "jwt_jwks_min_refresh_seconds": 1,
        **settings,
    }
    async with running(database_url, **values) as api:
        yield api


def token_for(user: Any, key: PrivateKey, kid: str, **changes: Any) -> str:
    algorithm = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
    return jwt.encode(claims(user, **changes), key, algorithm=algorithm, headers={"kid": kid})


async def eventually(condition: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


# --- rotation ----------------------------------------------------------------------------------


async def test_a_token_signed_with_a_rotated_in_key_is_accepted_after_one_refetch(
    sqlite_url: str, idp: IdentityProvider, key_a: ec.EllipticCurvePrivateKey, key_b: rsa.RSAPrivateKey
) -> None:
    idp.publish((key_a, "a"))
    async with idp_api(sqlite_url, idp) as api:
        learner = await api.user()
        assert idp.fetches == 0  # nothing is fetched before a token needs it

        assert await api.data(ME, key=token_for(learner, key_a, "a")) == {"me": {"id": learner.id}}
        assert idp.fetches == 1
        # Cached: more tokens, no more fetches.
        for _ in range(5):
            assert (await api.post(ME, key=token_for(learner, key_a, "a"))).status_code == 200
        assert idp.fetches == 1

        # The provider publishes its next key and signs with it.
        idp.publish((key_a, "a"), (key_b, "b"))
        await asyncio.sleep(1.1)  # past the refetch interval of the first fetch
        assert await api.data(ME, key=token_for(learner, key_b, "b")) == {"me": {"id": learner.id}}
        assert idp.fetches == 2
        assert (await api.post(ME, key=token_for(learner, key_a, "a"))).status_code == 200
        assert idp.fetches == 2

        # A key is used for its own kid only: key b's signature under kid "a" is refused.
        assert_refused(await api.post(ME, key=token_for(learner, key_b, "a")))


async def test_unknown_kids_refetch_at_most_once_per_interval(
    sqlite_url: str, idp: IdentityProvider, key_a: ec.EllipticCurvePrivateKey
) -> None:
    idp.publish((key_a, "a"))
    # 2 s: room for the refusals below to all fall within one interval on a busy machine.
    async with idp_api(sqlite_url, idp, jwt_jwks_min_refresh_seconds=2) as api:
        learner = await api.user()
        assert (await api.post(ME, key=token_for(learner, key_a, "a"))).status_code == 200
        assert idp.fetches == 1

        # Within the interval of that fetch, unknown kids are refused without asking.
        api.db.statements.reset()
        for n in range(5):
            assert_refused(await api.post(ME, key=token_for(learner, key_a, f"made-up-{n}")))
        assert idp.fetches == 1

        # Past it, a flood of unknown kids at once: one fetch, shared by all (the provider
        # answers slowly so that they really wait together), then none until the next interval.
        await asyncio.sleep(2.1)
        idp.delay = 0.3
        flood = [api.post(ME, key=token_for(learner, key_a, f"flood-{n}")) for n in range(20)]
        for response in await asyncio.gather(*flood):
            assert_refused(response)
        assert idp.fetches == 2
        idp.delay = 0
        for n in range(10):
            assert_refused(await api.post(ME, key=token_for(learner, key_a, f"after-{n}")))
        assert idp.fetches == 2
        assert api.db.statements.count == 0  # refused before any SQL

        await asyncio.sleep(2.1)
        assert_refused(await api.post(ME, key=token_for(learner, key_a, "next-interval")))
        assert idp.fetches == 3
        # The known key was never in doubt.
        assert (await api.post(ME, key=token_for(learner, key_a, "a"))).status_code == 200


async def test_a_withdrawn_key_is_refused_once_the_set_is_refreshed_and_expired_tokens_always(
    sqlite_url: str, idp: IdentityProvider, key_a: ec.EllipticCurvePrivateKey, key_b: rsa.RSAPrivateKey
) -> None:
    idp.publish((key_a, "a"), (key_b, "b"))
    settings = {"jwt_jwks_cache_seconds": 1, "jwt_jwks_min_refresh_seconds": 0.1}
    async with idp_api(sqlite_url, idp, **settings) as api:
        learner = await api.user()
        assert (await api.post(ME, key=token_for(learner, key_a, "a"))).status_code == 200
        assert (await api.post(ME, key=token_for(learner, key_b, "b"))).status_code == 200
        expired = token_for(learner, key_b, "b", exp=int(time.time()) - 3600)
        assert_refused(await api.post(ME, key=expired))
        assert idp.fetches == 1

        idp.publish((key_b, "b"))  # rotation done: key a withdrawn
        await asyncio.sleep(1.1)  # the cached set is now older than its cache age
        # A known kid is answered at once with the cached key; the set refreshes behind it.
        assert (await api.post(ME, key=token_for(learner, key_b, "b"))).status_code == 200
        await eventually(lambda: idp.fetches == 2)
        await asyncio.sleep(0.2)  # let the refreshed set be stored and the interval pass

        assert_refused(await api.post(ME, key=token_for(learner, key_a, "a")))
        assert (await api.post(ME, key=token_for(learner, key_b, "b"))).status_code == 200


# --- the provider down -------------------------------------------------------------------------

OUTAGES = ["connection-refused", "http-503", "not-json", "no-usable-keys"]


@pytest.mark.parametrize("outage", OUTAGES)
async def test_known_keys_still_verify_while_the_provider_is_down(
    sqlite_url: str, idp: IdentityProvider, key_a: ec.EllipticCurvePrivateKey, outage: str
) -> None:
    idp.publish((key_a, "a"))
    settings = {"jwt_jwks_cache_seconds": 1, "jwt_jwks_min_refresh_seconds": 0.1}
    async with idp_api(sqlite_url, idp, **settings) as api:
        learner = await api.user()
        assert (await api.post(ME, key=token_for(learner, key_a, "a"))).status_code == 200
        if outage == "connection-refused":
            idp.stop()
        elif outage == "http-503":
            idp.status = 503
        elif outage == "not-json":
            idp.body = b"<html>maintenance</html>"
        else:
            idp.body = json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "x"}]}).encode()

        await asyncio.sleep(1.1)
        # Stale, the refresh fails behind the request: still accepted, again and again.
        for _ in range(3):
            assert await api.data(ME, key=token_for(learner, key_a, "a")) == {"me": {"id": learner.id}}
            await asyncio.sleep(0.15)
        # An unknown kid waits for a fetch that fails: the usual refusal, not an error.
        assert_refused(await api.post(ME, key=token_for(learner, key_a, "unknown")))
        assert (await api.post(ME, key=token_for(learner, key_a, "a"))).status_code == 200
        if outage != "connection-refused":
            assert idp.fetches >= 3  # the refreshes did happen, and failed


async def test_a_provider_down_at_start_refuses_tokens_until_it_answers(
    sqlite_url: str, idp: IdentityProvider, key_a: ec.EllipticCurvePrivateKey
) -> None:
    idp.publish((key_a, "a"))
    idp.status = 503
    async with idp_api(sqlite_url, idp) as api:
        learner = await api.user()
        token = token_for(learner, key_a, "a")
        for _ in range(3):
            assert_refused(await api.post(ME, key=token))
        assert idp.fetches == 1  # failures count against the interval too

        idp.status = 200
        await asyncio.sleep(1.1)
        assert (await api.post(ME, key=token)).status_code == 200
        assert idp.fetches == 2


async def test_a_slow_provider_does_not_hold_other_requests(
    sqlite_url: str, idp: IdentityProvider, key_a: ec.EllipticCurvePrivateKey
) -> None:
    idp.publish((key_a, "a"))
    idp.delay = 1.0
    # HS256 next to the JWKS URL: the shared secret's tokens never wait for the provider.
    settings = {"jwt_algorithms": "ES256,HS256", "jwt_secret": SECRET}
    async with idp_api(sqlite_url, idp, **settings) as api:
        learner = await api.user()
        finished: list[str] = []

        async def call(name: str, token: str) -> None:
            assert (await api.post(ME, key=token)).status_code == 200
            finished.append(name)

        hs_token = jwt.encode(claims(learner), SECRET, algorithm="HS256")
        await asyncio.gather(
            call("waits for the provider", token_for(learner, key_a, "a")),
            call("hs256", hs_token),
            call("api key", learner.key),
        )
        # The event loop was free while the key set was fetched: the others answered first.
        assert finished[-1] == "waits for the provider"
        assert idp.fetches == 1


async def test_a_slow_provider_is_cut_off_at_the_timeout(
    sqlite_url: str, idp: IdentityProvider, key_a: ec.EllipticCurvePrivateKey
) -> None:
    idp.publish((key_a, "a"))
    idp.delay = 3.0
    async with idp_api(sqlite_url, idp, jwt_jwks_timeout_seconds=0.5) as api:
        learner = await api.user()
        started = time.monotonic()
        assert_refused(await api.post(ME, key=token_for(learner, key_a, "a")))
        assert time.monotonic() - started < 2.5


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("clean_env")
def test_jwks_url_settings_are_checked_at_start_up(tmp_path: Path) -> None:
    base = {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, "jwt_algorithms": "RS256"}
    bad: list[tuple[dict[str, Any], str]] = [
        ({**base, "jwt_jwks_url": "ftp://id.example.com/jwks.json"}, "JWT_JWKS_URL.*https"),
        ({**base, "jwt_jwks_url": "http://id.example.com/jwks.json"}, "JWT_JWKS_URL.*localhost"),
        ({**base, "jwt_jwks_url": "https:///no-host"}, "JWT_JWKS_URL"),
        ({"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, "jwt_jwks_url": "https://id.example.com/j"}, "ALG"),
        ({**base, "jwt_jwks_url": "https://id.example.com/j", "jwt_jwks_min_refresh_seconds": 0}, "REFRESH"),
        ({**base, "jwt_jwks_url": "https://id.example.com/j", "jwt_jwks_timeout_seconds": 0}, "TIMEOUT"),
    ]
    for values, named in bad:
        with pytest.raises(SettingsError, match=named):
            load_settings(**values)

    good = load_settings(**base, jwt_jwks_url="https://id.example.com/.well-known/jwks.json")
    assert good.jwt_jwks_url == "https://id.example.com/.well-known/jwks.json"
    assert load_settings(**base, jwt_jwks_url="http://127.0.0.1:8080/jwks").jwt_jwks_url
    pem = tmp_path / "idp.pem"
    pem.write_bytes(public_pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(SettingsError, match="only one of"):
        load_settings(**base, jwt_jwks_url="https://id.example.com/j", jwt_public_key_file=pem)
    # An exported but empty variable means "not set".
    assert load_settings(jwt_jwks_url="").jwt_jwks_url is None


async def test_api_keys_never_fetch_the_key_set(sqlite_url: str, idp: IdentityProvider) -> None:
    async with idp_api(sqlite_url, idp) as api:
        learner = await api.user()
        assert (await api.post(ME, key=learner.key)).status_code == 200
        assert idp.fetches == 0
