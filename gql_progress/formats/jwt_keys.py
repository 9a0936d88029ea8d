"""Token signing algorithms and the keys an operator configures: a PEM file, a JWKS file or URL."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = frozenset({"ES256", "ES384", "ES512"})
SUPPORTED_ALGORITHMS = HMAC_ALGORITHMS | RSA_ALGORITHMS | EC_ALGORITHMS
# RFC 7518 §3.2: an HMAC key at least as long as the hash; HS256 needs 32 bytes.
MIN_HMAC_SECRET_BYTES = 32
# Plain http only to this machine (a sidecar, a test): keys fetched in clear text over a network
# could be swapped by anyone on the path, and with them every identity.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class SigningKey:
    kid: str | None
    algorithm: str | None  # the key's declared "alg"; None: any algorithm of its family
    key: PublicKey


def load_public_key(path: Path) -> PublicKey:
    """An RSA or EC public key from a PEM file (ValueError saying what is wrong)."""
    try:
        key = load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise ValueError(f"{path} is not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ValueError(f"{path} holds neither an RSA nor an EC public key")
    return key


def load_jwks(path: Path) -> list[SigningKey]:
    """The keys of a JWKS file ({"keys": [...]}), ValueError saying what is wrong."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise ValueError(f"{path} is not JSON") from None
    try:
        return signing_keys(data, skip_unusable=False)
    except ValueError as exc:
        raise ValueError(f"{path} {exc}" if str(exc).startswith("is ") else f"{path}: {exc}") from None


def check_jwks_url(url: str) -> str:
    """The URL as given, or ValueError saying what is wrong with it."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise ValueError("must be an https URL") from None
    if parts.scheme not in {"http", "https"} or not host:
        raise ValueError("must be an https URL")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ValueError("must use https (plain http only to localhost)")
    return url


def signing_keys(document: object, *, skip_unusable: bool) -> list[SigningKey]:
    """The RSA and EC public signing keys of a JWK set document ({"keys": [...]}).

    ``skip_unusable``: a provider's published set may hold keys we cannot use (encryption keys,
    Ed25519, symmetric): these are skipped. A set the operator wrote (a file) is refused whole
    instead, since a key they listed that does nothing is a mistake to report.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError('is not a JWK set ({"keys": [...]})')
    keys: list[SigningKey] = []
    for data in document["keys"]:
        kid = data.get("kid") if isinstance(data, Mapping) else None
        try:
            if not isinstance(data, Mapping) or data.get("use", "sig") != "sig":
                raise ValueError("not a signing key")
            jwk = jwt.PyJWK(dict(data))
            key = jwk.key
            if jwk.key_type not in {"RSA", "EC"} or not isinstance(
                key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey
            ):
                raise ValueError("not an RSA or EC public key")
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError):
            if skip_unusable:
                continue
            raise ValueError(f"key {kid!r} is not an RSA or EC public signing key") from None
        declared = data.get("alg")
        keys.append(
            SigningKey(
                kid=kid if isinstance(kid, str) else None,
                algorithm=declared if isinstance(declared, str) else None,
                key=key,
            )
        )
    if not keys:
        raise ValueError("holds no usable RSA or EC public key")
    if len(keys) > 1 and any(key.kid is None for key in keys):
        raise ValueError("with several keys, each needs a kid")
    return keys
