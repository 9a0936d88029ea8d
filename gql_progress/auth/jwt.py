"""Bearer JWTs from the platform's identity provider, verified with PyJWT.

What is trusted comes from the settings, never from the token: the algorithms, the key for each
algorithm family (the HMAC secret for HS*; for RS*/PS*/ES* the PEM public key, the JWKS file or
the keys published at the JWKS URL), the
issuer and the audience. So ``alg: none`` is never accepted, and a token signed HS256 with the
RSA public key as its HMAC secret (algorithm confusion) is refused: HS* tokens are checked with
the configured secret only, and only when HS256 is listed at all.

A refusal says nothing about which check failed; the reason is logged (never the token).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gql_progress.auth.jwks import RemoteKeySet, pick
from gql_progress.db.models import UserRole
from gql_progress.domain.scopes import Scope, parse_scopes
from gql_progress.formats.jwt_keys import (
    HMAC_ALGORITHMS,
    RSA_ALGORITHMS,
    SigningKey,
    load_jwks,
    load_public_key,
)
from gql_progress.settings import Settings

logger = logging.getLogger("gql_progress.auth")

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
# Far above a real token; refused before any parsing.
MAX_TOKEN_LENGTH = 8192
MAX_SUBJECT_LENGTH = 255

# Three base64url parts (the signature may be empty, as in alg "none"). API keys have no dots,
# so this tells the two apart before any work.
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def looks_like_jwt(credential: str) -> bool:
    return _JWT_SHAPE.fullmatch(credential) is not None


@dataclass(frozen=True)
class TokenClaims:
    subject: str  # users.external_id
    role: UserRole | None  # the role claim when the settings honour it, else None (stored role)
    scopes: frozenset[Scope] | None  # from `scope`/`scp`; None when the token has neither


class JwtVerifier:
    """Checks tokens against the settings; ``verify`` uses no database, and the network only to
    fetch the identity provider's keys from a JWKS URL (jwks.py: cached, refetches bounded)."""

    def __init__(self, settings: Settings) -> None:
        self.algorithms = tuple(settings.jwt_algorithms)
        self._secret = settings.jwt_secret.get_secret_value().encode() if settings.jwt_secret else None
        self._public_key = (
            load_public_key(settings.jwt_public_key_file) if settings.jwt_public_key_file else None
        )
        self._jwks = load_jwks(settings.jwt_jwks_file) if settings.jwt_jwks_file else None
        self.remote_keys = (
            RemoteKeySet(
                settings.jwt_jwks_url,
                max_age_seconds=settings.jwt_jwks_cache_seconds,
                min_interval_seconds=settings.jwt_jwks_min_refresh_seconds,
                timeout_seconds=settings.jwt_jwks_timeout_seconds,
            )
            if settings.jwt_jwks_url
            else None
        )
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_seconds
        self._role_claim = settings.jwt_role_claim
        self._allowed_roles = frozenset(settings.jwt_allowed_roles)

    @property
    def enabled(self) -> bool:
        return bool(self.algorithms)

    async def verify(self, token: str) -> TokenClaims | None:
        if not self.enabled or len(token) > MAX_TOKEN_LENGTH:
            return self._refuse("JWTs are not accepted" if not self.enabled else "token too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return self._refuse("malformed header")
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            return self._refuse(f"algorithm {str(algorithm)[:20]!r} is not accepted")
        kid = header.get("kid")
        key = await self._key_for(algorithm, kid if isinstance(kid, str) else None)
        if key is None:
            return self._refuse(f"no key for algorithm {algorithm} and kid {str(kid)[:64]!r}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS, "verify_signature": True},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            return self._refuse(type(exc).__name__)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_LENGTH:
            return self._refuse("sub is not a user id")
        return TokenClaims(subject=subject, role=self._role(claims), scopes=self._scopes(claims))

    async def _key_for(self, algorithm: str, kid: str | None) -> Any:
        if algorithm in HMAC_ALGORITHMS:
            # Only ever the configured secret: never a public key used as an HMAC secret.
            return self._secret
        wanted = rsa.RSAPublicKey if algorithm in RSA_ALGORITHMS else ec.EllipticCurvePublicKey
        key: Any = None
        if self._jwks is not None or self.remote_keys is not None:
            jwk = pick(self._jwks, kid) if self._jwks is not None else await self._remote_key(kid)
            # A key published for one algorithm is used for that algorithm only.
            if jwk is None or (jwk.algorithm is not None and jwk.algorithm != algorithm):
                return None
            key = jwk.key
        elif self._public_key is not None:
            key = self._public_key
        return key if isinstance(key, wanted) else None

    async def _remote_key(self, kid: str | None) -> SigningKey | None:
        return await self.remote_keys.key(kid) if self.remote_keys is not None else None

    def _role(self, claims: dict[str, Any]) -> UserRole | None:
        if self._role_claim is None:
            return None
        value = claims.get(self._role_claim)
        if isinstance(value, str) and value.upper() in UserRole.__members__:
            role = UserRole(value.upper())
            if role in self._allowed_roles:
                return role
        return None

    @staticmethod
    def _scopes(claims: dict[str, Any]) -> frozenset[Scope] | None:
        if "scope" in claims:
            return parse_scopes(claims["scope"])
        if "scp" in claims:
            return parse_scopes(claims["scp"])
        return None

    @staticmethod
    def _refuse(reason: str) -> None:
        logger.info("bearer token refused: %s", reason)
        return
