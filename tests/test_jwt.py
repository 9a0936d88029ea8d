"""Bearer JWTs from an identity provider: HS256, RS256 (PEM) and ES256 (JWKS), and every way a
token is refused. Keys are generated here with `cryptography`; tokens are real, signed by PyJWT or
forged by hand where PyJWT would refuse to make them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gql_progress.db.models import UserRole
from gql_progress.edge.app import CREDENTIAL_REFUSED
from gql_progress.settings import SettingsError, load_settings
from tests.apps import GENEROUS_LIMITS, api_with
from tests.support import Api, SeededUser
from tests.ws import AsgiWebSocket, Closed, init

ISSUER = "https://id.example.com/"
AUDIENCE = "gql-progress"
SECRET = "a-shared-secret-of-at-least-32-bytes!!"
ME = "{ me { id } }"
CREATE_COURSE = """
mutation($slug: String!) {
  createCourse(input: {slug: $slug, title: "T"}) { __typename ... on Error { code } }
}
"""


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture
def pem_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "idp.pem"
    path.write_bytes(public_pem(rsa_key))
    return path


@pytest.fixture
def jwks_file(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey) -> Path:
    keys = [
        {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key())), "kid": "ec-1"},
        {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key())), "kid": "rsa-1"},
    ]
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": keys}))
    return path


def claims(user: SeededUser, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": user.external_id,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
    }
    for name, value in changes.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
    return values


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A token PyJWT would not make: whatever header, signed by ``sign`` over the signing input."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


@asynccontextmanager
async def running(database_url: str, **settings: Any) -> AsyncIterator[Api]:
    tokens = {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE}
    async with api_with(database_url, **{**GENEROUS_LIMITS, **tokens, **settings}) as api:
        yield api


@pytest.fixture
async def rs_api(database_url: str, pem_file: Path) -> AsyncIterator[Api]:
    """Accepts RS256 tokens checked with the PEM public key, nothing else."""
    async with running(database_url, jwt_algorithms="RS256", jwt_public_key_file=pem_file) as api:
        yield api


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == {
        "data": None,
        "errors": [{"message": CREDENTIAL_REFUSED, "extensions": {"code": "UNAUTHENTICATED"}}],
    }


# --- accepted --------------------------------------------------------------------------------


async def test_an_rs256_token_acts_as_the_user_its_sub_names(rs_api: Api, rsa_key: rsa.RSAPrivateKey) -> None:
    learner = await rs_api.user()
    token = jwt.encode(claims(learner), rsa_key, algorithm="RS256")

    assert await rs_api.data(ME, key=token) == {"me": {"id": learner.id}}
    # One statement: the user, looked up by external id (the token itself needs none).
    assert await rs_api.statements(ME, key=token) == 1


async def test_an_hs256_token_signed_with_the_shared_secret_is_accepted(database_url: str) -> None:
    async with running(database_url, jwt_algorithms="HS256", jwt_secret=SECRET) as api:
        learner = await api.user()
        token = jwt.encode(claims(learner), SECRET, algorithm="HS256")

        assert await api.data(ME, key=token) == {"me": {"id": learner.id}}
        assert_refused(await api.post(ME, key=jwt.encode(claims(learner), SECRET + "x", algorithm="HS256")))


async def test_an_es256_token_is_checked_with_the_jwks_key_its_kid_names(
    database_url: str, jwks_file: Path, ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey
) -> None:
    async with running(database_url, jwt_algorithms="ES256,RS256", jwt_jwks_file=jwks_file) as api:
        learner = await api.user()

        ec_token = jwt.encode(claims(learner), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        rs_token = jwt.encode(claims(learner), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
        assert await api.data(ME, key=ec_token) == {"me": {"id": learner.id}}
        assert await api.data(ME, key=rs_token) == {"me": {"id": learner.id}}

        api.db.statements.reset()
        for token in (
            jwt.encode(claims(learner), ec_key, algorithm="ES256", headers={"kid": "rsa-1"}),
            jwt.encode(claims(learner), ec_key, algorithm="ES256", headers={"kid": "unknown"}),
            jwt.encode(claims(learner), ec_key, algorithm="ES256"),  # two keys: no kid, no guess
        ):
            assert_refused(await api.post(ME, key=token))
        assert api.db.statements.count == 0


# --- refused ---------------------------------------------------------------------------------

BAD_TOKENS: dict[str, Callable[[SeededUser, rsa.RSAPrivateKey, rsa.RSAPrivateKey], str]] = {
    "alg-none": lambda u, k, o: forged({"alg": "none", "typ": "JWT"}, claims(u), lambda _: b""),
    "alg-none-with-signature": lambda u, k, o: forged({"alg": "none"}, claims(u), lambda _: b"x"),
    # Algorithm confusion: HS256 with the RSA public key (which is public) as the HMAC secret.
    "hs256-signed-with-the-public-key": lambda u, k, o: forged(
        {"alg": "HS256", "typ": "JWT"},
        claims(u),
        lambda data: hmac.new(public_pem(k), data, hashlib.sha256).digest(),
    ),
    "wrong-audience": lambda u, k, o: jwt.encode(claims(u, aud="another-service"), k, algorithm="RS256"),
    "wrong-issuer": lambda u, k, o: jwt.encode(
        claims(u, iss="https://evil.example.com/"), k, algorithm="RS256"
    ),
    "expired": lambda u, k, o: jwt.encode(claims(u, exp=int(time.time()) - 3600), k, algorithm="RS256"),
    "missing-exp": lambda u, k, o: jwt.encode(claims(u, exp=None), k, algorithm="RS256"),
    "missing-iat": lambda u, k, o: jwt.encode(claims(u, iat=None), k, algorithm="RS256"),
    "missing-iss": lambda u, k, o: jwt.encode(claims(u, iss=None), k, algorithm="RS256"),
    "missing-aud": lambda u, k, o: jwt.encode(claims(u, aud=None), k, algorithm="RS256"),
    "missing-sub": lambda u, k, o: jwt.encode(claims(u, sub=None), k, algorithm="RS256"),
    "not-yet-valid": lambda u, k, o: jwt.encode(claims(u, nbf=int(time.time()) + 3600), k, algorithm="RS256"),
    "bad-signature": lambda u, k, o: jwt.encode(claims(u), o, algorithm="RS256"),
    "algorithm-not-listed": lambda u, k, o: jwt.encode(claims(u), k, algorithm="RS512"),
    "tampered-payload": lambda u, k, o: _swap_payload(
        jwt.encode(claims(u), k, algorithm="RS256"), claims(u, sub="someone-else")
    ),
    "garbage": lambda u, k, o: "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl",
}


def _swap_payload(token: str, payload: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{_b64(json.dumps(payload).encode())}.{signature}"


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_a_bad_token_is_401_without_sql_and_says_not_why(
    rs_api: Api, rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey, case: str
) -> None:
    learner = await rs_api.user()
    other = await rs_api.user()  # the tampered payload names a real user
    assert other.external_id
    token = BAD_TOKENS[case](learner, rsa_key, other_rsa_key)

    rs_api.db.statements.reset()
    assert_refused(await rs_api.post(ME, key=token))
    assert rs_api.db.statements.count == 0

    # The control: the same user with a good token.
    good = jwt.encode(claims(learner), rsa_key, algorithm="RS256")
    assert (await rs_api.post(ME, key=good)).status_code == 200


async def test_a_token_for_an_unknown_user_is_401(rs_api: Api, rsa_key: rsa.RSAPrivateKey) -> None:
    learner = await rs_api.user()
    stranger = SeededUser(0, "", "", "", "nobody-has-this-id")

    assert_refused(await rs_api.post(ME, key=jwt.encode(claims(stranger), rsa_key, algorithm="RS256")))
    assert (
        await rs_api.post(ME, key=jwt.encode(claims(learner), rsa_key, algorithm="RS256"))
    ).status_code == 200


async def test_algorithm_confusion_is_refused_even_when_hs256_is_accepted_too(
    database_url: str, pem_file: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    async with running(
        database_url, jwt_algorithms="HS256,RS256", jwt_secret=SECRET, jwt_public_key_file=pem_file
    ) as api:
        learner = await api.user()
        confused = BAD_TOKENS["hs256-signed-with-the-public-key"](learner, rsa_key, rsa_key)

        assert_refused(await api.post(ME, key=confused))
        # Both real kinds work.
        assert (
            await api.post(ME, key=jwt.encode(claims(learner), SECRET, algorithm="HS256"))
        ).status_code == 200
        assert (
            await api.post(ME, key=jwt.encode(claims(learner), rsa_key, algorithm="RS256"))
        ).status_code == 200


async def test_leeway_forgives_a_little_clock_skew_and_no_more(
    database_url: str, pem_file: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    async with running(
        database_url, jwt_algorithms="RS256", jwt_public_key_file=pem_file, jwt_leeway_seconds=30
    ) as api:
        learner = await api.user()
        now = int(time.time())

        just = jwt.encode(claims(learner, iat=now - 600, exp=now - 10), rsa_key, algorithm="RS256")
        long_ago = jwt.encode(claims(learner, iat=now - 600, exp=now - 60), rsa_key, algorithm="RS256")
        assert (await api.post(ME, key=just)).status_code == 200
        assert_refused(await api.post(ME, key=long_ago))


async def test_jwts_are_refused_without_sql_when_not_configured(api: Api) -> None:
    learner = await api.user()
    token = jwt.encode(claims(learner), SECRET, algorithm="HS256")

    api.db.statements.reset()
    assert_refused(await api.post(ME, key=token))
    assert api.db.statements.count == 0


# --- roles and scopes ------------------------------------------------------------------------


async def test_the_role_claim_counts_only_for_roles_the_settings_allow(
    database_url: str, pem_file: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    async with running(
        database_url,
        jwt_algorithms="RS256",
        jwt_public_key_file=pem_file,
        jwt_role_claim="https://example.com/role",
        jwt_allowed_roles="ADMIN",
    ) as api:
        learner = await api.user()
        instructor = await api.user(UserRole.INSTRUCTOR)

        def token(user: SeededUser, role: str) -> str:
            return jwt.encode(claims(user, **{"https://example.com/role": role}), rsa_key, algorithm="RS256")

        promoted = await api.data(CREATE_COURSE, {"slug": "by-claim"}, key=token(learner, "admin"))
        assert promoted["createCourse"]["__typename"] == "CoursePayload"
        # INSTRUCTOR is not an allowed claim: the stored role (LEARNER) applies.
        kept = await api.data(CREATE_COURSE, {"slug": "no-claim"}, key=token(learner, "INSTRUCTOR"))
        assert kept["createCourse"]["__typename"] == "ForbiddenError"
        nonsense = await api.data(CREATE_COURSE, {"slug": "nonsense"}, key=token(instructor, "root"))
        assert nonsense["createCourse"]["__typename"] == "ForbiddenError"


async def test_without_allowed_roles_the_role_claim_is_ignored(
    rs_api: Api, rsa_key: rsa.RSAPrivateKey
) -> None:
    learner = await rs_api.user()
    token = jwt.encode(claims(learner, role="ADMIN"), rsa_key, algorithm="RS256")

    data = await rs_api.data(CREATE_COURSE, {"slug": "ignored"}, key=token)

    assert data["createCourse"]["__typename"] == "ForbiddenError"


def _forbidden(body: dict[str, Any]) -> bool:
    return body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_scope_claim_narrows_what_the_token_may_do_within_the_role(
    rs_api: Api, rsa_key: rsa.RSAPrivateKey
) -> None:
    learner = await rs_api.user()
    admin = await rs_api.admin()
    mutation = 'mutation { createStudyPlan(input: {title: "t", lessonIds: []}) { __typename } }'

    def token(user: SeededUser, **extra: Any) -> str:
        return jwt.encode(claims(user, **extra), rsa_key, algorithm="RS256")

    read_only = token(learner, scope="progress:read")
    assert (await rs_api.post(ME, key=read_only)).status_code == 200
    assert _forbidden(await rs_api.gql(mutation, key=read_only))
    write_only = token(learner, scp=["progress:write"])
    assert _forbidden(await rs_api.gql(ME, key=write_only))
    assert "errors" not in await rs_api.gql(mutation, key=write_only)
    # A learner claiming the admin scope gets nothing from it.
    claimed = token(learner, scope="progress:read progress:write admin")
    assert (await rs_api.data(CREATE_COURSE, {"slug": "l"}, key=claimed))["createCourse"]["__typename"] == (
        "ForbiddenError"
    )
    # No scope claim: all that the role allows; an admin without the admin scope: no admin power.
    full_admin = await rs_api.data(CREATE_COURSE, {"slug": "a"}, key=token(admin))
    assert full_admin["createCourse"]["__typename"] == "CoursePayload"
    narrowed = token(admin, scope="progress:read progress:write")
    assert (await rs_api.data(CREATE_COURSE, {"slug": "b"}, key=narrowed))["createCourse"]["__typename"] == (
        "ForbiddenError"
    )


async def test_each_jwt_user_has_a_rate_limit_budget_of_their_own(
    database_url: str, pem_file: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    async with running(
        database_url, jwt_algorithms="RS256", jwt_public_key_file=pem_file, rate_limit_learner="2/minute"
    ) as api:
        first, second = await api.user(), await api.user()
        token_a = jwt.encode(claims(first), rsa_key, algorithm="RS256")
        token_b = jwt.encode(claims(second), rsa_key, algorithm="RS256")

        assert [(await api.post(ME, key=token_a)).status_code for _ in range(3)] == [200, 200, 429]
        assert (await api.post(ME, key=token_b)).status_code == 200


# --- WebSocket -------------------------------------------------------------------------------


async def test_connection_init_accepts_a_valid_token_and_closes_on_a_bad_one(
    rs_api: Api, rsa_key: rsa.RSAPrivateKey
) -> None:
    learner = await rs_api.user()
    good = jwt.encode(claims(learner), rsa_key, algorithm="RS256")
    expired = jwt.encode(claims(learner, exp=int(time.time()) - 3600), rsa_key, algorithm="RS256")

    async with AsgiWebSocket(rs_api.app) as ws:
        assert await init(ws, {"Authorization": f"Bearer {good}"}) == {"type": "connection_ack"}
    async with AsgiWebSocket(rs_api.app) as ws:
        with pytest.raises(Closed) as closed:
            await init(ws, {"Authorization": f"Bearer {expired}"})
    assert closed.value.code == 4403


# --- settings --------------------------------------------------------------------------------


@pytest.mark.usefixtures("clean_env")
def test_jwt_settings_are_checked_at_start_up(tmp_path: Path, pem_file: Path, jwks_file: Path) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    base = {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE}
    bad: list[tuple[dict[str, Any], str]] = [
        ({**base, "jwt_algorithms": "none", "jwt_secret": SECRET}, "JWT_ALGORITHMS"),
        ({**base, "jwt_algorithms": "HS256"}, "JWT_SECRET"),
        ({**base, "jwt_algorithms": "HS256", "jwt_secret": "short"}, "JWT_SECRET"),
        ({**base, "jwt_algorithms": "RS256"}, "JWT_PUBLIC_KEY_FILE"),
        ({**base, "jwt_algorithms": "RS256", "jwt_public_key_file": not_pem}, "JWT_PUBLIC_KEY_FILE"),
        ({**base, "jwt_algorithms": "RS256", "jwt_jwks_file": not_pem}, "JWT_JWKS_FILE"),
        (
            {**base, "jwt_algorithms": "RS256", "jwt_public_key_file": pem_file, "jwt_jwks_file": jwks_file},
            "only one of",
        ),
        ({"jwt_algorithms": "RS256", "jwt_public_key_file": pem_file}, "JWT_ISSUER"),
        ({**base, "jwt_public_key_file": pem_file}, "JWT_ALGORITHMS"),
        (
            {**base, "jwt_algorithms": "RS256", "jwt_public_key_file": pem_file, "jwt_allowed_roles": "ROOT"},
            "JWT_ALLOWED_ROLES",
        ),
    ]
    for values, named in bad:
        with pytest.raises(SettingsError, match=named):
            load_settings(**values)

    good = load_settings(**base, jwt_algorithms="rs256, es256", jwt_jwks_file=jwks_file)
    assert good.jwt_algorithms == ["RS256", "ES256"]
    assert SECRET not in repr(load_settings(**base, jwt_algorithms="HS256", jwt_secret=SECRET))
